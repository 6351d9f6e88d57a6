"""bench/queue.py: a smoke run of the benchmark, and its invariant checks caught breaking.

The smoke run is a few beads behind a short sleep gate (figures are not judged here); the checks
are run on a repository made by hand with a red first-parent commit, a bead landed twice, a bad
bead landed and a good one missing, so a benchmark that reports "all hold" is known to look.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from beads.models import Bead
from beads.store import Store
from tests.conftest import git

BENCH = Path(__file__).resolve().parents[1] / "bench" / "queue.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("queue_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_the_table_and_holds_the_invariants() -> None:
    command = [sys.executable, str(BENCH), "--quick", "--beads", "5", "--gate-seconds", "0.05", "--p", "0.3"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:4] == ["p", "bad", "queue", "wall_s"])
    serial, auto = lines[header + 1].split(), lines[header + 2].split()
    assert serial[:3] == ["0.30", "2", "serial"] and auto[:3] == ["0.30", "2", "auto"]
    assert serial[5:7] == ["3", "2"] and auto[5:7] == ["3", "2"]  # landed, failed
    assert serial[-1] == auto[-1] == "ok"
    assert float(auto[-3]) > 0 and float(auto[-2]) > 0  # serial/auto: wall, queue
    assert "invariants: all hold" in proc.stdout
    assert "max_parallel_gates: 4" in proc.stdout and "max_attempts: 2" in proc.stdout


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_check_names_each_broken_invariant(tmp_path: Path) -> None:
    bench = load_bench()
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    start = commit(repo, "start", {"README.md": "x\n"})
    red = commit(repo, "Merge b1\n\nmayor-bead: b1\nmayor-bead: b2\n", {"out/b1": "1\n", "bad/b2": "bad\n"})
    still_red = commit(repo, "Merge b1 again\n\nmayor-bead: b1\n", {"out/b1": "again\n"})
    (repo / ".mayor").mkdir()
    with Store(repo / ".mayor").edit() as tx:
        for bead_id, status in (("b1", "merged"), ("b2", "merged"), ("b3", "failed")):
            tx.put(Bead(id=bead_id, title=bead_id, status=status))
    landed, problems = bench.check(repo, bench.sleep_scenario(0.1), start, ["b1", "b2", "b3"], {"b2"})
    assert landed == {"b1", "b2"}
    assert problems == [
        f"red first-parent commit {red[:12]}: its tree has bad/b2",
        f"red first-parent commit {still_red[:12]}: its tree has bad/b2",
        "b1 landed 2 times (mayor-bead trailers on main)",
        "bad bead b2 landed",
        "good bead b3 did not land (status failed, 0 trailers)",
        "bad bead b2 has status merged",
    ]
