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
    transport_process: bool = Field(
        default=False,
        description="Run the Discord side (gateway connections, REST calls, reading Midjourney's "
        "messages) in a worker process of its own, on another core than the API and the jobs; "
        "a worker that dies is replaced and its accounts and jobs taken over. For many accounts "
        "on a machine with a core to spare (docs/architecture.md).",
    )
    gateway_ready_timeout: float = Field(
        default=20.0, description="Seconds to wait for a gateway READY when an account is attached."
    )
    callback_timeout: float = Field(default=10.0, description="Seconds one callback POST may take.")
    callback_retry_period: float = Field(
        default=86400.0,
        description="Seconds a callback keeps being retried (exponential backoff with jitter) "
        "before it is marked failed; it can still be replayed through the API.",
    )
    callback_max_interval: float = Field(
        default=900.0, description="Longest pause between two attempts of one callback (seconds)."
    )
    callback_retention: float = Field(
        default=7 * 86400.0,
        description="Seconds delivered and failed callbacks stay listed before they are pruned.",
    )
    callback_concurrency: int = Field(
        default=64,
        description="Callbacks in flight at once per receiver host: a slow receiver uses up only "
        "its own share, never other receivers'.",
    )
    durable_queue: bool = Field(
        default=False,
        description="Every job that finds no free slot waits in the persistent queue (status "
        'created) instead of getting useapi\'s 429. Off: only requests with "queue": true wait.',
    )
    queue_limit: int = Field(
        default=1000, description="Jobs one API user may have waiting in the durable queue."
    )
    rate_limit: float = Field(
        default=50.0,
        description="Requests per second one API user may make (sustained); 0 turns the limit off.",
    )
    rate_limit_burst: int = Field(
        default=200, description="Requests one API user may make at once above the sustained rate."
    )
    shutdown_grace: float = Field(
        default=10.0,
        description="Seconds a stopping server (SIGTERM) gives work in progress: callbacks due "
        "now, job POSTs waiting for Midjourney. The rest is resumed at the next start.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Let replyUrl, blendUrls and describeUrl reach private, loopback and other "
        "non-public addresses (development and tests only: it opens the door to SSRF).",
    )
    keep_alive: float = Field(
        default=75.0,
        description="Seconds an idle client connection stays open for its next request. Longer "
        "than uvicorn's 5 s: a client waiting for its job between requests keeps its connection, "
        "and a busy server takes only one new connection per event-loop turn (libuv), so "
        "reconnecting clients queue up behind each other.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    access_log: bool = Field(
        default=True,
        description="One INFO line per HTTP request (client, method, path, status). It is "
        "about 20 % of the server's time on a GET /v2/jobs/?jobid=; turn it off when a reverse "
        "proxy logs requests already.",
    )

    def sqlite_path(self) -> Path:
        url = self.database_url
        if url and url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return self.data_dir / "mjapi.sqlite3"
