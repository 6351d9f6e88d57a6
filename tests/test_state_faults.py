"""Corrupt or odd state is named and recovered, never a crash loop.

Each test breaks one state file the way a crash, a full disk or a hostile agent would, then runs
the real ``mayor`` console script on a real repository: the next command completes or exits 1 with
one line saying what to do, never 3, and no hand cleanup is needed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from beads.store import Store
from tests.sling_helpers import (
    MAYOR,
    add_bead,
    bead,
    configure,
    events,
    git,
    mayor,
    of,
    process_gone,
    script,
    sling,
    start_sling,
    wait_for,
)

WORK = """
echo "$MAYOR_BEAD_ID" > "work-$MAYOR_BEAD_ID.txt"
git add -A && git commit -q -m "work on $MAYOR_BEAD_ID"
"""


def _ready(repo: Path, agent: Path) -> None:
    configure(repo, {"a": agent})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "config")


def _aside(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}.bad-*"))


def test_result_json_with_findings_of_the_wrong_type_is_dropped_not_a_crash_loop(
    mayor_repo: Path, tmp_path: Path
) -> None:
    agent = script(
        tmp_path / "agent.sh",
        WORK + """echo '{"findings": 5, "summary": ["x"], "error": {"a": 1}}' > "$MAYOR_RUN_DIR/result.json"\n""",
    )
    _ready(mayor_repo, agent)
    add_bead(mayor_repo, "rj")
    first = sling(mayor_repo)
    assert first.returncode == 0, first.stderr
    assert bead(mayor_repo, "rj").status == "merged"
    again = sling(mayor_repo)
    assert again.returncode == 0, again.stderr


def test_garbage_or_empty_merge_journal_is_set_aside(mayor_repo: Path, tmp_path: Path) -> None:
    _ready(mayor_repo, script(tmp_path / "agent.sh", WORK))
    state = mayor_repo / ".mayor" / "state"
    state.mkdir(parents=True, exist_ok=True)
    for n, junk in enumerate([b"\x00\xffgarbage{", b"", b'{"bead": "../x", "candidate": "HEAD"}']):
        (state / "merge.json").write_bytes(junk)
        add_bead(mayor_repo, f"mj{n}")
        run = sling(mayor_repo)
        assert run.returncode == 0, run.stderr
        assert "merge.json" in run.stderr and "moved it to" in run.stderr
        assert not (state / "merge.json").exists()
        assert len(_aside(state, "merge.json")) == n + 1
        assert bead(mayor_repo, f"mj{n}").status == "merged"
    assert len(of(events(mayor_repo), "state_set_aside")) == 3


def test_binary_landed_log_is_set_aside_and_rewritten(mayor_repo: Path, tmp_path: Path) -> None:
    _ready(mayor_repo, script(tmp_path / "agent.sh", WORK))
    add_bead(mayor_repo, "l1")
    assert sling(mayor_repo).returncode == 0
    landed = mayor_repo / ".mayor" / "state" / "landed"
    commits = landed.read_text().split()
    landed.write_bytes(landed.read_bytes() + os.urandom(4096))
    add_bead(mayor_repo, "l2")
    run = sling(mayor_repo)
    assert run.returncode == 0, run.stderr
    assert _aside(landed.parent, "landed") and "landed" in run.stderr
    kept = landed.read_text().split()
    assert set(commits) <= set(kept) and len(kept) == len(commits) + 1
    assert bead(mayor_repo, "l2").status == "merged"


def test_agent_with_unreadable_agent_json_is_stopped_not_left_beside_attempt_2(
    mayor_repo: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "first.pid"
    agent = script(
        tmp_path / "agent.sh",
        f"""
        if [ "$MAYOR_ATTEMPT" = 1 ]; then echo $$ > {pid_file}; exec sleep 600; fi
        """
        + WORK,
    )
    _ready(mayor_repo, agent)
    add_bead(mayor_repo, "aj")
    proc = start_sling(mayor_repo)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the first agent to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    first = int(pid_file.read_text())
    record = mayor_repo / ".mayor" / "runs" / "aj" / "1" / "agent.json"
    record.write_text('{"pid": ')  # as a kill between start and a non-atomic write left it
    run = sling(mayor_repo)
    assert run.returncode == 0, run.stderr
    assert process_gone(first), "the first attempt's agent still runs beside the second"
    assert bead(mayor_repo, "aj").status == "merged"
    assert bead(mayor_repo, "aj").attempts[0].outcome == "interrupted"
    assert _aside(record.parent, "agent.json")


def test_agent_json_missing_after_a_kill_still_finds_the_agent(mayor_repo: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "first.pid"
    agent = script(
        tmp_path / "agent.sh",
        f"""
        if [ "$MAYOR_ATTEMPT" = 1 ]; then echo $$ > {pid_file}; exec sleep 600; fi
        """
        + WORK,
    )
    _ready(mayor_repo, agent)
    add_bead(mayor_repo, "am")
    proc = start_sling(mayor_repo)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the first agent to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    (mayor_repo / ".mayor" / "runs" / "am" / "1" / "agent.json").unlink(missing_ok=True)  # or never written
    run = sling(mayor_repo)
    assert run.returncode == 0, run.stderr
    assert process_gone(int(pid_file.read_text()))
    assert bead(mayor_repo, "am").status == "merged"


def test_events_log_cut_mid_line_loses_no_later_event(mayor_repo: Path) -> None:
    log = mayor_repo / ".mayor" / "events.jsonl"
    assert mayor(mayor_repo, "emit", "first").returncode == 0
    with open(log, "ab") as handle:
        handle.write(b'{"ts": "2026-01-01T00:00:00", "seq": 2, "type": "cut", "da')
    assert mayor(mayor_repo, "emit", "second").returncode == 0
    assert mayor(mayor_repo, "emit", "third").returncode == 0
    types = [e["type"] for e in _whole_events(log)]
    assert types == ["first", "second", "third"]


def _whole_events(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


_PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def test_an_agent_printing_200_mb_does_not_grow_the_supervisor(mayor_repo: Path, tmp_path: Path) -> None:
    agent = script(tmp_path / "agent.sh", "yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 200000000\nexit 1\n")
    configure(mayor_repo, {"a": agent})
    config = mayor_repo / ".mayor" / "config.toml"
    config.write_text(config.read_text().replace("slots = 2", "slots = 2\nmax_attempts = 1"))
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "config")
    add_bead(mayor_repo, "big")
    run = subprocess.run(
        [sys.executable, "-c", _PEAK, str(MAYOR), "sling", "--quiet"],
        cwd=mayor_repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr
    assert bead(mayor_repo, "big").status == "failed", run.stderr
    assert (mayor_repo / ".mayor" / "runs" / "big" / "1" / "agent.log").stat().st_size >= 200_000_000
    peak_mib = int(run.stderr.split()[-1]) / 1024  # the largest process under the wrapper: the supervisor
    assert peak_mib < 150, f"the supervisor peaked at {peak_mib:.0f} MiB"


def test_summary_cache_entry_with_a_bad_status_is_not_trusted(mayor_repo: Path) -> None:
    from beads.models import BeadSummary
    from beads.summary_cache import SummaryCache, signature

    add_bead(mayor_repo, "sc")
    store = Store(mayor_repo / ".mayor")
    path = store.path("sc")
    summary = BeadSummary.of(store.get("sc"))
    summary.status = "bogus"
    cache = SummaryCache(mayor_repo / ".mayor" / "state" / "bead-summaries.json")
    cache.save({"sc": (signature(path.stat()), summary)}, 1 << 62)  # "settled": saved as written
    assert cache.path.exists()
    run = mayor(mayor_repo, "ready", "--json")
    assert run.returncode == 0, run.stderr
    assert [b["id"] for b in json.loads(run.stdout)] == ["sc"]
    assert _aside(cache.path.parent, cache.path.name) and "summary cache" in run.stderr
