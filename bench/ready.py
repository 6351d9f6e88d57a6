"""Benchmark: `mayor ready --json` as a whole process on a large store.

    python bench/ready.py [--beads 10000] [--small 100] [--runs 9] [--seed 1]

Builds two stores in a temporary folder with the library (the same generator for both: a random
DAG with about two deps a bead, a paragraph of description, 1-3 acceptance criteria, labels,
attempts and results on finished beads, a mix of statuses), then measures the median wall time of
the installed console script `mayor ready --json` (stdout to /dev/null) on each, and of
`python -c "import typer, pydantic, rich"` as a baseline, in rounds that run all three, after one
warm-up round.

The output of `mayor ready --json` is checked first against the answer computed in this process
from the generated beads (ids in order, and every record whole), both cold (mayor's cache in
`.mayor/state` removed) and warm, so a fast wrong answer fails. The cold figure (every file parsed,
as after a `git checkout` that touched them all) is printed too, but not judged. Targets: at most
1 s at the large size, and at most 3 times the small-store figure. Exit code 0 when both targets
hold, 1 when one does not, 2 when the answer is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from beads import graph
from beads.ids import new_id
from beads.models import Attempt, Bead, Criterion, Result, Status, Usage
from supervisor.config import render_default

try:
    from beads.summary_cache import SETTLE_NS
except ImportError:  # a mayor from before the summary cache (to measure the "before" figures)
    SETTLE_NS = 0

TARGET_SECONDS = 1.0
TARGET_RATIO = 3.0
DEPS_PER_BEAD = 2.0

_WORDS = [
    "store",
    "graph",
    "bead",
    "agent",
    "merge",
    "queue",
    "branch",
    "worktree",
    "gate",
    "check",
    "retry",
    "budget",
    "token",
    "model",
    "prompt",
    "config",
    "lock",
    "file",
    "folder",
    "parse",
    "render",
    "table",
    "json",
    "schema",
    "status",
    "label",
    "priority",
    "estimate",
    "path",
    "supervisor",
    "scheduler",
    "timeout",
    "signal",
    "process",
    "session",
    "stream",
    "event",
    "summary",
    "review",
    "report",
    "finding",
    "commit",
    "rebase",
    "conflict",
    "target",
    "setup",
    "copy",
    "slot",
    "runner",
    "fixture",
    "test",
    "docs",
    "readme",
]
_LABELS = ("backend", "cli", "docs", "infra", "perf", "security", "ui", "tests", "api", "store")
_KINDS = ("task", "task", "task", "bug", "feature", "design", "review")


def _sentence(rng: random.Random, low: int = 6, high: int = 16) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def _status(rng: random.Random, position: float) -> Status:
    """Older beads (low ``position``) have mostly landed; newer ones are mostly open."""
    roll = rng.random()
    if roll < 0.85 * (1.0 - position):
        return rng.choice(("merged", "merged", "merged", "done"))
    if roll < 0.85 * (1.0 - position) + 0.04:
        return rng.choice(("failed", "cancelled"))
    if roll < 0.85 * (1.0 - position) + 0.08:
        return rng.choice(("running", "queued", "review"))
    return "open"


def _attempt(rng: random.Random, status: str, start: datetime) -> Attempt:
    passed = status in ("merged", "done", "review")
    tokens = rng.randint(2_000, 200_000)
    return Attempt(
        n=1,
        agent="builtin",
        started_at=start,
        ended_at=None if status in ("running", "queued") else start + timedelta(minutes=rng.randint(2, 90)),
        outcome=None if status in ("running", "queued") else ("passed" if passed else "failed"),
        error=None if passed or status in ("running", "queued") else "checks failed: pytest -q exited 1",
        commit=f"{rng.getrandbits(160):040x}",
        usage=Usage(
            input_tokens=tokens,
            output_tokens=tokens // 8,
            cache_read_input_tokens=tokens * 3,
            cache_creation_input_tokens=tokens // 4,
            cost_usd=round(tokens * 0.000009, 4),
        ),
    )


def make_beads(count: int, seed: int) -> dict[str, Bead]:
    """``count`` beads forming a random DAG with about ``DEPS_PER_BEAD`` deps each."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    beads: dict[str, Bead] = {}
    order: list[str] = []
    for i in range(count):
        title = _sentence(rng, 3, 8).rstrip(".")
        bead_id = new_id("mr", title, beads, len(beads))
        # Deps point at earlier beads, mostly recent ones, so chains are long and the graph is a DAG.
        n_deps = min(i, rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 2)))
        deps = sorted({order[i - rng.randint(1, min(i, 300))] for _ in range(n_deps)}) if n_deps else []
        status = _status(rng, i / max(count - 1, 1))
        created = start + timedelta(minutes=7 * i)
        attempts = [] if status in ("open", "cancelled") else [_attempt(rng, status, created + timedelta(hours=1))]
        checks = ("python -m pytest -q", "ruff check .", None, None)
        bead = Bead(
            id=bead_id,
            title=title,
            description=" ".join(_sentence(rng) for _ in range(rng.randint(4, 8))),
            acceptance=[Criterion(text=_sentence(rng), check=rng.choice(checks)) for _ in range(rng.randint(1, 3))],
            deps=deps,
            kind=rng.choice(_KINDS),
            priority=rng.choice((0, 1, 1, 2, 2, 2, 2, 3, 3, 4)),
            labels=sorted(set(rng.sample(_LABELS, rng.randint(0, 3)))),
            estimate_minutes=rng.choice((None, 15, 30, 45, 60, 90, 120, 240)),
            status=status,
            attempts=attempts,
            result=Result(summary=_sentence(rng), files=["beads/store.py"], commit=attempts[0].commit)
            if status in ("merged", "done")
            else None,
            usage=attempts[0].usage if attempts else Usage(),
            error=attempts[0].error if attempts else None,
            created_at=created,
            updated_at=created + timedelta(hours=2),
            closed_at=created + timedelta(hours=2) if status in ("merged", "done", "cancelled") else None,
        )
        beads[bead_id] = bead
        order.append(bead_id)
    return beads


def write_store(root: Path, beads: dict[str, Bead]) -> None:
    """A repository folder with ``.mayor/config.toml`` and one file a bead, as ``mayor`` writes them."""
    folder = root / ".mayor" / "beads"
    folder.mkdir(parents=True)
    (root / ".mayor" / "config.toml").write_text(render_default("main"), encoding="utf-8")
    for bead in beads.values():
        (folder / f"{bead.id}.json").write_text(bead.to_json(), encoding="utf-8")


def expected_output(beads: dict[str, Bead]) -> list[dict[str, object]]:
    """What `mayor ready --json` must print, computed here from the generated beads."""
    found = graph.ready(beads)
    naive = {b.id for b in beads.values() if b.status == "open" and all(beads[d].landed for d in b.deps)}
    if {b.id for b in found} != naive:
        raise SystemExit("bench: graph.ready disagrees with the definition of ready")
    length = graph.critical_paths(beads)
    return [{**b.model_dump(mode="json"), "critical_path_minutes": length[b.id]} for b in found]


def console_script() -> str:
    """The installed `mayor` next to this interpreter (not a pyenv shim, which adds its own time)."""
    beside = Path(sys.executable).parent / "mayor"
    found = str(beside) if beside.exists() else shutil.which("mayor")
    if not found:
        raise SystemExit("bench: no `mayor` console script; run `pip install -e .` first")
    return found


def _env() -> dict[str, str]:
    """This environment, with bytecode caching on as in a normal install (without it every run of
    `mayor` would compile mayor's own modules again, a fixed cost that flatters the ratio)."""
    drop = ("MAYOR_ROOT", "PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if k not in drop}


def clear_caches(root: Path) -> None:
    """Forget what earlier runs of mayor kept in ``.mayor/state`` (the bead summary cache)."""
    shutil.rmtree(root / ".mayor" / "state", ignore_errors=True)


def check_answer(cmd: Sequence[str], root: Path, beads: dict[str, Bead]) -> int:
    out = subprocess.run(cmd, cwd=root, env=_env(), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {out.returncode}: {out.stderr.strip()}")
    got = json.loads(out.stdout)
    want = expected_output(beads)
    if [r["id"] for r in got] != [r["id"] for r in want]:
        print(f"FAIL: `mayor ready --json` printed other ids than graph.ready ({len(got)} vs {len(want)})")
        raise SystemExit(2)
    if got != want:
        bad = next(g["id"] for g, w in zip(got, want, strict=False) if g != w)
        print(f"FAIL: `mayor ready --json` printed the right ids but a wrong record (first: {bad})")
        raise SystemExit(2)
    return len(got)


def run_seconds(cmd: Sequence[str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``cmd``.

    The CPU time hardly moves when other work shares the machine, so it tells noise from change.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode().strip()}")
    return elapsed, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def medians(commands: Sequence[tuple[Sequence[str], Path]], runs: int) -> list[tuple[float, float]]:
    """The median wall and CPU times of each command over ``runs`` rounds, after a warm-up round.

    Each round runs every command once, so a burst of load on the machine hits all of them alike.
    """
    times: list[list[tuple[float, float]]] = [[] for _ in commands]
    for round_ in range(runs + 1):
        for k, (cmd, cwd) in enumerate(commands):
            measured = run_seconds(cmd, cwd)
            if round_:
                times[k].append(measured)
    return [(statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for t in times]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beads", type=int, default=10_000, help="beads in the large store (default 10000)")
    parser.add_argument("--small", type=int, default=100, help="beads in the small store (default 100)")
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each command (default 9)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    mayor = [console_script(), "ready", "--json"]
    baseline = [sys.executable, "-c", "import typer, pydantic, rich"]
    with tempfile.TemporaryDirectory(prefix="mayor-bench-") as tmp:
        big_root, small_root = Path(tmp) / "big", Path(tmp) / "small"
        started = time.perf_counter()
        big, small = make_beads(args.beads, args.seed), make_beads(args.small, args.seed)
        write_store(big_root, big)
        write_store(small_root, small)
        n_deps = sum(len(b.deps) for b in big.values())
        print(
            f"stores: {len(big)} beads / {n_deps} deps and {len(small)} beads, "
            f"built in {time.perf_counter() - started:.1f} s"
        )
        # A real store's files were written well before anyone asks what is ready; mayor's cache
        # leaves out files changed within the last SETTLE_NS, so let these age that long.
        time.sleep(SETTLE_NS / 1e9)

        for root, beads in ((big_root, big), (small_root, small)):
            clear_caches(root)
            check_answer(mayor, root, beads)  # cold: every file parsed and validated
            n_ready = check_answer(mayor, root, beads)  # warm: from the cache
            print(f"answer: {n_ready} ready of {len(beads)}, the same as graph.ready, cold and warm")

        (t_big, c_big), (t_small, c_small), (t_base, c_base) = medians(
            [(mayor, big_root), (mayor, small_root), (baseline, Path(tmp))], args.runs
        )
        colds = []
        for _ in range(max(3, args.runs // 2)):
            clear_caches(big_root)
            colds.append(run_seconds(mayor, big_root))
        t_cold, c_cold = statistics.median(w for w, _ in colds), statistics.median(c for _, c in colds)

    ratio, over_base = t_big / t_small, t_big / t_base
    ok_time, ok_ratio = t_big <= TARGET_SECONDS, ratio <= TARGET_RATIO
    print(f"median of {args.runs} rounds after one warm-up round: wall time of the whole process (CPU time)")
    print(f"  mayor ready --json, {len(big):>6} beads   {t_big * 1000:7.1f} ms  ({c_big * 1000:.0f} ms)")
    print(f"  mayor ready --json, {len(small):>6} beads   {t_small * 1000:7.1f} ms  ({c_small * 1000:.0f} ms)")
    print(f"  python -c 'import typer, pydantic, rich'  {t_base * 1000:7.1f} ms  ({c_base * 1000:.0f} ms)")
    print(
        f"  ratio {len(big)}/{len(small)}: {ratio:.2f} (target <= {TARGET_RATIO:g})   "
        f"{len(big)}/baseline: {over_base:.2f}   (CPU: {c_big / c_small:.2f} and {c_big / c_base:.2f})"
    )
    print(
        f"  not judged: cold (no cache), {len(big)} beads: {t_cold * 1000:.1f} ms ({c_cold * 1000:.0f} ms), "
        f"median of {len(colds)}"
    )
    print(f"{'PASS' if ok_time else 'FAIL'}: {t_big:.3f} s at {len(big)} beads (target <= {TARGET_SECONDS:g} s)")
    print(f"{'PASS' if ok_ratio else 'FAIL'}: {ratio:.2f}x the {len(small)}-bead figure (target <= {TARGET_RATIO:g}x)")
    return 0 if ok_time and ok_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
