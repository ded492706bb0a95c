"""Callback signatures: the Standard Webhooks format, checked against its published example."""

from __future__ import annotations

import base64

from mjapi.webhooks.signing import SECRET_PREFIX, headers, new_secret, signature, verify

# The example of the Standard Webhooks specification (its reference libraries test with it).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_matches_the_specifications_example() -> None:
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers_carry_id_timestamp_and_signature() -> None:
    sent = headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert sent == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_verify_refuses_any_change() -> None:
    sent = headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert verify(SPEC_SECRET, sent, SPEC_BODY)
    assert not verify(SPEC_SECRET, sent, SPEC_BODY.replace("2", "3"))
    assert not verify(new_secret(), sent, SPEC_BODY)
    assert not verify(SPEC_SECRET, {**sent, "webhook-timestamp": "1614265331"}, SPEC_BODY)


def test_verify_accepts_one_of_several_signatures() -> None:
    # Receivers must accept a list (spec): during a secret rotation several may be sent.
    sent = headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    sent["webhook-signature"] = "v1,AAAA " + sent["webhook-signature"]
    assert verify(SPEC_SECRET, sent, SPEC_BODY)


def test_new_secrets_are_prefixed_random_32_byte_keys() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(first.removeprefix(SECRET_PREFIX))) == 32
