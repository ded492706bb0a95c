"""Discord tokens encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from mjapi.errors import MjapiError

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"


class SecretKeyError(MjapiError):
    """The secret key is malformed, or is not the key that encrypted the stored tokens."""

    status = 500
    default_message = "The secret key cannot decrypt the stored Discord tokens"


class TokenCipher:
    """Encrypts and decrypts Discord tokens with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            # Our own message: a key, even a malformed one, never goes into an error.
            raise SecretKeyError(
                "The secret key is not a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with `Fernet.generate_key()`"
            ) from None

    @classmethod
    def from_settings(cls, data_dir: Path, key: str | None) -> TokenCipher:
        """The cipher for ``key`` if given, else for ``<data_dir>/secret.key`` (made if absent)."""
        if key:
            return cls(key)
        path = data_dir / KEY_FILE_NAME
        try:
            return cls(load_or_create_key(path))
        except SecretKeyError:
            raise SecretKeyError(f"{path} does not hold a Fernet key") from None

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        try:
            return self._fernet.decrypt(encrypted.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            raise SecretKeyError() from None


def load_or_create_key(path: Path) -> bytes:
    """The key stored at ``path``; a new random one is written there first when it is absent."""
    if not path.exists():
        _create_key_file(path)
    return path.read_bytes().strip()


def _create_key_file(path: Path) -> None:
    """Write a fresh key so that no reader ever sees a partial file and no key is overwritten.

    The key goes to a private temporary file that is then hard-linked into place: ``link`` fails
    when ``path`` exists, so of two servers starting together exactly one key wins and both use it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp: a fresh random name opened O_EXCL with mode 0600 (a stale file from a crash
    # cannot block the start, as a pid-based name would in a container where the pid is 1).
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temporary = Path(name)
    try:
        os.write(descriptor, Fernet.generate_key() + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)
        _fsync_directory(path.parent)  # the key must outlive a crash: tokens depend on it
        log.info("created a new secret key at %s", path, extra={"action": "secret_key_created"})
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        temporary.unlink()


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
