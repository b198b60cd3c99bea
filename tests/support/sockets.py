"""WebSocket clients for tests, and which server process holds a given connection."""

from __future__ import annotations

import json
import os
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.concurrent import cookie_header


def open_socket(app_url: str, path: str, cookies: dict[str, str], origin: str | None = None) -> ClientConnection:
    """A connected client; use it as a context manager (`with open_socket(...) as ws:`)."""
    ws_url = app_url.replace("http://", "ws://") + path
    return connect(
        ws_url,
        origin=origin or app_url,
        additional_headers={"Cookie": cookie_header(cookies)},
        open_timeout=10,
    )


def close_code(ws: ClientConnection, timeout: float = 10) -> int | None:
    """Wait for the server to close; its close code."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


def next_message(ws: ClientConnection, timeout: float = 10) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def _socket_inode(local_port: int, server_port: int) -> int | None:
    """The inode of the server-side socket whose peer is our client's local port."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) == local_port:
                return inode
    return None


def holding_pid(ws: ClientConnection, server_port: int, candidate_pids: list[int]) -> int | None:
    """Which of `candidate_pids` (gunicorn workers) holds this WebSocket's server end."""
    inode = _socket_inode(ws.socket.getsockname()[1], server_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in candidate_pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
        except OSError:
            continue
    return None
