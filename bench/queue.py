"""The merge queue's policies against each other (issue 12): ``--queue serial`` and ``--queue auto``
on the same beads, the same bad ones and the same gate, in the same run. Figures and ratios only.

    python bench/queue.py [--beads 40] [--gate-seconds 1.0] [--p 0.02,0.05,0.1,0.2,0.3] [--seed 1]
    python bench/queue.py --real-gate       # a real pytest suite as the gate instead of a sleep
    python bench/queue.py --quick           # a smoke run: few beads, a short gate, two values of p

Each run is a fresh git repository with N beads; each bead's command agent writes a file of its
own, and a bead chosen bad (round(p x N) of them, by a random draw seeded with ``--seed`` and p:
the same beads for both policies) also writes a marker that fails the gate, on every attempt, so
it ends failed after ``max_attempts`` (2 here, to keep the runs short). ``gate_retries = 0``: the
gate is not flaky, so a failure is not run again on the same tree. ``-j`` is N: agents are never
the bottleneck, the gate is. mayor runs from this checkout (``PYTHONPATH``).

- sleep gate (the default): ``sleep T`` then fail if any ``bad/<id>`` is in the tree;
  ``max_parallel_gates = 4`` in the config. The figures do not depend on the cores.
- ``--real-gate``: a small Python project (``bench/queue_project``: four modules, ~45 pytest
  tests) where each bead adds a module under ``src/qbench/features/`` and a bad bead's module
  fails its test; the gate is ``python -m pytest -q -x``, with the default ``max_parallel_gates``.

The gate appends a line to a file outside the repository when it starts, so the gate runs counted
include the queue's own checks of the target and any run it stopped early. Per p and policy:
wall time of ``mayor sling``; queue_s, from the first bead queued to the last merged or failed
(the events' times: the queue's part of the wall time, without the agents' start and the run's
end); beads landed and failed; gate runs, and per landed bead; and on the auto row serial / auto
of the wall time and of queue_s (above 1: auto is faster). Checked after every run, and the exit code
is 1 if one breaks: no first-parent commit of the target since the run's start has a bad marker
in its tree; each landed bead's ``mayor-bead: ID`` trailer is in exactly one first-parent commit
message (a batch may land as one commit with several trailers); every good bead landed; no bad
bead landed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this file is queue.py: its folder must not be on the path, or `import queue` would import it
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime  # noqa: E402

from beads.models import LANDED, Bead  # noqa: E402
from beads.store import Store  # noqa: E402

MAYOR = Path(sys.executable).with_name("mayor")
if not MAYOR.exists():  # an unusual install
    MAYOR = Path(shutil.which("mayor") or "mayor")
PROJECT = ROOT / "bench" / "queue_project"
QUEUES = ("serial", "auto")
MAX_ATTEMPTS = 2
TRAILER = re.compile(r"^mayor-bead: (\S+)\s*$", re.MULTILINE)
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@mayor.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@mayor.invalid",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}

SLEEP_AGENT = """\
set -eu
mkdir -p out
echo "$MAYOR_BEAD_ID attempt $MAYOR_ATTEMPT" > "out/$MAYOR_BEAD_ID"
if grep -qx "$MAYOR_BEAD_ID" "{bad_ids}"; then
  mkdir -p bad
  echo "$MAYOR_BEAD_ID is bad (attempt $MAYOR_ATTEMPT)" > "bad/$MAYOR_BEAD_ID"
fi
"""
REAL_AGENT = """\
set -eu
name="f_$MAYOR_BEAD_ID" expect='text'
if grep -qx "$MAYOR_BEAD_ID" "{bad_ids}"; then name="bad_$MAYOR_BEAD_ID" expect='text[::-1]'; fi
cat > "src/qbench/features/$name.py" <<EOF
# $MAYOR_BEAD_ID, attempt $MAYOR_ATTEMPT
from qbench import codec


def check() -> bool:
    text = "aab$MAYOR_BEAD_ID" * 100
    return codec.rle_decode(codec.rle_encode(text)) == $expect
EOF
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    agent: str
    """The agent's bash script; ``{bad_ids}`` is the file listing the bad beads' ids."""
    gate: str
    """The gate; ``{count}`` is the file each gate run appends a line to."""
    marker: re.Pattern[str]
    """A path in a tree that only a bad bead writes."""
    parallel_gates: int | None
    project: Path | None = None


def sleep_scenario(seconds: float) -> Scenario:
    gate = f'echo "$MAYOR_CANDIDATE" >> "{{count}}"; sleep {seconds}; test -z "$(ls -A bad 2>/dev/null)"'
    return Scenario("sleep", SLEEP_AGENT, gate, re.compile(r"^bad/"), parallel_gates=4)


def real_scenario() -> Scenario:
    gate = 'echo "$MAYOR_CANDIDATE" >> "{count}"; python -m pytest -q -x'
    marker = re.compile(r"^src/qbench/features/bad_")
    return Scenario("real", REAL_AGENT, gate, marker, parallel_gates=None, project=PROJECT)


@dataclass
class Run:
    queue: str
    p: float
    bad: int
    wall_s: float
    queue_s: float
    landed: int
    failed: int
    gate_runs: int
    problems: list[str] = field(default_factory=list)

    @property
    def per_landed(self) -> float:
        return self.gate_runs / self.landed if self.landed else float("inf")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


def bad_beads(ids: list[str], p: float, seed: int) -> set[str]:
    """round(p x N) of ``ids``, the same for a given seed and p whichever policy runs."""
    return set(random.Random(f"{seed}:{p}").sample(ids, k=round(p * len(ids))))


def config_text(scenario: Scenario, base: Path, jobs: int) -> str:
    lines = [
        'target = "main"',
        f"slots = {jobs}",
        f"gate = {toml_string(scenario.gate.format(count=base / 'gate-runs'))}",
        'agent = "bench"',
        f"max_attempts = {MAX_ATTEMPTS}",
        "gate_retries = 0",
        f"worktrees = {toml_string(str(base / 'pool'))}",
    ]
    if scenario.parallel_gates is not None:
        lines.append(f"max_parallel_gates = {scenario.parallel_gates}")
    agent = toml_string(f"bash {base / 'agent.sh'}")
    lines += ["", "[agents.bench]", 'kind = "command"', f"command = {agent}"]
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_repo(scenario: Scenario, base: Path, ids: list[str], bad: set[str], jobs: int) -> tuple[Path, str]:
    """The scenario's repository with its beads, and the target's commit before the run."""
    repo = base / "repo"
    if scenario.project is not None:
        shutil.copytree(scenario.project, repo, ignore=shutil.ignore_patterns("__pycache__", ".*_cache", ".benchmarks"))
    else:
        repo.mkdir(parents=True)
        (repo / "README.md").write_text("# queue bench\n")
    (base / "bad-ids").write_text("".join(f"{i}\n" for i in sorted(bad)))
    (base / "agent.sh").write_text(scenario.agent.format(bad_ids=base / "bad-ids"))
    git(repo, "init", "-q", "-b", "main")
    subprocess.run([str(MAYOR), "init"], cwd=repo, env=GIT_ENV, check=True, capture_output=True)
    (repo / ".mayor" / "config.toml").write_text(config_text(scenario, base, jobs))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "queue bench: the project and mayor's config")
    with Store(repo / ".mayor").edit() as tx:
        for bead_id in ids:
            tx.put(Bead(id=bead_id, title=f"bench bead {bead_id}"))
    return repo, git(repo, "rev-parse", "main").strip()


def sling(repo: Path, queue: str, jobs: int, timeout: float) -> float:
    command = [str(MAYOR), "sling", "-q", "-j", str(jobs), "--queue", queue]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=repo, env=GIT_ENV, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: some beads failed, as the bad ones must
        raise SystemExit(f"`{' '.join(command)}` in {repo} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return elapsed


def first_parents(repo: Path, start: str) -> list[tuple[str, str]]:
    """``(sha, message)`` of each first-parent commit of main after ``start``, oldest first."""
    out = git(repo, "log", "--first-parent", "--reverse", "--format=%H%x1f%B%x1e", f"{start}..main")
    records = [r.strip("\n") for r in out.split("\x1e") if r.strip()]
    return [(sha, message) for sha, message in (r.split("\x1f", 1) for r in records)]


def check(repo: Path, scenario: Scenario, start: str, ids: list[str], bad: set[str]) -> tuple[set[str], list[str]]:
    """The beads landed (by trailer) and every invariant broken, as sentences."""
    problems = []
    if start not in git(repo, "rev-list", "--first-parent", "main").split():
        problems.append(f"main's first-parent history no longer passes through the run's start {start[:12]}")
    trailers: Counter[str] = Counter()
    for sha, message in first_parents(repo, start):
        trailers.update(TRAILER.findall(message))
        paths = git(repo, "ls-tree", "-r", "--name-only", sha).splitlines()
        red = [path for path in paths if scenario.marker.search(path)]
        if red:
            problems.append(f"red first-parent commit {sha[:12]}: its tree has {', '.join(red)}")
    problems += [f"{b} landed {n} times (mayor-bead trailers on main)" for b, n in sorted(trailers.items()) if n > 1]
    problems += [f"{b} landed but is not a bead of this run" for b in sorted(set(trailers) - set(ids))]
    problems += [f"bad bead {b} landed" for b in sorted(bad & set(trailers))]
    beads = Store(repo / ".mayor").load()
    for bead_id in sorted(set(ids) - bad):
        status = beads[bead_id].status
        if bead_id not in trailers or status not in LANDED:
            problems.append(f"good bead {bead_id} did not land (status {status}, {trailers[bead_id]} trailers)")
    problems += [f"bad bead {b} has status {beads[b].status}" for b in sorted(bad) if beads[b].status in LANDED]
    return set(trailers), problems


def queue_seconds(repo: Path) -> float:
    """From the first bead queued to the last bead merged or failed, by the run's events."""
    events = [json.loads(line) for line in (repo / ".mayor" / "events.jsonl").read_text().splitlines() if line]
    queued = [e["ts"] for e in events if e["type"] == "queued"]
    ended = [e["ts"] for e in events if e["type"] in ("merged", "failed")]
    if not queued or not ended:
        return 0.0
    return datetime.fromisoformat(max(ended)).timestamp() - datetime.fromisoformat(min(queued)).timestamp()


def run_one(scenario: Scenario, queue: str, p: float, args: argparse.Namespace) -> Run:
    ids = [f"b{i:03d}" for i in range(args.beads)]
    bad = bad_beads(ids, p, args.seed)
    jobs = args.jobs or args.beads
    with tempfile.TemporaryDirectory(prefix=f"qbench-{scenario.name}-{queue}-") as tmp:
        base = Path(tmp)
        repo, start = make_repo(scenario, base, ids, bad, jobs)
        wall = sling(repo, queue, jobs, args.timeout)
        landed, problems = check(repo, scenario, start, ids, bad)
        counted = base / "gate-runs"
        gate_runs = len(counted.read_text().splitlines()) if counted.exists() else 0
        beads = Store(repo / ".mayor").load()
        failed = sum(1 for b in ids if beads[b].status == "failed")
        queue_s = queue_seconds(repo)
    return Run(queue, p, len(bad), wall, queue_s, len(landed), failed, gate_runs, problems)


def table(runs: list[Run]) -> str:
    head = f"{'p':>5} {'bad':>4} {'queue':<7} {'wall_s':>7} {'queue_s':>7} {'landed':>6} {'failed':>6} "
    head += f"{'gate_runs':>9} {'runs/landed':>11} {'serial/auto':>11} {'queue_s s/a':>11}  invariants"
    lines = [head]
    serial = {r.p: r for r in runs if r.queue == "serial"}
    for r in runs:
        base = serial.get(r.p) if r.queue == "auto" else None
        ratio = f"{base.wall_s / r.wall_s:.2f}" if base else ""
        queue_ratio = f"{base.queue_s / r.queue_s:.2f}" if base and r.queue_s else ""
        lines.append(
            f"{r.p:>5.2f} {r.bad:>4} {r.queue:<7} {r.wall_s:>7.1f} {r.queue_s:>7.1f} {r.landed:>6} {r.failed:>6} "
            f"{r.gate_runs:>9} {r.per_landed:>11.2f} {ratio:>11} {queue_ratio:>11}  "
            + ("ok" if not r.problems else "BROKEN")
        )
    return "\n".join(lines)


def settings(scenario: Scenario, args: argparse.Namespace) -> str:
    from supervisor.config import default_parallel_gates

    gates = scenario.parallel_gates
    shown = f"{gates} (set in the config)" if gates else f"default ({default_parallel_gates()} on this machine)"
    gate = scenario.gate.format(count="GATE_RUNS_FILE")
    return (
        f"scenario: {scenario.name}  beads: {args.beads}  -j {args.jobs or args.beads}  seed: {args.seed}\n"
        f"gate: {gate}\n"
        f"max_parallel_gates: {shown}  max_attempts: {MAX_ATTEMPTS} (a bad bead fails on every attempt)  "
        f"gate_retries: 0\n"
        f"bad beads: round(p x beads), the same ones for serial and auto"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beads", type=int, help="beads per run (default 40; 20 with --real-gate; 10 with --quick)")
    parser.add_argument("--gate-seconds", type=float, help="the sleep gate's T (default 1.0; 0.2 with --quick)")
    parser.add_argument("--p", help="comma-separated failure rates (default 0.02,0.05,0.1,0.2,0.3; --quick: 0.1,0.3)")
    parser.add_argument("--seed", type=int, default=1, help="the draw of the bad beads (default 1)")
    parser.add_argument("--jobs", type=int, help="mayor sling -j (default: the number of beads)")
    parser.add_argument("--real-gate", action="store_true", help="a real pytest suite as the gate")
    parser.add_argument("--quick", action="store_true", help="a smoke run: smaller defaults")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one mayor sling may take")
    args = parser.parse_args(argv)
    if args.beads is None:
        args.beads = 10 if args.quick else 20 if args.real_gate else 40
    if args.gate_seconds is None:
        args.gate_seconds = 0.2 if args.quick else 1.0
    args.rates = [float(p) for p in (args.p or ("0.1,0.3" if args.quick else "0.02,0.05,0.1,0.2,0.3")).split(",")]
    if args.beads < 1 or not all(0 <= p < 1 for p in args.rates):
        parser.error("--beads must be at least 1 and every --p in [0, 1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    scenario = real_scenario() if args.real_gate else sleep_scenario(args.gate_seconds)
    print(settings(scenario, args), flush=True)
    runs = []
    for p in args.rates:
        for queue in QUEUES:
            run = run_one(scenario, queue, p, args)
            print(f"  p={p:.2f} {queue}: {run.wall_s:.1f} s, {run.gate_runs} gate runs", file=sys.stderr, flush=True)
            runs.append(run)
    print(table(runs))
    broken = [f"p={r.p:.2f} {r.queue}: {problem}" for r in runs for problem in r.problems]
    for line in broken:
        print(f"INVARIANT BROKEN: {line}")
    print("invariants: " + ("all hold" if not broken else f"{len(broken)} broken"))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
