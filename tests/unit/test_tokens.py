from __future__ import annotations

import re

from mjapi.domain.tokens import hash_token, new_token


def test_tokens_are_useapi_shaped_and_distinct() -> None:
    first, second = new_token(12), new_token(12)
    assert re.fullmatch(r"user:12-[A-Za-z0-9_-]{43}", first)
    assert first != second


def test_hash_is_stable_and_not_the_token() -> None:
    token = new_token(1)
    assert hash_token(token) == hash_token(token)
    assert token not in hash_token(token) and len(hash_token(token)) == 64
