"""The dependency graph: properties on random DAGs (hypothesis) and a few plain cases."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beads import graph
from beads.errors import CycleError, UnknownDependency
from beads.models import LANDED, STATUSES, Bead, Link

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Open and landed beads are drawn more often, so ready and blocked sets are rarely empty.
_STATUS_WEIGHTED = ("open", "open", "open", "merged", "done", *STATUSES)


@st.composite
def dags(draw: st.DrawFn, max_size: int = 18) -> dict[str, Bead]:
    """``n`` beads; bead ``i`` depends only on beads of lower index, so the graph is acyclic.

    Ids are a random permutation (their sort order says nothing about the index), deps may
    repeat (a hand-edited file can do that), and the mapping's order is shuffled too.
    """
    n = draw(st.integers(min_value=1, max_value=max_size))
    names = draw(st.permutations([f"b{i:02d}" for i in range(n)]))
    beads: list[Bead] = []
    for i, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:i]), max_size=4)) if i else []
        beads.append(
            Bead(
                id=name,
                title=f"bead {i}",
                deps=deps,
                status=draw(st.sampled_from(_STATUS_WEIGHTED)),
                priority=draw(st.integers(min_value=0, max_value=4)),
                estimate_minutes=draw(st.none() | st.integers(min_value=0, max_value=120)),
            )
        )
    order = draw(st.permutations(beads))
    return {bead.id: bead for bead in order}


def _landed(beads: Mapping[str, Bead], bead_id: str) -> bool:
    return beads[bead_id].status in ("merged", "done")


def _expected_ready(beads: Mapping[str, Bead]) -> set[str]:
    return {b.id for b in beads.values() if b.status == "open" and all(_landed(beads, d) for d in b.deps)}


def _users(beads: Mapping[str, Bead], bead_id: str) -> set[str]:
    return {b.id for b in beads.values() if bead_id in b.deps}


def _reaches(beads: Mapping[str, Bead], start: str) -> set[str]:
    """Every id reachable from ``start`` by following deps (``start`` itself only via a cycle)."""
    seen: set[str] = set()
    todo = list(beads[start].deps)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(beads[node].deps)
    return seen


def _is_cycle(beads: Mapping[str, Bead], cycle: list[str]) -> bool:
    """Each id depends on the next, and the last on the first."""
    return bool(cycle) and all(cycle[(k + 1) % len(cycle)] in beads[node].deps for k, node in enumerate(cycle))


def test_landed_means_merged_or_done() -> None:
    assert {"merged", "done"} == LANDED


@PROPERTY
@given(dags())
def test_random_dags_validate(beads: dict[str, Bead]) -> None:
    graph.validate(beads)
    assert graph.find_cycle(beads) is None


@PROPERTY
@given(dags())
def test_ready_is_exactly_open_beads_with_landed_deps(beads: dict[str, Bead]) -> None:
    found = [b.id for b in graph.ready(beads)]
    assert len(found) == len(set(found))
    assert set(found) == _expected_ready(beads)
    assert all(graph.is_ready(beads[i], beads) == (i in found) for i in beads)


@PROPERTY
@given(dags())
def test_topological_order_puts_every_dep_first(beads: dict[str, Bead]) -> None:
    order = graph.topological_order(beads)
    assert sorted(order) == sorted(beads)
    position = {bead_id: k for k, bead_id in enumerate(order)}
    for bead in beads.values():
        for dep in bead.deps:
            assert position[dep] < position[bead.id], (dep, bead.id)


@PROPERTY
@given(st.data())
def test_any_back_edge_is_caught_as_a_cycle(data: st.DataObject) -> None:
    beads = data.draw(dags(max_size=14).filter(lambda b: any(bead.deps for bead in b.values())))
    pairs = sorted((high, low) for high in beads for low in _reaches(beads, high))
    high, low = data.draw(st.sampled_from(pairs))
    broken = dict(beads)
    broken[low] = beads[low].model_copy(update={"deps": [*beads[low].deps, high]})
    with pytest.raises(CycleError) as caught:
        graph.validate(broken)
    cycle = caught.value.cycle
    assert _is_cycle(broken, cycle), cycle
    assert len(cycle) == len(set(cycle))
    assert {high, low} <= set(cycle)
    assert all(bead_id in str(caught.value) for bead_id in cycle)
    with pytest.raises(CycleError):
        graph.topological_order(broken)


@PROPERTY
@given(dags())
def test_critical_path_is_estimate_plus_longest_dependent(beads: dict[str, Bead]) -> None:
    length = graph.critical_paths(beads)
    assert set(length) == set(beads)
    for bead in beads.values():
        if bead.landed:
            assert length[bead.id] == 0
            continue
        downstream = max((length[u] for u in _users(beads, bead.id)), default=0)
        assert length[bead.id] == bead.estimate + downstream


@PROPERTY
@given(dags())
def test_critical_path_chain_is_a_real_chain(beads: dict[str, Bead]) -> None:
    chain = graph.critical_path(beads)
    length = graph.critical_paths(beads)
    for first, second in itertools.pairwise(chain):
        assert first in beads[second].deps
    if chain:
        assert length[chain[0]] == max(length.values())
        assert sum(beads[i].estimate for i in chain) == length[chain[0]]


@PROPERTY
@given(dags())
def test_ready_is_sorted_by_priority_then_longest_path(beads: dict[str, Bead]) -> None:
    length = graph.critical_paths(beads)
    keys = [(b.priority, -length[b.id]) for b in graph.ready(beads)]
    assert keys == sorted(keys)


@PROPERTY
@given(dags())
def test_blocked_lists_open_non_ready_beads_with_their_holders(beads: dict[str, Bead]) -> None:
    found = graph.blocked(beads)
    expected = {b.id for b in beads.values() if b.status == "open"} - _expected_ready(beads)
    assert [b.id for b, _ in found] == sorted(expected, key=lambda i: (beads[i].priority, i))
    for bead, holds in found:
        assert holds, bead.id
        want = [(d, beads[d].status) for d in bead.deps if not _landed(beads, d)]
        assert [(h.dep, h.status) for h in holds] == want
        for hold in holds:
            assert hold.stuck == (hold.status in ("failed", "cancelled"))
            assert hold.dep in hold.describe()


def _bead(bead_id: str, *deps: str, **fields: object) -> Bead:
    return Bead.model_validate({"id": bead_id, "title": f"bead {bead_id}", "deps": list(deps), **fields})


def _as_map(*beads: Bead) -> dict[str, Bead]:
    return {b.id: b for b in beads}


def test_unknown_dependency_names_the_bead_and_the_missing_ids() -> None:
    beads = _as_map(_bead("a"), _bead("b", "a", "ghost-1", "ghost-2"))
    with pytest.raises(UnknownDependency) as caught:
        graph.validate(beads)
    assert caught.value.bead_id == "b"
    assert caught.value.missing == ["ghost-1", "ghost-2"]
    for name in ("b", "ghost-1", "ghost-2"):
        assert name in str(caught.value)


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(CycleError) as caught:
        graph.validate(_as_map(_bead("a"), _bead("me", "me")))
    assert caught.value.cycle == ["me"]
    assert "me -> me" in str(caught.value)


def test_links_never_block_and_are_not_checked() -> None:
    lone = _bead("a", links=[Link(type="related", id="elsewhere", external=True)])
    beads = _as_map(lone)
    graph.validate(beads)
    assert [b.id for b in graph.ready(beads)] == ["a"]
    assert graph.blocked(beads) == []


def test_failed_and_cancelled_deps_are_stuck_with_a_reason() -> None:
    beads = _as_map(_bead("f", status="failed"), _bead("c", status="cancelled"), _bead("r", status="running"))
    beads["x"] = _bead("x", "f", "c", "r")
    [(bead, holds)] = graph.blocked(beads)
    assert bead.id == "x"
    assert [(h.dep, h.stuck) for h in holds] == [("f", True), ("c", True), ("r", False)]
    assert "mayor reopen f" in holds[0].describe()
    assert "cancelled" in holds[1].describe()
    assert holds[2].describe() == "waits on r (running)"


def _chain(n: int) -> dict[str, Bead]:
    """``c00000`` <- ``c00001`` <- ...: each bead depends on the one before."""
    ids = [f"c{i:05d}" for i in range(n)]
    return {ids[i]: _bead(ids[i], *ids[i - 1 : i], estimate_minutes=1) for i in range(n)}


def test_long_chain_does_not_hit_the_recursion_limit() -> None:
    n = 5000
    beads = _chain(n)
    graph.validate(beads)
    assert graph.topological_order(beads) == sorted(beads)
    length = graph.critical_paths(beads)
    assert length["c00000"] == n
    assert length[f"c{n - 1:05d}"] == 1
    assert graph.critical_path(beads) == sorted(beads)
    assert [b.id for b in graph.ready(beads)] == ["c00000"]
    assert len(graph.blocked(beads)) == n - 1


def test_long_cycle_is_found_whole() -> None:
    n = 5000
    beads = _chain(n)
    beads["c00000"] = _bead("c00000", f"c{n - 1:05d}")
    with pytest.raises(CycleError) as caught:
        graph.validate(beads)
    assert len(caught.value.cycle) == n
    assert _is_cycle(beads, caught.value.cycle)
