from __future__ import annotations

from datetime import UTC, datetime

from mjapi.domain.accounts import mask_token
from mjapi.domain.jobs import Attachment, Button, Child, JobStatus
from mjapi.domain.model import JobIdFactory, iso_ms, job_model
from tests.factories import make_job


def test_iso_ms_matches_useapi() -> None:
    moment = datetime(2023, 9, 9, 2, 4, 49, 667891, tzinfo=UTC)
    assert iso_ms(moment) == "2023-09-09T02:04:49.667Z"


def test_job_ids_are_useapi_shaped_and_unique_within_a_millisecond() -> None:
    factory = JobIdFactory()
    now = datetime(2024, 1, 6, 5, 32, 33, 367000, tzinfo=UTC)
    first = factory.make(now, 791, "1170809721663422494")
    second = factory.make(now, 791, "1170809721663422494")
    assert first == "job:20240106053233367-user:791-channel:1170809721663422494"
    assert second == "job:20240106053233368-user:791-channel:1170809721663422494"


def test_model_of_a_completed_job() -> None:
    job = make_job(
        status=JobStatus.COMPLETED,
        message_id="m2",
        content="**a cat** - <@1> (fast)",
        timestamp="2025-01-02T03:04:06.000000+00:00",
        attachments=(Attachment("9", "http://cdn/x.png", "x.png", None, "image/png", 8, 8, 10),),
        buttons=(Button("U1", "MJ::JOB::upsample::1::h"), Button("🔄", "MJ::JOB::reroll::0::h")),
        children=(Child("U1", "job:child", "m3"),),
        reply_ref="ref",
        nonce="secret-correlation",
    )
    body = job_model(job)
    assert list(body)[:5] == ["jobid", "verb", "status", "created", "updated"]
    assert body["status"] == "completed" and body["code"] == 200
    assert body["buttons"] == ["U1", "🔄"]
    assert body["children"] == [{"button": "U1", "jobid": "job:child", "messageId": "m3"}]
    assert body["attachments"][0] == {
        "id": "9",
        "url": "http://cdn/x.png",
        "filename": "x.png",
        "content_type": "image/png",
        "width": 8,
        "height": 8,
        "size": 10,
    }
    assert body["maxJobs"] == 3 and body["replyRef"] == "ref"
    assert "nonce" not in body and "replyUrl" not in body and "error" not in body


def test_mask_token_keeps_three_characters_each_side() -> None:
    assert mask_token("MTI3NjU0.abcdef.ghijklmnopqrstu") == "MTI...secured...stu"
    assert mask_token("short") == "...secured..."


def test_account_repr_never_shows_the_token() -> None:
    from tests.factories import make_account

    account = make_account(discord_token="very-secret-discord-token-xyz")
    assert "very-secret-discord-token-xyz" not in repr(account)
