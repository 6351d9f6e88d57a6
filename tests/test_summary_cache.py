"""Store.summaries and its cache: the same answer as a full load, whatever happens to the files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from beads import graph, summary_cache
from beads.errors import BeadFileError, CycleError, UnknownDependency
from beads.models import STATUSES, Bead, BeadSummary
from beads.store import Store
from supervisor.cli import app
from supervisor.repo import open_repo
from supervisor.run.beadstate import modify
from supervisor.views import plan

PAST_NS = 1_000_000_000 * 1_000_000_000
"""2001: a file dated back to then has a settled mtime (its ctime is still now)."""


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock a minute ahead, so files written just now count as settled and get cached."""
    real = time.time_ns
    monkeypatch.setattr("beads.store.time.time_ns", lambda: real() + 60 * 1_000_000_000)


def add(store: Store, title: str, deps: tuple[str, ...] = (), **fields: object) -> str:
    with store.edit() as tx:
        return tx.put(Bead(id=tx.new_id(title), title=title, deps=list(deps), **fields)).id  # type: ignore[arg-type]


def cache_path(store: Store) -> Path:
    return store.mayor_dir / "state" / "bead-summaries.json"


def cached_ids(store: Store) -> set[str]:
    return set(json.loads(cache_path(store).read_text())["id"])


def expected(store: Store) -> dict[str, BeadSummary]:
    return {bead_id: BeadSummary.of(bead) for bead_id, bead in store.load().items()}


def edit_in_place(path: Path, old: str, new: str) -> None:
    """A hand edit: the same file (inode) rewritten, its size kept, its mtime set back as it was.

    Only its ctime shows the change; the pause puts that in a later tick of the file system's
    clock, as it is for any edit made after a cache was written (see ``SETTLE_NS``).
    """
    st = path.stat()
    text = path.read_text()
    assert old in text and len(old) == len(new)
    time.sleep(0.05)
    with open(path, "r+", encoding="utf-8") as handle:
        handle.write(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    assert after.st_ctime_ns != st.st_ctime_ns, "this file system's ctime is too coarse for the test"


def test_summaries_match_a_full_load(tmp_path: Path, later: None) -> None:
    store = Store(tmp_path / ".mayor")
    a = add(store, "a", estimate_minutes=10)
    add(store, "b", (a,), status="merged", priority=0)
    for _ in range(2):  # cold, then from the cache
        assert store.summaries() == expected(store)
    assert cached_ids(store) == {a, *store.load()}


def test_a_hand_edit_that_keeps_size_inode_and_mtime_is_seen(tmp_path: Path, later: None) -> None:
    store = Store(tmp_path / ".mayor")
    bead_id = add(store, "a")
    store.summaries()
    edit_in_place(store.path(bead_id), '"status": "open"', '"status": "done"')
    assert store.summaries()[bead_id].status == "done"


def test_added_removed_and_replaced_files_are_seen(tmp_path: Path, later: None) -> None:
    store = Store(tmp_path / ".mayor")
    a, b = add(store, "a"), add(store, "b")
    store.summaries()
    c = add(store, "c", (a,))
    store.path(b).unlink()
    modify(store, a, lambda bead: setattr(bead, "status", "merged"))
    assert store.summaries() == expected(store)
    assert set(store.summaries()) == {a, c}
    assert cached_ids(store) == {a, c}


def test_a_file_broken_after_it_was_cached_is_named(tmp_path: Path, later: None) -> None:
    store = Store(tmp_path / ".mayor")
    add(store, "good")
    bad = add(store, "bad")
    store.summaries()
    edit_in_place(store.path(bad), '"priority": 2', '"priority": 9')
    with pytest.raises(BeadFileError) as caught:
        store.summaries()
    assert caught.value.path == store.path(bad) and "priority" in str(caught.value)


def test_graph_errors_raise_and_write_no_cache(tmp_path: Path, later: None) -> None:
    store = Store(tmp_path / ".mayor")
    a = add(store, "a")
    b = add(store, "b", (a,))
    data = json.loads(store.path(a).read_text())
    store.path(a).write_text(json.dumps({**data, "deps": [b]}))
    with pytest.raises(CycleError):
        store.summaries()
    store.path(a).write_text(json.dumps({**data, "deps": ["mr-ghost"]}))
    with pytest.raises(UnknownDependency):
        store.summaries()
    assert not cache_path(store).exists()


def test_files_changed_within_the_settle_time_are_not_cached(tmp_path: Path) -> None:
    store = Store(tmp_path / ".mayor")
    fresh = add(store, "fresh")
    aged = add(store, "aged")
    os.utime(store.path(aged), ns=(PAST_NS, PAST_NS))  # its ctime is now: not settled either
    assert store.summaries() == expected(store)
    assert not cache_path(store).exists()
    sig = summary_cache.signature(store.path(fresh).stat())
    assert not summary_cache.settled(sig, time.time_ns())
    assert summary_cache.settled(sig, time.time_ns() + summary_cache.SETTLE_NS + 1)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-fingerprint", "short-column"])
def test_a_damaged_cache_is_ignored(tmp_path: Path, later: None, damage: str) -> None:
    store = Store(tmp_path / ".mayor")
    a = add(store, "a")
    add(store, "b", (a,))
    store.summaries()
    path = cache_path(store)
    data = json.loads(path.read_text())
    if damage == "garbage":
        path.write_text("not json")
    elif damage == "truncated":
        path.write_text(path.read_text()[:-40])
    elif damage == "other-fingerprint":
        data["status"] = ["done"] * len(data["id"])  # lies, but written by another model version
        data["fingerprint"] = "0:old"
        path.write_text(json.dumps(data))
    else:
        data["title"] = data["title"][:-1]
        path.write_text(json.dumps(data))
    assert store.summaries() == expected(store)


def test_an_unwritable_state_folder_only_costs_speed(tmp_path: Path, later: None) -> None:
    store = Store(tmp_path / ".mayor")
    add(store, "a")
    (store.mayor_dir / "state").write_text("a file where the folder should be")
    assert store.summaries() == expected(store)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(STATUSES), st.integers(0, 4), st.integers(0, 5)), min_size=1, max_size=12))
def test_the_graph_of_summaries_is_the_graph_of_beads(
    tmp_path_factory: pytest.TempPathFactory, later: None, spec: list[tuple[str, int, int]]
) -> None:
    store = Store(tmp_path_factory.mktemp("store") / ".mayor")
    ids: list[str] = []
    for status, priority, back in spec:
        deps = (ids[-back],) if 0 < back <= len(ids) else ()
        ids.append(add(store, f"bead {len(ids)}", deps, status=status, priority=priority))
    beads = store.load()
    for summaries in (store.summaries(), store.summaries()):  # cold, then from the cache
        assert [b.id for b in graph.ready(summaries)] == [b.id for b in graph.ready(beads)]
        assert graph.critical_paths(summaries) == graph.critical_paths(beads)
        assert graph.topological_order(summaries) == graph.topological_order(beads)
        assert [(b.id, hs) for b, hs in graph.blocked(summaries)] == [(b.id, hs) for b, hs in graph.blocked(beads)]


def test_ready_json_is_the_whole_record_even_when_a_writer_races(mayor_repo: Path, later: None) -> None:
    store = open_repo(mayor_repo).store
    a = add(store, "a", priority=1)
    b = add(store, "b", estimate_minutes=5)
    found = CliRunner().invoke(app, ["ready", "--json"])
    records = json.loads(found.stdout)
    assert [r["id"] for r in records] == [a, b]
    assert records[0] == {**store.get(a).model_dump(mode="json"), "critical_path_minutes": 30}
    stale = store.summaries()
    modify(store, a, lambda bead: setattr(bead, "status", "running"))
    assert plan.whole(store, [stale[a], stale[b]]) is None
    store.path(b).unlink()
    assert plan.whole(store, [stale[b]]) is None
