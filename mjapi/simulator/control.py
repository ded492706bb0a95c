"""The simulator's control actions, in process: break gateway connections, revoke tokens,
change plans, publish new command versions. ``control_api.py`` serves them under ``/_sim``.

Gateway actions act at once on the open connections of one account (``token``), or on every open
connection when no token is given, and answer how many connections they touched.
"""

from __future__ import annotations

from mjapi.simulator.bot import MidjourneyBot
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.gateway_protocol import (
    CLOSE_REASONS,
    DISCARDING_CLOSE_CODES,
    CloseCode,
    Opcode,
    encode_json,
    frame,
)
from mjapi.simulator.snowflake import SnowflakeFactory
from mjapi.simulator.state import SimulatorState
from mjapi.simulator.stats import GatewayStats

#: codes a close frame may not carry (RFC 6455 §7.4.1) or that are not close codes at all
_UNSENDABLE = frozenset({1004, 1005, 1006, 1015})


def check_close_code(code: int) -> None:
    """ValueError unless ``code`` can be sent in a close frame (1000-4999, not reserved)."""
    if not 1000 <= code <= 4999 or code in _UNSENDABLE:
        raise ValueError(
            f"{code} is not a close code a server can send (1000-4999, not 1004-1006, 1015)"
        )


class SimControl:
    """What ``/_sim/gateway``, ``/_sim/tokens``, ``/_sim/plans`` and ``/_sim/commands`` do."""

    def __init__(
        self,
        state: SimulatorState,
        hub: GatewayHub,
        bot: MidjourneyBot,
        snowflakes: SnowflakeFactory,
        stats: GatewayStats,
    ) -> None:
        self._state = state
        self._hub = hub
        self._bot = bot
        self._snowflakes = snowflakes
        self._stats = stats

    # -- gateway -----------------------------------------------------------------------------

    def drop(self, token: str | None = None) -> int:
        """Cut the TCP connections without a close frame; their sessions stay resumable."""
        links = self._hub.links(token)
        for link in links:
            link.abort()
        return len(links)

    def reconnect(self, token: str | None = None) -> int:
        """Op 7: the client should reconnect and resume; the sessions stay resumable."""
        links = self._hub.links(token)
        for link in links:
            link.send(encode_json(frame(Opcode.RECONNECT, None)))
        return len(links)

    def invalidate(self, resumable: bool, token: str | None = None) -> int:
        """Op 9 ``d: resumable``; with False the sessions are gone (a RESUME gets op 9 false)."""
        links = self._hub.links(token)
        for link in links:
            self._hub.invalidate(link, resumable)
        return len(links)

    def close(self, code: int, token: str | None = None) -> int:
        """Close with ``code``; 4004 (and Discord's other "new session" codes) end the session."""
        check_close_code(code)
        reason = CLOSE_REASONS.get(code, "mjapi simulator: closed by /_sim/gateway/close")
        links = self._hub.links(token)
        for link in links:
            if code in DISCARDING_CLOSE_CODES:
                self._hub.discard(link)
            link.close(code, reason)
        return len(links)

    def zombie(self, token: str | None = None) -> int:
        """Stop acknowledging heartbeats on these connections until they are gone."""
        links = self._hub.links(token)
        for link in links:
            if not link.zombie:
                link.zombie = True
                self._stats.zombies += 1
        return len(links)

    # -- accounts ----------------------------------------------------------------------------

    def revoke(self, token: str) -> int:
        """REST answers 401 and the gateway 4004 for ``token`` from now on; its sessions end.

        Answers how many open connections were closed.
        """
        self._state.revoked.add(token)
        links = self._hub.links(token)
        self._hub.discard_token(token)
        code = CloseCode.AUTHENTICATION_FAILED
        for link in links:
            link.close(code, CLOSE_REASONS[code])
        return len(links)

    def restore(self, token: str) -> None:
        """Undo ``revoke``: the token works again (its old sessions stay gone)."""
        self._state.revoked.discard(token)

    def set_plan(self, token: str, plan: str) -> None:
        """The account's Midjourney plan from now on (ValueError for an unknown plan)."""
        user = self._state.set_plan(token, plan)
        if user is not None:
            self._bot.plan_changed(user)

    def bump_command(self, name: str) -> str:
        """Publish a new version of the command ``name`` (KeyError if Midjourney has none).

        Interactions naming the old version get capture 33's "This command is outdated".
        """
        version = self._snowflakes.next()
        self._state.commands.set_version(name, version)
        return version
