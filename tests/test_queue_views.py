"""What ``mayor status``, the live view and the mayor summary say of a merge queue that gates several
candidates at once: the candidates gated now with their beads (batches grouped, speculation marked),
the beads waiting, the queue's shape, and over a run the landings, batches, gate runs, bisections,
discarded and flaky runs.

Event logs are written the way the supervisor writes them (:class:`EventLog`), or made by a real
``mayor sling`` (script agents, a gate held by a file) where the queue's own behaviour is the point.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from rich.console import Console

from supervisor.events import EventLog, EventType
from supervisor.repo import Repo
from supervisor.views import report
from supervisor.views.live import render_fitted
from supervisor.views.status import GateInfo, Snapshot, SupervisorInfo, Tracker, queue_line, snapshot
from tests.dashboard_helpers import gating_two_candidates, supervisor_lock
from tests.sling_helpers import add_bead, bead, events, git, mayor, of, script, start_sling, wait_for
from tests.test_queue_batches import GATE, WORK, setup

C, D = "c" * 40, "d" * 40


def later(log: EventLog, seconds: float = 5.0) -> datetime:
    """A moment ``seconds`` after the log's last event (never the wall clock)."""
    return datetime.fromisoformat(log.read()[-1]["ts"]) + timedelta(seconds=seconds)


def gated(snap: Snapshot) -> list[tuple[str, list[str]]]:
    return [(g.candidate, g.beads) for g in snap.gates]


# -- status from an event log ----------------------------------------------------------------------


def test_status_shows_every_candidate_gated_now_in_window_order(mayor_repo: Path) -> None:
    log = gating_two_candidates(mayor_repo)
    with supervisor_lock(mayor_repo):
        snap = snapshot(Repo(mayor_repo), later(log))
        assert gated(snap) == [(C, ["g1", "g2"]), (D, ["g3"])]
        assert snap.gate == snap.gates[0] and snap.landing == "g1"
        assert snap.gates[0].attempt == 1 and all(g.elapsed_s and g.elapsed_s >= 5 for g in snap.gates)
        assert snap.shape == {"batch": 2, "depth": 2, "p": 0.05}
        line = queue_line(snap)
        pattern = r"merge queue: gating \[g1\+g2\] \S+ -> \[g3\] \S+ \(speculative\) \| waiting: g4 \| batch 2, depth 2, p 0.05"
        assert re.fullmatch(pattern, line), line

        shown = json.loads(mayor(mayor_repo, "status", "--json").stdout)
        assert [(g["candidate"], g["beads"]) for g in shown["gates"]] == [(C, ["g1", "g2"]), (D, ["g3"])]
        assert shown["gate"] == shown["gates"][0] and shown["shape"] == {"batch": 2, "depth": 2, "p": 0.05}
        assert mayor(mayor_repo, "status").stdout.splitlines()[-1].startswith("merge queue: gating [g1+g2] ")
    gone = snapshot(Repo(mayor_repo), later(log))  # no supervisor: nothing is being gated
    assert gone.gates == [] and gone.gate is None and queue_line(gone) == "merge queue: g1 -> g2 -> g3 -> g4"


def test_a_candidate_is_followed_from_its_gate_started_to_its_verdict(mayor_repo: Path) -> None:
    log = gating_two_candidates(mayor_repo)
    tracker = Tracker(Repo(mayor_repo))
    with supervisor_lock(mayor_repo):

        def now() -> list[tuple[str, list[str]]]:
            return gated(tracker.snapshot(later(log)))

        first = tracker.snapshot(later(log)).gates[0].started
        log.emit(EventType.GATE_STARTED, "g1", None, candidate=C, beads=["g1", "g2"])  # a retry of the same run
        assert now() == [(C, ["g1", "g2"]), (D, ["g3"])] and tracker.snapshot(later(log)).gates[0].started == first
        log.emit(EventType.GATE_STARTED, "g4", None, candidate="e" * 40, beads=["g4"])
        for bead_id in ("g1", "g2"):  # the batch lands as one commit: its candidate is over at its verdict
            log.emit(EventType.GATE_PASSED, bead_id, 1, flaky=False, candidate=C)
            log.emit(EventType.MERGED, bead_id, 1, commit=C, files=[f"{bead_id}.txt"])
        assert now() == [(D, ["g3"]), ("e" * 40, ["g4"])]
        assert tracker.snapshot(later(log)).landing == "g3"
        log.emit(EventType.GATE_CANCELLED, None, None, candidate="e" * 40, beads=["g4"])
        assert now() == [(D, ["g3"])]
        log.emit(EventType.GATE_STARTED, "g4", None, candidate="f" * 40, beads=["g4"])
        log.emit(EventType.GATE_STARTED, "g3", None, candidate="a" * 40, beads=["g3", "g4"])  # gated again elsewhere
        assert now() == [("a" * 40, ["g3", "g4"])]
        log.emit(EventType.BISECTED, None, None, beads=["g3", "g4"], parts=[["g3"], ["g4"]])
        assert now() == []
        log.emit(EventType.GATE_STARTED, "g3", None, candidate="b" * 40, beads=["g3"])
        log.emit(EventType.GATE_FAILED, "g3", 1, flaky=False, candidate="b" * 40)
        log.emit(EventType.GATE_STARTED, "g4", None, candidate=D, beads=["g4"])
        log.emit(EventType.TARGET_RED, None, None, tip="0" * 40, detail="red")
        assert now() == []
        log.emit(EventType.GATE_STARTED, "g4", None, candidate=C, beads=["g4"])
        log.emit(EventType.CANCELLED, "g4", None)  # the bead left the queue
        assert now() == []
        log.emit(EventType.GATE_STARTED, "g4", None, candidate=D, beads=["g4"])
        log.emit(EventType.SLING_STOPPED, None, None, reason="done")
        assert now() == []


def test_a_gate_started_of_an_old_log_is_one_bead_without_a_candidate(mayor_repo: Path) -> None:
    add_bead(mayor_repo, "old", status="queued")
    log = EventLog(Repo(mayor_repo).events_path)
    log.emit(EventType.SLING_STARTED)
    log.emit(EventType.GATE_STARTED, "old", 2)
    with supervisor_lock(mayor_repo):
        snap = snapshot(Repo(mayor_repo), later(log))
        assert [(g.bead, g.attempt, g.candidate, g.beads) for g in snap.gates] == [("old", 2, "", ["old"])]
        log.emit(EventType.GATE_PASSED, "old", 2, flaky=False)
        assert snapshot(Repo(mayor_repo), later(log)).gates == []


# -- the queue's line, fitted ----------------------------------------------------------------------


def _crowded(running: bool = True) -> Snapshot:
    moment = datetime.fromisoformat("2026-01-01T12:00:00+00:00")
    batch = [f"mr-{n:02d}" for n in range(1, 9)]
    gates = [GateInfo("mr-01", 1, moment, 42.0, "c" * 40, batch)]
    gates += [GateInfo(f"mr-{n}", 1, moment, 3.0, f"{n}" * 40, [f"mr-{n}"]) for n in range(10, 14)]
    queue = [*batch, *(f"mr-{n}" for n in range(10, 30))]
    who = SupervisorInfo(running=running, pid=7)
    return Snapshot(moment, who, [], queue, "mr-01", None, {}, gates[0], gates, {"batch": 8, "depth": 5, "p": 0.02})


def test_the_queue_line_cuts_the_shape_then_the_waiting_then_the_candidates_to_fit() -> None:
    snap = _crowded()
    whole = queue_line(snap)
    assert whole.startswith("merge queue: gating [mr-01+mr-02+mr-03+mr-04+mr-05+mr-06+mr-07+mr-08] 42.0s -> [mr-10]")
    assert "-> [mr-13] 3.0s (speculative) | waiting: mr-14 -> mr-15" in whole and whole.endswith("p 0.02")
    assert len(whole) == 332
    assert queue_line(snap, 332) == whole
    assert queue_line(snap, 331) == whole.rsplit(" | ", 1)[0]  # the shape goes first
    assert queue_line(snap, 302).endswith(
        "| waiting: mr-14 -> mr-15 -> mr-16 -> mr-17 -> mr-18 -> mr-19 -> "
        "mr-20 -> mr-21 -> mr-22 -> mr-23 -> mr-24 -> mr-25 -> mr-26 -> mr-27 (+2 more)"
    )
    assert queue_line(snap, 172).endswith("-> [mr-13] 3.0s (speculative) | 16 waiting")
    assert queue_line(snap, 142).endswith("42.0s -> [mr-10] 3.0s -> +3 more (speculative) | 16 waiting")
    assert (
        queue_line(snap, 100)
        == "merge queue: gating [mr-01+mr-02+mr-03+5 more] 42.0s -> +4 more (speculative) | 16 waiting"
    )
    for width in range(82, 340):
        assert len(queue_line(snap, width)) <= width
    assert queue_line(snap, 30) == "merge queue: gating [mr-01+7 more] 42.0s -> +4 more (speculative) | 16 waiting"
    assert "batch" not in queue_line(_crowded(running=False))  # the shape is shown while a run works


def test_the_live_view_draws_the_candidates(mayor_repo: Path) -> None:
    log = gating_two_candidates(mayor_repo)
    with supervisor_lock(mayor_repo):
        snap = Tracker(Repo(mayor_repo)).snapshot(later(log))
    out = io.StringIO()
    console = Console(file=out, width=100, height=30, force_terminal=True, color_system=None)
    console.print(render_fitted(snap, 30, 100))
    lines = out.getvalue().splitlines()
    assert lines[2].startswith("merge queue: gating [g1+g2] ") and "-> [g3] " in lines[2]
    assert "(speculative) | waiting: g4 | batch 2, depth 2, p 0.05" in lines[2]


# -- the summary ---------------------------------------------------------------------------------


def test_the_summary_tallies_the_queue_and_says_nothing_of_it_without_a_gate() -> None:
    ev: list[dict[str, Any]] = []

    def emit(kind: EventType, bead_id: str | None = None, **data: Any) -> None:
        ev.append(
            {
                "ts": f"2026-01-01T00:00:{len(ev):02d}+00:00",
                "seq": len(ev) + 1,
                "type": str(kind),
                "bead": bead_id,
                "attempt": 1 if bead_id else None,
                "data": data,
            }
        )

    emit(EventType.SLING_STARTED, target="main")
    emit(EventType.QUEUE_SHAPE, batch=4, depth=2, p=0.05)
    emit(EventType.GATE_STARTED, "a", candidate=C, beads=["a", "b", "c", "d"])
    emit(EventType.GATE_STARTED, "e", candidate=D, beads=["e"])
    emit(EventType.GATE_CANCELLED, candidate=D, beads=["e"])
    emit(EventType.BISECTED, beads=["a", "b", "c", "d"], parts=[["a", "b"], ["c", "d"]])
    emit(EventType.GATE_STARTED, "a", candidate="1" * 40, beads=["a", "b"])
    emit(EventType.GATE_STARTED, "c", candidate="2" * 40, beads=["c", "d"])
    for bead_id in ("a", "b"):
        emit(EventType.GATE_PASSED, bead_id, flaky=False, candidate="1" * 40)
        emit(EventType.MERGED, bead_id, commit="1" * 40)
    emit(EventType.BISECTED, beads=["c", "d"], parts=[["c"], ["d"]])
    emit(EventType.GATE_STARTED, "c", candidate="3" * 40, beads=["c"])
    emit(EventType.GATE_STARTED, "c", candidate="3" * 40, beads=["c"])  # failed, then passed: flaky
    emit(EventType.GATE_PASSED, "c", flaky=True, candidate="3" * 40)
    emit(EventType.MERGED, "c", commit="3" * 40)
    emit(EventType.GATE_STARTED, "d", candidate="4" * 40, beads=["d"])
    emit(EventType.GATE_FAILED, "d", flaky=False, candidate="4" * 40)
    emit(EventType.QUEUE_SHAPE, batch=1, depth=2, p=0.2)
    emit(EventType.GATE_STARTED, "e", candidate="5" * 40, beads=["e"])
    emit(EventType.GATE_PASSED, "e", flaky=False, candidate="5" * 40)
    emit(EventType.MERGED, "e", commit="5" * 40)
    emit(EventType.SLING_STOPPED, reason="done")

    facts = report.build({}, ev)  # type: ignore[arg-type]
    assert facts["queue"] == {
        "landed": 4,
        "landings": 3,
        "batches": 1,
        "gate_runs": 8,
        "runs_per_landed": 2.0,
        "culprits": 1,
        "bisections": 2,
        "discarded": 1,
        "flaky": 1,
        "peak": 2,
        "shape": {"batch": 1, "depth": 2, "p": 0.2},
    }
    md = report.render_markdown(facts)
    section = md.split("### Merge queue\n")[1].split("\n")[0]
    assert section == (
        "4 bead(s) landed in 3 commit(s) (1 of them batches) · 8 gate run(s), 2.00 per landed bead · "
        "2 bisection(s) · 1 speculative run(s) discarded · **1 flaky gate run(s)** · "
        "up to 2 candidates gated at once · last shape: batch 1, depth 2, p 0.2."
    )
    assert md.index("### Merge queue") < md.index("### Cost and time")
    without = report.build({}, [e for e in ev if not str(e["type"]).startswith("gate_")])  # type: ignore[misc]
    assert without["queue"] is None and "### Merge queue" not in report.render_markdown(without)


# -- a real run ------------------------------------------------------------------------------------


def test_status_during_speculation_and_the_summary_after_it(mayor_repo: Path, tmp_path: Path) -> None:
    with open(mayor_repo / ".git" / "info" / "exclude", "a") as out:
        out.write(".mayor/\n")
    go = tmp_path / "go"
    gate = script(tmp_path / "gate.sh", f'while [ ! -e "{go}" ]; do sleep 0.05; done\n{GATE}\n')
    setup(mayor_repo, tmp_path, rate=0.0, gates=3, gate=f"bash {gate}", batch=1)  # one bead a candidate, 3 deep
    for bead_id in ("s1", "s2", "s3"):
        add_bead(mayor_repo, bead_id)
    proc = start_sling(mayor_repo, "-j", "3")
    try:

        def status() -> dict[str, Any]:
            return json.loads(mayor(mayor_repo, "status", "--json").stdout)

        wait_for(lambda: len(status()["gates"]) == 3 or proc.poll() is not None, "three candidates gated at once")
        snap = status()
        chain = [g["candidate"] for g in snap["gates"]]
        for earlier, later_ in pairwise(chain):  # stacked: each holds those before it
            assert git(mayor_repo, "merge-base", "--is-ancestor", earlier, later_) == ""
        assert sorted(b for g in snap["gates"] for b in g["beads"]) == ["s1", "s2", "s3"]
        assert all(len(g["beads"]) == 1 for g in snap["gates"]) and snap["shape"]["depth"] == 3
        line = mayor(mayor_repo, "status").stdout.splitlines()[-1]
        first, _, third = (g["beads"][0] for g in snap["gates"])
        assert line.startswith(f"merge queue: gating [{first}] ") and f"-> [{third}] " in line
        assert "(speculative) | batch 1, depth 3, p " in line
    finally:
        go.touch()
        proc.communicate(timeout=90)
    assert proc.returncode == 0
    assert json.loads(mayor(mayor_repo, "status", "--json").stdout)["gates"] == []
    facts = json.loads(mayor(mayor_repo, "summary", "--format", "json").stdout)
    q = facts["queue"]
    assert (q["landed"], q["landings"], q["batches"], q["gate_runs"], q["runs_per_landed"]) == (3, 3, 0, 3, 1.0)
    assert q["peak"] == 3 and q["bisections"] == q["discarded"] == q["flaky"] == 0
    md = mayor(mayor_repo, "summary").stdout
    assert "### Merge queue\n3 bead(s) landed in 3 commit(s) · 3 gate run(s), 1.00 per landed bead · " in md
    assert "up to 3 candidates gated at once" in md


def test_the_summary_of_a_batch_bisected_to_its_culprit(mayor_repo: Path, tmp_path: Path) -> None:
    with open(mayor_repo / ".git" / "info" / "exclude", "a") as out:
        out.write(".mayor/\n")
    hold = tmp_path / "hold"
    hold.touch()
    gate = script(tmp_path / "gate.sh", f'while [ -e "{hold}" ]; do sleep 0.05; done\n{GATE}\n')
    setup(mayor_repo, tmp_path, bad="b3", rate=0.0, gates=1, gate=f"bash {gate}")
    go_bad = tmp_path / "go-bad"  # b3 queues only once another bead is gated: never alone, always in the batch
    wait_bad = f'[ "$MAYOR_BEAD_ID" != b3 ] || while [ ! -e "{go_bad}" ]; do sleep 0.05; done\n'
    script(tmp_path / "agent.sh", wait_bad + 'BAD="b3"\n' + WORK)
    ids = [f"b{i}" for i in range(1, 6)]
    for bead_id in ids:
        add_bead(mayor_repo, bead_id)
    proc = start_sling(mayor_repo, "-j", "5")
    try:  # the first bead to queue is gated alone, held; the others queue behind it and go as a batch
        wait_for(lambda: bool(of(events(mayor_repo), "gate_started")) or proc.poll() is not None, "the first gate")
        go_bad.touch()
        wait_for(lambda: len(of(events(mayor_repo), "queued")) == 5 or proc.poll() is not None, "every bead queued")
    finally:
        hold.unlink()
        proc.communicate(timeout=90)
    assert proc.returncode == 1 and bead(mayor_repo, "b3").status == "failed"
    log = events(mayor_repo)
    q = report.facts(Repo(mayor_repo))["queue"]
    assert q is not None
    assert q["landed"] == 4 and q["culprits"] == 1 and q["bisections"] == len(of(log, "bisected")) >= 1
    assert q["gate_runs"] == len(of(log, "gate_started")) and q["runs_per_landed"] == round(q["gate_runs"] / 4, 2)
    carried = Counter(e["data"]["commit"] for e in of(log, "merged"))
    assert q["landings"] == len(carried) and q["batches"] == sum(1 for n in carried.values() if n > 1) >= 1
    md = mayor(mayor_repo, "summary").stdout
    assert f"{q['bisections']} bisection(s)" in md and "0 flaky gate runs" in md
