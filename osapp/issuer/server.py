"""Serve the issuer's WSGI app with gunicorn, in-process (one worker, eight threads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class IssuerServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application configured from a dict rather than argv or a config file."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Callable[..., Any]:
        from osapp.issuer.wsgi import application

        return application


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(host: str, port: int, on_ready: Callable[[], None]) -> None:
    """Run until SIGTERM/SIGINT; ``on_ready`` runs once the socket is listening."""
    IssuerServer(
        {
            "bind": bind_address(host, port),
            "workers": 1,
            "worker_class": "gthread",
            "threads": 8,
            # The app is loaded (and fails, if it must) before the ready line is printed.
            "preload_app": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "timeout": 30,
            "graceful_timeout": 5,
            "proc_name": "osapp-issuer",
            # Several issuers may run side by side (tests); none needs gunicornc.
            "control_socket_disable": True,
            "when_ready": lambda arbiter: on_ready(),
        }
    ).run()
