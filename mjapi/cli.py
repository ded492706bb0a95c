"""Command line: ``mjapi serve | simulator | demo | token create | inspect``.

Every flag falls back to its ``MJAPI_*`` environment variable (see ``mjapi.settings``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from mjapi import gc_tuning, logs
from mjapi.app import create_app, open_configured_store
from mjapi.domain.tokens import hash_token, new_token
from mjapi.inspect import InspectError, inspect_payload, parse_document, render
from mjapi.settings import Settings
from mjapi.storage.base import ApiToken, Store

app = typer.Typer(
    help="Self-hosted, useapi.net-compatible Midjourney API v2.", no_args_is_help=True
)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

#: The simulated Discord account the demo configures (any well-formed token is a simulated user).
DEMO_DISCORD_TOKEN = "mjapi-demo-discord-account-token"

Host = Annotated[str | None, typer.Option(help="Listen address (env MJAPI_HOST).")]
Port = Annotated[int | None, typer.Option(help="Listen port (env MJAPI_PORT).")]
DataDir = Annotated[
    Path | None, typer.Option(help="Folder for the database and key (env MJAPI_DATA_DIR).")
]
DiscordUrl = Annotated[str | None, typer.Option(help="Discord base URL (env MJAPI_DISCORD_URL).")]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@app.command()
def serve(
    host: Host = None, port: Port = None, data_dir: DataDir = None, discord_url: DiscordUrl = None
) -> None:
    """Run the API server."""
    settings = _settings(host=host, port=port, data_dir=data_dir, discord_url=discord_url)
    logs.configure(settings.log_level)
    app = create_app(settings)
    gc_tuning.tune_for_server()
    uvicorn.run(app, **uvicorn_options(settings))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How ``mjapi serve`` runs uvicorn (``bench.server_proc`` runs it the same way)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": settings.access_log,
        "timeout_keep_alive": settings.keep_alive,
        # SIGTERM: stop accepting, give requests this long, then the lifespan stores the rest.
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_grace)),
    }


@app.command()
def simulator(
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port.")] = 8181,
    step_delay: Annotated[float, typer.Option(help="Seconds between bot steps.")] = 0.7,
) -> None:
    """Run the Discord + Midjourney simulator alone (point MJAPI_DISCORD_URL at it)."""
    from mjapi.simulator import SimulatorConfig
    from mjapi.simulator import serve as serve_simulator

    logs.configure("INFO")
    serve_simulator(SimulatorConfig(step_delay=step_delay), host=host, port=port)


@app.command()
def demo(host: Host = None, port: Port = None, data_dir: DataDir = None) -> None:
    """Server + simulator in one process, a demo account configured, an API token printed."""
    settings = _settings(host=host, port=port, data_dir=data_dir)
    logs.configure("WARNING")
    asyncio.run(_run_demo(settings))


@token_app.command("create")
def token_create(
    data_dir: DataDir = None,
    user: Annotated[int | None, typer.Option(help="Add a token for this existing user id.")] = None,
    label: Annotated[str | None, typer.Option(help="A note stored with the token.")] = None,
) -> None:
    """Create an API token; it is printed once, as the last line, and stored only hashed."""
    settings = _settings(data_dir=data_dir)
    token = asyncio.run(_create_token(settings, user, label))
    typer.echo(f"Created an API token for user {token.split('-')[0]}. Keep it secret:")
    typer.echo(token)


@app.command("inspect")
def inspect_command(
    file: Annotated[
        str,
        typer.Argument(
            help="JSON file: a gateway frame or log (JSON list or JSON lines), a message or "
            "REST history, a REST body or an /interactions request; '-' reads stdin.",
            metavar="FILE",
            show_default=False,
        ),
    ],
    compact: Annotated[bool, typer.Option("--compact", help="One line per result.")] = False,
) -> None:
    """Print what mjapi reads from a captured Discord payload: JSON, one result per message."""
    try:
        results = inspect_payload(parse_document(_read_input(file)))
    except InspectError as exc:
        typer.echo(f"mjapi inspect: {file}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(render(results, compact=compact))


def _read_input(file: str) -> str:
    """The file's text; every way reading can fail becomes one clear InspectError."""
    try:
        if file == "-":
            return sys.stdin.read()
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InspectError("no such file") from None
    except IsADirectoryError:
        raise InspectError("is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InspectError("not UTF-8 text (expected JSON)") from None
    except OSError as exc:
        raise InspectError(f"cannot read it ({exc.strerror or type(exc).__name__})") from None


async def _create_token(settings: Settings, user: int | None, label: str | None) -> str:
    store = await open_configured_store(settings)
    try:
        return await _add_token(store, user, label)
    finally:
        await store.close()


async def _add_token(store: Store, user: int | None, label: str | None) -> str:
    from mjapi.clock import SystemClock

    user_id = user if user is not None else await store.next_user_id()
    token = new_token(user_id)
    await store.add_token(ApiToken(hash_token(token), user_id, SystemClock().now(), label))
    return token


async def _demo_user(store: Store) -> int:
    """The user who owns the demo account, so that every demo run sees the same account."""
    for account in await store.list_accounts():
        if account.discord_token == DEMO_DISCORD_TOKEN:
            return account.owner
    return await store.next_user_id()


async def _run_demo(settings: Settings) -> None:
    from mjapi.simulator import SimulatorConfig, running_simulator

    async with running_simulator(SimulatorConfig()) as sim:
        # The simulator serves its images (and the demo's callbacks go) on loopback.
        update = {"discord_url": sim.base_url, "allow_private_urls": True}
        settings = settings.model_copy(update=update)
        api = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(
                api,
                host=settings.host,
                port=settings.port,
                log_config=None,
                timeout_graceful_shutdown=max(1, round(settings.shutdown_grace)),
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return await serving
            await asyncio.sleep(0.05)
        store: Store = api.state.store
        owner = await _demo_user(store)
        await api.state.engine.accounts.add(owner, DEMO_DISCORD_TOKEN, None)
        token = await _add_token(store, owner, "demo")
        _print_banner(settings, sim.base_url, token)
        await serving


def _print_banner(settings: Settings, simulator_url: str, token: str) -> None:
    base = f"http://{settings.host}:{settings.port}"
    print(
        f"""
mjapi demo is running: API {base}  (simulated Discord at {simulator_url})
A demo Midjourney account is configured. Try:

  curl -s -H "Authorization: Bearer {token}" -H "Content-Type: application/json" \\
       -X POST {base}/v2/jobs/imagine -d '{{"prompt": "a lighthouse at dawn, oil painting"}}'

then read the job with the "jobid" it returns:

  curl -s -H "Authorization: Bearer {token}" "{base}/v2/jobs/?jobid=<jobid>"

Interactive docs: {base}/docs   Stop with Ctrl+C.
API token:
{token}""",
        flush=True,
    )


def main() -> None:
    app()
