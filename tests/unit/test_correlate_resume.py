"""Correlator adoption of jobs stored before a restart, and their history replay (pure).

Messages are the captures and builders of test_correlate.py (an /imagine of 2023) and
test_correlate_flows.py (button results of 2024); each is replayed as ``catch_up`` does it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mjapi.domain.events import (
    BackendEvent,
    JobCompleted,
    JobProgressed,
    JobStarted,
)
from mjapi.domain.jobs import Seed
from mjapi.transports.base import ButtonTarget, Resumable
from mjapi.transports.discord.correlate import Correlator, Expect
from mjapi.transports.discord.interpret import interpret
from mjapi.transports.discord.snowflake import snowflake_at, snowflake_time_ms
from mjapi.transports.discord.tracked import CLOCK_SKEW, expect_for
from tests.unit import test_correlate as imagine
from tests.unit import test_correlate_flows as flows

#: long before every message of the captures (2023-07 and 2024-10)
LONG_AGO = datetime(2023, 1, 1, tzinfo=UTC)
OTHER_HASH = "0f1e2d3c-4b5a-4968-8776-655443322110"


def replay(correlator: Correlator, *messages: dict[str, Any]) -> list[BackendEvent]:
    """Replay message objects oldest first, as catch_up does with the channel history."""
    events: list[BackendEvent] = []
    for raw in messages:
        message = interpret(raw)
        assert message is not None
        events.extend(correlator.replay(message))
    return events


def data(frame: dict[str, Any]) -> dict[str, Any]:
    payload = frame["d"]
    assert isinstance(payload, dict)
    return payload


def stored(jobid: str, verb: str = "imagine", **keys: Any) -> Resumable:
    return Resumable(jobid=jobid, verb=verb, created=keys.pop("created", LONG_AGO), **keys)


def posted_at(message_id: str) -> datetime:
    return datetime.fromtimestamp(snowflake_time_ms(message_id) / 1000, UTC)


def imagine_channel() -> Correlator:
    return Correlator(imagine.CHANNEL, imagine.USER)


def flows_channel() -> Correlator:
    return Correlator(flows.CHANNEL, flows.USER)


def hashed_progress(message_id: str, percent: int, job_hash: str) -> dict[str, Any]:
    """A progress edit whose preview is ``<hash>_grid_0.webp`` (2024+, as the simulator does)."""
    edit = data(imagine.progress(message_id, percent, interaction_id=imagine.INTERACTION))
    for attachment in edit["attachments"]:
        attachment["filename"] = f"{job_hash}_grid_0.webp"
        attachment["url"] = f"https://cdn.test/{job_hash}_grid_0.webp"
    return edit


# -- keys: nonce, progress message id, job hash -----------------------------------------------


def test_an_adopted_imagine_completes_from_a_replayed_final_with_its_nonce() -> None:
    correlator = imagine_channel()
    assert correlator.adopt(stored("job-1", nonce="42"))

    events = replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH, nonce="42")))

    [done] = events
    assert isinstance(done, JobCompleted)
    assert done.jobid == "job-1"
    assert done.message_id == imagine.FINAL_ID
    assert done.job_hash == imagine.HASH
    assert correlator.in_flight == ()


def test_a_final_with_another_nonce_leaves_the_adopted_job_running() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", nonce="42"))

    assert replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH, nonce="43"))) == []
    assert correlator.in_flight == ("job-1",)


def test_an_adopted_job_known_by_its_progress_message_progresses_then_completes() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", message_id=imagine.PROGRESS_ID))
    start = data(imagine.waiting(imagine.PROGRESS_ID, interaction_id=imagine.INTERACTION))

    events = replay(
        correlator,
        start,  # started before the restart: no second JobStarted
        hashed_progress(imagine.PROGRESS_ID, 46, imagine.HASH),
        data(imagine.final(imagine.FINAL_ID, imagine.HASH)),  # no nonce: by the hash learned
    )

    assert [type(e) for e in events] == [JobProgressed, JobCompleted]
    assert imagine.percents(events) == [46]
    assert {getattr(e, "jobid", None) for e in events} == {"job-1"}


def test_the_progress_message_keeps_matching_live_edits_after_the_replay() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", nonce="42", message_id=imagine.PROGRESS_ID))
    replay(correlator, hashed_progress(imagine.PROGRESS_ID, 31, imagine.HASH))

    edit = interpret(hashed_progress(imagine.PROGRESS_ID, 62, imagine.HASH))
    assert edit is not None
    [progressed] = correlator.on_message_update(edit)
    final = interpret(data(imagine.final(imagine.FINAL_ID, imagine.HASH, nonce="42")))
    assert final is not None
    [done] = correlator.on_message_create(final)

    assert isinstance(progressed, JobProgressed) and progressed.percent == 62
    assert isinstance(done, JobCompleted) and done.jobid == "job-1"


def test_an_adopted_job_known_by_its_hash_completes_from_its_final_only() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", nonce="42", job_hash=imagine.HASH))

    other = replay(correlator, data(imagine.final("1127633074377728011", OTHER_HASH)))
    events = replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH)))

    assert other == []
    [done] = events
    assert isinstance(done, JobCompleted) and done.jobid == "job-1"


def test_a_2023_final_without_keys_goes_to_the_adopted_job_whose_progress_message_goes() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-0", nonce="41", message_id="1127632832227987000"))
    correlator.adopt(stored("job-1", nonce="42", message_id=imagine.PROGRESS_ID))
    final = interpret(data(imagine.final(imagine.FINAL_ID, imagine.HASH)))
    assert final is not None

    held = correlator.on_message_create(final)  # two jobs run: which one's is it?
    [done] = correlator.on_message_delete(imagine.PROGRESS_ID)

    assert held == []
    assert isinstance(done, JobCompleted) and done.jobid == "job-1"


def test_an_adopted_job_known_by_its_interaction_id_starts_from_history() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", nonce="42", interaction_id=imagine.INTERACTION))

    events = replay(
        correlator, data(imagine.waiting(imagine.PROGRESS_ID, interaction_id=imagine.INTERACTION))
    )

    [started] = events
    assert isinstance(started, JobStarted) and started.message_id == imagine.PROGRESS_ID


def test_history_without_the_jobs_messages_leaves_it_tracked() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", nonce="42", message_id="99"))

    # 2023: neither the final nor its progress message carry a key of job-1.
    messages = [f["d"] for f in imagine.lifecycle() if str(f.get("t")).startswith("MESSAGE_")]
    messages = [m for m in messages if "author" in m]  # not the MESSAGE_DELETE
    assert len(messages) > 3
    assert replay(correlator, *messages) == []
    assert correlator.in_flight == ("job-1",)


# -- a session lost without RESUME: the job's end only in the history -------------------------

#: a grid of the same prompt "snow" posted before the job's progress message
OLDER_GRID_ID = "1127632000000000000"


def started_live(correlator: Correlator, jobid: str, nonce: str, message_id: str) -> None:
    """Submit ``jobid`` and see its "Waiting to start" live (prompt "snow"), as before a loss."""
    correlator.expect(jobid, nonce)
    waiting = interpret(data(imagine.waiting(message_id, interaction_id=nonce + "7", nonce=nonce)))
    assert waiting is not None
    [started] = correlator.on_message_create(waiting)
    assert isinstance(started, JobStarted)


def test_a_final_only_in_the_history_goes_to_the_job_whose_progress_printed_its_prompt() -> None:
    # op 9 (not resumable) right after "Waiting to start": the progress edits that would reveal
    # the hash, the final and the deletion all happened while no session was connected, and
    # the history's final has no nonce, no interaction and a hash the job never learnt.
    correlator = imagine_channel()
    started_live(correlator, "job-1", "9001", imagine.PROGRESS_ID)

    events = replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH)))

    [done] = events
    assert isinstance(done, JobCompleted) and done.jobid == "job-1"
    assert done.message_id == imagine.FINAL_ID and done.job_hash == imagine.HASH
    assert correlator.in_flight == ()


def test_a_final_that_ended_a_forgotten_twin_is_never_given_to_the_running_job() -> None:
    # job-0 and job-1 share a prompt; job-0 finished live (and the engine forgot it) after
    # job-1's progress message was posted, then the session was lost: the catch-up history
    # still holds job-0's final, newer than job-1's progress message.
    correlator = imagine_channel()
    started_live(correlator, "job-0", "9000", OLDER_GRID_ID)
    replay(correlator, hashed_progress(OLDER_GRID_ID, 46, imagine.HASH))
    started_live(correlator, "job-1", "9001", imagine.PROGRESS_ID)
    final = interpret(data(imagine.final(imagine.FINAL_ID, imagine.HASH)))
    assert final is not None
    [done] = correlator.on_message_create(final)
    assert isinstance(done, JobCompleted) and done.jobid == "job-0"
    correlator.forget("job-0")

    assert replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH))) == []
    assert correlator.in_flight == ("job-1",)


def test_an_older_grid_of_the_same_prompt_in_the_history_is_not_the_jobs() -> None:
    correlator = imagine_channel()
    started_live(correlator, "job-1", "9001", imagine.PROGRESS_ID)

    assert replay(correlator, data(imagine.final(OLDER_GRID_ID, OTHER_HASH))) == []
    assert correlator.in_flight == ("job-1",)


def test_a_final_of_another_prompt_in_the_history_is_not_the_jobs() -> None:
    correlator = imagine_channel()
    started_live(correlator, "job-1", "9001", imagine.PROGRESS_ID)
    other = data(imagine.final(imagine.FINAL_ID, imagine.HASH))
    other["content"] = other["content"].replace("**snow**", "**rain**")

    assert replay(correlator, other) == []
    assert correlator.in_flight == ("job-1",)


def test_two_running_jobs_printing_the_same_prompt_take_no_keyless_final() -> None:
    correlator = imagine_channel()
    started_live(correlator, "job-1", "9001", imagine.PROGRESS_ID)
    started_live(correlator, "job-2", "9002", "1127632832227987600")

    assert replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH))) == []
    assert correlator.in_flight == ("job-1", "job-2")


def test_a_keyless_final_with_another_hash_than_the_jobs_is_not_its() -> None:
    correlator = imagine_channel()
    started_live(correlator, "job-1", "9001", imagine.PROGRESS_ID)
    replay(correlator, hashed_progress(imagine.PROGRESS_ID, 46, imagine.HASH))

    assert replay(correlator, data(imagine.final(imagine.FINAL_ID, OTHER_HASH))) == []
    assert correlator.in_flight == ("job-1",)


# -- duplicates ---------------------------------------------------------------------------------


def test_replaying_the_history_again_emits_nothing_new() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", message_id=imagine.PROGRESS_ID))
    history = [
        hashed_progress(imagine.PROGRESS_ID, 46, imagine.HASH),
        data(imagine.final(imagine.FINAL_ID, imagine.HASH)),
    ]

    first = replay(correlator, *history)
    again = replay(correlator, *history)

    assert [type(e) for e in first] == [JobProgressed, JobCompleted]
    assert again == []


def test_a_job_adopted_again_keeps_what_it_learned() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", nonce="42"))
    replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH, nonce="42")))

    assert not correlator.adopt(stored("job-1", nonce="42"))
    assert replay(correlator, data(imagine.final(imagine.FINAL_ID, imagine.HASH, nonce="42"))) == []


def test_a_job_this_correlator_submitted_is_not_adopted_over() -> None:
    correlator = imagine_channel()
    correlator.expect("job-1", "42")

    assert not correlator.adopt(stored("job-1", nonce="7"))
    assert correlator.job_for_nonce("42") == "job-1"
    assert correlator.job_for_nonce("7") is None


def test_an_interaction_without_nonce_never_binds_an_adopted_job() -> None:
    correlator = imagine_channel()
    correlator.adopt(stored("job-1", nonce="42"))

    correlator.on_interaction(None, imagine.INTERACTION)  # another client's command
    events = replay(
        correlator, data(imagine.waiting(imagine.PROGRESS_ID, interaction_id=imagine.INTERACTION))
    )

    assert events == []


# -- button jobs: the reply to the clicked message ----------------------------------------------

PICK_REPLY = "27-rest-upscale-image3-v60-make-square.json"  # "Image #3", replies to GRID_ID


def adopted_pick(index: int, created: datetime) -> Resumable:
    target = ButtonTarget(flows.GRID_ID, 0, flows.pick(index), flows.GRID_HASH)
    return stored(f"u{index}", "button", nonce="500", created=created, parent=target)


def test_an_adopted_u_pick_completes_from_the_replayed_image_reply() -> None:
    correlator = flows_channel()
    reply = flows.message(PICK_REPLY)
    correlator.adopt(adopted_pick(3, posted_at(reply["id"]) - timedelta(seconds=2)))

    [done] = replay(correlator, reply)

    assert isinstance(done, JobCompleted)
    assert done.jobid == "u3"
    assert done.message_id == reply["id"]
    assert done.job_hash == "958e3dc1-4f3c-426b-b538-df30985a8dfa"


def test_a_reply_posted_before_the_adopted_click_is_an_earlier_clicks() -> None:
    correlator = flows_channel()
    reply = flows.message(PICK_REPLY)
    made = posted_at(reply["id"]) + CLOCK_SKEW + timedelta(seconds=1)
    correlator.adopt(adopted_pick(3, made))

    assert replay(correlator, reply) == []
    assert correlator.in_flight == ("u3",)


def test_a_clock_running_a_little_ahead_of_discords_still_finds_the_reply() -> None:
    correlator = flows_channel()
    reply = flows.message(PICK_REPLY)
    made = posted_at(reply["id"]) + CLOCK_SKEW - timedelta(seconds=1)
    correlator.adopt(adopted_pick(3, made))

    [done] = replay(correlator, reply)
    assert isinstance(done, JobCompleted) and done.jobid == "u3"


def test_a_reply_with_another_label_is_not_the_adopted_picks() -> None:
    correlator = flows_channel()
    reply = flows.message(PICK_REPLY)
    correlator.adopt(adopted_pick(2, posted_at(reply["id"]) - timedelta(seconds=2)))

    assert replay(correlator, reply) == []
    assert correlator.in_flight == ("u2",)


def test_a_reply_to_another_message_is_not_the_adopted_picks() -> None:
    correlator = flows_channel()
    reply = flows.message(PICK_REPLY)
    reply["message_reference"]["message_id"] = "1295404289036124275"
    correlator.adopt(adopted_pick(3, LONG_AGO))

    assert replay(correlator, reply) == []


def test_history_never_binds_a_reply_to_a_job_this_process_submitted() -> None:
    # Live, the pick's reply came with the click's nonce; an old history reply is not it.
    correlator = flows_channel()
    flows.expect_click(correlator, "u3", "500", flows.pick(3))

    assert replay(correlator, flows.message(PICK_REPLY)) == []


def test_an_edit_of_the_parent_grid_in_history_completes_nothing() -> None:
    correlator = flows_channel()
    grid = flows.message("20-rest-grid-v6-fast-with-web-link-button.json")
    target = ButtonTarget(grid["id"], 0, f"MJ::JOB::upsample::1::{OTHER_HASH}", OTHER_HASH)
    correlator.adopt(stored("u1", "button", created=LONG_AGO, parent=target))

    assert replay(correlator, grid) == []


def test_an_adopted_variation_runs_on_from_its_progress_message() -> None:
    correlator = flows_channel()
    custom_id = f"MJ::JOB::high_variation::1::{flows.GRID_HASH}::SOLO"
    target = ButtonTarget(flows.GRID_ID, 0, custom_id, flows.GRID_HASH)
    correlator.adopt(stored("vary", "button", message_id="300", created=LONG_AGO, parent=target))
    content = f"**cat** - Variations (Strong) by <@{flows.USER}>"
    progress = flows.bot(
        "300",
        type=19,
        content=f"{content} (40%) (fast)",
        message_reference={"message_id": flows.GRID_ID},
    )
    final = flows.message("22-rest-variations-strong-grid-fast-stealth.json")
    final["message_reference"]["message_id"] = flows.GRID_ID

    events = replay(correlator, progress, final)

    assert [type(e) for e in events] == [JobProgressed, JobCompleted]
    assert all(e.jobid == "vary" for e in events if isinstance(e, JobCompleted))


def test_another_clicks_progress_reply_never_moves_a_started_adopted_job() -> None:
    # Two V1 clicks on one grid: history shows the other one's progress too (same label).
    correlator = flows_channel()
    custom_id = f"MJ::JOB::variation::1::{flows.GRID_HASH}"
    target = ButtonTarget(flows.GRID_ID, 0, custom_id, flows.GRID_HASH)
    correlator.adopt(stored("v1", "button", message_id="300", created=LONG_AGO, parent=target))
    other = flows.bot(
        "1295404300000000001",
        type=19,
        content=f"**cat** - Variations by <@{flows.USER}> (31%) (fast)",
        message_reference={"message_id": flows.GRID_ID},
    )

    assert replay(correlator, other) == []


# -- seed, describe, settings -------------------------------------------------------------------


def seed_dm(message_id: str) -> dict[str, Any]:
    content = f"**cat**\n**Job ID**: {flows.GRID_HASH}\n**seed** 42"
    return flows.bot(message_id, content=content)


def test_an_adopted_seed_job_completes_from_the_seed_dm() -> None:
    correlator = flows_channel()
    created = datetime(2025, 1, 1, tzinfo=UTC)
    dm_id = str(int(snowflake_at(created + timedelta(seconds=3))))
    correlator.adopt(
        stored("seed-1", "seed_async", nonce=f"seed:{flows.GRID_HASH}", created=created)
    )
    assert correlator.awaits_seed

    [done] = replay(correlator, seed_dm(dm_id))

    assert isinstance(done, JobCompleted)
    assert done.jobid == "seed-1"
    assert done.seed is not None and done.seed.value == 42


def test_an_adopted_seed_job_ignores_a_dm_from_before_it() -> None:
    correlator = flows_channel()
    created = datetime(2025, 1, 1, tzinfo=UTC)
    older = str(int(snowflake_at(created - timedelta(minutes=5))))
    correlator.adopt(
        stored("seed-1", "seed_async", nonce=f"seed:{flows.GRID_HASH}", created=created)
    )

    assert replay(correlator, seed_dm(older)) == []


def test_a_seed_job_without_its_key_falls_back_to_the_parents_hash() -> None:
    correlator = flows_channel()
    target = ButtonTarget(flows.GRID_ID, 0, "", flows.GRID_HASH.upper())
    assert correlator.adopt(stored("seed-1", "seed_async", created=LONG_AGO, parent=target))
    assert not correlator.adopt(stored("seed-2", "seed_async", created=LONG_AGO))

    [done] = replay(correlator, seed_dm(str(int(snowflake_at(datetime(2025, 1, 1, tzinfo=UTC))))))

    assert isinstance(done, JobCompleted) and done.seed == Seed(done.content, 42)


def test_an_adopted_describe_completes_on_the_described_edit() -> None:
    correlator = flows_channel()
    correlator.adopt(stored("desc", "describe", message_id="1002"))
    described = flows.bot(
        "1002",
        interaction_metadata={"id": "1001", "name": "describe", "type": 2},
        embeds=[{"description": "1\ufe0f\u20e3 one\n\n2\ufe0f\u20e3 two", "image": {"url": "u"}}],
    )

    [done] = replay(correlator, described)

    assert isinstance(done, JobCompleted) and done.attachments == ()


@pytest.mark.parametrize(
    ("verb", "expect"),
    [
        ("imagine", Expect.RESULT),
        ("blend", Expect.RESULT),
        ("button", Expect.RESULT),
        ("describe", Expect.DESCRIPTION),
        ("seed_async", Expect.SEED),
        ("info", Expect.REPLY),
        ("relax", Expect.REPLY),
        ("remix", Expect.REPLY),
        ("variability", Expect.REPLY),
    ],
)
def test_the_verb_says_which_message_finishes_the_job(verb: str, expect: Expect) -> None:
    assert expect_for(verb) is expect
