"""Composition root: the only place that chooses the store and the Midjourney backend."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mjapi import __version__
from mjapi.api import errors
from mjapi.api.fast_path import MjapiApp
from mjapi.api.ratelimit import RequestLimiter
from mjapi.api.routes import accounts, health, jobs, webhooks
from mjapi.api.token_cache import TokenCache
from mjapi.clock import Clock, SystemClock
from mjapi.engine import Engine
from mjapi.fetch import HttpFetcher
from mjapi.logs import install_redaction
from mjapi.net import Outbound, UrlGuard
from mjapi.settings import Settings
from mjapi.storage.base import Store
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.factory import open_store
from mjapi.transports.base import Transport
from mjapi.transports.discord import DiscordTransport
from mjapi.transports.worker import ProcessTransport, WorkerConfig
from mjapi.webhooks.outbox import Outbox, OutboxConfig
from mjapi.webhooks.policy import RetryPolicy

TransportFactory = Callable[[Settings, Clock], Transport]


def discord_transport(settings: Settings, clock: Clock) -> Transport:
    """Discord in this process, or in a worker process with ``MJAPI_TRANSPORT_PROCESS=true``."""
    if settings.transport_process:
        config = WorkerConfig(
            settings.discord_url, settings.gateway_ready_timeout, log_level=settings.log_level
        )
        return ProcessTransport(config, clock=clock)
    return DiscordTransport(
        settings.discord_url, clock=clock, ready_timeout=settings.gateway_ready_timeout
    )


async def open_configured_store(settings: Settings) -> Store:
    """The store the settings name, opened (migrations applied)."""
    cipher = TokenCipher.from_settings(settings.data_dir, settings.secret_key)
    store = open_store(settings, cipher)
    await store.open()
    return store


def default_outbound(settings: Settings) -> Outbound:
    """The real network, behind the URL guard the settings ask for."""
    return Outbound(UrlGuard(allow_private=settings.allow_private_urls))


@asynccontextmanager
async def running_engine(
    settings: Settings,
    clock: Clock,
    transport_factory: TransportFactory,
    outbound: Outbound | None = None,
) -> AsyncIterator[tuple[Store, Engine, Outbox]]:
    """Store, transport, callbacks and engine, started; everything closed on exit.

    On exit (SIGTERM included: uvicorn first stops accepting and lets requests finish) callbacks
    due now get ``shutdown_grace`` seconds to go out; whatever is left, jobs and callbacks, is
    stored and resumed by the next start.
    """
    outbound = outbound or default_outbound(settings)
    async with contextlib.AsyncExitStack() as stack:
        store = await open_configured_store(settings)
        stack.push_async_callback(store.close)
        # Callbacks and downloads reach client-named URLs: only through the guarded clients.
        # The outbox bounds attempts per host (MJAPI_CALLBACK_CONCURRENCY); as many connections
        # per receiver stay open for the next callbacks.
        http = outbound.poster(max_idle=settings.callback_concurrency)
        stack.push_async_callback(http.aclose)
        callbacks = Outbox(store, http, clock, outbox_config(settings))
        downloads = outbound.client(settings.callback_timeout)
        stack.push_async_callback(downloads.aclose)
        stack.push_async_callback(callbacks.close)
        stack.push_async_callback(callbacks.drain, settings.shutdown_grace)  # before close
        await callbacks.start()
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
            queue_by_default=settings.durable_queue,
            queue_limit=settings.queue_limit,
        )
        stack.push_async_callback(engine.stop)
        await engine.start()
        yield store, engine, callbacks


def outbox_config(settings: Settings) -> OutboxConfig:
    policy = RetryPolicy(
        max_delay=settings.callback_max_interval, period=settings.callback_retry_period
    )
    return OutboxConfig(
        policy=policy,
        timeout=settings.callback_timeout,
        per_host=settings.callback_concurrency,
        retention=settings.callback_retention,
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport_factory: TransportFactory = discord_transport,
    outbound: Outbound | None = None,
) -> FastAPI:
    """The API app; the store, transport and engine start and stop with its lifespan.

    ``outbound`` replaces the real network for client-named URLs (tests inject a resolver).
    """
    install_redaction()
    the_clock = clock or SystemClock()
    the_outbound = outbound or default_outbound(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = running_engine(settings, the_clock, transport_factory, the_outbound)
        async with running as (store, engine, outbox):
            app.state.store, app.state.engine, app.state.outbox = store, engine, outbox
            yield

    app = MjapiApp(
        title="mjapi",
        version=__version__,
        description="Self-hosted, useapi.net-compatible Midjourney API v2.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.outbound = the_outbound
    # Real time, not the injected clock: these limit load, they are not part of job semantics.
    app.state.limiter = RequestLimiter(
        settings.rate_limit, settings.rate_limit_burst, time.monotonic
    )
    app.state.token_cache = TokenCache(time.monotonic)
    errors.install(app)
    app.include_router(jobs.router)
    app.include_router(accounts.router)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    return app
