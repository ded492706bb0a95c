"""Correlator: real capture sequences and synthetic 2025-style ones, through the pure pipeline.

Frames go through GatewaySession (to get Dispatch actions) and dispatch.route (to reach the
correlator), exactly as the runner and the transport do, minus the sockets.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mjapi.domain.events import (
    AccountDisabled,
    AccountFlagged,
    BackendEvent,
    FailReason,
    JobCompleted,
    JobFailed,
    JobProgressed,
    JobQueued,
    JobStarted,
)
from mjapi.transports.discord.correlate import (
    DELETED_ERROR,
    NO_RESPONSE_ERROR,
    STOPPED_ERROR,
    UNTITLED_ERROR,
    Correlator,
    Expect,
)
from mjapi.transports.discord.dispatch import route
from mjapi.transports.discord.gateway import Dispatch, GatewaySession
from mjapi.transports.discord.interpret import MjMessage, interpret
from mjapi.transports.discord.tracked import TrackedJob
from tests.conftest import load_capture

CHANNEL = "1127614059894820930"  # guild channel of captures 03-11
USER = "1127612768489578560"
INTERACTION = "1127632830055333938"
PROGRESS_ID = "1127632832227987536"
FINAL_ID = "1127633074377728010"
HASH = "a03e625f-383b-4592-8121-77f87ded20d4"
LIFECYCLE = "03-gw-sequence-imagine-fast-full-lifecycle.json"


class Pipeline:
    """GatewaySession -> route -> Correlator, collecting every job event."""

    def __init__(self, correlator: Correlator) -> None:
        self.correlator = correlator
        self.session = GatewaySession("token-for-tests-only", jitter=lambda: 0.5)
        self.events: list[BackendEvent] = []
        #: payloads route() asked to report as unrecognised
        self.unrecognised: list[dict[str, Any]] = []

    def feed(self, *frames: dict[str, Any]) -> list[BackendEvent]:
        new: list[BackendEvent] = []
        for frame in frames:
            for action in self.session.on_frame(frame, now=0.0):
                if isinstance(action, Dispatch):
                    routed = route(self.correlator, action.name, action.data)
                    new.extend(routed.events)
                    if routed.unrecognised is not None:
                        self.unrecognised.append(routed.unrecognised)
        self.events.extend(new)
        return new


def lifecycle() -> list[dict[str, Any]]:
    frames = load_capture(LIFECYCLE)
    assert isinstance(frames, list)
    return frames


def frame(name: str, data: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    return {"op": 0, "s": seq, "t": name, "d": data}


def waiting(message_id: str, *, interaction_id: str, nonce: str | None = None) -> dict[str, Any]:
    """Capture 06 (a real "Waiting to start") with other ids; same prompt "snow"."""
    data = copy.deepcopy(load_capture("06-gw-imagine-waiting-to-start-type20.json")["d"])
    data["id"] = message_id
    data["interaction"]["id"] = interaction_id
    if nonce is not None:
        data["nonce"] = nonce
    return frame("MESSAGE_CREATE", data)


def progress(message_id: str, percent: int, *, interaction_id: str) -> dict[str, Any]:
    """Capture 07 (a real progress update) moved to another message and percentage."""
    data = copy.deepcopy(load_capture("07-gw-imagine-progress-0pct-fast.json")["d"])
    data["id"] = message_id
    data["interaction"]["id"] = interaction_id
    data["content"] = f"**snow** - <@{USER}> ({percent}%) (fast)"
    return frame("MESSAGE_UPDATE", data)


def final(message_id: str, job_hash: str, *, nonce: str | None = None) -> dict[str, Any]:
    """Capture 10 (a real final grid) with another id and hash; same prompt "snow"."""
    data = copy.deepcopy(load_capture("10-gw-imagine-final-grid-fast.json")["d"])
    data["id"] = message_id
    for row in data["components"]:
        for button in row["components"]:
            button["custom_id"] = button["custom_id"].replace(HASH, job_hash)
    for attachment in data["attachments"]:
        for key in ("url", "proxy_url", "filename"):
            attachment[key] = attachment[key].replace(HASH, job_hash)
    if nonce is not None:
        data["nonce"] = nonce
    return frame("MESSAGE_CREATE", data)


def delete(message_id: str) -> dict[str, Any]:
    return frame("MESSAGE_DELETE", {"id": message_id, "channel_id": CHANNEL})


def success(interaction_id: str, nonce: str | None) -> dict[str, Any]:
    data = {"id": interaction_id} if nonce is None else {"id": interaction_id, "nonce": nonce}
    return frame("INTERACTION_SUCCESS", data)


def percents(events: list[BackendEvent]) -> list[int]:
    return [e.percent for e in events if isinstance(e, JobProgressed)]


def pipeline(user_id: str | None = USER) -> Pipeline:
    return Pipeline(Correlator(CHANNEL, user_id))


# -- capture 03: 2023, no nonce anywhere ------------------------------------------------------


def test_capture_03_full_lifecycle_without_nonce() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "1127632829000000000")  # sent; Discord did not echo it here

    events = p.feed(*lifecycle())

    started, *progressed, completed = events
    assert started == JobStarted(
        "job-1",
        PROGRESS_ID,
        f"**snow** - <@{USER}> (Waiting to start)",
        "2023-07-09T16:10:17.608000+00:00",
    )
    assert [type(e) for e in progressed] == [JobProgressed] * 7
    assert percents(progressed) == [0, 15, 31, 46, 62, 78, 93]
    assert {(e.jobid, e.message_id) for e in progressed if isinstance(e, JobProgressed)} == {
        ("job-1", PROGRESS_ID)
    }
    assert isinstance(completed, JobCompleted)
    assert completed.jobid == "job-1"
    assert completed.message_id == FINAL_ID
    assert completed.job_hash == HASH
    assert len(completed.attachments) == 1
    assert completed.attachments[0].filename == f"user_snow_{HASH}.png"
    assert len(completed.buttons) == 9
    assert p.correlator.in_flight == ()


def test_capture_03_deletion_after_completion_is_not_a_failure() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "1")
    frames = lifecycle()
    p.feed(*frames[:13])  # up to and including the final grid

    assert p.feed(frames[13]) == []  # MESSAGE_DELETE of the progress message (capture 11)
    assert p.feed(load_capture("11-gw-message-delete-progress-message.json")) == []


def test_capture_03_replayed_twice_emits_nothing_new() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "1")
    first = p.feed(*lifecycle())

    assert p.feed(*lifecycle()) == []
    assert len(first) == 9


def test_capture_03_orphan_final_goes_to_the_job_whose_progress_message_is_deleted() -> None:
    # Two running jobs with the SAME prompt ("snow"): only the deletion tells them apart.
    p = pipeline()
    p.correlator.expect("job-a", "nonce-a")
    p.correlator.expect("job-b", "nonce-b")
    p.feed(success(INTERACTION, "nonce-a"), success("1127632830055399999", "nonce-b"))
    frames = lifecycle()
    p.feed(*frames[2:11])  # job-a: waiting + progress 0..93
    p.feed(
        waiting("1127632832227999999", interaction_id="1127632830055399999"),
        progress("1127632832227999999", 40, interaction_id="1127632830055399999"),
    )

    assert p.feed(frames[12]) == []  # final grid without keys: held, two jobs could own it

    [completed] = p.feed(frames[13])  # Discord deletes job-a's progress message
    assert isinstance(completed, JobCompleted)
    assert (completed.jobid, completed.message_id, completed.job_hash) == ("job-a", FINAL_ID, HASH)

    other_hash = "11111111-2222-4333-8444-555555555555"
    [done_b] = p.feed(final("1127633074377799999", other_hash))  # now job-b is the only one
    assert isinstance(done_b, JobCompleted)
    assert (done_b.jobid, done_b.job_hash) == ("job-b", other_hash)
    assert p.feed(delete("1127632832227999999")) == []


def test_interaction_without_nonce_is_not_bound_when_two_jobs_wait() -> None:
    p = pipeline()
    p.correlator.expect("job-a", "nonce-a")
    p.correlator.expect("job-b", "nonce-b")

    # INTERACTION_CREATE/SUCCESS of capture 03 (no nonce) + the waiting message.
    assert p.feed(*lifecycle()[:3]) == []
    assert p.correlator.in_flight == ("job-a", "job-b")


# -- 2025 style: nonce on the first and on the final message ----------------------------------


def test_2025_nonce_on_waiting_and_final_with_two_jobs_of_the_same_prompt() -> None:
    p = pipeline()
    p.correlator.expect("job-a", "9001")
    p.correlator.expect("job-b", "9002")

    p.feed(
        success("7001", "9001"),
        success("7002", "9002"),
        waiting("8001", interaction_id="7001", nonce="9001"),
        waiting("8002", interaction_id="7002", nonce="9002"),
        progress("8002", 10, interaction_id="7002"),
        progress("8001", 20, interaction_id="7001"),
    )
    hash_a = "aaaaaaaa-0000-4000-8000-000000000001"
    hash_b = "bbbbbbbb-0000-4000-8000-000000000002"
    # Finals arrive in the opposite order of submission; the nonce decides.
    done_b = p.feed(final("8102", hash_b, nonce="9002"))
    done_a = p.feed(final("8101", hash_a, nonce="9001"))
    assert p.feed(delete("8001"), delete("8002")) == []

    assert [(e.jobid, e.job_hash) for e in done_a + done_b if isinstance(e, JobCompleted)] == [
        ("job-a", hash_a),
        ("job-b", hash_b),
    ]
    starts = [(e.jobid, e.message_id) for e in p.events if isinstance(e, JobStarted)]
    assert starts == [("job-a", "8001"), ("job-b", "8002")]
    progress_by_job = [(e.jobid, e.percent) for e in p.events if isinstance(e, JobProgressed)]
    assert progress_by_job == [("job-b", 10), ("job-a", 20)]


def test_nonce_alone_is_enough_without_interaction_events() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")

    [started] = p.feed(waiting("8001", interaction_id="7001", nonce="9001"))
    [progressed] = p.feed(progress("8001", 50, interaction_id="7001"))

    assert isinstance(started, JobStarted) and started.jobid == "job-1"
    assert isinstance(progressed, JobProgressed) and progressed.percent == 50


def test_duplicates_and_out_of_order_updates_emit_nothing() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    start = waiting("8001", interaction_id="7001", nonce="9001")
    p.feed(start, start)
    p.feed(progress("8001", 30, interaction_id="7001"), progress("8001", 30, interaction_id="7001"))
    p.feed(progress("8001", 20, interaction_id="7001"))
    result = final("8101", "cccccccc-0000-4000-8000-000000000003", nonce="9001")
    p.feed(result, result)

    assert [type(e) for e in p.events] == [JobStarted, JobProgressed, JobCompleted]


def test_job_never_matches_by_prompt_text() -> None:
    # Our job waits for its answer; a stranger's messages with the very same prompt arrive.
    p = pipeline()
    p.correlator.expect("job-1", "9001")

    assert p.feed(waiting("8009", interaction_id="7009", nonce="5555")) == []
    assert p.feed(progress("8009", 40, interaction_id="7009")) == []
    assert p.correlator.in_flight == ("job-1",)


def test_a_grid_of_another_user_is_never_an_orphan() -> None:
    p = pipeline(user_id="42")
    p.correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))

    assert p.feed(final("8101", "dddddddd-0000-4000-8000-000000000004")) == []  # <@USER> != 42


def test_a_button_result_reply_is_never_an_orphan() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))
    reply = final("8101", "eeeeeeee-0000-4000-8000-000000000005")
    reply["d"]["message_reference"] = {"message_id": "7777", "channel_id": CHANNEL}

    assert p.feed(reply) == []


def test_an_edit_of_an_old_grid_does_not_complete_a_running_job() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))
    old_grid = final("6000", "ffffffff-0000-4000-8000-000000000006")
    old_grid["t"] = "MESSAGE_UPDATE"  # MJ restyles a used button on an older grid

    assert p.feed(old_grid) == []


def test_a_known_hash_rejects_a_final_with_another_hash() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    mine = "12345678-0000-4000-8000-000000000007"
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))
    preview = progress("8001", 50, interaction_id="7001")
    preview["d"]["attachments"][0]["filename"] = f"{mine}_grid_0.webp"
    p.feed(preview)

    assert p.feed(final("8101", "87654321-0000-4000-8000-000000000008")) == []
    [done] = p.feed(final("8102", mine))  # matched by the hash learned from the preview
    assert isinstance(done, JobCompleted) and done.jobid == "job-1"


# -- failures ---------------------------------------------------------------------------------


def error_message(title: str, description: str, nonce: str) -> dict[str, Any]:
    return frame(
        "MESSAGE_CREATE",
        {
            "id": "8500",
            "channel_id": CHANNEL,
            "author": {"id": "936929561302675456", "bot": True},
            "content": "",
            "nonce": nonce,
            "flags": 64,
            "timestamp": "2025-06-01T00:00:00+00:00",
            "embeds": [{"title": title, "description": description, "color": 16711680}],
        },
    )


def test_banned_prompt_embed_fails_the_job_as_moderated() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")

    [failed] = p.feed(error_message("Banned prompt detected", "Sorry! ...", "9001"))

    assert failed == JobFailed(
        "job-1", "Banned prompt detected", "Sorry! ...", FailReason.MODERATED
    )
    assert p.correlator.in_flight == ()


def test_queue_full_embed_fails_without_moderation() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    [failed] = p.feed(error_message("Queue full", "Your job queue is full.", "9001"))
    assert failed == JobFailed(
        "job-1", "Queue full", "Your job queue is full.", FailReason.QUEUE_FULL
    )


def test_capture_14_job_queued_waits_then_starts_by_interaction_id() -> None:
    queued = load_capture("14-gw-job-queued-embed-2024.json")
    channel = queued["d"]["channel_id"]
    p = Pipeline(Correlator(channel, "138343612806070272"))
    p.correlator.expect("job-1", "1317068334054768640")

    [said] = p.feed(queued)
    assert said == JobQueued(
        "job-1",
        "1317068339507368026",
        queued["d"]["embeds"][0]["description"],
        "2024-12-13T09:59:22.085000+00:00",
    )
    assert p.feed(queued) == []  # once per job, whatever Discord repeats
    assert p.correlator.in_flight == ("job-1",)

    # Later Midjourney starts it: a new message about the same interaction, without nonce.
    start = waiting("1317068999999999999", interaction_id="1317068335745077299")
    start["d"]["channel_id"] = channel
    [started] = p.feed(start)
    assert isinstance(started, JobStarted) and started.jobid == "job-1"


def test_deleting_a_running_job_message_without_a_result_fails_it() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))

    [failed] = p.feed(delete("8001"))

    assert failed == JobFailed("job-1", DELETED_ERROR)


def test_interaction_failure_fails_a_job_that_never_started() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")

    [failed] = p.feed(frame("INTERACTION_FAILURE", {"id": "7001", "nonce": "9001"}))

    assert failed == JobFailed("job-1", NO_RESPONSE_ERROR)


def test_fail_all_ends_every_unfinished_job_once() -> None:
    correlator = Correlator(CHANNEL)
    correlator.expect("job-1", "1")
    correlator.expect("job-2", "2")

    failed = correlator.fail_all("gateway lost", "close 4004")

    assert failed == [
        JobFailed("job-1", "gateway lost", "close 4004"),
        JobFailed("job-2", "gateway lost", "close 4004"),
    ]
    assert correlator.fail_all("again") == []


# -- bookkeeping ------------------------------------------------------------------------------


def test_forgotten_jobs_receive_nothing() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    p.correlator.forget("job-1")
    assert p.feed(waiting("8001", interaction_id="7001", nonce="9001")) == []


def test_expect_again_replaces_the_nonce_of_a_retried_post() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    p.correlator.expect("job-1", "9002")  # first post refused (stale command), sent again

    [started] = p.feed(waiting("8001", interaction_id="7001", nonce="9002"))
    assert isinstance(started, JobStarted)
    assert p.correlator.in_flight == ("job-1",)


def test_messages_of_other_channels_are_ignored() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    elsewhere = waiting("8001", interaction_id="7001", nonce="9001")
    elsewhere["d"]["channel_id"] = "999"
    assert p.feed(elsewhere) == []
    assert p.feed(frame("MESSAGE_DELETE", {"id": "8001", "channel_id": "999"})) == []


def test_finished_jobs_are_forgotten_after_the_history_limit() -> None:
    correlator = Correlator(CHANNEL, history=2)
    for n in range(4):
        correlator.expect(f"job-{n}", str(n))
    correlator.fail_all("x")
    assert correlator.known_jobs == 2
    correlator.expect("job-4", "4")
    assert correlator.known_jobs == 3
    assert correlator.in_flight == ("job-4",)


def test_capture_03_messages_feed_the_correlator_directly_too() -> None:
    # The correlator's own API, without the gateway session.
    correlator = Correlator(CHANNEL, USER)
    correlator.expect("job-1", "1")
    frames = lifecycle()
    correlator.on_interaction(None, frames[0]["d"]["id"])
    waiting_msg = interpret(frames[2]["d"])
    assert waiting_msg is not None
    [started] = correlator.on_message_create(waiting_msg)
    assert isinstance(started, JobStarted)
    assert correlator.on_message_delete("does-not-exist") == []


def test_a_stopped_job_fails_with_its_content_as_details() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))
    stopped = progress("8001", 0, interaction_id="7001")
    stopped["d"]["content"] = f"**snow** - <@{USER}> (Stopped)"

    [failed] = p.feed(stopped)

    assert failed == JobFailed("job-1", STOPPED_ERROR, f"**snow** - <@{USER}> (Stopped)")


def test_an_untitled_red_embed_fails_with_a_generic_error() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    message = error_message("", "Something broke", "9001")
    del message["d"]["embeds"][0]["title"]

    [failed] = p.feed(message)

    assert failed == JobFailed("job-1", UNTITLED_ERROR, "Something broke")


# -- "Job queued" -----------------------------------------------------------------------------


def test_job_queued_is_said_once_even_for_a_describe() -> None:
    p = pipeline()
    p.correlator.expect("job-d", "9001", expect=Expect.DESCRIPTION)
    queued = error_message("Job queued", "You have reached the maximum ...", "9001")
    queued["d"]["embeds"][0]["color"] = 16776960

    [said] = p.feed(queued)
    assert said == JobQueued("job-d", "8500", "You have reached the maximum ...", TIMESTAMP)
    assert p.feed(queued) == []

    start = notice_message("", "", message_id="8600", nonce="9001")
    start["d"]["embeds"] = []
    start["d"]["content"] = f"**snow** - <@{USER}> (Waiting to start)"
    [started] = p.feed(start)
    assert isinstance(started, JobStarted) and started.jobid == "job-d"


# -- account events ---------------------------------------------------------------------------

TIMESTAMP = "2025-06-01T00:00:00+00:00"
MOD_TEXT = "You have a pending moderation message. Please acknowledge it before using the bot."


def notice_message(
    title: str,
    description: str,
    *,
    message_id: str,
    nonce: str | None = None,
    name: str = "MESSAGE_CREATE",
    user_id: str = USER,
) -> dict[str, Any]:
    """A Midjourney embed answering an /imagine of ``user_id`` (reference §4 shapes)."""
    data: dict[str, Any] = {
        "id": message_id,
        "channel_id": CHANNEL,
        "author": {"id": "936929561302675456", "bot": True},
        "content": "",
        "flags": 64,
        "timestamp": TIMESTAMP,
        "interaction": {"id": "7777", "type": 2, "name": "imagine", "user": {"id": user_id}},
        "embeds": [{"title": title, "description": description, "color": 16711680}],
    }
    if nonce is not None:
        data["nonce"] = nonce
    return frame(name, data)


def test_an_account_flag_comes_before_the_failure_of_its_job() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    text = "Sorry! Our AI moderators feel your prompt might be against our community standards."

    events = p.feed(
        notice_message("Action needed to continue", text, message_id="8500", nonce="9001")
    )

    assert events == [
        AccountFlagged(CHANNEL, f"Action needed to continue: {text}"),
        JobFailed("job-1", "Action needed to continue", text, FailReason.ACCOUNT_FLAGGED),
    ]
    assert p.correlator.in_flight == ()


def test_a_blocked_account_is_disabled_before_its_job_fails() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    text = "Your account has been temporarily blocked due to suspicious activity."

    events = p.feed(notice_message("Blocked", text, message_id="8500", nonce="9001"))

    assert events == [
        AccountDisabled(CHANNEL, f"Blocked: {text}"),
        JobFailed("job-1", "Blocked", text, FailReason.ACCOUNT_DISABLED),
    ]


def test_an_orphan_pending_mod_message_still_flags_the_account() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))

    events = p.feed(notice_message("Pending mod message", MOD_TEXT, message_id="8500"))

    assert events == [AccountFlagged(CHANNEL, f"Pending mod message: {MOD_TEXT}")]
    assert p.correlator.in_flight == ("job-1",)  # the running job is not its business
    assert p.unrecognised == []


def test_an_account_event_is_emitted_once_per_message() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    created = notice_message("Pending mod message", MOD_TEXT, message_id="8500", nonce="9001")
    updated = notice_message(
        "Pending mod message", MOD_TEXT, message_id="8500", nonce="9001", name="MESSAGE_UPDATE"
    )

    first = p.feed(created)
    assert [type(e) for e in first] == [AccountFlagged, JobFailed]
    assert p.feed(updated) == []
    assert p.feed(created) == []
    # Another notice is news again.
    assert p.feed(notice_message("Pending mod message", MOD_TEXT, message_id="8501")) == [
        AccountFlagged(CHANNEL, f"Pending mod message: {MOD_TEXT}")
    ]


def test_an_edit_of_a_notice_older_than_the_watch_is_history() -> None:
    p = Pipeline(Correlator(CHANNEL, USER, since="9000"))
    old = notice_message("Pending mod message", MOD_TEXT, message_id="8500", name="MESSAGE_UPDATE")
    new = notice_message("Pending mod message", MOD_TEXT, message_id="9500", name="MESSAGE_UPDATE")

    assert p.feed(old) == []  # e.g. Midjourney edits it once its owner acknowledged it
    assert p.feed(new) == [AccountFlagged(CHANNEL, f"Pending mod message: {MOD_TEXT}")]


def test_a_replayed_notice_flags_only_when_posted_since_the_watch() -> None:
    correlator = Correlator(CHANNEL, USER, since="9000")
    old = interpret(notice_message("Blocked", "blocked", message_id="8500")["d"])
    new = interpret(notice_message("Blocked", "blocked", message_id="9500")["d"])
    assert old is not None and new is not None

    assert correlator.replay(old) == []
    assert correlator.replay(new) == [AccountDisabled(CHANNEL, "Blocked: blocked")]
    assert correlator.replay(new) == []


def test_a_notice_for_another_user_is_not_ours() -> None:
    p = pipeline()
    stranger = notice_message("Pending mod message", MOD_TEXT, message_id="8500", user_id="42")
    assert p.feed(stranger) == []
    assert p.unrecognised == []


def test_a_captcha_flags_the_account() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    captcha = notice_message(
        "Please continue",
        "Wow! You're making so many AI images we need to verify you\u2019re human",
        message_id="8500",
        nonce="9001",
    )

    flagged, failed = p.feed(captcha)

    assert isinstance(flagged, AccountFlagged) and "verify" in flagged.message
    assert isinstance(failed, JobFailed) and failed.reason is FailReason.ACCOUNT_FLAGGED


def test_a_refused_prompt_is_not_an_account_event() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    [failed] = p.feed(
        notice_message("Banned prompt detected", "no", message_id="8500", nonce="9001")
    )
    assert isinstance(failed, JobFailed) and failed.reason is FailReason.MODERATED


# -- unrecognised messages --------------------------------------------------------------------


def test_an_unknown_message_shape_is_reported_once() -> None:
    p = pipeline()
    odd = notice_message("", "", message_id="8500")
    odd["d"]["embeds"] = []
    odd["d"]["content"] = "Something Midjourney never said before"
    edited = copy.deepcopy(odd)
    edited["t"] = "MESSAGE_UPDATE"

    assert p.feed(odd, edited, odd) == []

    assert p.unrecognised == [odd["d"]]


def test_a_new_message_of_ours_no_job_explains_is_reported() -> None:
    p = pipeline()
    p.correlator.expect("job-1", "9001")
    stray = waiting("8009", interaction_id="7009", nonce="5555")  # e.g. a job mjapi forgot

    assert p.feed(stray) == []
    assert p.feed(progress("8009", 40, interaction_id="7009")) == []  # edits: routine

    assert p.unrecognised == [stray["d"]]


def test_routine_unmatched_messages_are_not_reported() -> None:
    p = pipeline(user_id="42")
    p.correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))  # another user's job

    p.feed(final("8101", "dddddddd-0000-4000-8000-000000000004"))  # held as an orphan
    old_grid = final("6000", "ffffffff-0000-4000-8000-000000000006")
    old_grid["t"] = "MESSAGE_UPDATE"
    p.feed(old_grid)

    assert p.unrecognised == []


def test_replayed_history_is_never_reported() -> None:
    correlator = Correlator(CHANNEL, USER)
    stray = interpret(waiting("8009", interaction_id="7009", nonce="5555")["d"])
    assert stray is not None
    assert correlator.replay(stray) == []
    assert correlator.observe(stray, created=True).unrecognised  # live: it would be


# -- the key indexes --------------------------------------------------------------------------
# Matching looks keys up in indexes instead of scanning every remembered job. They must find
# exactly what the scan found, and forget a job that leaves (forget, history, re-registration).


def scanned(correlator: Correlator, attribute: str, key: str) -> TrackedJob | None:
    """What the former linear scan in submission order found for ``key``."""
    for job in correlator._jobs.values():
        value = getattr(job, attribute)
        if key in value if isinstance(value, set) else value == key:
            return job
    return None


#: (index lookup, TrackedJob attribute): every key kind the correlator matches by
LOOKUPS = (
    ("_by_nonce", "nonces"),
    ("_by_interaction", "interaction_ids"),
    ("_by_message_id", "message_ids"),
    ("_by_hash", "job_hash"),
)


def assert_indexes_match_a_scan(correlator: Correlator, keys: list[str]) -> None:
    for lookup, attribute in LOOKUPS:
        for key in keys:
            assert getattr(correlator, lookup)(key) is scanned(correlator, attribute, key)
    for key in keys:
        found = correlator._first(correlator._progress_index, key)
        assert found is scanned(correlator, "progress_message_id", key)
    # ... and hold no key of a job that left: as many keys as the remembered jobs hold
    jobs = list(correlator._jobs.values())
    held = {
        "_nonce_index": {n for j in jobs for n in j.nonces},
        "_interaction_index": {i for j in jobs for i in j.interaction_ids},
        "_message_index": {m for j in jobs for m in j.message_ids},
        "_hash_index": {j.job_hash for j in jobs if j.job_hash is not None},
        "_progress_index": {
            j.progress_message_id for j in jobs if j.progress_message_id is not None
        },
    }
    for name, keys_held in held.items():
        assert len(getattr(correlator, name)) == len(keys_held), name


def read_message(
    *,
    kind: str,
    message_id: str,
    interaction_id: str,
    nonce: str | None,
    job_hash: str | None,
) -> MjMessage:
    """A real message (capture 07, 06 or 10) with the keys of the test."""
    if kind == "progress":
        data = progress(message_id, 50, interaction_id=interaction_id)["d"]
    elif kind == "waiting":
        data = waiting(message_id, interaction_id=interaction_id, nonce=nonce)["d"]
    else:
        data = final(message_id, job_hash or HASH, nonce=nonce)["d"]
    msg = interpret(data)
    assert msg is not None
    return dataclasses.replace(msg, nonce=nonce, job_hash=job_hash)


JOBIDS = st.sampled_from(["job-0", "job-1", "job-2", "job-3"])
NONCES = st.sampled_from(["9000", "9001", "9002"])
INTERACTIONS = st.sampled_from(["7000", "7001", "7002"])
MESSAGE_IDS = st.sampled_from(["8000", "8001", "8002", "8003"])
HASHES = st.sampled_from([HASH, "958e3dc1-4f3c-426b-b538-df30985a8dfa"])
KEYS = ["9000", "9001", "9002", "7000", "7001", "7002", "8000", "8001", "8002", "8003", HASH]
KEYS.append("958e3dc1-4f3c-426b-b538-df30985a8dfa")

OPERATIONS = st.one_of(
    st.tuples(st.just("expect"), JOBIDS, NONCES),
    st.tuples(st.just("expect_seed"), JOBIDS, HASHES),
    st.tuples(st.just("add_nonce"), JOBIDS, NONCES),
    st.tuples(st.just("forget"), JOBIDS),
    st.tuples(st.just("abort"), JOBIDS),
    st.tuples(st.just("interaction"), st.one_of(st.none(), NONCES), INTERACTIONS),
    st.tuples(
        st.just("message"),
        st.sampled_from(["waiting", "progress", "final"]),
        MESSAGE_IDS,
        INTERACTIONS,
        st.one_of(st.none(), NONCES),
        st.one_of(st.none(), HASHES),
        st.booleans(),
    ),
    st.tuples(st.just("delete"), MESSAGE_IDS),
    st.tuples(st.just("fail_all")),
)


def apply(correlator: Correlator, operation: tuple[Any, ...]) -> None:
    name, *args = operation
    if name == "expect":
        correlator.expect(args[0], args[1])
    elif name == "expect_seed":
        correlator.expect_seed(args[0], args[1])
    elif name == "add_nonce":
        correlator.add_nonce(args[0], args[1])
    elif name == "forget":
        correlator.forget(args[0])
    elif name == "abort":
        correlator.abort(args[0], "aborted")
    elif name == "interaction":
        correlator.on_interaction(args[0], args[1])
    elif name == "message":
        kind, message_id, interaction_id, nonce, job_hash, live = args
        msg = read_message(
            kind=kind,
            message_id=message_id,
            interaction_id=interaction_id,
            nonce=nonce,
            job_hash=job_hash,
        )
        if live:
            correlator.observe(msg, created=kind != "progress")
        else:
            correlator.replay(msg)
    elif name == "delete":
        correlator.on_message_delete(args[0])
    else:
        correlator.fail_all("gone")


@settings(max_examples=300, deadline=None)
@given(st.lists(OPERATIONS, max_size=25))
def test_the_indexes_find_what_a_scan_of_the_jobs_finds(operations: list[tuple[Any, ...]]) -> None:
    correlator = Correlator(CHANNEL, USER, history=2)
    for operation in operations:
        apply(correlator, operation)
        assert_indexes_match_a_scan(correlator, KEYS)


def test_a_job_that_left_leaves_no_key_behind() -> None:
    p = pipeline()
    correlator = p.correlator
    correlator.expect("job-1", "9001")
    p.feed(success("7001", "9001"), waiting("8001", interaction_id="7001", nonce="9001"))
    p.feed(progress("8001", 40, interaction_id="7001"))
    assert correlator._by_message_id("8001") is not None

    correlator.forget("job-1")

    for key in ("9001", "7001", "8001"):
        assert correlator._by_nonce(key) is None
        assert correlator._by_interaction(key) is None
        assert correlator._by_message_id(key) is None
    assert p.feed(progress("8001", 60, interaction_id="7001")) == []
    assert p.feed(delete("8001")) == []
    assert_indexes_match_a_scan(correlator, ["9001", "7001", "8001"])


def test_an_ended_job_matches_its_late_messages_until_history_forgets_it() -> None:
    p = Pipeline(Correlator(CHANNEL, USER, history=1))
    correlator = p.correlator
    correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))
    [failed] = correlator.abort("job-1", "modal refused")
    assert isinstance(failed, JobFailed)
    # Still remembered: a late edit is the ended job's, and says nothing.
    assert correlator._by_interaction("7001") is not None
    assert p.feed(progress("8001", 30, interaction_id="7001")) == []

    correlator.expect("job-2", "9002")
    correlator.fail_all("gone")  # job-2 ends: job-1 falls out of the history of one

    assert correlator.known_jobs == 1
    assert correlator._by_interaction("7001") is None
    assert correlator._by_message_id("8001") is None
    assert_indexes_match_a_scan(correlator, ["9001", "9002", "7001", "8001"])


def test_a_job_registered_again_does_not_match_the_keys_of_its_first_run() -> None:
    p = pipeline()
    correlator = p.correlator
    correlator.expect("job-1", "9001")
    p.feed(waiting("8001", interaction_id="7001", nonce="9001"))
    p.feed(final("8002", HASH, nonce="9001"))
    correlator.expect("job-1", "9002")  # the same id again, after its end: a new job

    # A new "Waiting to start" without nonce, under the old run's interaction id: not the old
    # run's (forgotten with it), so the only job waiting for its start takes it.
    [started] = p.feed(waiting("8003", interaction_id="7001"))

    assert isinstance(started, JobStarted)
    assert (started.jobid, started.message_id) == ("job-1", "8003")
    assert correlator._by_hash(HASH) is None
    assert_indexes_match_a_scan(correlator, ["9001", "9002", "7001", "8001", "8002", HASH])


def test_a_key_two_jobs_hold_goes_to_the_older_one() -> None:
    correlator = Correlator(CHANNEL, USER)
    correlator.expect("job-1", "9001")
    correlator.expect("job-2", "9002")
    correlator.add_nonce("job-2", "9001")  # odd, but the scan's rule decides: the older job

    assert correlator.job_for_nonce("9001") == "job-1"
    correlator.forget("job-1")
    assert correlator.job_for_nonce("9001") == "job-2"
