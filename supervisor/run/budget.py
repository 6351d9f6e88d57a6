"""The spending cap of one ``mayor sling`` run (``--budget-usd``, ``--budget-tokens``).

Spend is counted from the usage every finished attempt reports, plus the running usage that
built-in agents write to ``usage.json`` in their run folder after each model call, so that a
run is stopped while it spends, not after.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path

from beads.models import Usage
from supervisor.pricing import usd


class Budget:
    def __init__(self, usd: float | None, tokens: int | None) -> None:
        self.usd = usd
        self.tokens = tokens
        self.spent = Usage()
        """Usage of the attempts of this run that have ended."""
        self.unpriced = False
        self._lock = threading.Lock()

    @property
    def capped(self) -> bool:
        return self.usd is not None or self.tokens is not None

    def add(self, usage: Usage) -> None:
        with self._lock:
            self.unpriced = self.unpriced or usage.cost_usd is None
            self.spent = self.spent + usage.model_copy(update={"cost_usd": usage.cost_usd or 0.0})

    def total(self, running: Iterable[Path] = ()) -> Usage:
        live = [live_usage(run_dir) for run_dir in running]
        with self._lock:
            total = self.spent
        for usage in live:
            total = total + usage.model_copy(update={"cost_usd": usage.cost_usd or 0.0})
        return total

    def exceeded(self, running: Iterable[Path] = ()) -> str | None:
        """Why the budget is used up, or None."""
        if not self.capped:
            return None
        total = self.total(running)
        if self.usd is not None and (total.cost_usd or 0.0) >= self.usd:
            return f"the budget of {usd(self.usd)} is spent ({usd(total.cost_usd or 0.0)})"
        if self.tokens is not None and total.total_tokens >= self.tokens:
            return f"the budget of {self.tokens} tokens is spent ({total.total_tokens})"
        return None

    def remaining_usd(self) -> float | None:
        if self.usd is None:
            return None
        with self._lock:
            return max(0.0, self.usd - (self.spent.cost_usd or 0.0))


def live_usage(run_dir: Path) -> Usage:
    """What a running agent has spent so far (``usage.json``), or nothing."""
    try:
        return Usage.model_validate(json.loads((run_dir / "usage.json").read_text()))
    except (OSError, ValueError, RecursionError):  # an agent's file: never trusted, never fatal
        return Usage()
