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


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport_factory: TransportFactory = discord_transport,
) -> FastAPI:
    """The API app; the store, transport and engine start and stop with its lifespan."""
    the_clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_configured_store(settings)
        transport = transport_factory(settings, the_clock)
        http = httpx.AsyncClient(timeout=settings.callback_timeout, follow_redirects=False)
        callbacks = CallbackSender(http, RetryPolicy(attempts=settings.callback_attempts))
        engine = Engine(
            store,
            transport,
            callbacks,
            the_clock,
            ack_timeout=settings.ack_timeout,
            job_timeout=settings.job_timeout,
        )
        app.state.store, app.state.engine = store, engine
        try:
            await engine.start()
            yield
        finally:
            await engine.stop()
            await transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(callbacks.drain(), settings.callback_timeout)
            await callbacks.close()
            await http.aclose()
            await store.close()

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
