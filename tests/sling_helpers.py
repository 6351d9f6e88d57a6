"""Helpers for the ``mayor sling`` fault matrix: a repository, agents that are scripts, the log.

Nothing here is mocked: the repository is real git, ``mayor sling`` runs as the installed console
script in a subprocess, and agents are small bash scripts written into the test's ``tmp_path``
(outside the repository, so they never show up in its history).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from beads.models import Bead
from beads.store import Store, bead_from

MAYOR = Path(sys.executable).with_name("mayor")
if not MAYOR.exists():  # pragma: no cover - an unusual install
    MAYOR = Path(shutil.which("mayor") or "mayor")
PYTHON = sys.executable
RUN_TIMEOUT_S = 90.0
"""A hung supervisor fails its test instead of the whole suite (never an assertion on speed)."""


def like_a_terminal() -> None:
    """``preexec_fn`` for a process the test sends SIGINT: Ctrl-C at its default, as under a
    terminal. A test run started in the background by a shell script inherits SIGINT ignored, and a
    Python started so never raises KeyboardInterrupt (the test would test the launcher, not mayor)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def script(path: Path, body: str) -> Path:
    """A bash script at ``path`` (``set -eu`` and the body, dedented)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\nset -eu\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


def configure(
    root: Path,
    agents: Mapping[str, str | Path],
    *,
    agent: str | None = None,
    gate: str | Path | None = None,
    setup: str | None = None,
    copy: Iterable[str] = (),
) -> None:
    """Write ``.mayor/config.toml``. An agent or gate given as a Path runs as ``bash PATH``."""

    def command(value: str | Path) -> str:
        return f"bash {value}" if isinstance(value, Path) else value

    lines = ['target = "main"', "slots = 2", f'agent = "{agent or next(iter(agents))}"']
    if gate is not None:
        lines.append(f"gate = {json.dumps(command(gate))}")
    if setup is not None:
        lines.append(f"setup = {json.dumps(setup)}")
    lines.append(f"copy = {json.dumps(list(copy))}")
    for name, value in agents.items():
        lines += ["", f"[agents.{name}]", f"command = {json.dumps(command(value))}"]
    (root / ".mayor" / "config.toml").write_text("\n".join(lines) + "\n")


def top_level(root: Path, lines: str) -> None:
    """Top-level keys put above the config's first ``[table]`` (in TOML every key after a table
    header belongs to that table)."""
    config = root / ".mayor" / "config.toml"
    config.write_text(lines.rstrip("\n") + "\n" + config.read_text())


def add_bead(root: Path, bead_id: str, title: str | None = None, **fields: Any) -> Bead:
    """Write one bead through the store (validated like ``mayor add``), with a readable id."""
    with Store(root / ".mayor").edit() as tx:
        bead = bead_from({"id": bead_id, "title": title or f"Bead {bead_id}", **fields})
        tx.put(bead)
    return bead


def bead(root: Path, bead_id: str) -> Bead:
    return Store(root / ".mayor").get(bead_id)


def mayor(root: Path, *args: str, timeout: float = RUN_TIMEOUT_S, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``mayor ARGS`` in ``root`` as a subprocess (the test's isolated environment)."""
    return subprocess.run(
        [str(MAYOR), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def sling(root: Path, *args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return mayor(root, "sling", *args, timeout=timeout)


def start_sling(root: Path, *args: str) -> subprocess.Popen[str]:
    """``mayor sling ARGS`` in the background; the caller ``communicate()``s with it."""
    return subprocess.Popen(
        [str(MAYOR), "sling", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def events(root: Path) -> list[dict[str, Any]]:
    path = root / ".mayor" / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def of(log: list[dict[str, Any]], type_: str, bead_id: str | None = None) -> list[dict[str, Any]]:
    """The events of one type (for one bead, if given), in log order."""
    return [e for e in log if e["type"] == type_ and (bead_id is None or e["bead"] == bead_id)]


def first_parents(root: Path, branch: str = "main", since: str | None = None) -> list[tuple[str, list[str], str]]:
    """``(sha, parents, message)`` of each first-parent commit of ``branch``, oldest first.

    With ``since``, that commit and the ones after it.
    """
    out = git(root, "log", "--first-parent", "--reverse", "--format=%H%x1f%P%x1f%B%x1e", branch)
    commits = []
    for record in out.split("\x1e"):
        if record.strip():
            sha, parents, message = record.strip("\n").split("\x1f")
            commits.append((sha, parents.split(), message))
    if since is not None:
        shas = [c[0] for c in commits]
        commits = commits[shas.index(since) :]
    return commits


def gate_passes(root: Path, commit: str, gate: str) -> tuple[bool, str]:
    """Run ``gate`` on the tree of ``commit`` in a temporary checkout (``git archive``)."""
    with tempfile.TemporaryDirectory(prefix="gatecheck-") as tmp:
        archive = Path(tmp) / "tree.tar"
        with open(archive, "wb") as out:
            subprocess.run(["git", "archive", "--format=tar", commit], cwd=root, stdout=out, check=True)
        checkout = Path(tmp) / "tree"
        checkout.mkdir()
        with tarfile.open(archive) as tar:
            tar.extractall(checkout, filter="data")
        proc = subprocess.run(["bash", "-c", gate], cwd=checkout, capture_output=True, text=True, timeout=60)
        return proc.returncode == 0, proc.stdout + proc.stderr


def assert_target_green(root: Path, gate: str, since: str | None = None) -> None:
    for sha, _, message in first_parents(root, since=since):
        ok, output = gate_passes(root, sha, gate)
        assert ok, f"gate fails on first-parent commit {sha} ({message.splitlines()[0]}):\n{output}"


def landing_commits(root: Path, bead_id: str, branch: str = "main") -> list[str]:
    """The first-parent commits of ``branch`` that land ``bead_id`` (by the trailer the queue writes)."""
    return [sha for sha, _, message in first_parents(root, branch) if f"mayor-bead: {bead_id}" in message.splitlines()]


def branches(root: Path, prefix: str = "mayor/") -> set[str]:
    out = git(root, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}")
    return set(out.split())


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_for(predicate: Any, what: str, limit_s: float = 30.0) -> None:
    """Poll ``predicate`` until true; fail the test (never by a time threshold on the code)."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def pool(root: Path) -> Path:
    """The repository's worktree pool (slots and the gate's ``merge``), outside the repository."""
    from supervisor.run.worktrees import pool_dir

    return pool_dir(root)


def porcelain(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line]
