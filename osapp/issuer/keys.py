"""The issuer's RSA signing key: generated once, kept as a PEM file readable by its owner only.

Importable without Django: ``__main__`` calls it before Django is set up, settings read it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SIGNING_KEY_FILENAME = "signing-key.pem"
RETIRED_KEYS_DIRNAME = "retired-keys"
RSA_KEY_BITS = 2048


def signing_key_path(state_dir: Path) -> Path:
    return state_dir / SIGNING_KEY_FILENAME


def read_signing_key(state_dir: Path) -> str:
    """Return the PEM in ``state_dir``, or ``""`` when none was generated yet."""
    try:
        return signing_key_path(state_dir).read_text(encoding="ascii")
    except FileNotFoundError:
        return ""


def read_retired_keys(state_dir: Path) -> list[str]:
    """PEMs of keys rotated out: still published in the JWKS so their tokens keep verifying."""
    directory = state_dir / RETIRED_KEYS_DIRNAME
    if not directory.is_dir():
        return []
    return [path.read_text(encoding="ascii") for path in sorted(directory.glob("*.pem"))]


def rotate_signing_key(state_dir: Path) -> Path:
    """Retire the active key (kept published) and generate a new active one."""
    path = signing_key_path(state_dir)
    if path.exists():
        retired = state_dir / RETIRED_KEYS_DIRNAME
        retired.mkdir(mode=0o700, exist_ok=True)
        os.replace(path, retired / f"{time.time_ns()}.pem")
    return ensure_signing_key(state_dir)


def ensure_signing_key(state_dir: Path) -> Path:
    """Generate the RSA-2048 key on first start (mode 0600); later starts reuse it.

    Keeping the key across restarts keeps the published JWKS, and every baked copy of it, valid.
    """
    path = signing_key_path(state_dir)
    if path.exists():
        return path
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    # Written aside, then hard-linked into place: the link fails if another process won the
    # race on a fresh state dir, and no reader ever sees a half-written key.
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)
    return path
