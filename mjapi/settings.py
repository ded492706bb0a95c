"""All configuration, typed, read from ``MJAPI_*`` environment variables (and ``.env``).

No instance is created at import: ``Settings()`` is built by the CLI or by tests and handed to
``mjapi.app.create_app``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of an mjapi server. Each field is ``MJAPI_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MJAPI_", env_file=".env", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, description="Port the API listens on.")
    data_dir: Path = Field(
        default=Path("data"), description="Folder for the SQLite file and the key."
    )
    database_url: str | None = Field(
        default=None,
        description="Database to use; empty means SQLite at <data_dir>/mjapi.sqlite3. "
        "A sqlite:///path URL picks another SQLite file.",
    )
    discord_url: str = Field(
        default="https://discord.com",
        description="Base URL of Discord (REST under /api/v9); point it at a simulator to test.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key that encrypts Discord tokens at rest; generated into "
        "<data_dir>/secret.key (mode 0600) when empty.",
    )
    ack_timeout: float = Field(
        default=30.0,
        description="Seconds a job POST waits for Midjourney's acknowledgement before answering.",
    )
    job_timeout: float = Field(
        default=900.0,
        description="Seconds without any news after which the watchdog fails a running job.",
    )
    gateway_ready_timeout: float = Field(
        default=20.0, description="Seconds to wait for a gateway READY when an account is attached."
    )
    callback_timeout: float = Field(default=10.0, description="Seconds one callback POST may take.")
    callback_attempts: int = Field(
        default=5, description="Attempts per callback before it is given up (backoff between them)."
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Let replyUrl, blendUrls and describeUrl reach private, loopback and other "
        "non-public addresses (development and tests only: it opens the door to SSRF).",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")

    def sqlite_path(self) -> Path:
        url = self.database_url
        if url and url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return self.data_dir / "mjapi.sqlite3"
