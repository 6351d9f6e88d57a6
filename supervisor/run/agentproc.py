"""An agent as a child process: its own process group, its log, its timeouts.

The agent's command runs under a small shell wrapper that writes its exit status to
``exit_status`` in the run folder, so that a supervisor restarted after ``kill -9`` can adopt a
live agent (found again by pid and start time) and still learn how it ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from beads.setaside import BadStateFile, read_json
from beads.store import atomic_write
from supervisor.events import set_aside
from supervisor.proc import clean_env
from supervisor.run.workenv import worktree_env

_WRAPPER = 'eval "$MAYOR_AGENT_COMMAND"\nstatus=$?\necho "$status" > "$MAYOR_RUN_DIR/exit_status"\nexit "$status"\n'
KILL_GRACE_S = 3.0


ExitReason = Literal[
    "exited", "killed", "lost", "timeout", "idle", "interrupted", "cancelled", "budget", "stopped", "retry"
]
StopReason = Literal["timeout", "idle", "interrupted", "cancelled", "budget", "stopped", "retry"]
"""Why the supervisor stopped an agent."""


@dataclass(frozen=True)
class Exit:
    """How an agent process ended."""

    code: int | None
    """Its exit status; None when it was killed or its status is unknown."""
    reason: ExitReason
    """``exited``, ``killed`` (by a signal not ours), ``lost`` (ended unwatched, no status), or why the
    supervisor stopped it: ``timeout``, ``idle``, ``interrupted`` (Ctrl-C), ``cancelled``, ``budget``."""
    detail: str = ""


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first); None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (tells a pid reused by another)."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def _group_running(pgid: int) -> bool:
    """Some process of the process group ``pgid`` still runs (zombies aside)."""
    for entry in os.scandir("/proc"):
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _alive(pid: int, ticks: int | None) -> bool:
    """The process started at ``ticks`` still runs. A zombie does not: an adopted agent that ended
    stays one when its new parent never reaps (a container whose PID 1 never calls wait)."""
    fields = _stat(pid)
    return ticks is not None and fields is not None and fields[0] != "Z" and int(fields[19]) == ticks


class AgentProcess:
    def __init__(
        self, pid: int, run_dir: Path, popen: subprocess.Popen[bytes] | None, started: float, extra: dict[str, Any]
    ) -> None:
        self.pid = pid
        self.extra = extra
        self.run_dir = run_dir
        self.popen = popen
        self.started = started
        self.stop_reason: StopReason | None = None
        self.gone = False
        """An adopted agent whose process has already ended (or was replaced by another pid)."""

    @property
    def log(self) -> Path:
        return self.run_dir / "agent.log"

    @classmethod
    def start(
        cls, command: str, cwd: Path, run_dir: Path, env: Mapping[str, str], extra: dict[str, Any] | None = None
    ) -> AgentProcess:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "exit_status").unlink(missing_ok=True)
        shell = shutil.which("bash") or "/bin/sh"
        mine = {**env, "MAYOR_AGENT_COMMAND": command, "MAYOR_RUN_DIR": str(run_dir)}
        full_env = clean_env(mine, worktree_env(cwd))
        with open(run_dir / "agent.log", "ab") as log:
            popen = subprocess.Popen(
                [shell, "-c", _WRAPPER],
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = time.time()
        record = {
            "pid": popen.pid,
            "ticks": start_ticks(popen.pid),
            "started": started,
            "cwd": str(cwd),
            **(extra or {}),
        }
        atomic_write(run_dir / "agent.json", json.dumps(record))  # a kill leaves the whole record or none
        return cls(popen.pid, run_dir, popen, started, record)

    @classmethod
    def adopt(cls, run_dir: Path) -> AgentProcess | None:
        """The agent started in ``run_dir`` (after a supervisor restart), alive or not.

        A dead one's :meth:`wait` returns at once with the status its wrapper wrote, if any.
        """
        record = _record(run_dir / "agent.json")
        if record is None:  # killed before it was written, or broken: find the wrapper by its run folder
            pid = _wrapper_of(run_dir)
            if pid is None:
                return None
            record = {"pid": pid, "ticks": start_ticks(pid), "started": time.time()}
        agent = cls(record["pid"], run_dir, None, record["started"], record)
        agent.gone = not _alive(record["pid"], record.get("ticks"))
        return agent

    def kill(self, reason: StopReason = "stopped") -> None:
        """End the whole process group: SIGTERM, then SIGKILL after a grace period."""
        self.stop_reason = self.stop_reason or reason
        for sig, pause in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 0.0)):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            deadline = time.monotonic() + pause
            # after SIGTERM, wait for the whole group: the wrapper shell dies at once, while the
            # agent under it may still be saving its transcript
            while time.monotonic() < deadline and (self._running() or (pause and _group_running(self.pid))):
                time.sleep(0.05)
            if not self._running():
                return

    def _running(self) -> bool:
        if self.gone:
            return False
        if self.popen is not None:
            return self.popen.poll() is None
        return _alive(self.pid, self.extra.get("ticks"))

    def wait(
        self,
        timeout: float,
        idle_timeout: float,
        activity: Callable[[], object],
        should_stop: Callable[[], StopReason | None],
    ) -> Exit:
        """Block until the agent ends, killing its group on a timeout or when asked to stop.

        ``activity`` returns a fingerprint of the worktree; a change counts as activity, as does
        new output in the log. ``should_stop`` returns a reason to stop, or None.
        """
        pidfd = _pidfd(self.pid)
        last_size, last_print = -1, activity()
        last_active = time.monotonic()
        deadline = self.started - time.time() + time.monotonic() + timeout
        tick = max(0.2, min(2.0, idle_timeout / 4))
        try:
            while self._running():
                _sleep_until_exit(pidfd, min(tick, max(0.0, deadline - time.monotonic())))
                if not self._running():
                    break
                now = time.monotonic()
                size = self.log.stat().st_size if self.log.exists() else 0
                if size != last_size:
                    last_size, last_active = size, now
                elif now - last_active > tick:
                    fingerprint = activity()
                    if fingerprint != last_print:
                        last_print, last_active = fingerprint, now
                reason = should_stop()
                if reason:
                    self.kill(reason)
                elif now >= deadline:
                    self.kill("timeout")
                elif now - last_active >= idle_timeout:
                    self.kill("idle")
        finally:
            if pidfd is not None:
                os.close(pidfd)
        return self._exit()

    def _exit(self) -> Exit:
        code = self.popen.wait() if self.popen is not None else None
        if not self.gone:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)  # whatever the agent left running in its group
        if self.stop_reason:
            return Exit(None, self.stop_reason)
        status_file = self.run_dir / "exit_status"
        if status_file.exists():
            try:
                return Exit(int(status_file.read_text().strip()), "exited")
            except ValueError:
                pass
        if code is not None:
            return Exit(
                code if code >= 0 else None, "exited" if code >= 0 else "killed", f"signal {-code}" if code < 0 else ""
            )
        return Exit(None, "lost", "the agent ended while no supervisor watched it and left no exit status")


def _record(path: Path) -> dict[str, Any] | None:
    """``agent.json`` checked; a broken one is set aside (None), a missing one is None."""
    try:
        record = read_json(path)
    except FileNotFoundError:
        return None
    except BadStateFile as exc:
        set_aside(path, str(exc), _events_of(path))
        return None
    ok = (
        isinstance(record, dict)
        and _whole(record.get("pid"))
        and record["pid"] > 1
        and (record.get("ticks") is None or _whole(record.get("ticks")))
        and isinstance(record.get("started"), int | float)
        and not isinstance(record.get("started"), bool)
    )
    if not ok:
        set_aside(path, "is not an agent record (pid, ticks, started)", _events_of(path))
        return None
    return dict(record)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _events_of(path: Path) -> Path:
    """``.mayor/events.jsonl`` of a file in ``.mayor/runs/<id>/<n>/``."""
    return path.parents[3] / "events.jsonl" if len(path.parents) > 3 else path.parent / "events.jsonl"


def _wrapper_of(run_dir: Path) -> int | None:
    """The pid of a live wrapper started for ``run_dir``: a session leader (each agent has its own
    session) whose environment names it as ``MAYOR_RUN_DIR``. How an agent whose supervisor was
    killed before it wrote ``agent.json`` is found, so that it is stopped, not left running."""
    marker = b"MAYOR_RUN_DIR=" + os.fsencode(str(run_dir))
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat(pid)
        if fields is None or fields[0] == "Z" or int(fields[3]) != pid:
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            return pid
    return None


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def _sleep_until_exit(pidfd: int | None, seconds: float) -> None:
    """Sleep ``seconds``, waking at once if the process exits (no busy waiting)."""
    if pidfd is not None:
        select.select([pidfd], [], [], seconds)
    else:
        time.sleep(min(seconds, 0.1))
