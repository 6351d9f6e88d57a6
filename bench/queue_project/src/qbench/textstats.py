"""Word statistics of a text: counts, the most frequent words, and a crude readability score."""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[a-z']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def top(text: str, n: int) -> list[tuple[str, int]]:
    """The ``n`` most frequent words with their counts, ties by first appearance."""
    return Counter(words(text)).most_common(n)


def sentences(text: str) -> int:
    return max(1, len([s for s in re.split(r"[.!?]+", text) if s.strip()]))


def syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, count)


def flesch(text: str) -> float:
    """The Flesch reading-ease score (higher is easier)."""
    ws = words(text)
    if not ws:
        return 0.0
    per_sentence = len(ws) / sentences(text)
    per_word = sum(syllables(w) for w in ws) / len(ws)
    return 206.835 - 1.015 * per_sentence - 84.6 * per_word
