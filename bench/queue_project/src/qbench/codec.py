"""Run-length encoding, base-36 numbers and a Caesar shift: small codecs with exact inverses."""

from __future__ import annotations

import string

DIGITS = string.digits + string.ascii_lowercase


def rle_encode(text: str) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for ch in text:
        if runs and runs[-1][0] == ch:
            runs[-1] = (ch, runs[-1][1] + 1)
        else:
            runs.append((ch, 1))
    return runs


def rle_decode(runs: list[tuple[str, int]]) -> str:
    return "".join(ch * count for ch, count in runs)


def to_base36(n: int) -> str:
    if n < 0:
        return "-" + to_base36(-n)
    out = ""
    while True:
        n, digit = divmod(n, 36)
        out = DIGITS[digit] + out
        if n == 0:
            return out


def from_base36(text: str) -> int:
    return int(text, 36)


def caesar(text: str, shift: int) -> str:
    lower = string.ascii_lowercase
    table = str.maketrans(lower + lower.upper(), _rotate(lower, shift) + _rotate(lower, shift).upper())
    return text.translate(table)


def _rotate(alphabet: str, shift: int) -> str:
    shift %= len(alphabet)
    return alphabet[shift:] + alphabet[:shift]
