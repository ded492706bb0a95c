"""Composition root: the only place that chooses the store and the Midjourney backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from mjapi import __version__
from mjapi.api import errors
from mjapi.api.routes import accounts, health, jobs
from mjapi.clock import Clock, SystemClock
from mjapi.engine import Engine
from mjapi.fetch import HttpFetcher
from mjapi.logs import install_redaction
from mjapi.settings import Settings
from mjapi.storage.base import Store
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.factory import open_store
from mjapi.transports.base import Transport
from mjapi.transports.discord import DiscordTransport
from mjapi.webhooks.delivery import CallbackSender, RetryPolicy

TransportFactory = Callable[[Settings, Clock], Transport]


def discord_transport(settings: Settings, clock: Clock) -> Transport:
    return DiscordTransport(
        settings.discord_url, clock=clock, ready_timeout=settings.gateway_ready_timeout
    )


async def open_configured_store(settings: Settings) -> Store:
    """The store the settings name, opened (migrations applied)."""
    cipher = TokenCipher.from_settings(settings.data_dir, settings.secret_key)
    store = open_store(settings, cipher)
    await store.open()
    return store


@asynccontextmanager
async def running_engine(
    settings: Settings, clock: Clock, transport_factory: TransportFactory
) -> AsyncIterator[tuple[Store, Engine]]:
    """Store, transport, callbacks and engine, started; everything closed on exit."""
    async with contextlib.AsyncExitStack() as stack:
        store = await open_configured_store(settings)
        stack.push_async_callback(store.close)
        http = httpx.AsyncClient(timeout=settings.callback_timeout, follow_redirects=False)
        stack.push_async_callback(http.aclose)
        callbacks = CallbackSender(http, RetryPolicy(attempts=settings.callback_attempts))
        downloads = httpx.AsyncClient(timeout=settings.callback_timeout, follow_redirects=True)
        stack.push_async_callback(downloads.aclose)
        stack.push_async_callback(callbacks.close)
        stack.push_async_callback(_drain, callbacks, settings.callback_timeout)  # before close
        transport = transport_factory(settings, clock)
        stack.push_async_callback(transport.close)
        engine = Engine(
            store,
            transport,
            callbacks,
            clock,
            fetcher=HttpFetcher(downloads),
            ack_timeout=settings.ack_timeout,
            job_timeout=settings.job_timeout,
        )
        stack.push_async_callback(engine.stop)
        await engine.start()
        yield store, engine


async def _drain(callbacks: CallbackSender, seconds: float) -> None:
    """Give queued callbacks a short chance to go out before shutdown."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(callbacks.drain(), seconds)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport_factory: TransportFactory = discord_transport,
) -> FastAPI:
    """The API app; the store, transport and engine start and stop with its lifespan."""
    install_redaction()
    the_clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_engine(settings, the_clock, transport_factory) as (store, engine):
            app.state.store, app.state.engine = store, engine
            yield

    app = FastAPI(
        title="mjapi",
        version=__version__,
        description="Self-hosted, useapi.net-compatible Midjourney API v2.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    errors.install(app)
    for router in (jobs.router, accounts.router, health.router):
        app.include_router(router)
    return app
