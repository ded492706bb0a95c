"""open_store picks the store that settings.database_url names."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mjapi.settings import Settings
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.factory import open_store
from mjapi.storage.postgres import PostgresStore
from mjapi.storage.sqlite import SqliteStore

CIPHER = TokenCipher(Fernet.generate_key())


def settings(tmp_path: Path, url: str | None) -> Settings:
    # model_validate: no MJAPI_* environment or .env leaks into the test
    return Settings.model_validate({"data_dir": tmp_path, "database_url": url})


def test_no_url_means_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    store = open_store(settings(tmp_path, None), CIPHER)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "mjapi.sqlite3"


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    store = open_store(settings(tmp_path, f"sqlite:///{tmp_path}/other.db"), CIPHER)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "other.db"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls(tmp_path: Path, scheme: str) -> None:
    store = open_store(settings(tmp_path, f"{scheme}://u:p@db.test/mjapi"), CIPHER)
    assert isinstance(store, PostgresStore)


def test_unknown_scheme_is_refused_without_echoing_the_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'mysql'") as raised:
        open_store(settings(tmp_path, "mysql://user:hunter2@db.test/x"), CIPHER)
    assert "hunter2" not in str(raised.value)


async def test_the_sqlite_store_creates_its_folder(tmp_path: Path) -> None:
    store = open_store(settings(tmp_path / "new" / "dir", None), CIPHER)
    await store.open()
    try:
        assert await store.next_user_id() == 1
    finally:
        await store.close()
    assert (tmp_path / "new" / "dir" / "mjapi.sqlite3").is_file()
