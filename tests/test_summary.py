"""``mayor summary`` and ``mayor status``, from runs recorded for real.

A module fixture makes one real run (git, ``mayor init``, ``mayor sling`` with script agents):
two beads that conflict in the queue, one that fails, one blocked by it, a report-only review
with findings, a bead waiting for approval, a plain one. Its beads and events are then read by
``mayor summary`` in every form: Markdown, JSON, ``$GITHUB_STEP_SUMMARY``, a sticky pull-request
comment (in ``test_github.py``, through the real ``gh``), and a narrative from the fake Messages API. ``mayor status``
is polled while another run works, and after it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from supervisor.cli import app
from supervisor.events import Event, EventType
from supervisor.github import json_values
from supervisor.pricing import STRONG_MODEL
from supervisor.repo import Repo
from supervisor.views import report
from supervisor.views.status import BeadRow, Snapshot, SupervisorInfo, plain_lines, render_table
from tests.fake_anthropic import FakeAnthropic, final
from tests.sling_helpers import (
    add_bead,
    configure,
    events,
    git,
    landing_commits,
    mayor,
    of,
    script,
    start_sling,
    wait_for,
)

USAGE = {
    "left": {"input_tokens": 500, "output_tokens": 100, "cost_usd": 0.005},
    "right": {"input_tokens": 500, "output_tokens": 100, "cost_usd": 0.005},
    "broken": {"input_tokens": 100, "output_tokens": 10, "cost_usd": 0.001},
    "docs": {"input_tokens": 300, "output_tokens": 50, "cache_read_input_tokens": 700, "cost_usd": 0.002},
    "audit": {"input_tokens": 2000, "output_tokens": 400, "cost_usd": None},
}
"""What each agent reports per attempt (the loser of the conflict: twice); the review's model has no
price (unpriced, never $0)."""
FINDINGS = [
    {
        "file": "app.py",
        "line": 3,
        "severity": "high",
        "title": "Hard-coded API token",
        "description": "A token in source.",
        "recommendation": "Read it from the environment.",
    },
    {
        "file": "app.py",
        "line": 7,
        "severity": "medium",
        "title": "MD5 used for passwords",
        "description": "Weak hash.",
        "recommendation": "Use scrypt.",
    },
]
BROKEN_ERROR = "the API schema file is missing"
AGENT = """
bead="$MAYOR_BEAD_ID"
report() {{ "{python}" -c 'import json,os,sys; json.dump(json.loads(sys.argv[1]), open(os.environ["MAYOR_RUN_DIR"] + "/result.json", "w"))' "$1"; }}
usage=$("{python}" -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]).get(sys.argv[2])))' '{usage}' "$bead")
sleep 0.3
case "$bead" in
  left|right)
    if grep -q '^<<<<<<<' shared.txt; then
        grep -v -e '^<<<<<<<' -e '^=======' -e '^>>>>>>>' shared.txt | sort > resolved && mv resolved shared.txt
        git add shared.txt && git commit -q --no-edit
    else
        touch "{out}/started-$bead"
        for i in $(seq 1 600); do [ "$(ls {out} | grep -c '^started-')" -ge 2 ] && break; sleep 0.05; done
        echo "$bead was here" > shared.txt && git commit -q -am "$bead writes the shared line"
    fi
    report "{{\\"summary\\": \\"wrote the line\\", \\"usage\\": $usage}}" ;;
  broken)
    report "{{\\"error\\": \\"{error}\\", \\"usage\\": $usage}}"
    exit 3 ;;
  audit)
    report "{{\\"summary\\": \\"reviewed\\", \\"findings\\": {findings}, \\"usage\\": $usage}}" ;;
  *)
    echo "$bead" > "$bead.txt" && git add "$bead.txt" && git commit -q -m "$bead"
    [ "$usage" = null ] || report "{{\\"usage\\": $usage}}" ;;
esac
"""


def _isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    """What the autouse ``isolated_env`` does, for a fixture that outlives one test."""
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    for name, value in {
        "HOME": home,
        "GIT_CONFIG_GLOBAL": home / ".gitconfig",
        "GIT_CONFIG_NOSYSTEM": 1,
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_CONFIG_HOME": home / ".config",
    }.items():
        mp.setenv(name, str(value))
    for who in ("AUTHOR", "COMMITTER"):
        mp.setenv(f"GIT_{who}_NAME", "Mayor Test")
        mp.setenv(f"GIT_{who}_EMAIL", "test@mayor.invalid")
    for var in ("MAYOR_ROOT", "MAYOR_BEAD_ID", "GITHUB_STEP_SUMMARY", "GITHUB_REPOSITORY", "ANTHROPIC_API_KEY"):
        mp.delenv(var, raising=False)


def _make_repo(root: Path) -> None:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "shared.txt").write_text("original\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    assert mayor(root, "init").returncode == 0
    with open(root / ".git" / "info" / "exclude", "a") as out:
        out.write(".mayor/\n")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One real run, recorded in a repository that the tests only read."""
    base = tmp_path_factory.mktemp("recorded")
    with pytest.MonkeyPatch.context() as mp:
        (base / "home").mkdir()
        _isolate(mp, base / "home")
        root, out = base / "repo", base / "out"
        out.mkdir()
        _make_repo(root)
        agent = script(
            base / "agent.sh",
            AGENT.format(
                python=sys.executable,
                out=out,
                usage=json.dumps(USAGE),
                error=BROKEN_ERROR,
                findings=json.dumps(FINDINGS).replace('"', '\\"'),
            ),
        )
        configure(root, {"script": agent}, gate="true")
        add_bead(root, "left", "Left writes the line", labels=["text"], priority=0)
        add_bead(root, "right", "Right writes the line", labels=["text"], priority=0)
        add_bead(root, "broken", "Generate the API client", labels=["api"], priority=1)
        add_bead(root, "after", "Use the API client", labels=["api"], deps=["broken"])
        add_bead(root, "audit", "Security review: secrets", kind="review", labels=["security"])
        add_bead(root, "gated", "Change the license", approval="human")
        add_bead(root, "docs", "Write the docs")
        proc = mayor(root, "sling", "-j", "4", "--max-attempts", "2", "--quiet")
        assert proc.returncode == 1, proc.stderr
        yield root


@pytest.fixture
def in_recorded(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(recorded)
    return recorded


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def by_id(f: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in f["beads"]}


def loser_and_winner(root: Path) -> tuple[str, str]:
    [conflict] = of(events(root), "conflict")
    loser = conflict["bead"]
    return loser, ({"left", "right"} - {loser}).pop()


# -- the facts (JSON) ------------------------------------------------------------------------------


def test_facts_of_a_recorded_run(in_recorded: Path) -> None:
    result = invoke("summary", "--format", "json")
    assert result.exit_code == 0, result.output
    f = json.loads(result.stdout)
    beads = by_id(f)
    assert {i: r["outcome"] for i, r in beads.items()} == {
        "left": "landed",
        "right": "landed",
        "docs": "landed",
        "broken": "failed",
        "after": "blocked",
        "audit": "done",
        "gated": "waiting for approval",
    }
    c = f["counts"]
    assert (c["beads"], c["landed"], c["failed"], c["blocked"], c["waiting_for_approval"], c["done"]) == (
        7,
        3,
        1,
        1,
        1,
        1,
    )
    assert (c["findings"], c["urgent_findings"]) == (2, 1)
    # what failed and why
    [failed] = f["failed"]
    assert failed["id"] == "broken" and BROKEN_ERROR in failed["error"] and failed["attempts"] == 2
    assert failed["blocks"] == ["after"] and [h["outcome"] for h in failed["history"]] == ["failed", "failed"]
    # what is blocked, on what
    [blocked] = f["blocked"]
    assert blocked["id"] == "after" and blocked["stuck_on"] == ["broken"]
    assert blocked["on"][0]["dep"] == "broken" and "broken failed" in blocked["on"][0]["reason"]
    # what landed, with the merge commits that are really on main
    landed = {r["id"]: r for r in f["landed"]}
    assert set(landed) == {"left", "right", "docs"}
    for bead_id, record in landed.items():
        assert landing_commits(in_recorded, bead_id) == [record["commit"]]
    assert landed["docs"]["files"] == ["docs.txt"]


def test_conflicts_findings_needs_human_and_groups(in_recorded: Path) -> None:
    f = report.facts(Repo(in_recorded))
    loser, winner = loser_and_winner(in_recorded)
    [met] = f["conflicts"]["queue"]
    assert (met["bead"], met["attempt"], met["files"], met["with"]) == (loser, 1, ["shared.txt"], [winner])
    assert met["resolved"] and met["landed_on_attempt"] == 2
    assert f["conflicts"]["overlaps"] == [{"file": "shared.txt", "beads": ["left", "right"]}]
    assert by_id(f)[loser]["attempt_outcomes"] == ["conflict", "passed"]
    # findings by severity, with file:line and bead
    assert f["findings"]["counts"] == {"critical": 0, "high": 1, "medium": 1, "low": 0}
    top = f["findings"]["items"][0]
    assert (top["severity"], top["location"], top["title"], top["bead"]) == (
        "high",
        "app.py:3",
        "Hard-coded API token",
        "audit",
    )
    # what needs a human: the failure, the high finding, the approval
    needs = [(n["kind"], n["bead"]) for n in f["needs_human"]]
    assert needs == [("failed", "broken"), ("finding", "audit"), ("approval", "gated")]
    assert "mayor approve gated" in f["needs_human"][2]["action"]
    # grouped by feature (first label), the unlabelled last
    groups = {g["label"]: g for g in f["groups"]}
    assert [g["label"] for g in f["groups"]] == ["api", "security", "text", report.UNLABELLED]
    assert sorted(groups["text"]["beads"]) == ["left", "right"] and groups["text"]["outcomes"] == {"landed": 2}
    assert sorted(groups[report.UNLABELLED]["beads"]) == ["docs", "gated"]
    assert groups["security"]["cost_usd"] is None  # only unpriced usage: unpriced, not $0


def test_totals_and_timeline(in_recorded: Path) -> None:
    f = report.facts(Repo(in_recorded))
    tokens = f["totals"]["tokens"]
    assert tokens == {
        "input_tokens": 4000,
        "output_tokens": 770,
        "cache_read_input_tokens": 700,
        "cache_creation_input_tokens": 0,
        "total_tokens": 5470,
    }
    assert f["totals"]["cost_usd"] == pytest.approx(0.019) and f["totals"]["unpriced"] == ["audit"]
    assert by_id(f)["audit"]["cost_usd"] is None and by_id(f)["gated"]["usage"]["total_tokens"] == 0
    t = f["timeline"]
    [run] = t["runs"]
    assert run["ended_by"] == "done" and run["wall_s"] == t["wall_s"] > 0
    assert t["agents"] == len(of(events(in_recorded), "agent_exited")) == 8  # 6 beads ran, 2 of them twice
    assert t["agent_s"] > 0 and t["speedup"] == round(t["agent_s"] / t["wall_s"], 2)
    assert 2 <= t["peak_agents"] <= 4  # left and right waited for each other: at least two at once
    for record in f["beads"]:
        if record["status"] in ("merged", "failed", "done"):
            assert record["duration_s"] is not None and record["duration_s"] > 0


def test_the_merge_queue_of_the_recorded_run(in_recorded: Path) -> None:
    q = report.facts(Repo(in_recorded))["queue"]
    log = events(in_recorded)
    assert q is not None and q["landed"] == len(of(log, "merged")) == 3
    assert q["landings"] == len({e["data"]["commit"] for e in of(log, "merged")})
    assert q["gate_runs"] == len(of(log, "gate_started")) > 0 and q["culprits"] == 0 and q["flaky"] == 0
    assert q["runs_per_landed"] == round(q["gate_runs"] / 3, 2) and q["shape"] is not None
    md = invoke("summary").stdout
    assert f"### Merge queue\n3 bead(s) landed in {q['landings']} commit(s)" in md
    assert md.index("### Merge queue") < md.index("### Cost and time")


def test_facts_are_deterministic(in_recorded: Path) -> None:
    first, second = invoke("summary", "--format", "json"), invoke("summary", "--format", "json")
    assert first.stdout == second.stdout
    assert list(json.loads(first.stdout)) == [
        "format",
        "targets",
        "counts",
        "beads",
        "groups",
        "landed",
        "failed",
        "blocked",
        "conflicts",
        "needs_human",
        "findings",
        "totals",
        "timeline",
        "queue",
    ]


# -- the Markdown ----------------------------------------------------------------------------------


def test_markdown_report(in_recorded: Path) -> None:
    result = invoke("summary")
    assert result.exit_code == 0, result.output
    md = result.stdout
    loser, winner = loser_and_winner(in_recorded)
    assert md.startswith(report.MARKER + "\n## mayor summary\n")
    headline = md.splitlines()[3]
    assert headline.startswith("**3 landed** · **1 failed** · 1 blocked · 1 waiting for approval")
    assert "7 bead(s)" in headline and "**1 high/critical finding(s)**" in headline and "5,470 tokens" in headline
    assert "$0.0190 + unpriced usage of 1 bead(s)" in headline and "× parallel speedup" in headline
    for section in (
        "### Needs a human (3)",
        "### Landed (3)",
        "### Failed (1)",
        "### Blocked (1)",
        "### Conflicts between agents",
        "### Findings (0 critical · 1 high · 1 medium · 0 low)",
        "### By feature",
        "### Cost and time",
    ):
        assert section in md, section
    assert f"- **failed**: `broken` Generate the API client: the agent exited 3: {BROKEN_ERROR}" in md
    assert "- **high finding**: `audit` Hard-coded API token: high at app.py:3 → Read it from the environment." in md
    assert "`mayor approve gated`" in md
    assert (
        "| `after` | Use the API client | broken failed (fix it and `mayor reopen broken`, or `mayor dep rm`) | `broken` |"
        in md
    )
    assert f"| `{loser}` | 1 | `shared.txt` | `{winner}` | landed on attempt 2 |" in md
    assert "| high | `app.py:3` | Hard-coded API token | `audit` |" in md
    assert "<details><summary><b>text</b>: 2 bead(s), 2 landed" in md and "</details>" in md
    assert (
        f"| `{loser}` | {'Left' if loser == 'left' else 'Right'} writes the line | task | landed | 2 (conflict, passed) |"
        in md
    )
    assert "| 4,000 | 770 | 700 | – | 5,470 | $0.0190 + unpriced usage of 1 bead(s) |" in md
    assert "over 1 run(s); agent time" in md and "in 8 agent run(s)" in md and "speedup from parallel work: **" in md
    assert "$0.0000" not in md.split("<b>security</b>")[1].split("</details>")[0]  # unpriced is never $0


def test_out_writes_a_file_and_prints_nothing(in_recorded: Path, tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    result = invoke("summary", "--format", "json", "--out", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(target.read_text())["counts"]["landed"] == 3


def test_markdown_of_an_empty_store(mayor_repo: Path) -> None:
    md = report.render_markdown(report.facts(Repo(mayor_repo)))
    assert md.startswith(report.MARKER) and "**0 landed** · **0 failed**" in md and "No bead yet" in md


# -- GitHub: the step summary and the sticky comment -----------------------------------------------


def test_github_appends_to_the_step_summary(in_recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step = tmp_path / "step_summary.md"
    step.write_text("# Tests\nall green\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    for _ in range(2):
        result = invoke("summary", "--github", "--format", "json")  # the step summary is Markdown whatever the format
        assert result.exit_code == 0, result.output
        assert result.stdout == "" and "GITHUB_STEP_SUMMARY" in result.stderr
    text = step.read_text()
    assert text.startswith("# Tests\nall green\n") and text.count(report.MARKER) == 2
    assert text.count("### Landed (3)") == 2


def test_github_without_the_variable_is_a_clear_error(in_recorded: Path) -> None:
    result = invoke("summary", "--github")
    assert result.exit_code == 1
    assert "$GITHUB_STEP_SUMMARY" in result.stderr and "not set" in result.stderr and "--out" in result.stderr


def test_paginated_gh_output_is_read_whole() -> None:
    assert json_values('[{"id": 1}][{"id": 2}]\n[]') == [{"id": 1}, {"id": 2}]
    assert json_values("[]") == [] and json_values('{"id": 3}') == [{"id": 3}]


# -- the narrative ---------------------------------------------------------------------------------


def test_llm_narrative_goes_on_top_of_the_facts(in_recorded: Path, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.default = [final("Three beads landed; `broken` failed and holds `after`.")]
    result = invoke("summary", "--llm")
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith(report.MARKER + "\n## mayor summary\n\nThree beads landed; `broken` failed and holds `after`.")
    assert md.index("Three beads landed") < md.index("**3 landed**") < md.index("### Needs a human")
    assert f"Narrative by {STRONG_MODEL}" in md
    [call] = fake_anthropic.calls
    assert call.body["model"] == STRONG_MODEL
    prompt = call.first_user_text
    assert '"needs_human"' in prompt and BROKEN_ERROR in prompt and "$facts" not in prompt
    assert STRONG_MODEL in result.stderr and "output tokens" in result.stderr
    facts_only = invoke("summary").stdout
    assert md.endswith(facts_only.split("## mayor summary\n\n", 1)[1])  # the facts below stay the same


def test_llm_without_a_key_or_with_a_refused_destination_spends_nothing(
    in_recorded: Path, fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke("summary", "--llm", "--github")
    assert result.exit_code == 1 and "GITHUB_STEP_SUMMARY" in result.stderr
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = invoke("summary", "--llm")
    assert result.exit_code == 1 and "ANTHROPIC_API_KEY" in result.stderr and result.stdout == ""
    assert fake_anthropic.calls == []


# -- the timeline, by hand -------------------------------------------------------------------------


def _event(
    seq: int, at: float, type_: EventType, bead: str | None = None, attempt: int | None = None, **data: Any
) -> Event:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=at)
    return {"ts": when.isoformat(), "seq": seq, "type": type_, "bead": bead, "attempt": attempt, "data": data}


def test_timeline_speedup_across_runs_and_a_killed_one() -> None:
    log = [
        _event(1, 0, EventType.SLING_STARTED),
        _event(2, 1, EventType.AGENT_STARTED, "a", 1),
        _event(3, 1, EventType.AGENT_STARTED, "b", 1),
        _event(4, 1, EventType.AGENT_STARTED, "c", 1),
        _event(5, 9, EventType.AGENT_EXITED, "a", 1),
        _event(6, 9, EventType.AGENT_EXITED, "b", 1),
        _event(7, 9, EventType.AGENT_EXITED, "c", 1),
        _event(8, 10, EventType.SLING_STOPPED, reason="done"),
        _event(9, 500, EventType.APPROVED, "d", 1),  # between runs: no wall time
        _event(10, 1000, EventType.SLING_STARTED),
        _event(11, 1001, EventType.AGENT_STARTED, "d", 1),
        _event(12, 1005, EventType.QUEUED, "x"),  # the supervisor was killed here: d's agent counts until then
        _event(13, 2000, EventType.SLING_STARTED),
        _event(14, 2000, EventType.AGENT_ADOPTED, "d", 1),
        _event(15, 2004, EventType.AGENT_EXITED, "d", 1),
        _event(16, 2010, EventType.SLING_STOPPED, reason="done"),
    ]
    t = report.timeline(log)
    assert [r["wall_s"] for r in t["runs"]] == [10.0, 5.0, 10.0]
    assert [r["ended_by"] for r in t["runs"]] == ["done", "cut short (no sling_stopped)", "done"]
    assert t["wall_s"] == 25.0 and t["agent_s"] == 3 * 8 + 4 + 4 and t["speedup"] == 1.28
    assert t["peak_agents"] == 3 and t["agents"] == 5


def test_timeline_of_nothing() -> None:
    assert report.timeline([]) == {
        "first_event": None,
        "last_event": None,
        "runs": [],
        "wall_s": 0.0,
        "agent_s": 0.0,
        "speedup": None,
        "agents": 0,
        "peak_agents": 0,
    }


# -- mayor status ----------------------------------------------------------------------------------


def status_json(root: Path) -> dict[str, Any]:
    proc = mayor(root, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def rows(snap: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in snap["rows"]}


def test_status_during_a_run_and_after_it(mayor_repo: Path, tmp_path: Path) -> None:
    agents_go, gate_go = tmp_path / "agents-go", tmp_path / "gate-go"
    agent = script(
        tmp_path / "slow.sh",
        f"""
        printf '{{"usage": {{"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.5}}}}' > "$MAYOR_RUN_DIR/result.json"
        while [ ! -e {agents_go} ]; do sleep 0.05; done
        echo "$MAYOR_BEAD_ID" > "$MAYOR_BEAD_ID.txt" && git add -A && git commit -q -m "$MAYOR_BEAD_ID"
    """,
    )
    configure(mayor_repo, {"slow": agent}, gate=f"while [ ! -e {gate_go} ]; do sleep 0.05; done")
    add_bead(mayor_repo, "one", "First bead")
    add_bead(mayor_repo, "two", "Second bead")
    sling = start_sling(mayor_repo, "-j", "2")
    try:
        wait_for(
            lambda: [r["status"] for r in status_json(mayor_repo)["rows"]] == ["running", "running"],
            "two agents running",
        )
        snap = status_json(mayor_repo)
        who = snap["supervisor"]
        assert who["running"] and who["pid"] == sling.pid and not who["stale"]
        assert who["lock_held"] in (True, None)  # None only where /proc/locks is missing
        for row in snap["rows"]:
            assert row["attempt"] == 1 and row["elapsed_s"] >= 0 and row["last_event"] in ("slung", "agent_started")
            assert row["ended"] is None and row["agent"] == "slow"
        plain = mayor(mayor_repo, "status").stdout.splitlines()
        assert plain[0].startswith(f"supervisor: running (pid {sling.pid}") and plain[1].startswith(
            "bead\ttitle\tstatus"
        )
        assert plain[-1] == "merge queue: (empty)"

        agents_go.touch()

        def gated(snap: dict[str, Any]) -> list[str]:
            return sorted(b for g in snap["gates"] for b in g["beads"])

        wait_for(lambda: gated(status_json(mayor_repo)) == ["one", "two"], "both beads gated behind the slow gate")
        snap = status_json(mayor_repo)
        assert snap["landing"] == snap["gate"]["bead"] == snap["gates"][0]["beads"][0]
        assert sorted(snap["queue"]) == ["one", "two"] and {r["status"] for r in snap["rows"]} == {"queued"}
        assert all(r["tokens"] == 15 and r["cost_usd"] == 0.5 for r in snap["rows"])
        first = "+".join(snap["gates"][0]["beads"])
        assert f"merge queue: gating [{first}] " in mayor(mayor_repo, "status").stdout
        gate_go.touch()
        _, err = sling.communicate(timeout=90)
        assert sling.returncode == 0, err
    finally:
        agents_go.touch()
        gate_go.touch()
        if sling.poll() is None:
            sling.kill()
    after = status_json(mayor_repo)
    assert after["supervisor"] == {
        "running": False,
        "pid": None,
        "host": None,
        "started": None,
        "lock_held": False if Path("/proc/locks").exists() else None,
        "stale": False,
    }
    assert {i: r["status"] for i, r in rows(after).items()} == {"one": "merged", "two": "merged"}
    assert after["queue"] == [] and after["landing"] is None and after["gates"] == [] and after["gate"] is None
    assert all(r["last_event"] == "merged" and r["ended"] is not None for r in after["rows"])


def test_status_of_a_repository_with_nothing_in_play(mayor_repo: Path) -> None:
    add_bead(mayor_repo, "idle", "Nothing started")
    snap = status_json(mayor_repo)
    assert snap["rows"] == [] and snap["queue"] == [] and snap["supervisor"]["running"] is False
    assert "(no bead in play)" in _rendered(render_table(_snapshot([])))


def _snapshot(rows_: list[BeadRow], queue: list[str] | None = None) -> Snapshot:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    who = SupervisorInfo(running=True, pid=4242, host="ci", started="2026-01-01T11:59:00+00:00", lock_held=True)
    return Snapshot(now, who, rows_, queue or [], (queue or [None])[0], now - timedelta(minutes=1))


def _rendered(renderable: Any) -> str:
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(renderable)
    return console.export_text()


def test_render_table_and_plain_lines() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    snap = _snapshot(
        [
            BeadRow(
                "mr-a",
                "Add the parser",
                "running",
                2,
                "builtin",
                now - timedelta(seconds=75),
                None,
                75.0,
                "agent_started",
                now - timedelta(seconds=74),
                12345,
                0.0421,
            ),
            BeadRow(
                "mr-b",
                "Write docs",
                "queued",
                1,
                "builtin",
                now - timedelta(seconds=30),
                None,
                30.0,
                "queued",
                now - timedelta(seconds=2),
                99,
                None,
            ),
        ],
        queue=["mr-b"],
    )
    text = _rendered(render_table(snap))
    assert "supervisor: running (pid 4242 on ci" in text and "merge queue: mr-b (landing)" in text
    assert "1m 15s" in text and "agent_started (1m 14s ago)" in text and "12,345" in text and "$0.0421" in text
    assert "unpriced" in text  # a cost of None is never shown as $0
    lines = plain_lines(snap)
    assert lines[2].split("\t") == [
        "mr-a",
        "Add the parser",
        "running",
        "2",
        "1m 15s",
        "agent_started (1m 14s ago)",
        "12,345",
        "$0.0421",
    ]
    assert lines[3].endswith("\tunpriced") and lines[-1] == "merge queue: mr-b (landing)"


_PROBE = """
import sys
from supervisor.cli import app
from supervisor.events import Event, EventType
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"anthropic", "git", "rich"})
sys.stderr.write(f"\\nEXIT={code} HEAVY={','.join(heavy)}\\n")
"""


@pytest.mark.parametrize("args", [["--help"], ["summary", "--help"], ["status", "--help"]])
def test_help_imports_neither_anthropic_git_nor_rich(mayor_repo: Path, args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=mayor_repo, capture_output=True, text=True)
    assert proc.stderr.splitlines()[-1] == "EXIT=0 HEAVY=", proc.stderr


def test_summary_json_needs_no_rich_or_anthropic(in_recorded: Path) -> None:
    code = textwrap.dedent(_PROBE)
    proc = subprocess.run(
        [sys.executable, "-c", code, "summary", "--format", "json"], cwd=in_recorded, capture_output=True, text=True
    )
    assert proc.stderr.splitlines()[-1] == "EXIT=0 HEAVY=", proc.stderr
