"""The merge queue's policy (batch size and depth from the failure rate) and its record on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supervisor.run.pipeline import split
from supervisor.run.queue_policy import MAX_BATCH, FailureRate, Shape, shape, unit_size


@pytest.mark.parametrize(
    ("p", "batch", "depth"),
    [(0.0, MAX_BATCH, 4), (0.02, MAX_BATCH, 4), (0.05, 6, 4), (0.1, 3, 3), (0.15, 1, 2), (0.3, 1, 1)],
)
def test_batches_and_speculation_shrink_as_failures_grow(p: float, batch: int, depth: int) -> None:
    assert shape("auto", p, 4) == Shape(batch, depth)
    assert shape("auto", p, 4, max_batch=1) == Shape(1, depth)


def test_serial_and_rebase() -> None:
    assert shape("serial", 0.0, 8) == Shape(1, 1)
    assert shape("auto", 0.0, 3, strategy="rebase") == Shape(1, 3)


def test_what_is_ready_is_spread_over_the_free_gates() -> None:
    limit = Shape(6, 4)
    assert unit_size(limit, 0, 4) == 0
    assert unit_size(limit, 3, 4) == 1  # three stacked candidates of one, not one of three
    assert unit_size(limit, 10, 4) == 3
    assert unit_size(limit, 40, 4) == 6


def test_a_failed_batch_splits_into_ordered_parts_that_cover_it() -> None:
    ids = [f"b{i}" for i in range(7)]
    parts = split(ids, 5)
    assert [i for part in parts for i in part] == ids and len(parts) == 5
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert split(["a", "b"], 9) == [["a"], ["b"]]
    assert split(ids, 1) == [ids[:4], ids[4:]]  # never fewer than two parts


def test_the_rate_is_kept_across_runs_and_starts_from_a_light_prior(tmp_path: Path) -> None:
    path = tmp_path / "state" / "queue-stats.json"
    path.parent.mkdir()
    rate = FailureRate(path)
    assert rate.estimate() == pytest.approx(0.1)
    for failed in (False, False, False, True):
        rate.observe(failed)
    again = FailureRate(path)
    assert again.recent == [0, 0, 0, 1]
    assert again.estimate() == pytest.approx((1 + 0.2) / (4 + 2))


@pytest.mark.parametrize("content", [b"", b"\x00\xff", b"[1, 2]", b'{"recent": [0, 2]}', b'{"recent": "0"}'])
def test_a_bad_record_is_set_aside_and_the_prior_used(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state" / "queue-stats.json"
    path.parent.mkdir()
    path.write_bytes(content)
    rate = FailureRate(path)
    assert rate.recent == []
    assert not path.exists()
    assert list(path.parent.glob("queue-stats.json.bad-*"))
    rate.observe(True)
    assert json.loads(path.read_text()) == {"recent": [1]}
