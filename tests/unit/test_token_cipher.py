"""Discord tokens encrypted at rest, and the key file that makes it work without configuration."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mjapi.errors import MjapiError
from mjapi.storage.crypto import SecretKeyError, TokenCipher, load_or_create_key

TOKEN = "MTE1MDAwMDAwMDAwMDAwMDAw.GsEcReT.discord-user-token-for-tests"


def test_round_trip_without_the_plain_token_in_the_ciphertext() -> None:
    cipher = TokenCipher(Fernet.generate_key())
    encrypted = cipher.encrypt(TOKEN)
    assert TOKEN not in encrypted
    assert cipher.decrypt(encrypted) == TOKEN
    assert cipher.encrypt(TOKEN) != encrypted  # random IV: equal tokens do not look equal


def test_a_given_key_is_used_and_no_file_is_written(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    cipher = TokenCipher.from_settings(tmp_path / "data", key)
    assert Fernet(key.encode()).decrypt(cipher.encrypt(TOKEN).encode()) == TOKEN.encode()
    assert not (tmp_path / "data").exists()


def test_without_a_key_one_is_created_private_and_then_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "missing" / "data"
    encrypted = TokenCipher.from_settings(data_dir, None).encrypt(TOKEN)
    key_file = data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_bytes().strip())  # a valid Fernet key
    assert TokenCipher.from_settings(data_dir, None).decrypt(encrypted) == TOKEN
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]  # no temporary file left


def test_an_empty_key_setting_means_the_key_file(tmp_path: Path) -> None:
    TokenCipher.from_settings(tmp_path, "")
    assert (tmp_path / "secret.key").is_file()


def test_concurrent_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_or_create_key(path))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and keys[0] == path.read_bytes().strip()


def test_the_wrong_key_fails_clearly_without_leaking(tmp_path: Path) -> None:
    encrypted = TokenCipher(Fernet.generate_key()).encrypt(TOKEN)
    with pytest.raises(SecretKeyError) as raised:
        TokenCipher(Fernet.generate_key()).decrypt(encrypted)
    assert isinstance(raised.value, MjapiError)
    assert "secret key" in str(raised.value)
    assert TOKEN not in str(raised.value) and encrypted not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize("bad", ["not-a-key", "c2hvcnQ=", "x" * 44])
def test_a_malformed_key_fails_clearly_without_echoing_it(bad: str) -> None:
    with pytest.raises(SecretKeyError, match="not a Fernet key") as raised:
        TokenCipher(bad)
    assert bad not in str(raised.value)


def test_a_damaged_key_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("")
    with pytest.raises(SecretKeyError, match=r"secret\.key does not hold a Fernet key"):
        TokenCipher.from_settings(tmp_path, None)


def test_garbage_instead_of_ciphertext_is_a_secret_key_error() -> None:
    with pytest.raises(SecretKeyError):
        TokenCipher(Fernet.generate_key()).decrypt("plain-text-é")
