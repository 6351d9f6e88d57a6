"""How the merge queue shapes its work: batch size and speculation depth, from the failure rate.

With failures at rate p, a batch of b beads passes with probability (1-p)^b. ``queue = "auto"``
batches while that stays high (at most :data:`MAX_BATCH`, and not past what the free gates can
share: four free gates and four beads make four stacked candidates of one, not one of four), and
speculates as deep as the gate capacity allows (candidate k is gated while candidates 1..k-1 still
run), but only as deep as the candidates ahead all pass often enough (:data:`SPECULATE_TARGET`):
at p = 0.3 a second candidate would be wasted three times in ten, so none is built and the queue
is as serial as ``serial``. At a high failure rate batches stop paying (a failed batch costs a bisection), so above
:data:`BATCH_BELOW` every candidate holds one bead. ``queue = "serial"`` is one bead, one gate, at a
time.

The rate is measured: every bead the gate judges (landed, or found to be the culprit) is one
observation, and the last :data:`KEEP` of them are kept in ``.mayor/state/queue-stats.json`` across
runs of the repository. Flaky gate runs are not failures. Before any observation, the estimate is
:data:`PRIOR_P` with the weight of :data:`PRIOR_WEIGHT` observations.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from beads.setaside import BadStateFile, read_json
from beads.store import atomic_write
from supervisor.events import set_aside

MAX_BATCH = 8
"""The default of ``max_batch``."""
BATCH_BELOW = 0.15
"""At or above this failure rate a candidate holds a single bead."""
PASS_TARGET = 0.7
"""Batches are sized so that one passes at least this often."""
SPECULATE_TARGET = 0.75
"""A candidate is built on others still being gated only while they all pass at least this often:
a speculative run wasted is a gate run's CPU taken from the ones that count (on a small machine
with a CPU-bound suite, it slows them)."""
PRIOR_P, PRIOR_WEIGHT = 0.1, 2.0
KEEP = 200


@dataclass(frozen=True)
class Shape:
    batch: int
    """Most beads in one candidate."""
    depth: int
    """Most candidates gated at once (1: no speculation)."""


def shape(mode: str, p: float, capacity: int, strategy: str = "merge", max_batch: int = MAX_BATCH) -> Shape:
    """The queue's shape for failure rate ``p`` and ``capacity`` gates at once."""
    if mode == "serial":
        return Shape(1, 1)
    depth = max(1, capacity) if p <= 0 else 1 + int(math.log(SPECULATE_TARGET) / math.log(1.0 - p))
    depth = max(1, min(capacity, depth))
    if strategy == "rebase" or p >= BATCH_BELOW:
        return Shape(1, depth)
    batch = max_batch if p <= 0 else int(math.log(PASS_TARGET) / math.log(1.0 - p))
    return Shape(max(1, min(max_batch, batch)), depth)


def unit_size(limit: Shape, ready: int, free_gates: int) -> int:
    """Beads for the next candidate: spread what is ready over the free gates, up to the batch size."""
    if ready <= 0:
        return 0
    return max(1, min(limit.batch, math.ceil(ready / max(1, free_gates))))


class FailureRate:
    """The observed rate at which beads fail the gate (the merge thread's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recent: list[int] = self._read()

    def estimate(self) -> float:
        return (sum(self.recent) + PRIOR_P * PRIOR_WEIGHT) / (len(self.recent) + PRIOR_WEIGHT)

    def observe(self, failed: bool) -> None:
        self.recent = [*self.recent, int(failed)][-KEEP:]
        with contextlib.suppress(OSError):  # only an estimate: a full disk must not stop a landing
            atomic_write(self.path, json.dumps({"recent": self.recent}))

    def _read(self) -> list[int]:
        try:
            record = read_json(self.path)
        except FileNotFoundError:
            return []
        except BadStateFile as exc:
            set_aside(self.path, str(exc), self.path.parent.parent / "events.jsonl")
            return []
        recent = record.get("recent") if isinstance(record, dict) else None
        if not isinstance(recent, list) or not all(v in (0, 1) and type(v) is int for v in recent):
            set_aside(self.path, "is not the queue's failure record", self.path.parent.parent / "events.jsonl")
            return []
        return recent[-KEEP:]
