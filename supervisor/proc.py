"""The one way mayor runs a git or other subprocess and reports its failure."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from supervisor.errors import CommandError

# Set by git for hooks and by callers; any of them would make git in another worktree act on
# the wrong repository or index. Author, committer and config variables are kept.
_GIT_LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_COMMON_DIR",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_QUARANTINE_PATH",
    }
)


def clean_env(extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment by default) less inherited ``GIT_*`` variables that
    would point git elsewhere, with ``extra`` on top."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _GIT_LOCATION_VARS}
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    if extra:
        env.update(extra)
    return env


def run(
    cmd: Sequence[str],
    cwd: Path | None = None,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    base: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; with ``check``, a non-zero exit raises :class:`CommandError` with all output.
    ``base`` replaces this process's environment (``env`` is added on top)."""
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        env=clean_env(env, base),
        input=input,
        capture_output=True,
        text=True,
        stdin=None if input is not None else subprocess.DEVNULL,
        # git in a process group of its own: Ctrl-C (or a kill of mayor's group) never cuts a git
        # command short, which would leave index.lock or a half-written checkout behind and fail the
        # landing or the attempt in progress as if it were theirs; mayor stops between commands
        process_group=0 if cmd and cmd[0] == "git" else None,
    )
    if check and proc.returncode != 0:
        raise CommandError(cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    """``git ARGS`` in ``cwd``; its stdout without the trailing newline."""
    return run(["git", *args], cwd, check=check).stdout.rstrip("\n")


def run_group(
    command: str,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    out: IO[bytes],
    base: Mapping[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> int | None:
    """``bash -c command`` in its own process group, output to ``out``; on timeout the whole group
    is killed (a test server the command started included) and None is returned. ``on_start``
    gets the group's id as soon as it runs (to find it again after a crash)."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=clean_env(env, base),
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if on_start is not None:
            on_start(proc.pid)
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it left running, on every exit path
        proc.wait()
