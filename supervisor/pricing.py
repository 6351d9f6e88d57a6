"""What tokens cost: a dated price table per model, in USD per million tokens.

Cache writes and cache reads are priced as such (5-minute cache writes; mayor does not ask for
the 1-hour cache). A model not in the table is *unpriced*: its cost is None, never $0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from beads.models import Usage

PRICES_AS_OF = "2026-10-24"
"""The day the table below was checked against Anthropic's pricing page."""


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Usage) -> float:
        per_token = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        )
        return per_token / 1_000_000


PRICES: dict[str, Price] = {
    "claude-fable-5-1": Price(10.0, 50.0, 12.5, 0.25),
    "claude-fable-5": Price(10.0, 50.0, 12.5, 1.0),
    "claude-opus-5-5": Price(4.0, 20.0, 5.0, 0.20),
    "claude-opus-5": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-8": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-7": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-6": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-5": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-1": Price(15.0, 75.0, 18.75, 1.50),
    "claude-opus-4": Price(15.0, 75.0, 18.75, 1.50),
    "claude-sonnet-5-5": Price(2.0, 10.0, 2.50, 0.10),
    "claude-sonnet-5": Price(2.0, 10.0, 2.50, 0.20),
    "claude-sonnet-4-6": Price(3.0, 15.0, 3.75, 0.30),
    "claude-sonnet-4-5": Price(3.0, 15.0, 3.75, 0.30),
    "claude-sonnet-4": Price(3.0, 15.0, 3.75, 0.30),
    "claude-haiku-5-5": Price(0.10, 0.50, 0.125, 0.01),
    "claude-haiku-4-5": Price(1.0, 5.0, 1.25, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.0, 1.0, 0.08),
    "mayor-demo": Price(0.0, 0.0, 0.0, 0.0),
}
"""``mayor-demo`` is the offline model of ``mayor demo``: it really costs nothing.
Haiku 5.5 is priced at its tier for prompts up to 100k tokens; past that, see LONG_PROMPT."""

LONG_PROMPT: dict[str, tuple[int, Price]] = {
    "claude-haiku-5-5": (100_000, Price(0.50, 2.50, 0.625, 0.05)),
}
"""Models whose whole request is priced higher when its prompt passes a threshold."""

MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-opus-5": 512,
    "claude-fable-5": 512,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-3-5-haiku": 2048,
}
"""The shortest prefix a model caches; models not named here cache from 1,024 tokens."""
DEFAULT_MIN_CACHEABLE = 1024

STRONG_MODEL = "claude-opus-5-5"
"""The default for planning, design documents and summaries."""
WORKER_MODEL = "claude-sonnet-5-5"
"""The default for agents doing beads: fast, and strong at code."""


_SNAPSHOT = re.compile(r"^(?P<base>.+?)(?:-\d{8}|-latest)?(?:\[[^\]]*\])?$")


def _lookup(table: dict[str, object], model: str) -> object | None:
    """The entry for ``model``, or for its base name (``claude-x-20250929``, ``claude-x[1m]``)."""
    if model in table:
        return table[model]
    match = _SNAPSHOT.match(model)
    return table.get(match.group("base")) if match else None


def price_of(model: str) -> Price | None:
    found = _lookup(PRICES, model)  # type: ignore[arg-type]
    return found if isinstance(found, Price) else None


def cost(model: str, usage: Usage) -> float | None:
    """Dollars for one response's usage, or None when the model has no known price."""
    price = price_of(model)
    if price is None:
        return None
    long = _lookup(LONG_PROMPT, model)  # type: ignore[arg-type]
    prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    if isinstance(long, tuple) and prompt > long[0]:
        price = long[1]
    return price.cost(usage)


def priced(model: str, usage: Usage) -> Usage:
    """``usage`` with its ``cost_usd`` filled in (None when unpriced)."""
    return usage.model_copy(update={"cost_usd": cost(model, usage)})


def usd(dollars: float) -> str:
    """Dollars for people: cents from $1 up, four decimals below, so a small budget reads right."""
    return f"${dollars:.2f}" if dollars >= 1 else f"${dollars:.4f}"


def min_cacheable(model: str) -> int:
    found = _lookup(MIN_CACHEABLE_TOKENS, model)  # type: ignore[arg-type]
    return found if isinstance(found, int) else DEFAULT_MIN_CACHEABLE
