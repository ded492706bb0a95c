"""The optimised interpret() reads every message exactly as the plain one it replaced.

``_interpret_reference.py`` is a verbatim copy of interpret.py before the optimisation (str.find
instead of the prompt regex, regexes skipped when their literal is absent, no ``_Shape`` record,
no copies of absent embeds ...). Every field of the result, and the properties built on them,
must be equal on every dict of every capture and on generated messages made of the fragments
that decide a reading (prompts, mentions, statuses, modes, labels, seed DMs, embeds,
attachments, buttons).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
import textwrap
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mjapi.domain.jobs import Attachment, Button
from mjapi.transports.discord import interpret as fast
from mjapi.transports.discord.catalogue import ERROR_TITLES
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID
from tests.conftest import CAPTURES, load_capture
from tests.unit import _interpret_reference as plain

# -- comparison -------------------------------------------------------------------------------


def reading(msg: Any) -> Any:
    """Every field and property of an MjMessage of either module, comparable across them."""
    if msg is None:
        return None
    fields = {}
    for field in dataclasses.fields(msg):
        value = getattr(msg, field.name)
        if field.name == "kind":
            value = (type(value).__name__, value.value)
        elif field.name == "embed" and value is not None:
            value = (type(value).__name__, dataclasses.astuple(value))
        fields[field.name] = value
    fields["failure"] = msg.failure
    fields["moderated"] = msg.moderated
    fields["is_reply"] = msg.is_reply
    return fields


def assert_same_reading(message: Any) -> None:
    expected = plain.interpret(message)
    actual = fast.interpret(message)
    assert reading(actual) == reading(expected)
    # repr tells 1 from True, a str from an int ... where == would not
    assert repr(reading(actual)) == repr(reading(expected))
    if actual is not None:
        assert type(actual.kind) is fast.Kind
        assert actual.embed is None or type(actual.embed) is fast.Embed


def test_the_reading_compares_every_field() -> None:
    # The comparison itself must see a difference in any field (a test that cannot fail is none).
    base = fast.interpret(load_capture("10-gw-imagine-final-grid-fast.json")["d"])
    assert base is not None
    assert base.kind is fast.Kind.DONE and base.embed is None
    other: dict[str, Any] = {"kind": fast.Kind.SEED, "embed": fast.Embed("t", None, None, None)}
    for field in dataclasses.fields(base):
        changed = dataclasses.replace(base, **{field.name: other.get(field.name, object())})
        assert reading(changed) != reading(base), field.name


@pytest.mark.parametrize(
    ("function", "record"),
    [
        (fast.interpret, fast.MjMessage),
        (fast._attachment, Attachment),
        (fast._buttons, Button),
    ],
)
def test_records_are_built_with_each_field_in_its_place(function: Any, record: type) -> None:
    # Built positionally (keywords cost too much at thousands of messages a second), each
    # value a variable named as its field: the names in the call must be the fields, in order.
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == record.__name__
    ]
    assert len(calls) == 1 and not calls[0].keywords
    names = [arg.id if isinstance(arg, ast.Name) else ast.dump(arg) for arg in calls[0].args]
    assert names == [field.name for field in dataclasses.fields(record)]


def test_only_u_and_m_fold_to_the_first_letters_of_the_old_labels() -> None:
    # _action skips _HEAD_LABEL_RE unless content starts with one of _HEAD_INITIALS.
    assert fast._HEAD_LABEL_RE.pattern.startswith("^(Upscaling|Making ")
    assert fast._HEAD_LABEL_RE.flags & re.IGNORECASE
    first = re.compile("U|M", re.IGNORECASE)
    folding = [chr(c) for c in range(sys.maxunicode + 1) if first.match(chr(c))]
    assert sorted(folding) == sorted(fast._HEAD_INITIALS)


# -- captures ---------------------------------------------------------------------------------


def dicts_in(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict anywhere in a parsed JSON document (frames, ``d``, referenced messages...)."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from dicts_in(value)
    elif isinstance(data, list):
        for value in data:
            yield from dicts_in(value)


def capture_dicts_of(name: str) -> list[dict[str, Any]]:
    return list(dicts_in(load_capture(name)))


CAPTURE_NAMES = sorted(path.name for path in CAPTURES.glob("*.json"))


def test_the_captures_hold_bot_messages() -> None:
    assert len(CAPTURE_NAMES) >= 36
    bot = [d for n in CAPTURE_NAMES for d in capture_dicts_of(n) if fast.interpret(d) is not None]
    kinds = {msg.kind for msg in map(fast.interpret, bot) if msg is not None}
    assert len(bot) >= 40 and {fast.Kind.WAITING, fast.Kind.PROGRESS, fast.Kind.DONE} <= kinds


@pytest.mark.parametrize("name", CAPTURE_NAMES)
def test_every_capture_reads_the_same(name: str) -> None:
    for data in capture_dicts_of(name):
        assert_same_reading(data)
        # ... and with any one top-level field missing
        for key in data:
            assert_same_reading({k: v for k, v in data.items() if k != key})


# -- generated messages -----------------------------------------------------------------------

UUIDS = [
    "a7cb1552-f779-4094-9afe-2acf22dae280",
    "958E3DC1-4F3C-426B-B538-DF30985A8DFA",  # upper case: the regexes ignore case
    "958e3dc1-4f3c-426b-b538-df30985a8dfa\n",  # "$" lets a trailing newline through
    "958e3dc1-4f3c-426b-b538-df30985a8df",  # one short
    "958e3dc1-4f3c-426b-b538-df30985a8dfaa",  # one long
]
uuids = st.sampled_from(UUIDS)
mentions = st.sampled_from(["<@123>", "<@!456>", "<@>", "<@12a>", "<@1127612768489578560>"])
small_text = st.text(alphabet="ab *()%#-<@>!1\n,:", max_size=12)

CONTENT_FRAGMENTS: list[str] = [
    "**",
    "*",
    "**a red fox**",
    " - ",
    "-",
    " ",
    "\n",
    "\n-# subtext (relaxed)",
    "(42%)",
    "(1000%)",
    "(7 %)",
    "%)",
    "(Waiting to start)",
    "(Stopped)",
    "(fast)",
    "(relaxed, stealth)",
    "(",
    ")",
    "- Image #2 ",
    "Upscaling image #3 with ",
    "Making variations for image #1 with prompt ",
    "Variations (Strong) by ",
    "Pan Left by ",
    " by ",
    "**Job ID**: ",
    "**seed** ",
    "12345",
    "Done! Your jobs now run in fast mode",
    "1\ufe0f\u20e3 a prompt",
]
#: anything goes: fragments in any order
shuffled = st.lists(
    st.one_of(st.sampled_from(CONTENT_FRAGMENTS), mentions, uuids, small_text), max_size=12
).map("".join)
#: the shape Midjourney writes, every part varied: head, **prompt**, label, mention, status, mode
heads = st.sampled_from(
    [
        "",
        "",
        "Upscaling image #3 with ",
        "upscaling IMAGE #1 with ",
        "Making variations for image #2 with prompt ",
        "Making variations for image #",
        "Upscaling image #x with ",
        "Done! ",
        "Remix mode turned on ",
        "High variability mode ",
        "xUpscaling image #3 ",
    ]
)
prompts = st.one_of(
    st.sampled_from(
        [
            "a red fox in the snow --v 6.1",
            "a fox (fast)",
            "a **bold** fox",
            "fox\nsecond line",
            "*",
            "",
            "<@999> (12%)",
        ]
    ),
    small_text,
)
delimiters = st.sampled_from(["**", "**", "**", "*", "", "***"])
separators = st.sampled_from([" - ", " - ", " -", "- ", " ", "", "\n- "])
labels = st.sampled_from(
    [
        "",
        "",
        "Image #2 ",
        "Image #2 by ",
        "Image #12 ",
        "Video #1 ",
        "image #1 ",
        "Variations (Strong) by ",
        "Variations by ",
        "Remix (Subtle) by ",
        "Upscaled (Subtle) by ",
        "Upscale (Creative) by",
        "Zoom Out by ",
        "Zoom Out 2x by ",
        "Pan Left by ",
        "Pan  by ",
        "Pan Up by",
        "Panorama by ",
        "Animate (High motion) by ",
        "Extend (Low motion) by ",
        "(x) by ",
        "by ",
        " ",
    ]
)
statuses = st.sampled_from(
    [
        "",
        " (Waiting to start)",
        " (42%)",
        " (0%)",
        " (100%)",
        " (1000%)",
        " (Stopped)",
        " (paused)",
        " (42%",
    ]
)
modes = st.sampled_from(
    [
        "",
        " (fast)",
        " (relaxed)",
        " (turbo)",
        " (relaxed, stealth)",
        " (fast,stealth)",
        " (fast,  stealth)",
        " ( fast )",
        " (Fast)",
        " (slow)",
        " (fast) (relaxed)",
        " (fast) x",
        " (fast))",
        " ((fast)",
    ]
)
trailers = st.sampled_from(["", "", "\n-# subtext (relaxed)", "\n(42%)", "\n", " (fast", "\r"])
written = st.tuples(
    heads,
    delimiters,
    prompts,
    delimiters,
    separators,
    labels,
    st.one_of(mentions, st.just("")),
    statuses,
    modes,
    trailers,
).map("".join)
#: the seed DM: "**Job ID**: <uuid>\n**seed** <n>", in any case, pieces missing or doubled
seed_dms = st.tuples(
    st.sampled_from(["", "Here you go ", "**Job ID**: x "]),
    st.sampled_from(["**Job ID**:", "**job id**:", "**JOB ID**:", "**Job ID**", "Job ID:"]),
    st.sampled_from(["", " ", "\n"]),
    uuids,
    st.sampled_from(["", " ", "\n"]),
    st.sampled_from(["**seed**", "**SEED**", "**seed*", "seed"]),
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from(["12345", "0", "", "x"]),
).map("".join)
contents = st.one_of(written, written, written, seed_dms, shuffled)


def maybe_proxy(strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """The dict, or the same as a read-only Mapping that is not a dict (the slow path)."""
    return st.one_of(strategy, strategy.map(MappingProxyType))


odd_values: st.SearchStrategy[Any] = st.sampled_from([None, 0, 1, True, "", "x", [], {}])
titles = st.one_of(
    st.sampled_from(
        [
            None,
            "Job queued",
            "Your info",
            "Action needed to continue",
            "Oops",
            7,
            "",
            *sorted(ERROR_TITLES),
        ]
    ),
    small_text,
)
descriptions = st.one_of(
    st.sampled_from(
        [
            None,
            "1\ufe0f\u20e3 a fox\n\n2\ufe0f\u20e3 a cat",
            "Please complete the captcha below to continue",
            "You have reached the maximum allowed number of concurrent jobs.",
            "Your prompt was flagged",
            5,
        ]
    ),
    small_text,
)
footers = st.one_of(
    odd_values,
    st.fixed_dictionaries({"text": st.sampled_from(["/imagine a fox", "/imagine ", "x", 3])}),
)
embeds = maybe_proxy(
    st.fixed_dictionaries(
        {},
        optional={
            "title": titles,
            "description": descriptions,
            "color": st.sampled_from([None, 0xFF0000, 16239475, 0, "red", True, 1.5]),
            "footer": footers,
            "type": st.just("rich"),
        },
    )
)
filenames = st.one_of(
    st.sampled_from(["grid_0.webp", "x.png", "", None, 3, "a.b.c", "noext"]),
    uuids.map(lambda u: f"{u}_grid_0.webp"),
    uuids.map(lambda u: f"user7_a_red_fox_{u}.png"),
    uuids.map(lambda u: f"user7_fox{u}.png"),
)
urls = st.one_of(
    st.sampled_from([None, "", 5, "https://cdn/x/y/grid_0.webp?ex=1&hm=2", "https://cdn/"]),
    uuids.map(lambda u: f"https://cdn.discordapp.com/attachments/1/2/u_{u}.png?ex=66&is=6"),
    uuids.map(lambda u: f"https://www.midjourney.com/jobs/{u}"),
    uuids.map(lambda u: f"https://www.midjourney.com/app/JOBS/{u}/"),
)
ints = st.sampled_from([None, 0, 512, True, "512", 2.0])
attachments = maybe_proxy(
    st.fixed_dictionaries(
        {"id": st.sampled_from(["1", "2", 3, None])},
        optional={
            "filename": filenames,
            "url": urls,
            "proxy_url": urls,
            "content_type": st.sampled_from(["image/webp", "image/png", None, 1]),
            "width": ints,
            "height": ints,
            "size": ints,
        },
    )
)
custom_ids = st.one_of(
    st.sampled_from([None, "", 5, "MJ::JOB::upsample::1", "other", "MJ::Picread::Retry"]),
    uuids.map(lambda u: f"MJ::JOB::upsample::1::{u}"),
    uuids.map(lambda u: f"MJ::JOB::reroll::0::{u}::SOLO"),
    uuids.map(lambda u: f"MJ::BOOKMARK::{u}"),
    uuids.map(lambda u: f"MJ::CancelJob::ByJobid::{u}"),
    uuids.map(lambda u: f"mj::JOB::variation::2::{u}"),
    uuids.map(lambda u: f"other::{u}"),
)
buttons = maybe_proxy(
    st.fixed_dictionaries(
        {"type": st.sampled_from([2, 2, 2, 1, "2"])},
        optional={
            "custom_id": custom_ids,
            "label": st.sampled_from(["U1", "V2", "", None, "Cancel Job", 4, "\u200b"]),
            "emoji": st.one_of(
                odd_values, st.fixed_dictionaries({"name": st.sampled_from(["🔄", "❤️", 1])})
            ),
            "url": urls,
            "style": st.sampled_from([1, 2, 4, 5]),
        },
    )
)
row = maybe_proxy(
    st.fixed_dictionaries(
        {"type": st.just(1), "components": st.lists(buttons, max_size=6)},
    )
)
odd_row = st.one_of(odd_values, st.fixed_dictionaries({}, optional={"components": odd_values}))
rows = st.one_of(
    odd_values,
    st.lists(row, min_size=1, max_size=2),
    st.lists(row, min_size=1, max_size=2),
    st.lists(st.one_of(row, odd_row), max_size=3),
)
users = st.one_of(odd_values, st.fixed_dictionaries({"id": st.sampled_from(["123", "9", 9])}))
interactions = st.one_of(
    odd_values,
    maybe_proxy(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.sampled_from(["1127632830055333938", "7", 7]),
                "name": st.sampled_from(["imagine", "info", "fast", "describe", "prefer", 1]),
                "user": users,
            },
        )
    ),
)
BOT: dict[str, Any] = {"id": MIDJOURNEY_APPLICATION_ID}
# Mostly the bot's messages with string ids: those are read past the first checks.
authors = st.sampled_from(
    [BOT] * 8
    + [MappingProxyType(BOT), None, {}, {"id": "1"}, "x", {"id": int(MIDJOURNEY_APPLICATION_ID)}]
)
messages = st.fixed_dictionaries(
    {
        "author": authors,
        "id": st.sampled_from(["1127632832227987536"] * 5 + [1]),
        "channel_id": st.sampled_from(["1127614059894820930"] * 5 + [None]),
    },
    optional={
        "content": st.one_of(contents, odd_values),
        "embeds": st.one_of(odd_values, st.lists(st.one_of(embeds, odd_values), max_size=2)),
        "attachments": st.one_of(
            odd_values,
            st.lists(attachments, min_size=1, max_size=2),
            st.lists(st.one_of(attachments, odd_values), max_size=3),
        ),
        "components": rows,
        "interaction": interactions,
        "interaction_metadata": interactions,
        "message_reference": st.one_of(
            odd_values,
            st.fixed_dictionaries({"message_id": st.sampled_from(["5", 5, None])}),
        ),
        "nonce": st.sampled_from([None, "", "1127632829000000000", 12, 0, True, 1.5]),
        "flags": st.sampled_from([None, 0, 64, 128, 192, True, "128"]),
        "guild_id": st.sampled_from([None, "1127614059156602984", 1]),
        "timestamp": st.sampled_from([None, "2023-07-09T16:10:17.608000+00:00", 1]),
        "edited_timestamp": st.sampled_from([None, "2023-07-09T16:10:18.000000+00:00", 1]),
    },
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_generated_messages_read_the_same(message: dict[str, Any]) -> None:
    assert_same_reading(message)


@settings(max_examples=500, deadline=None)
@given(contents, contents)
def test_generated_contents_read_the_same(content: str, tail: str) -> None:
    # Content alone decides most of a reading: prompt, status line, label, mode, seed, mention.
    author: Mapping[str, Any] = {"id": MIDJOURNEY_APPLICATION_ID}
    for text in (content, content + tail, f"**{content}** - {tail}"):
        assert_same_reading({"author": author, "id": "1", "channel_id": "2", "content": text})
