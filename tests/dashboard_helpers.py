"""A repository after (or during) a small real run, and HTTP calls to a dashboard, for the dashboard's
tests: real git, ``mayor sling`` as the console script, agents that are bash scripts."""

from __future__ import annotations

import fcntl
import http.client
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supervisor.events import EventLog, EventType
from supervisor.repo import Repo
from tests.sling_helpers import add_bead, configure, script, sling

AGENT = """
echo "agent for $MAYOR_BEAD_ID says hello"
{wait}
mkdir -p work
echo "$MAYOR_BEAD_ID" > "work/$MAYOR_BEAD_ID.txt"
git add work
git commit -q -m "work on $MAYOR_BEAD_ID"
echo "agent for $MAYOR_BEAD_ID is done"
"""
FAILING = """
echo "bead $MAYOR_BEAD_ID cannot be done: the flux capacitor is missing"
exit 4
"""


def setup_repo(root: Path, tmp: Path, wait_for: Path | None = None) -> None:
    """Beads ``a``, ``b`` (after ``a``) and ``bad`` (whose agent fails); with ``wait_for``, the agent
    of ``a`` waits until that file exists."""
    wait = f'while [ ! -e "{wait_for}" ] && [ "$MAYOR_BEAD_ID" = a ]; do sleep 0.05; done' if wait_for else ""
    good = script(tmp / "agents" / "good.sh", AGENT.format(wait=wait))
    bad = script(tmp / "agents" / "bad.sh", FAILING)
    configure(root, {"good": good, "bad": bad}, agent="good", gate="true")
    add_bead(root, "a", "Build part A")
    add_bead(root, "b", "Build part B", deps=["a"])
    add_bead(root, "bad", "An impossible bead", agent="bad")


def ran_repo(root: Path, tmp: Path) -> Path:
    """``setup_repo`` after a whole ``mayor sling -j 2`` (``a`` and ``b`` merged, ``bad`` failed)."""
    setup_repo(root, tmp)
    proc = sling(root, "-j", "2", "--max-attempts", "1")
    assert proc.returncode == 1, proc.stderr  # bad failed
    return root


def request(
    port: int,
    path: str,
    method: str = "GET",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """One request to the dashboard on 127.0.0.1: its status and its JSON (or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = None if body is None else json.dumps(body)
    sent = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers={**sent, **(headers or {})})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    kind = response.getheader("Content-Type") or ""
    return response.status, json.loads(text) if kind.startswith("application/json") else text


QUEUE_BEADS = ("g1", "g2", "g3", "g4")


def gating_two_candidates(root: Path) -> EventLog:
    """The disk of a run whose merge queue gates two candidates: the batch ``[g1+g2]`` on the target,
    ``[g3]`` speculatively on top of it; ``g4`` waits. Written the way the supervisor writes it (the
    bead files through the store, the events through :class:`EventLog`); the caller holds the
    supervisor's lock (:func:`supervisor_lock`) for a running supervisor."""
    for bead_id in QUEUE_BEADS:
        add_bead(root, bead_id, f"Part {bead_id}", status="queued", attempts=[{"n": 1, "agent": "work"}])
    log = EventLog(Repo(root).events_path)
    log.emit(EventType.SLING_STARTED, None, None, target="main")
    for bead_id in QUEUE_BEADS:
        log.emit(EventType.SLUNG, bead_id, 1, slot=0)
        log.emit(EventType.QUEUED, bead_id, None)
    log.emit(EventType.QUEUE_SHAPE, None, None, batch=2, depth=2, p=0.05)
    gate = root / ".mayor" / "state" / "gates"
    log.emit(EventType.GATE_STARTED, "g1", None, candidate="c" * 40, log=f"{gate}/c.log", beads=["g1", "g2"])
    log.emit(EventType.GATE_STARTED, "g3", None, candidate="d" * 40, log=f"{gate}/d.log", beads=["g3"])
    return log


@contextmanager
def supervisor_lock(root: Path) -> Iterator[None]:
    """The supervisor's lock held, as a running ``mayor sling`` holds it."""
    lock = root / ".mayor" / "locks" / "supervisor.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
