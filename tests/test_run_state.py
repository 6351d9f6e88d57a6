"""RunState: the one owner of the run's cross-thread state."""

from __future__ import annotations

import threading
from pathlib import Path

from beads.models import Usage
from supervisor.config import Config
from supervisor.events import EventLog, EventType
from supervisor.repo import Repo
from supervisor.run.context import Options, RunContext
from supervisor.run.spend import check_budget
from supervisor.run.state import RunState


def test_only_the_first_of_many_threads_trips_the_budget() -> None:
    state = RunState()
    barrier = threading.Barrier(16)
    wins: list[bool] = []

    def trip(i: int) -> None:
        barrier.wait()
        wins.append(state.trip_budget(f"spent by {i}"))

    threads = [threading.Thread(target=trip, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1 and len(wins) == 16
    assert state.budget_stop is not None and state.wake.is_set()


def test_check_budget_emits_budget_stopped_once_however_many_threads_find_it_spent(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    (tmp_path / ".mayor").mkdir()
    ctx = RunContext(repo, Options.of(Config(), budget_tokens=10))
    ctx.budget.add(Usage(input_tokens=50))
    barrier = threading.Barrier(8)
    answers: list[bool] = []

    def check() -> None:
        barrier.wait()
        answers.append(check_budget(ctx))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [True] * 8
    stops = [e for e in EventLog(repo.events_path).read() if e["type"] == EventType.BUDGET_STOPPED]
    assert len(stops) == 1


def test_slots_queue_and_idleness() -> None:
    state = RunState()
    assert state.idle() and state.free_slots(2) == [0, 1]
    state.claim(0, "a")
    state.attempt_began(0, 12.5)
    assert state.free_slots(2) == [1] and state.taken() == {"a"} and not state.idle()
    assert [(b.slot, b.bead_id, b.started) for b in state.busy_slots()] == [(0, "a", 12.5)]
    assert state.enqueue("b") and not state.enqueue("b")
    state.free(0)
    assert state.busy_slots() == [] and not state.idle() and state.taken() == {"b"}
    state.leave_unlanded("b", "blocked by local changes")
    assert state.idle() and state.unlanded() == {"b": "blocked by local changes"}
    assert state.touched() == {"a", "b"}


def test_a_clean_mark_is_used_once_and_the_first_fatal_error_wins() -> None:
    state = RunState()
    state.mark_clean(3)
    assert state.take_clean(3) and not state.take_clean(3)
    first, second = RuntimeError("first"), RuntimeError("second")
    state.fail(first)
    state.fail(second)
    assert state.fatal is first
