"""Bead ids: a prefix and a base36 hash whose length grows with the store, e.g. ``mr-4f2a``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Container

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def hash_length(count: int) -> int:
    """Digits needed so that a new id collides with one of ``count`` others rarely (< 1%)."""
    length = 4
    while 36**length < 100 * max(count, 1) ** 2:
        length += 1
    return length


def _base36(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    for _ in range(length):
        number, rest = divmod(number, 36)
        digits.append(_ALPHABET[rest])
    return "".join(digits)


def new_id(prefix: str, title: str, taken: Container[str], count: int) -> str:
    """A fresh id not in ``taken``; call it under the store's lock."""
    length = hash_length(count)
    while True:
        seed = title.encode(errors="surrogatepass") + os.urandom(16)
        candidate = f"{prefix}-{_base36(hashlib.sha256(seed).digest(), length)}"
        if candidate not in taken:
            return candidate
        length += 1
