"""The Midjourney Bot's application-command-index, as data (trimmed from capture 31, 2024-08).

Ids, versions, names, option schemas, contexts and integration types are the captured ones;
descriptions Discord elided as "…" in the capture stay elided.
"""

from __future__ import annotations

from typing import Any, Final

from mjapi.simulator.objects import JsonObject, bot_user
from mjapi.simulator.users import MJ_BOT_ID

INDEX_VERSION: Final = "1267632560465248388"

_EVERYWHERE = (0, 1, 2)
_GUILD_AND_BOT_DM = (0, 1)


def _option(kind: int, name: str, description: str, **extra: Any) -> JsonObject:
    return {"type": kind, "name": name, "description": description, **extra}


def _command(
    command_id: str,
    version: str,
    name: str,
    description: str | None,
    rank: int | None,
    contexts: tuple[int, ...] = _EVERYWHERE,
    options: list[JsonObject] | None = None,
    kind: int = 1,
) -> JsonObject:
    command: JsonObject = {
        "id": command_id,
        "type": kind,
        "application_id": MJ_BOT_ID,
        "version": version,
        "name": name,
    }
    if description is not None:
        command["description"] = description
    if options:
        command["options"] = options
    command["dm_permission"] = True
    command["contexts"] = list(contexts)
    # user-installable (1) exactly where the command works in every context (capture 31)
    command["integration_types"] = [0, 1] if contexts == _EVERYWHERE else [0]
    if rank is not None:
        command["global_popularity_rank"] = rank
    return command


def _prefer_options() -> list[JsonObject]:
    set_options = [
        _option(3, "option", "…", required=True, autocomplete=True),
        _option(3, "value", "…", required=False),
    ]
    return [
        _option(
            2,
            "option",
            "…",
            options=[
                _option(1, "set", "Set a custom option.", options=set_options),
                _option(1, "list", "View your current custom options."),
            ],
        ),
        _option(1, "auto_dm", "Whether or not to automatically send job results to your DMs."),
        _option(
            1,
            "suffix",
            "Suffix to automatically add to the end of every prompt. Leave empty to remove.",
            options=[_option(3, "new_value", "…", required=False)],
        ),
        _option(1, "remix", "Toggle remix mode."),
        _option(1, "variability", "Toggle variability mode."),
    ]


def _blend_options() -> list[JsonObject]:
    dimensions = [
        {"name": "Portrait", "value": "--ar 2:3"},
        {"name": "Square", "value": "--ar 1:1"},
        {"name": "Landscape", "value": "--ar 3:2"},
    ]
    return [
        _option(11, "image1", "First image to add to the blend", required=True),
        _option(11, "image2", "Second image to add to the blend", required=True),
        _option(
            3,
            "dimensions",
            "The dimensions of the image. If not specified, the image will be square.",
            required=False,
            choices=dimensions,
        ),
        _option(11, "image3", "Third image to add to the blend (optional)", required=False),
        _option(11, "image4", "Fourth image to add to the blend (optional)", required=False),
        _option(11, "image5", "Fifth image to add to the blend (optional)", required=False),
    ]


def application() -> JsonObject:
    """``applications[0]`` of the index: the Midjourney Bot application."""
    return {
        "id": MJ_BOT_ID,
        "name": "Midjourney Bot",
        "description": "Generate an image based on a text prompt in under 60 seconds using the "
        "</imagine:938956540159881230> command!\n\n"
        "https://docs.midjourney.com/docs/terms-of-service",
        "icon": "f6ce562a6b4979c4b1cbc5b436d3be76",
        "bot": bot_user(),
        "bot_id": MJ_BOT_ID,
        "flags": "94371840",
    }


def application_commands() -> list[JsonObject]:
    """Every Midjourney command of capture 31, in its order."""
    prompt = _option(3, "prompt", "The prompt to imagine", required=True)
    return [
        _command("938956540159881230", "1237876415471554623", "imagine",
                 "Create images with Midjourney", 1, options=[prompt]),
        _command("941673664900898876", "1237876415471554629", "help",
                 "Shows help for the bot.", 14),
        _command("972289487818334209", "1237876415735660565", "info",
                 "View information about your profile.", 3),
        _command("972289487818334211", "1237876415735660571", "public",
                 "Switch to public mode", 22, _GUILD_AND_BOT_DM),
        _command("972289487818334212", "1237876415735660572", "fast",
                 "Switch to fast mode", 10, _GUILD_AND_BOT_DM),
        _command("972289487818334213", "1237876415735660573", "relax",
                 "Switch to relax mode", 9, _GUILD_AND_BOT_DM),
        _command("984273800587776053", "1237876415790055476", "prefer",
                 "…", 7, _GUILD_AND_BOT_DM, _prefer_options()),
        _command("986816068012081172", "1237876415735660567", "invite",
                 "Get an invite link to the Midjourney Discord server", 20, _GUILD_AND_BOT_DM),
        _command("987795925764280351", "1237876415735660568", "subscribe",
                 "Subscribe to Midjourney", 8),
        _command("987795925764280352", "1237876415790055477", "Cancel Job", None, None, kind=3),
        _command("987795925764280353", "1237876415790055478", "DM Results", None, None, kind=3),
        _command("994261739745050684", "1237876415471554622", "ask",
                 "Get an answer to a question.", 11,
                 options=[_option(3, "question", "What is the question?", required=True)]),
        _command("1000850743479255081", "1237876415790055475", "settings",
                 "View and adjust your personal settings.", 5),
        _command("1062880104792997970", "1237876415471554624", "blend",
                 "Blend images together seamlessly!", 4, options=_blend_options()),
        _command("1065569343456419860", "1259937291770658936", "stealth",
                 "Switch to stealth mode", 13, _GUILD_AND_BOT_DM),
        _command("1092492867185950852", "1237876415471554625", "describe",
                 "Writes a prompt based on your image.", 2,
                 options=[_option(11, "image", "The image to describe", required=False),
                          _option(3, "link", "…", required=False)]),
        _command("1121575372539039774", "1247736572414001223", "shorten",
                 "Analyzes and shortens a prompt.", 12,
                 options=[_option(3, "prompt", "The prompt to shorten", required=True)]),
        _command("1124132684143271996", "1237876415790055474", "turbo",
                 "Switch to turbo mode", 17, _GUILD_AND_BOT_DM),
        _command("1136041075614683196", "1237876415735660566", "userid",
                 "Get your user ID", 18),
        _command("1169435442328911902", "1247736572414001224", "show",
                 "Shows the job view based on job id.", 6,
                 options=[_option(3, "job_id", "The job ID of the job you want to show. "
                                  "It should look similar to this:…", required=True)]),
        _command("1169440360339091476", "1237876415471554627", "tune",
                 "Create a shareable style tuner based on a prompt.", 15, _GUILD_AND_BOT_DM,
                 [_option(3, "prompt", "The base prompt to use for the tuner", required=True)]),
        _command("1181338718158721086", "1237876415471554628", "list_tuners",
                 "List your tuners!", 19, _GUILD_AND_BOT_DM),
        _command("1199869998538162256", "1237876415735660564", "feedback",
                 "Submit your feedback!", 21, _GUILD_AND_BOT_DM),
        _command("1267632559278526577", "1267632559278526578", "list_personalize_codes",
                 "List your personalize codes!", 16, _GUILD_AND_BOT_DM),
    ]  # fmt: skip
