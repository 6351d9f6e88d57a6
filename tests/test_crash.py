"""Crash safety of ``mayor sling``: ``kill -9`` at any moment, adoption, half-done merges, Ctrl-C.

Nothing is mocked. Each test makes a real git repository, runs ``mayor sling`` as the installed
console script in a session of its own (so that it can be killed like a user would kill it), and
uses agents and a gate that are small Python scripts kept outside the repository:

* the agent records each start in ``agent-starts.log``, checks that the outputs of its bead's
  dependencies are in the tree it was given, waits while ``hold-<id>`` exists, fails once if told
  to (``fail-once-<id>``), merges the target in if told to (``merge-target-<id>``), sleeps a little
  and commits ``out-<id>.txt`` (whose content names the hashes of its dependencies' outputs);
* the gate checks an invariant of the whole tree: every ``out-*.txt`` has the right content, every
  dependency of a landed bead landed too, and the ``mayor-bead:`` trailers of the first-parent
  history name each landed bead exactly once. It logs ``start``/``waiting``/``end`` lines to
  ``gate.log`` and waits while ``gate-hold`` exists.

Timeouts here are only safety limits against hangs, never assertions about speed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from beads.models import Bead
from beads.store import Store, atomic_write, bead_from
from supervisor.run.beadstate import counted_attempts
from tests.sling_helpers import like_a_terminal

MAYOR = Path(sys.executable).with_name("mayor")
if not MAYOR.exists():  # pragma: no cover - an unusual install
    MAYOR = Path(shutil.which("mayor") or "mayor")
SAFETY_S = 90.0
"""How long anything may take before the test gives up (a hang, not slowness, is the failure)."""

AGENT = r"""
import hashlib, json, os, random, subprocess, sys, time
from pathlib import Path

tools = Path(sys.argv[1])
bead, attempt = os.environ["MAYOR_BEAD_ID"], int(os.environ["MAYOR_ATTEMPT"])
with open(tools / "agent-starts.log", "a") as log:
    log.write(f"{bead} {attempt} {os.getpid()}\n")
plan = json.loads((tools / "plan.json").read_text())
lines = [f"bead {bead}"]
for dep in plan["deps"][bead]:
    path = Path(f"out-{dep}.txt")
    if not path.exists():
        sys.exit(f"dependency {dep} is not in the tree this bead was given")
    lines.append(f"dep {dep} {hashlib.sha1(path.read_bytes()).hexdigest()}")
while (tools / f"hold-{bead}").exists():
    time.sleep(0.02)
if (tools / f"fail-once-{bead}").exists():
    (tools / f"fail-once-{bead}").unlink()
    sys.exit("failing once, as told")
if (tools / f"merge-target-{bead}").exists():  # keep up with the target, as careful agents do
    subprocess.run(["git", "merge", "-q", "--no-edit", os.environ["MAYOR_TARGET"]], check=True)
time.sleep(random.Random(f"{bead}/{attempt}").uniform(*plan["agent_sleep"]))
Path(f"out-{bead}.txt").write_text("\n".join(lines) + "\n")
subprocess.run(["git", "add", f"out-{bead}.txt"], check=True)
if subprocess.run(["git", "diff", "--cached", "--quiet"]).returncode != 0:
    subprocess.run(["git", "commit", "-q", "-m", f"work on {bead}"], check=True)
print(f"agent {bead} attempt {attempt} done")
"""

GATE = r"""
import collections, hashlib, json, os, random, re, subprocess, sys, time
from pathlib import Path

tools = Path(sys.argv[1])
fast = os.environ.get("CRASH_GATE_FAST") == "1"
plan = json.loads((tools / "plan.json").read_text())
head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def mark(*words):
    if not fast:
        with open(tools / "gate.log", "a") as log:
            log.write(" ".join(str(w) for w in words) + "\n")


mark("start", head, os.getpgid(0))
if not fast:
    if (tools / "gate-hold").exists():
        mark("waiting", head, os.getpgid(0))
        while (tools / "gate-hold").exists():
            time.sleep(0.02)
    time.sleep(random.Random(head).uniform(*plan["gate_sleep"]))

problems = []
outs = sorted(p.name[4:-4] for p in Path(".").glob("out-*.txt"))
for bead in outs:
    expected = [f"bead {bead}"]
    for dep in plan["deps"].get(bead, []):
        path = Path(f"out-{dep}.txt")
        if not path.exists():
            problems.append(f"{bead} landed without its dependency {dep}")
            continue
        expected.append(f"dep {dep} {hashlib.sha1(path.read_bytes()).hexdigest()}")
    if Path(f"out-{bead}.txt").read_text() != "\n".join(expected) + "\n":
        problems.append(f"out-{bead}.txt has the wrong content")
log = subprocess.run(["git", "log", "--first-parent", "--format=%B", "HEAD"], capture_output=True, text=True, check=True).stdout
landed = collections.Counter(re.findall(r"^mayor-bead: (\S+)$", log, re.M))
if landed != collections.Counter(outs):
    problems.append(f"landings {dict(landed)} do not match the outputs {outs}")
mark("end", head, 1 if problems else 0)
for problem in problems:
    print("gate:", problem)
sys.exit(1 if problems else 0)
"""


def git(cwd: Path, *args: str, check: bool = True) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)
    return out.stdout.strip()


def proc_state(pid: int) -> tuple[str, int, int] | None:
    """``(state, pgrp, start ticks)`` of a live process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[2]), int(fields[19])


def alive(pid: int, ticks: int | None = None) -> bool:
    """The process runs (a zombie does not) and, given ``ticks``, is the one that started then."""
    state = proc_state(pid)
    return state is not None and state[0] != "Z" and (ticks is None or state[2] == ticks)


def group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state = proc_state(int(entry.name))
            if state is not None and state[1] == pgid and state[0] != "Z":
                return True
    return False


def wait_until(what: str, condition: Callable[[], bool], proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + SAFETY_S
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"mayor sling exited {proc.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


class Tail:
    """The whole lines appended to a file since this object was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode().splitlines()


@dataclass
class Sandbox:
    root: Path
    tools: Path
    base: str
    deps: dict[str, list[str]]
    procs: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    # -- running mayor ----------------------------------------------------------------------
    def start(self, *args: str) -> subprocess.Popen[bytes]:
        out = self.tools / f"sling-{len(self.procs) + 1}.out"
        with open(out, "wb") as handle:
            proc = subprocess.Popen(
                [str(MAYOR), "sling", *args],
                cwd=self.root,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=like_a_terminal,  # Ctrl-C at its default, whatever started this run
                env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT prints every thread's stack
            )
        self.procs.append((proc, out))
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        return next(out.read_text(errors="replace") for p, out in self.procs if p is proc)

    def finish(self, proc: subprocess.Popen[bytes]) -> int:
        try:
            return proc.wait(timeout=SAFETY_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"mayor sling hung; its output:\n{self.output(proc)}") from None

    def run_to_end(self, *args: str) -> None:
        proc = self.start(*args)
        code = self.finish(proc)
        assert code == 0, f"mayor sling exited {code}:\n{self.output(proc)}"

    def kill9(self, proc: subprocess.Popen[bytes]) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    # -- reading the state -------------------------------------------------------------------
    @property
    def events_path(self) -> Path:
        return self.root / ".mayor" / "events.jsonl"

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        events = [json.loads(line) for line in self.events_path.read_text().splitlines() if line.strip()]
        return [e for e in events if type_ is None or e["type"] == type_]

    def bead(self, bead_id: str) -> Bead:
        return Store(self.root / ".mayor").get(bead_id)

    def gate_lines(self, word: str) -> list[list[str]]:
        path = self.tools / "gate.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line.split() for line in lines if line.split()[0] == word]

    def agent_starts(self) -> Counter[str]:
        path = self.tools / "agent-starts.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return Counter(line.split()[0] for line in lines)

    def landings(self) -> list[tuple[str, str]]:
        """``(commit, bead id)`` for each bead landed by a first-parent commit of main after the base, oldest first."""
        out = git(self.root, "log", "--first-parent", "--reverse", "--format=%H%x00%B%x01", f"{self.base}..main")
        found = []
        for record in filter(None, (r.strip() for r in out.split("\x01"))):
            commit, _, body = record.partition("\x00")
            ids = re.findall(r"^mayor-bead: (\S+)$", body, re.M)  # a batch lands as one commit, a trailer a bead
            found += [(commit, bead_id) for bead_id in ids] or [(commit, "<no trailer>")]
        return found

    def agent_records(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.root / ".mayor" / "runs").glob("*/*/agent.json"))]

    def hold(self, *names: str) -> None:
        for name in names:
            (self.tools / name).touch()

    def release(self, *names: str) -> None:
        for name in names:
            (self.tools / name).unlink(missing_ok=True)

    def cleanup(self) -> None:
        for name in [*list(self.tools.glob("hold-*")), self.tools / "gate-hold"]:
            name.unlink(missing_ok=True)
        for proc, out in self.procs:
            if proc.poll() is None:  # the test failed with mayor still running: say where it was
                os.kill(proc.pid, signal.SIGABRT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(SAFETY_S)
                print(
                    f"mayor sling (pid {proc.pid}) still ran; its threads:\n{out.read_text(errors='replace')[-8000:]}"
                )
                proc.kill()
                proc.wait()
        for record in self.agent_records() if (self.root / ".mayor" / "runs").exists() else []:
            if alive(record["pid"], record.get("ticks")):
                os.killpg(record["pid"], signal.SIGKILL)


@pytest.fixture
def sandbox_factory(mayor_repo: Path, tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    made: list[Sandbox] = []

    def make(
        deps: dict[str, list[str]],
        *,
        slots: int = 3,
        agent_sleep: tuple[float, float] = (0.0, 0.0),
        gate_sleep: tuple[float, float] = (0.0, 0.0),
        max_attempts: int = 3,
    ) -> Sandbox:
        tools = tmp_path / "tools"
        tools.mkdir()
        (tools / "agent.py").write_text(AGENT)
        (tools / "gate.py").write_text(GATE)
        plan = {"deps": deps, "agent_sleep": agent_sleep, "gate_sleep": gate_sleep}
        (tools / "plan.json").write_text(json.dumps(plan))
        python = sys.executable
        config = [
            'target = "main"',
            f"slots = {slots}",
            'agent = "crash"',
            f"max_attempts = {max_attempts}",
            f"gate = {json.dumps(f'{python} {tools}/gate.py {tools}')}",
            "",
            "[agents.crash]",
            f"command = {json.dumps(f'{python} {tools}/agent.py {tools}')}",
        ]
        (mayor_repo / ".mayor" / "config.toml").write_text("\n".join(config) + "\n")
        with Store(mayor_repo / ".mayor").edit() as tx:
            for bead_id, bead_deps in deps.items():
                tx.put(bead_from({"id": bead_id, "title": f"Write out-{bead_id}.txt", "deps": bead_deps}))
        sandbox = Sandbox(mayor_repo, tools, git(mayor_repo, "rev-parse", "main"), deps)
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.cleanup()


# -- what must hold after any run, however often it was killed --------------------------------
def assert_landed_exactly_once(sb: Sandbox, ids: list[str]) -> None:
    landings = sb.landings()
    assert Counter(bead for _, bead in landings) == Counter(ids), f"first-parent landings: {landings}"
    commit_of = {bead: commit for commit, bead in landings}
    for bead_id in ids:
        bead = sb.bead(bead_id)
        assert bead.status == "merged", f"{bead_id} is {bead.status}: {bead.error}"
        assert bead.result is not None and bead.result.commit == commit_of[bead_id]
        heads = [a.commit for a in bead.attempts if a.commit]
        branch = git(sb.root, "rev-parse", "--verify", "--quiet", f"refs/heads/mayor/{bead_id}", check=False)
        for head in heads + ([branch] if branch else []):
            assert subprocess.run(["git", "merge-base", "--is-ancestor", head, "main"], cwd=sb.root).returncode == 0, (
                f"commit {head} of {bead_id} is not on main"
            )
    assert not (sb.root / ".mayor" / "state" / "merge.json").exists()


def assert_every_target_commit_passes_the_gate(sb: Sandbox, tmp_path: Path) -> None:
    check = tmp_path / "gate-check"
    git(sb.root, "worktree", "add", "-q", "--detach", str(check), "main")
    env = {**os.environ, "CRASH_GATE_FAST": "1"}
    try:
        for commit in git(sb.root, "rev-list", "--first-parent", "main").split():
            git(check, "checkout", "-q", "--detach", commit)
            gate = subprocess.run(
                [sys.executable, str(sb.tools / "gate.py"), str(sb.tools)],
                cwd=check,
                env=env,
                capture_output=True,
                text=True,
            )
            assert gate.returncode == 0, f"main's commit {commit} fails the gate:\n{gate.stdout}{gate.stderr}"
    finally:
        git(sb.root, "worktree", "remove", "--force", str(check))


def assert_user_tree_at_target(sb: Sandbox) -> None:
    assert git(sb.root, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(sb.root, "rev-parse", "HEAD") == git(sb.root, "rev-parse", "main")
    status = git(sb.root, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert [line for line in status if not line.startswith("?? .mayor/")] == []


def assert_no_agent_left(sb: Sandbox) -> None:
    records = sb.agent_records()
    assert records, "no agent was ever recorded"
    for record in records:
        wait_until(
            f"agent {record['pid']} to be gone", lambda record=record: not alive(record["pid"], record.get("ticks"))
        )
        assert not group_alive(record["pid"]), f"agent group {record['pid']} still has live processes"


# -- 1. kill -9 at random moments --------------------------------------------------------------
PHASES = ("agent", "agent_exit", "gate", "landing")


def random_dag(rng: random.Random, count: int) -> dict[str, list[str]]:
    ids = [f"b{n:02d}" for n in range(1, count + 1)]
    deps: dict[str, list[str]] = {}
    for index, bead_id in enumerate(ids):
        earlier = ids[max(0, index - 5) : index]
        deps[bead_id] = sorted(rng.sample(earlier, k=min(len(earlier), rng.choice((0, 0, 1, 1, 2)))))
    return deps


def run_and_kill(sb: Sandbox, phase: str, delay: float) -> subprocess.Popen[bytes]:
    """Start ``mayor sling``, wait for ``phase`` of its run and ``delay`` seconds more, then
    ``kill -9`` it (unless it ended first: see its return code)."""
    events, gate = Tail(sb.events_path), Tail(sb.tools / "gate.log")
    proc = sb.start("-j", "3")
    hit: Callable[[], bool]
    if phase == "agent":  # a fresh agent is working
        hit = lambda: any(json.loads(line)["type"] == "agent_started" for line in events.lines())  # noqa: E731
    elif phase == "agent_exit":  # the supervisor is judging the work
        hit = lambda: any(json.loads(line)["type"] == "agent_exited" for line in events.lines())  # noqa: E731
    elif phase == "gate":  # the gate runs on a candidate
        hit = lambda: any(line.startswith("start ") for line in gate.lines())  # noqa: E731
    elif phase == "landing":  # the gate passed: journal, compare-and-swap, bead file
        hit = lambda: any(line.startswith("end ") and line.endswith(" 0") for line in gate.lines())  # noqa: E731
    else:
        deadline = time.monotonic() + delay
        hit, delay = (lambda: time.monotonic() >= deadline), 0.0
    limit = time.monotonic() + SAFETY_S
    while not hit():
        if proc.poll() is not None:
            return proc
        assert time.monotonic() < limit, f"phase {phase} never came"
        time.sleep(0.003)
    time.sleep(delay)
    if proc.poll() is None:
        sb.kill9(proc)
    return proc


@pytest.mark.parametrize("seed", [7, 2024])
def test_kill9_at_random_moments_lands_every_bead_exactly_once(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    deps = random_dag(rng, rng.randint(10, 14))
    sb = sandbox_factory(deps, slots=3, agent_sleep=(0.3, 1.5), gate_sleep=(0.1, 0.3))
    delays = {
        "agent": (0.05, 0.6),
        "agent_exit": (0.0, 0.03),
        "gate": (0.0, 0.25),
        "landing": (0.0, 0.04),
        "any": (0.2, 2.5),
    }
    plan = [*PHASES, "any"]
    rng.shuffle(plan)
    kills = []
    for phase in plan:
        proc = run_and_kill(sb, phase, rng.uniform(*delays[phase]))
        if proc.returncode == -signal.SIGKILL:
            kills.append(phase)
        else:
            assert proc.returncode == 0, sb.output(proc)
    assert len(kills) >= 3, f"the run ended before the kills: only {kills} hit"

    sb.run_to_end("-j", "3")

    ids = list(deps)
    assert_landed_exactly_once(sb, ids)
    for bead_id in ids:  # a crash of the supervisor never costs a bead an attempt
        outcomes = [a.outcome for a in sb.bead(bead_id).attempts]
        assert set(outcomes) <= {"passed", "interrupted"} and outcomes[-1] == "passed", (bead_id, outcomes)
    for kind in ("gate_failed", "failed", "retried", "conflict"):
        assert sb.events(kind) == [], f"{kind}: {sb.events(kind)}"
    assert_every_target_commit_passes_the_gate(sb, tmp_path)
    assert_user_tree_at_target(sb)
    assert_no_agent_left(sb)


# -- 2. adopting live agents -------------------------------------------------------------------
def test_restart_adopts_live_agents_instead_of_starting_them_again(sandbox_factory: Callable[..., Sandbox]) -> None:
    ids = ["a1", "a2", "a3"]
    sb = sandbox_factory({i: [] for i in ids}, slots=3)
    sb.hold(*(f"hold-{i}" for i in ids))
    first = sb.start()
    wait_until("three agents", lambda: len(sb.events("agent_started")) == 3, first)
    pids = {e["bead"]: e["data"]["pid"] for e in sb.events("agent_started")}
    sb.kill9(first)
    assert all(alive(pid) for pid in pids.values()), "the agents died with the supervisor"

    # a1 finishes while no supervisor watches it: its wrapper leaves the exit status behind
    sb.release("hold-a1")
    status = sb.root / ".mayor" / "runs" / "a1" / "1" / "exit_status"
    wait_until("a1's exit status", status.exists)
    second = sb.start()
    wait_until("a2 and a3 adopted", lambda: {e["bead"] for e in sb.events("agent_adopted")} >= set(ids), second)
    wait_until("a1 landed", lambda: sb.bead("a1").status == "merged", second)
    sb.kill9(second)  # and once more, while a2 and a3 still work

    third = sb.start()
    wait_until("a2 and a3 adopted again", lambda: len(sb.events("agent_adopted")) == 5, third)
    sb.release("hold-a2", "hold-a3")
    assert sb.finish(third) == 0, sb.output(third)

    adopted = sb.events("agent_adopted")
    assert Counter(e["bead"] for e in adopted) == {"a1": 1, "a2": 2, "a3": 2}
    assert all(e["attempt"] == 1 and e["data"]["pid"] == pids[e["bead"]] for e in adopted)
    recovered = [e for e in sb.events("recovered") if e["data"].get("what") == "found its agent again"]
    assert Counter(e["bead"] for e in recovered) == {"a1": 1, "a2": 2, "a3": 2}
    assert sb.agent_starts() == Counter(ids), "an adopted agent was started again"
    assert Counter(e["bead"] for e in sb.events("agent_started")) == Counter(ids)
    for bead_id in ids:
        assert [(a.n, a.outcome) for a in sb.bead(bead_id).attempts] == [(1, "passed")]
    assert_landed_exactly_once(sb, ids)
    assert_user_tree_at_target(sb)
    assert_no_agent_left(sb)


def test_restart_keeps_the_landings_of_the_killed_run(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    """After a restart, a landing made by the killed supervisor is still known as a landing: an
    agent that merges the target into its branch is not taken for one that committed onto it."""
    sb = sandbox_factory({"k1": [], "k2": []}, slots=2)
    sb.hold("hold-k2", "merge-target-k2")
    first = sb.start()
    wait_until("k1 landed while k2 works", lambda: sb.bead("k1").status == "merged", first)
    sb.kill9(first)
    second = sb.start()
    wait_until("k2 adopted", lambda: bool(sb.events("agent_adopted")), second)
    sb.release("hold-k2")
    assert sb.finish(second) == 0, sb.output(second)

    assert [bead for _, bead in sb.landings()] == ["k1", "k2"]
    assert sb.events("target_restored") == []
    assert_landed_exactly_once(sb, ["k1", "k2"])
    assert_every_target_commit_passes_the_gate(sb, tmp_path)
    assert_user_tree_at_target(sb)


PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
def unreaped_orphans() -> Iterator[None]:
    """Orphans of this test become this process's children and stay zombies once they end, as
    under a container's PID 1 that never calls wait()."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    if prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("cannot become a child subreaper here")
    try:
        yield
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def test_an_agent_that_ended_as_a_zombie_is_not_waited_for_forever(
    sandbox_factory: Callable[..., Sandbox], unreaped_orphans: None
) -> None:
    sb = sandbox_factory({"z1": []}, slots=1)
    sb.hold("hold-z1")
    first = sb.start()
    wait_until("z1's agent", lambda: bool(sb.events("agent_started")), first)
    pid = sb.events("agent_started")[0]["data"]["pid"]
    sb.kill9(first)
    sb.release("hold-z1")
    wait_until("z1's agent to end, unreaped", lambda: (proc_state(pid) or ("gone",))[0] == "Z")

    sb.run_to_end()
    assert [(a.n, a.outcome) for a in sb.bead("z1").attempts] == [(1, "passed")]
    assert sb.agent_starts() == Counter(["z1"])
    assert_landed_exactly_once(sb, ["z1"])


# -- 3. a supervisor killed in the middle of a landing -----------------------------------------
@pytest.mark.parametrize("moment", ["journal_written", "target_moved", "journal_cleared"])
def test_half_done_merge_is_rolled_back_or_completed(sandbox_factory: Callable[..., Sandbox], moment: str) -> None:
    """Kill the supervisor while the gate runs on a candidate, then put the disk in the state a
    kill a moment later would have left: the journal written (target not moved yet), the target
    moved (journal still there), or the journal cleared (bead file not yet updated)."""
    sb = sandbox_factory({"m1": []}, slots=1)
    sb.hold("gate-hold")
    proc = sb.start()
    wait_until("the gate on m1's candidate", lambda: bool(sb.gate_lines("waiting")), proc)
    sb.kill9(proc)
    _, candidate, pgid = sb.gate_lines("waiting")[0]
    os.killpg(int(pgid), signal.SIGKILL)  # the orphaned gate dies too
    sb.release("gate-hold")
    assert sb.bead("m1").status == "queued"
    tip = git(sb.root, "rev-parse", "main")
    assert tip == sb.base

    journal = sb.root / ".mayor" / "state" / "merge.json"
    if moment != "journal_cleared":
        atomic_write(journal, json.dumps({"bead": "m1", "tip": tip, "candidate": candidate}))
    if moment != "journal_written":  # what the compare-and-swap does when main is checked out
        git(sb.root, "merge", "--ff-only", "-q", candidate)

    sb.run_to_end()

    assert_landed_exactly_once(sb, ["m1"])
    landed = sb.bead("m1").result.commit  # type: ignore[union-attr]
    gates = len(sb.gate_lines("start"))
    if moment == "journal_written":  # rolled back: landed afresh, gated again
        assert gates == 2
        assert git(sb.root, "rev-parse", "main^1") == sb.base
    else:  # completed: the candidate is the landing, never gated or landed again
        assert landed == candidate == git(sb.root, "rev-parse", "main")
        assert gates == 1
    completed = [e for e in sb.events("recovered") if e["data"].get("what") == "completed a landing"]
    assert len(completed) == (1 if moment == "target_moved" else 0)
    assert len(sb.events("merged")) == 1
    assert_user_tree_at_target(sb)


# -- 4. Ctrl-C ---------------------------------------------------------------------------------
def test_ctrl_c_finishes_the_merge_stops_agents_and_resumes(sandbox_factory: Callable[..., Sandbox]) -> None:
    ids = ["c1", "c2", "c3", "c4"]
    sb = sandbox_factory({i: [] for i in ids}, slots=4, max_attempts=2)
    sb.hold("gate-hold", "hold-c3", "hold-c4")
    proc = sb.start()

    def on_the_tip() -> str | None:
        """The candidate built on the target's tip whose gate waits (the merge in progress; the
        queue may gate one built on it beside it, and their gates say so in any order)."""
        waiting = [line[1] for line in sb.gate_lines("waiting")]
        return next((c for c in waiting if git(sb.root, "rev-parse", f"{c}^1") == sb.base), None)

    wait_until(
        "a gate waiting, a bead queued behind it, two agents working",
        lambda: (
            {e["bead"] for e in sb.events("queued")} == {"c1", "c2"}
            and {e["bead"] for e in sb.events("agent_started")} == set(ids)
            and on_the_tip() is not None
        ),
        proc,
    )
    candidate = on_the_tip()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does

    # the agents are stopped while the merge in progress still waits on its gate
    wait_until("c3 and c4 stopped", lambda: {e["bead"] for e in sb.events("agent_exited")} >= {"c3", "c4"}, proc)
    for bead_id in ("c3", "c4"):
        pgid = json.loads((sb.root / ".mayor" / "runs" / bead_id / "1" / "agent.json").read_text())["pid"]
        wait_until(f"{bead_id}'s agent group gone", lambda pgid=pgid: not group_alive(pgid))
    assert git(sb.root, "rev-parse", "main") == sb.base
    sb.release("gate-hold")
    assert sb.finish(proc) == 130, sb.output(proc)

    landings = sb.landings()
    assert len(landings) == 1, f"the target moved {len(landings)} times: {landings}"
    first = landings[0][1]
    assert landings[0][0] == candidate == git(sb.root, "rev-parse", "main")
    behind = ({"c1", "c2"} - {first}).pop()
    assert sb.bead(first).status == "merged"
    assert sb.bead(behind).status == "queued", "a bead waiting behind the merge in progress was landed too"
    for bead_id in ("c3", "c4"):
        bead = sb.bead(bead_id)
        assert bead.status == "open"
        assert [a.outcome for a in bead.attempts] == ["interrupted"]
        assert counted_attempts(bead) == 0
    assert [e["data"]["reason"] for e in sb.events("sling_stopped")] == ["interrupted"]
    assert_user_tree_at_target(sb)

    # the interrupted attempt does not count: with two attempts allowed, c3 may still fail once
    sb.release("hold-c3", "hold-c4")
    sb.hold("fail-once-c3")
    sb.run_to_end()
    assert [a.outcome for a in sb.bead("c3").attempts] == ["interrupted", "failed", "passed"]
    assert [a.outcome for a in sb.bead("c4").attempts] == ["interrupted", "passed"]
    assert_landed_exactly_once(sb, ids)
    assert_user_tree_at_target(sb)
    assert_no_agent_left(sb)


# -- 5. one supervisor per repository ----------------------------------------------------------
def test_second_supervisor_exits_1_naming_the_first(sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = sandbox_factory({"s1": []}, slots=1)
    sb.hold("hold-s1")
    first = sb.start()
    wait_until("s1's agent", lambda: bool(sb.events("agent_started")), first)

    second = sb.start()
    assert sb.finish(second) == 1
    message = sb.output(second)
    assert "already running" in message and f"pid {first.pid}" in message, message
    assert first.poll() is None
    assert len(sb.events("sling_started")) == 1

    sb.release("hold-s1")
    assert sb.finish(first) == 0, sb.output(first)
    assert_landed_exactly_once(sb, ["s1"])
