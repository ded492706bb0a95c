"""The simulator's pure parts: names, ids, queues, command index, images. No sockets."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from mjapi.clock import FakeClock
from mjapi.simulator import SimulatorConfig
from mjapi.simulator.commands import CommandIndex
from mjapi.simulator.prompts import echo_prompt, grid_filename, slug
from mjapi.simulator.render import encode_png, render_grid, render_preview
from mjapi.simulator.scheduler import Admission, JobQueue
from mjapi.simulator.snowflake import SnowflakeFactory, message_timestamp, snowflake_time
from mjapi.simulator.users import derive_user, is_well_formed

# -- file names (captures 18-28) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("snow", "snow"),
        ("Coca-Cola. --s 750 --niji 5", "Coca-Cola."),
        ("Sea, waves, background image, realistic.", "Sea_waves_background_image_realistic."),
        (
            "<https://s.mj.run/itzmNy6wh_4> make me 4 diffrent photo like that --niji 5",
            "make_me_4_diffrent_photo_like_that",
        ),
        ("[3654696650374942] Puppy --s 750 --v 5.2", "3654696650374942_Puppy"),
    ],
)
def test_slug_follows_captured_filenames(prompt: str, expected: str) -> None:
    assert slug(prompt, "user") == expected


def test_slug_is_cut_with_the_username() -> None:
    long_prompt = "high definition photo of a modern powder bathroom in a desert home " * 3
    name = slug(long_prompt, "user12345678")
    assert len("user12345678_" + name) <= 64
    assert not name.endswith("_")


def test_grid_filename() -> None:
    job = "a03e625f-383b-4592-8121-77f87ded20d4"
    assert grid_filename("snow", "user", job) == f"user_snow_{job}.png"
    assert grid_filename("--ar 2:3", "user", job) == f"user_{job}.png"


def test_echo_shortens_links_and_appends_suffix() -> None:
    echoed = echo_prompt("https://e.com/a.png  a  cat", shorten_links=True, suffix=" --v 7")
    assert echoed.startswith("<https://s.mj.run/") and echoed.endswith("> a cat --v 7")
    assert echo_prompt("https://e.com/a.png cat", shorten_links=False, suffix="") == (
        "https://e.com/a.png cat"
    )


# -- ids and users ----------------------------------------------------------------------------


def test_snowflakes_increase_and_carry_their_time() -> None:
    clock = FakeClock(datetime(2025, 1, 1, 12, 0, 0, 123000, tzinfo=UTC))
    factory = SnowflakeFactory(clock)
    first, second = factory.next(), factory.next()
    assert int(first) < int(second)
    assert snowflake_time(first) == clock.now()
    assert message_timestamp(first) == "2025-01-01T12:00:00.123000+00:00"


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        ("MTA5.user-token.for-tests-only", True),
        ("a" * 20, True),
        ("a" * 19, False),
        ("has space in the middle of it", False),
        ("Bot abcdefghijklmnopqrstuvwxyz", False),
    ],
)
def test_token_shape(token: str, ok: bool) -> None:
    assert is_well_formed(token) is ok


def test_users_are_derived_deterministically() -> None:
    alpha = derive_user("token-alpha-0123456789", "Pro")
    assert alpha == derive_user("token-alpha-0123456789", "Pro")
    bravo = derive_user("token-bravo-0123456789", "Pro")
    assert len({alpha.id, alpha.dm_channel_id, bravo.id, bravo.dm_channel_id}) == 4
    assert alpha.username.startswith("user") and alpha.username[4:].isdigit()
    assert 2017 <= snowflake_time(alpha.id).year <= 2023


def test_config_refuses_unknown_plans() -> None:
    with pytest.raises(ValueError, match="unknown plan"):
        SimulatorConfig(plans={"t" * 20: "Ultra"})


# -- queue ------------------------------------------------------------------------------------


def test_queue_starts_then_queues_then_refuses() -> None:
    queue: JobQueue[str] = JobQueue(concurrency=2, wait_limit=1)
    assert [queue.admit(job) for job in "abcd"] == [
        Admission.START,
        Admission.START,
        Admission.QUEUE,
        Admission.REJECT,
    ]
    assert queue.finish() == "c"  # the waiting job takes the freed slot
    assert queue.running == 2
    assert queue.finish() is None
    assert queue.running == 1


# -- command index ----------------------------------------------------------------------------


def test_new_command_version_changes_the_index_version() -> None:
    index = CommandIndex({})
    before = index.response()["version"]
    index.set_version("imagine", "1")
    assert index.by_name("imagine")["version"] == "1"
    assert index.response()["version"] != before
    with pytest.raises(KeyError):
        index.set_version("paint", "1")


# -- images -----------------------------------------------------------------------------------


def test_grid_and_preview_sizes() -> None:
    grid = render_grid("a cat", "a03e625f-383b-4592-8121-77f87ded20d4", 256)
    png = Image.open(io.BytesIO(encode_png(grid)))
    assert (png.format, png.size) == ("PNG", (256, 256))
    preview = Image.open(io.BytesIO(render_preview(grid, 31, 64)))
    assert (preview.format, preview.size) == ("WEBP", (64, 64))
