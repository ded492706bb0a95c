"""Callback signatures in the Standard Webhooks format (https://www.standardwebhooks.com).

Each POST carries three headers:

- ``webhook-id``: the delivery's event id, the same on every retry and replay (dedupe on it);
- ``webhook-timestamp``: Unix seconds of this attempt (reject old ones to stop replays);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of ``"{id}.{timestamp}.{body}"`` keyed with
  the base64-decoded part of the user's secret after ``whsec_``.

Following a published format means receivers can verify with an existing library (the
``standardwebhooks`` packages) as well as with the few lines in docs/webhooks.md.
"""

from __future__ import annotations

import base64
import functools
import hmac
import secrets

SECRET_PREFIX = "whsec_"
#: 32 random bytes: the HMAC-SHA256 key length.
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, event_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = f"{event_id}.{timestamp}.{body}".encode()
    # hmac.digest: OpenSSL's one-shot HMAC, without building an HMAC object per callback.
    digest = hmac.digest(_key(secret), signed, "sha256")
    return "v1," + base64.b64encode(digest).decode()


@functools.lru_cache(maxsize=1024)
def _key(secret: str) -> bytes:
    """The HMAC key of ``secret`` (decoded once per secret, not once per callback)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def headers(secret: str, event_id: str, timestamp: int, body: str) -> dict[str, str]:
    """Every header a signed callback carries besides the content type."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, event_id, timestamp, body),
    }


def verify(secret: str, sent: dict[str, str], body: str) -> bool:
    """True when ``sent`` (a request's headers) signs ``body`` with ``secret``.

    The receiver's side, kept here so that tests check the format a client would check.
    """
    expected = signature(secret, sent["webhook-id"], int(sent["webhook-timestamp"]), body)
    offered = sent["webhook-signature"].split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
