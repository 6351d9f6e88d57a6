"""``mayor import`` is all or nothing: across kill -9 at any moment, a full disk, a bad record.

The import runs as the real console script; the attack is a second process (the test) killing it
at a moment found by polling the store's staging folder, or a real full file system (a 1 MiB tmpfs,
when the test runs as root), or a file-size limit in the child (EFBIG), as a full disk would.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from beads.store import Store
from tests.sling_helpers import MAYOR, git, mayor

N = 3000


def _records(path: Path, n: int = N, prefix: str = "r") -> Path:
    """A JSONL of ``n`` records, each depending on the one before it (so a partial import dangles)."""
    lines = []
    for i in range(n):
        record = {"key": f"{prefix}{i}", "title": f"record {i} " + "x" * 200, "deps": [f"{prefix}{i - 1}"] if i else []}
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(repo: Path) -> int:
    """Beads as the next command sees them (the store's lock finishes a transaction left behind)."""
    listed = mayor(repo, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    beads = json.loads(listed.stdout)
    ids = {b["id"] for b in beads}
    assert all(dep in ids for b in beads for dep in b["deps"]), "a dependency dangles"
    return len(beads)


def _start_import(repo: Path, source: Path, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(MAYOR), "import", str(source)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        **kw,  # type: ignore[call-overload]
    )


def _poll(proc: subprocess.Popen[str], condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while proc.poll() is None and not condition():
        assert time.monotonic() < deadline, "the import neither progressed nor ended"
        time.sleep(0.001)


def _staged(repo: Path) -> int:
    try:
        return len(os.listdir(repo / ".mayor" / "beads" / ".tx"))
    except OSError:
        return 0


def _written(repo: Path) -> int:
    try:
        return sum(1 for name in os.listdir(repo / ".mayor" / "beads") if name.endswith(".json"))
    except OSError:
        return 0


@pytest.mark.parametrize("seed", range(6))
def test_kill_9_at_a_random_moment_leaves_all_or_nothing(mayor_repo: Path, tmp_path: Path, seed: int) -> None:
    source = _records(tmp_path / "many.jsonl")
    rng = random.Random(seed)
    before = _count(mayor_repo)
    proc = _start_import(mayor_repo, source)
    if seed % 3 == 2:  # the commit point passed: during the renames into place
        _poll(proc, lambda: (mayor_repo / ".mayor" / "beads" / ".tx" / "COMMITTED").exists())
    else:  # while the files are staged
        target = rng.randrange(1, N)
        _poll(proc, lambda: _staged(mayor_repo) >= target or _written(mayor_repo) >= before + target)
    if proc.poll() is None:  # else it finished first: the check below still holds
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    after = _count(mayor_repo)
    assert after in (before, before + N)
    assert not (mayor_repo / ".mayor" / "beads" / ".tx").exists()
    again = mayor(mayor_repo, "import", str(_records(tmp_path / "more.jsonl", 5, "m")))
    assert again.returncode == 0, again.stderr
    assert _count(mayor_repo) == after + 5


def test_a_bad_record_after_good_ones_writes_nothing(mayor_repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps({"title": "good"}) + "\n" + json.dumps({"id": "x.lock", "title": "bad id"}) + "\n")
    run = mayor(mayor_repo, "import", str(source))
    assert run.returncode == 1 and "nothing was imported" in run.stderr
    assert _count(mayor_repo) == 0


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_file_size_limit_midway_is_a_full_disk_and_writes_nothing(mayor_repo: Path, tmp_path: Path) -> None:
    source = _records(tmp_path / "many.jsonl", 50)
    proc = _start_import(mayor_repo, source, preexec_fn=_limit_file_size(300))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert err.count("\n") == 1 and "the disk is full" in err and "Traceback" not in err
    assert _count(mayor_repo) == 0
    assert not (mayor_repo / ".mayor" / "beads" / ".tx").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A 1 MiB tmpfs (root only): a real ENOSPC."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_midway_writes_nothing_and_the_retry_imports_all(small_disk: Path, tmp_path: Path) -> None:
    repo = small_disk / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    assert mayor(repo, "init").returncode == 0
    source = _records(tmp_path / "many.jsonl")
    run = mayor(repo, "import", str(source))
    assert run.returncode == 1, run.stderr
    assert "the disk is full" in run.stderr and "Traceback" not in run.stderr
    assert len(Store(repo / ".mayor").load()) == 0
    assert not (repo / ".mayor" / "beads" / ".tx").exists()
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = mayor(repo, "import", str(source))
    assert again.returncode == 0, again.stderr
    assert _count(repo) == N
