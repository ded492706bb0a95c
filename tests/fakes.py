"""In-memory stand-ins for what cannot be the real thing in a given test layer."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence

import httpx

from mjapi.domain.accounts import Account
from mjapi.domain.events import BackendEvent, JobCompleted, JobStarted
from mjapi.errors import DiscordAuthError
from mjapi.transports.base import (
    BlendDimensions,
    ButtonTarget,
    DiscordIdentity,
    ServerChannel,
    Setting,
    Upload,
)


class FakeTransport:
    """A Midjourney backend that acknowledges at once and lets the test emit later events."""

    def __init__(self, *, auto_start: bool = True) -> None:
        self.auto_start = auto_start
        #: raised by the next imagine (any exception: tests also simulate bugs)
        self.fail_next: BaseException | None = None
        self.submitted: list[tuple[str, str, str]] = []
        self.attached: dict[str, Account] = {}
        self.forgotten: list[str] = []
        self.clicks: list[ButtonTarget] = []
        #: what Midjourney answers the next submissions with instead of "Waiting to start"
        #: (each entry makes the events for one jobid)
        self.answers: list[Callable[[str], list[BackendEvent]]] = []
        #: raised by the next attach
        self.attach_error: BaseException | None = None
        self._events: asyncio.Queue[BackendEvent] = asyncio.Queue()

    async def identify(self, token: str) -> DiscordIdentity:
        if token.startswith("bad"):
            raise DiscordAuthError()
        digest = int(hashlib.sha256(token.encode()).hexdigest()[:12], 16)
        return DiscordIdentity(str(digest), f"user{digest % 1000}", str(10**17 + digest))

    async def attach(self, account: Account) -> None:
        if self.attach_error is not None:
            error, self.attach_error = self.attach_error, None
            raise error
        self.attached[account.channel] = account

    async def detach(self, channel: str) -> None:
        self.attached.pop(channel, None)

    async def identify_server_channel(self, token: str, channel: ServerChannel) -> DiscordIdentity:
        identity = await self.identify(token)
        return DiscordIdentity(identity.user_id, identity.username, identity.dm_channel_id)

    async def imagine(self, account: Account, jobid: str, prompt: str) -> str:
        return self._submit(account, jobid, prompt)

    async def button(
        self,
        account: Account,
        jobid: str,
        target: ButtonTarget,
        *,
        prompt: str | None = None,
        mask: str | None = None,
    ) -> str:
        self.clicks.append(target)
        return self._submit(account, jobid, target.custom_id)

    async def blend(
        self, account: Account, jobid: str, images: Sequence[Upload], dimensions: BlendDimensions
    ) -> str:
        return self._submit(account, jobid, f"blend of {len(images)} {dimensions.option}")

    async def describe(self, account: Account, jobid: str, image: Upload) -> str:
        return self._submit(account, jobid, f"describe {image.filename}")

    async def seed(self, account: Account, jobid: str, target: ButtonTarget) -> str:
        return self._submit(account, jobid, f"seed of {target.message_id}")

    async def setting(self, account: Account, jobid: str, setting: Setting) -> str:
        nonce = self._submit(account, jobid, setting.value, start=False)
        self.emit(JobCompleted(jobid, "reply", f"Done! {setting.value}", "t", (), (), None))
        return nonce

    def _submit(self, account: Account, jobid: str, what: str, *, start: bool = True) -> str:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.submitted.append((account.channel, jobid, what))
        if self.answers:
            for event in self.answers.pop(0)(jobid):
                self.emit(event)
        elif self.auto_start and start:
            self.emit(JobStarted(jobid, f"m-{len(self.submitted)}", f"**{what}** (Waiting)", "t"))
        return f"nonce-{len(self.submitted)}"

    def forget(self, channel: str, jobid: str) -> None:
        self.forgotten.append(jobid)

    def emit(self, event: BackendEvent) -> None:
        self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[BackendEvent]:
        while True:
            yield await self._events.get()
            # The consumer asks for the next event only after applying this one.
            self._events.task_done()

    async def applied(self) -> None:
        """Wait until the consumer has applied every event emitted so far."""
        await asyncio.wait_for(self._events.join(), 5)

    async def close(self) -> None:
        return None


class CallbackReceiver:
    """An in-process webhook receiver for httpx.MockTransport."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.arrived = asyncio.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        self.arrived.set()
        return httpx.Response(200, text="ok")

    def statuses(self, jobid: str) -> list[object]:
        return [b["status"] for b in self.bodies if b["jobid"] == jobid]
