"""The mayor summary at scale and in GitHub's contexts: a 500-bead run fits a pull-request comment
(65,536 characters, posted through the real ``gh`` to the fake GitHub, which refuses more with 422)
and the step summary (1 MiB); it is cut by priority and says what it left out and where the whole
report is. Text is escaped for where it goes, and ``@mentions`` written by a model notify no one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from beads.models import Attempt, Bead, Finding
from beads.models import Result as BeadResult
from beads.store import Store
from supervisor.cli import app
from supervisor.events import Event, EventType
from supervisor.github import COMMENT_LIMIT, STEP_SUMMARY_LIMIT
from supervisor.views import report, review
from supervisor.views.report_markdown import FULL_REPORT
from tests.fake_github import FakeGitHub
from tests.test_github import fake_github as fake_github  # the fixture, shared

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NASTY = "Fix | pipes <script>alert(1)</script> & `ticks` for @alice and @acme/security-team"


def _bead(n: int) -> Bead:
    """Bead ``n`` of the big run: every one touches CHANGELOG.md; a fifth failed, a tenth are reviews."""
    bead_id = f"b-{n:03d}"
    title = f"{NASTY} #{n} " + "long words " * 20
    attempt = Attempt(n=1, outcome="passed", started_at=T0, ended_at=T0 + timedelta(minutes=n % 7 + 1))
    files = ["CHANGELOG.md", f"src/mod_{n}.py", f"tests/test_{n}.py"]
    if n % 10 == 0:
        findings = [
            Finding(
                file=f"src/mod_{n}.py",
                line=i + 1,
                severity=("critical", "high", "medium", "low")[i % 4],  # type: ignore[arg-type]
                title=f"{NASTY} finding {i}",
                description="d " * 200,
                recommendation="ask @bob " * 20,
            )
            for i in range(12)
        ]
        rejected = [{"file": "/etc/passwd", "line": 0, "title": "outside", "reason": "not inside @root"}]
        return Bead(
            id=bead_id,
            title=title,
            kind="review",
            status="done",
            labels=[f"review:{n}"],
            attempts=[attempt],
            result=BeadResult(findings=findings),
            source={review.REJECTED_KEY: rejected},
        )
    if n % 5 == 0:
        failed = attempt.model_copy(update={"outcome": "failed", "error": f"{NASTY} " * 10})
        return Bead(
            id=bead_id,
            title=title,
            status="failed",
            error=failed.error,
            attempts=[failed, failed],
            labels=[f"feature-{n % 37}"],
        )
    return Bead(
        id=bead_id,
        title=title,
        status="merged",
        attempts=[attempt],
        labels=[f"feature-{n % 37}"],
        result=BeadResult(files=files, commit=f"{n:040x}"),
    )


def _events(beads: list[Bead]) -> list[Event]:
    out: list[Event] = []
    for seq, bead in enumerate(beads):
        at = (T0 + timedelta(seconds=seq)).isoformat()
        out.append({"ts": at, "seq": 2 * seq, "type": EventType.SLUNG, "bead": bead.id, "attempt": 1, "data": {}})
        files = ["CHANGELOG.md", f"src/mod_{seq}.py"]
        out.append(
            {
                "ts": at,
                "seq": 2 * seq + 1,
                "type": EventType.CONFLICT,
                "bead": bead.id,
                "attempt": 1,
                "data": {"files": files},
            }
        )
    return out


@pytest.fixture(scope="module")
def big() -> tuple[list[Bead], list[Event]]:
    beads = [_bead(n) for n in range(500)]
    return beads, _events(beads)


def test_same_files_are_grouped_by_file_not_by_pair(big: tuple[list[Bead], list[Event]]) -> None:
    beads, events = big
    f = report.build({b.id: b for b in beads}, events)
    overlaps = f["conflicts"]["overlaps"]
    assert len(overlaps) == 1 and overlaps[0]["file"] == "CHANGELOG.md" and len(overlaps[0]["beads"]) == 400
    md = report.render_markdown(f)
    shared = md.split("Files that the landed work of several beads touched (1):")[1].split("###")[0]
    assert shared.count("`CHANGELOG.md`") == 1  # one row for the file, not one per pair of beads
    assert "| `CHANGELOG.md` | 400 | `b-001`," in md and "and 390 more |" in md


@pytest.mark.parametrize("limit", [COMMENT_LIMIT - 1024, STEP_SUMMARY_LIMIT - 1024, 20_000])
def test_a_500_bead_report_fits_each_limit_and_keeps_what_is_urgent(
    big: tuple[list[Bead], list[Event]], limit: int
) -> None:
    beads, events = big
    f = report.build({b.id: b for b in beads}, events)
    whole = report.render_markdown(f)
    assert len(whole.encode()) > COMMENT_LIMIT  # without a limit it would be refused
    md = report.render_markdown(f, "A narrative by a model that pings @carol.", limit=limit)
    assert len(md.encode()) <= limit and md.startswith(report.MARKER)
    assert "### Needs a human (" in md and "**failed**: `b-005`" in md  # the most urgent stays
    assert md.count("<details>") == md.count("</details>")
    if len(whole.encode()) > limit:
        assert FULL_REPORT in md and "left out to fit" in md
        assert md.index("### Needs a human") < md.index("### Landed")
    else:
        assert md == report.render_markdown(f, "A narrative by a model that pings @carol.")


def test_escaping_for_each_context_and_no_mentions(big: tuple[list[Bead], list[Event]]) -> None:
    beads, events = big
    f = report.build({b.id: b for b in beads[:12]}, events[:24])
    md = report.render_markdown(f, "Thanks @carol, mail bob@example.com")
    assert "@\u2060carol" in md and "bob@example.com" in md
    assert "@alice" not in md and "@acme/security-team" not in md and "@bob" not in md and "@root" not in md
    needs = md.split("### Needs a human")[1].split("###")[0]
    bullet = next(line for line in needs.splitlines() if line.startswith("- **failed**"))
    assert "Fix | pipes &lt;script&gt;" in bullet and "\\|" not in bullet  # a list is no table
    landed = md.split("### Landed")[1].split("###")[0]
    assert "Fix \\| pipes &lt;script&gt;alert(1)&lt;/script&gt; &amp; `ticks`" in landed
    odd = report.render_markdown(
        report.build(
            {"x": Bead(id="x", title="t", status="merged", result=BeadResult(files=["a<b>|c.py", "d`e.py"]))}, []
        )
    )
    assert "`a<b>\\|c.py`" in odd and "``d`e.py``" in odd  # code spans: no entities, pipe escaped in a table


# -- the real thing: a 500-bead store, the step summary and the comment ----------------------------


@pytest.fixture
def big_store(mayor_repo: Path, big: tuple[list[Bead], list[Event]]) -> Iterator[Path]:
    beads, events = big
    store = Store(mayor_repo / ".mayor")
    with store.edit() as tx:
        for bead in beads:
            tx.put(bead)
    with open(mayor_repo / ".mayor" / "events.jsonl", "w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps({**event, "type": str(event["type"].value)}) + "\n")
    yield mayor_repo


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_the_step_summary_of_500_beads_fits_1_mib(
    big_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = tmp_path / "step.md"
    step.write_text("# earlier steps\n" + "x" * 900_000 + "\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    result = invoke("summary", "--github", "--out", str(tmp_path / "full.md"))
    assert result.exit_code == 0, result.output
    assert step.stat().st_size <= STEP_SUMMARY_LIMIT
    added = step.read_text(encoding="utf-8").split("x\n", 1)[1]
    assert added.startswith(report.MARKER) and FULL_REPORT in added
    assert (tmp_path / "full.md").stat().st_size > len(added)  # --out keeps the whole report


def test_the_comment_of_500_beads_is_accepted_by_github(big_store: Path, fake_github: FakeGitHub) -> None:
    result = invoke("summary", "--comment", "42")
    assert result.exit_code == 0, result.output
    [post] = fake_github.writes()
    body: Any = post.body["body"]
    assert len(body) <= COMMENT_LIMIT and body.startswith(report.MARKER) and FULL_REPORT in body


def test_the_merge_queue_line_stays_when_a_report_is_cut(big: tuple[list[Bead], list[Event]]) -> None:
    beads, events = big
    gated: list[Event] = []
    for n, bead in enumerate(b for b in beads if b.status == "merged"):
        at, seq = (T0 + timedelta(hours=1, seconds=n)).isoformat(), 10_000 + 3 * n
        commit = f"{n // 4:040x}"  # batches of four, one commit each
        if n % 4 == 0:
            data = {"candidate": commit, "beads": [bead.id]}
            gated.append(
                {"ts": at, "seq": seq, "type": EventType.GATE_STARTED, "bead": bead.id, "attempt": 1, "data": data}
            )
        gated.append(
            {
                "ts": at,
                "seq": seq + 1,
                "type": EventType.MERGED,
                "bead": bead.id,
                "attempt": 1,
                "data": {"commit": commit},
            }
        )
    f = report.build({b.id: b for b in beads}, [*events, *gated])
    assert f["queue"] is not None and f["queue"]["batches"] == f["queue"]["landings"] == 100
    md = report.render_markdown(f, limit=20_000)
    assert len(md.encode()) <= 20_000
    assert (
        "### Merge queue\n400 bead(s) landed in 100 commit(s) (100 of them batches) · 100 gate run(s), 0.25 per landed bead"
        in md
    )
