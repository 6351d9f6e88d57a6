"""``mayor dashboard`` without a browser: its JSON, its event stream, its safety checks and its CLI.

Real runs (``mayor sling`` on script agents) make the disk it reads; the server runs in this process
on a free port of 127.0.0.1. The page in a real browser: ``test_dashboard_browser.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.repo import Repo
from supervisor.views.dashboard import TOKEN_HEADER, Dashboard
from tests.dashboard_helpers import gating_two_candidates, ran_repo, request, supervisor_lock
from tests.sling_helpers import MAYOR, bead, mayor


@pytest.fixture
def ran(mayor_repo: Path, tmp_path: Path) -> Path:
    return ran_repo(mayor_repo, tmp_path)


@pytest.fixture
def served(ran: Path) -> Iterator[Dashboard]:
    with Dashboard(Repo(ran), port=0) as dash:
        yield dash


def without_clock(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "taken_at"}


def test_api_status_is_mayor_status_json(served: Dashboard, ran: Path) -> None:
    code, answer = request(served.port, "/api/status")
    printed = json.loads(mayor(ran, "status", "--json").stdout)

    assert code == 200
    assert without_clock(answer) == without_clock(printed)
    assert {row["id"]: row["status"] for row in answer["rows"]} == {"a": "merged", "b": "merged", "bad": "failed"}
    assert answer["counts"] == {"merged": 2, "failed": 1}


def test_overview_has_what_the_page_draws(served: Dashboard) -> None:
    code, answer = request(served.port, "/api/overview")

    assert code == 200
    facts = answer["facts"]
    assert [b["id"] for b in facts["beads"]] and {b["id"] for b in facts["beads"]} == {"a", "b", "bad"}
    assert facts["failed"][0]["id"] == "bad"
    assert "flux capacitor" not in (facts["failed"][0]["error"] or "")  # the reason is the supervisor's
    assert facts["totals"]["tokens"]["total_tokens"] == 0
    assert answer["last_seq"] > 0 and answer["actions"] is False


def test_bead_api_gives_attempts_logs_and_diff(served: Dashboard, ran: Path) -> None:
    code, answer = request(served.port, "/api/beads/bad")
    assert code == 200
    assert answer["bead"]["status"] == "failed"
    (attempt,) = answer["attempts"]
    assert attempt["outcome"] == "failed" and "agent" in attempt["logs"]

    code, log = request(served.port, "/api/beads/bad/log?kind=agent&attempt=1")
    assert code == 200 and "flux capacitor is missing" in log["text"]
    _, again = request(served.port, f"/api/beads/bad/log?kind=agent&attempt=1&offset={log['offset']}")
    assert again["text"] == "" and again["offset"] == log["offset"]

    code, diff = request(served.port, "/api/beads/a/diff")
    assert code == 200 and "work/a.txt" in diff and "+a" in diff
    assert request(served.port, "/api/beads/nope")[0] == 404
    assert request(served.port, "/api/beads/a/log?attempt=7")[0] == 409
    assert request(served.port, "/api/beads/a/log?offset=x")[0] == 400
    assert request(served.port, "/api/events?since=soon")[0] == 400
    assert request(served.port, "/nowhere")[0] == 404


def read_events(port: int, since: int, found: list[dict[str, Any]], stop: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"GET /api/events?since={since} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        buffer = b""
        while not stop.is_set():
            try:
                buffer += conn.recv(65536)
            except TimeoutError:
                continue
            while b"\n\n" in buffer:
                message, buffer = buffer.split(b"\n\n", 1)
                for line in message.decode().splitlines():
                    if line.startswith("data: "):
                        found.append({**json.loads(line[6:]), "_received": time.monotonic()})


def test_an_emitted_event_reaches_the_stream_within_a_second(served: Dashboard, ran: Path) -> None:
    _, overview = request(served.port, "/api/overview")
    found: list[dict[str, Any]] = []
    stop = threading.Event()
    reader = threading.Thread(target=read_events, args=(served.port, overview["last_seq"] - 1, found, stop))
    reader.start()
    try:
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:  # the stream is open: the last event came
            time.sleep(0.02)
        assert [e["seq"] for e in found] == [overview["last_seq"]]

        proc = subprocess.run([str(MAYOR), "emit", "step_done", "--data", '{"step": 2}'], cwd=ran, check=True)
        emitted = time.monotonic()
        assert proc.returncode == 0
        while len(found) < 2 and time.monotonic() < emitted + 1.0:
            time.sleep(0.01)
    finally:
        stop.set()
        reader.join()
    assert len(found) == 2, "the emitted event did not reach the stream within a second"
    assert found[1]["type"] == "step_done" and found[1]["data"] == {"step": 2}
    assert found[1]["_received"] - emitted < 1.0


def test_wrong_host_is_refused(served: Dashboard) -> None:
    code, answer = request(served.port, "/api/status", headers={"Host": "evil.example:80"})
    assert code == 421 and "addressed to it" in answer["error"]


def test_read_only_by_default(served: Dashboard) -> None:
    code, answer = request(served.port, "/api/beads/b/cancel", "POST", {}, {TOKEN_HEADER: served.token})
    assert code == 403 and "--actions" in answer["error"]
    _, page = request(served.port, "/")
    assert served.token not in page


@pytest.fixture
def acting(ran: Path) -> Iterator[Dashboard]:
    from tests.sling_helpers import add_bead

    add_bead(ran, "c", "Build part C")
    with Dashboard(Repo(ran), port=0, actions=True) as dash:
        yield dash


def test_actions_need_the_token_and_the_same_origin(acting: Dashboard, ran: Path) -> None:
    port, token = acting.port, acting.token
    same = f"http://127.0.0.1:{port}"
    assert request(port, "/api/beads/c/cancel", "POST", {})[0] == 403
    assert request(port, "/api/beads/c/cancel", "POST", {}, {TOKEN_HEADER: "guess"})[0] == 403
    evil = {TOKEN_HEADER: token, "Origin": "http://evil.example"}
    assert request(port, "/api/beads/c/cancel", "POST", {}, evil)[0] == 403
    cross = {TOKEN_HEADER: token, "Origin": same, "Sec-Fetch-Site": "cross-site"}
    assert request(port, "/api/beads/c/cancel", "POST", {}, cross)[0] == 403
    form = {TOKEN_HEADER: token, "Content-Type": "application/x-www-form-urlencoded"}
    assert request(port, "/api/beads/c/cancel", "POST", {}, form)[0] == 415
    assert bead(ran, "c").status == "open"

    code, answer = request(port, "/api/beads/c/cancel", "POST", {}, {TOKEN_HEADER: token, "Origin": same})
    assert (code, answer) == (200, {"ok": True, "status": "cancelled"})
    assert bead(ran, "c").status == "cancelled"
    _, page = request(port, "/")
    assert token in page


def test_approve_of_a_bead_not_in_review_says_why(acting: Dashboard) -> None:
    code, answer = request(acting.port, "/api/beads/c/approve", "POST", {}, {TOKEN_HEADER: acting.token})
    assert code == 409 and "not waiting for approval" in answer["error"]


def test_retry_leaves_the_note_for_the_beads_next_attempt(acting: Dashboard, ran: Path) -> None:
    headers = {TOKEN_HEADER: acting.token, "Origin": f"http://127.0.0.1:{acting.port}"}
    code, answer = request(acting.port, "/api/beads/c/retry", "POST", {"note": "try the other way"}, headers)
    assert (code, answer) == (200, {"ok": True, "status": "open"})
    assert "try the other way" in (ran / ".mayor" / "state" / "notes" / "c.md").read_text()


def test_mayor_dashboard_prints_its_url_and_serves(ran: Path) -> None:
    proc = subprocess.Popen(
        [str(MAYOR), "dashboard", "--port", "0"], cwd=ran, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        code, answer = request(int(url.rsplit(":", 1)[1].strip("/")), "/api/status")
        assert code == 200 and len(answer["rows"]) == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_status_and_overview_carry_the_candidates_gated_now(mayor_repo: Path) -> None:
    gating_two_candidates(mayor_repo)
    with supervisor_lock(mayor_repo), Dashboard(Repo(mayor_repo), port=0) as dash:
        code, answer = request(dash.port, "/api/status")
        assert code == 200
        assert [(g["candidate"], g["beads"]) for g in answer["gates"]] == [("c" * 40, ["g1", "g2"]), ("d" * 40, ["g3"])]
        assert answer["gate"] == answer["gates"][0] and answer["shape"] == {"batch": 2, "depth": 2, "p": 0.05}
        printed = json.loads(mayor(mayor_repo, "status", "--json").stdout)
        assert [g["candidate"] for g in printed["gates"]] == [g["candidate"] for g in answer["gates"]]
        _, overview = request(dash.port, "/api/overview")
        assert overview["facts"]["queue"]["gate_runs"] == 2 and overview["facts"]["queue"]["peak"] == 2
