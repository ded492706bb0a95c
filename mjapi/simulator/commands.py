"""The command index the simulator publishes and validates interactions against."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from mjapi.simulator.commands_data import INDEX_VERSION, application, application_commands
from mjapi.simulator.objects import JsonObject

#: the commands the bot plays; REST refuses the others with a clear "not implemented" 400
PLAYED_COMMANDS = frozenset(
    {"imagine", "fast", "relax", "turbo", "blend", "describe", "info", "prefer"}
)
#: the /prefer sub-commands the bot plays
PLAYED_PREFERENCES = frozenset({"remix", "variability"})


class CommandIndex:
    """Midjourney's commands with their current versions; tests may change a version at run time."""

    def __init__(self, version_overrides: Mapping[str, str]) -> None:
        self._commands = {command["id"]: command for command in application_commands()}
        self._version = int(INDEX_VERSION)
        for name, version in version_overrides.items():
            self.set_version(name, version)

    def response(self) -> JsonObject:
        """The body of ``GET /channels/{id}/application-command-index`` (capture 31)."""
        return {
            "applications": [application()],
            "application_commands": copy.deepcopy(list(self._commands.values())),
            "version": str(self._version),
        }

    def by_id(self, command_id: str) -> JsonObject | None:
        """The command with this id, if Midjourney has one."""
        return self._commands.get(command_id)

    def by_name(self, name: str) -> JsonObject:
        """The command with this name (KeyError for an unknown name)."""
        for command in self._commands.values():
            if command["name"] == name:
                return command
        raise KeyError(f"Midjourney has no command named {name!r}")

    def set_version(self, name: str, version: str) -> None:
        """Publish a new version of a command, as Midjourney does now and then (reference §8)."""
        command = self.by_name(name)
        if command["version"] != version:
            command["version"] = version
            self._version += 1
