"""What every flow of the fake bot shares: gateway output, timing, files, per-user queues."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from mjapi.clock import Clock
from mjapi.simulator import messages
from mjapi.simulator.cdn import StoredFile
from mjapi.simulator.components import mark_used
from mjapi.simulator.config import SimulatorConfig
from mjapi.simulator.faults import FaultControl
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.media import MediaCache
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.scheduler import JobQueue
from mjapi.simulator.snowflake import SnowflakeFactory, discord_timestamp
from mjapi.simulator.state import SimChannel, SimulatorState
from mjapi.simulator.stats import JobStats
from mjapi.simulator.users import SimUser

log = logging.getLogger(__name__)

#: nonces remembered per user: a reused nonce creates no new job (reference §1.7)
_NONCE_MEMORY = 1000
#: shared media kept per image variant: one per progress-point list a job may show (all, the
#: first, the first half) and some room for other aspect ratios
_MEDIA_PER_VARIANT = 4


class BotCore:
    """The bot's hands: it sends events, stores messages and files, keeps the job queues."""

    def __init__(
        self,
        config: SimulatorConfig,
        state: SimulatorState,
        hub: GatewayHub,
        snowflakes: SnowflakeFactory,
        clock: Clock,
        faults: FaultControl,
        stats: JobStats,
    ) -> None:
        self.config = config
        self.state = state
        self.hub = hub
        self.snowflakes = snowflakes
        self.clock = clock
        #: the fault rules jobs are checked against (``fault_play.py``)
        self.faults = faults
        self.stats = stats
        self.queues: dict[str, JobQueue[Any]] = {}
        #: media shared between jobs (``SimulatorConfig.image_variants``)
        self.media = MediaCache(max(1, config.image_variants * _MEDIA_PER_VARIANT))
        self._nonces: dict[str, OrderedDict[str, None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    # -- bookkeeping -------------------------------------------------------------------------

    def nonce_seen(self, user_id: str, nonce: str) -> bool:
        seen = self._nonces.setdefault(user_id, OrderedDict())
        if nonce in seen:
            return True
        seen[nonce] = None
        if len(seen) > _NONCE_MEMORY:
            seen.popitem(last=False)
        return False

    def queue(self, user: SimUser) -> JobQueue[Any]:
        if user.id not in self.queues:
            # the plan as it is now: ``user`` may be a context's copy from before /_sim/plans
            plan = self.state.users.get(user.id, user).plan
            concurrency = self.config.concurrency(plan)
            self.queues[user.id] = JobQueue(concurrency, self.config.wait_queue_size)
        return self.queues[user.id]

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulated bot task failed", exc_info=task.exception())

    async def aclose(self) -> None:
        self.closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def next_id(self) -> str:
        return self.snowflakes.next()

    def interaction(
        self,
        user: SimUser,
        channel: SimChannel,
        command: str,
        nonce: str | None,
        interaction_type: int = 2,
    ) -> InteractionContext:
        """A new interaction's context, with a fresh interaction id."""
        return InteractionContext(user, channel, command, self.next_id(), nonce, interaction_type)

    def now(self) -> str:
        return discord_timestamp(self.clock.now())

    # -- gateway output ----------------------------------------------------------------------

    def emit(self, user_id: str, event: str, data: JsonObject, d_json: str | None = None) -> None:
        """Dispatch to the user's sessions; ``d_json``: ``data`` already encoded, if at hand."""
        self.hub.dispatch(user_id, event, data, d_json)

    def post(self, ctx: InteractionContext, message: JsonObject) -> None:
        self.state.save_message(messages.stored(message))
        self.emit(ctx.user.id, "MESSAGE_CREATE", message)

    def edit(self, ctx: InteractionContext, message: JsonObject, d_json: str | None = None) -> None:
        self.state.save_message(message)
        self.emit(ctx.user.id, "MESSAGE_UPDATE", message, d_json)

    def delete(self, user_id: str, channel: SimChannel, message_id: str) -> None:
        self.state.delete_message(channel.id, message_id)
        self.emit(user_id, "MESSAGE_DELETE", messages.deleted(channel, message_id))

    def mark_used(self, ctx: InteractionContext, message_id: str, custom_id: str) -> None:
        """MESSAGE_UPDATE of the clicked message with that button primary (captures 17, 25)."""
        current = self.state.message(ctx.channel.id, message_id)
        if current is None:
            return
        components = mark_used(current["components"], custom_id)
        self.edit(ctx, messages.with_components(current, components, self.now()))

    async def step(self) -> None:
        await asyncio.sleep(self.config.step_delay)

    async def acknowledge(self, ctx: InteractionContext) -> None:
        """INTERACTION_CREATE now, INTERACTION_SUCCESS when the bot took it (captures 04, 05)."""
        ids = self.interaction_ids(ctx)
        self.emit(ctx.user.id, "INTERACTION_CREATE", dict(ids))
        await self.step()
        self.emit(ctx.user.id, "INTERACTION_SUCCESS", dict(ids))

    async def fail_interaction(self, ctx: InteractionContext) -> None:
        """INTERACTION_CREATE, then INTERACTION_FAILURE: the bot did not answer (reference §2.4)."""
        ids = self.interaction_ids(ctx)
        self.emit(ctx.user.id, "INTERACTION_CREATE", dict(ids))
        await self.step()
        self.emit(ctx.user.id, "INTERACTION_FAILURE", dict(ids))

    @staticmethod
    def interaction_ids(ctx: InteractionContext) -> JsonObject:
        ids: JsonObject = {"id": ctx.interaction_id}
        if ctx.nonce is not None:
            ids["nonce"] = ctx.nonce
        return ids

    # -- files -------------------------------------------------------------------------------

    def publish(
        self,
        channel: SimChannel,
        origin: str,
        filename: str,
        content_type: str,
        data: bytes,
        size: tuple[int, int],
    ) -> JsonObject:
        """Store a file on the CDN; its attachment object."""
        file = StoredFile(
            channel_id=channel.id,
            attachment_id=self.next_id(),
            filename=filename,
            content_type=content_type,
            data=data,
            width=size[0],
            height=size[1],
        )
        return self.state.attachments.publish(file, origin)
