"""The worker's message framing, and mjapi errors surviving the trip (pure)."""

from __future__ import annotations

import inspect
import pickle

import pytest

from mjapi import errors
from mjapi.domain.events import JobCompleted, JobProgressed
from mjapi.domain.jobs import Attachment, Button
from mjapi.transports.worker.pipe import HEADER, MAX_MESSAGE, Decoder, PipeError, encode

PROGRESS = JobProgressed("job-1", "m-1", "**fox** (42%)", 42, "2026-11-26T00:00:00Z", "hash")
RESULT = JobCompleted(
    "job-1",
    "m-2",
    "**fox**",
    "2026-11-26T00:00:01Z",
    (Attachment("a", "https://cdn/x.png", "x.png"),),
    (Button("U1", "MJ::JOB::upsample::1::hash"),),
    "hash",
)


def test_messages_split_anywhere_come_out_whole_and_in_order() -> None:
    stream = encode(("events", [PROGRESS])) + encode(("return", 7, "nonce")) + encode(RESULT)
    decoder = Decoder()

    received = [
        message for byte in range(len(stream)) for message in decoder.feed(stream[byte : byte + 1])
    ]

    assert received == [("events", [PROGRESS]), ("return", 7, "nonce"), RESULT]


def test_several_messages_in_one_read_and_a_partial_one_kept() -> None:
    first, second = encode(("ready",)), encode(("closed",))
    decoder = Decoder()

    assert decoder.feed(first + second[:3]) == [("ready",)]
    assert decoder.feed(second[3:]) == [("closed",)]


def test_an_oversized_announcement_is_refused_before_it_is_buffered() -> None:
    with pytest.raises(PipeError):
        Decoder().feed(HEADER.pack(MAX_MESSAGE + 1))


def every_error() -> list[errors.MjapiError]:
    made: list[errors.MjapiError] = [
        errors.Busy(["job-1", "job-2"], retry_after=3.0),
        errors.RateLimited(2.5, "slow down"),
        errors.TooManyRequests(4.0),
        errors.DiscordHTTPError(403, 50013, "Missing Permissions"),
    ]
    special = {type(error) for error in made}
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.MjapiError) and cls not in special:
            made.append(cls("what happened", details="and why"))
    return made


@pytest.mark.parametrize("error", every_error(), ids=lambda e: type(e).__name__)
def test_every_mjapi_error_crosses_with_its_class_and_attributes(error: errors.MjapiError) -> None:
    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is type(error)
    assert vars(copy) == vars(error)
    assert copy.args == error.args
    assert str(copy) == str(error)
