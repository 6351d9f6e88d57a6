"""mayor review: report-only beads per category, findings merged, SARIF 2.1.0, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beads.models import Finding
from supervisor.views import review
from tests.sling_helpers import bead, configure, git, mayor, script

SEVERITY_OF = {"secrets": "high", "injection": "medium"}


@pytest.fixture
def reviewed(mayor_repo: Path, tmp_path: Path) -> Path:
    (mayor_repo / "app.py").write_text('PASSWORD = "hunter2"\nquery = "SELECT * FROM t WHERE id=" + user_id\n')
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "app")
    agent = script(
        tmp_path / "reviewer.sh",
        """
        python3 - <<'PY'
        import json, os
        bead = json.load(open(os.environ["MAYOR_BEAD_FILE"]))
        cat = bead["source"]["category"]
        sev = {"secrets": "high", "injection": "medium"}.get(cat, "low")
        found = [{"file": "app.py", "line": 1, "severity": sev, "title": "Hard-coded password",
                  "description": "A password in source.", "recommendation": "Read it from the environment."}]
        if cat == "injection":
            found.append({"file": "./app.py", "line": 2, "severity": "medium", "title": "SQL built by concatenation",
                          "description": "user_id reaches SQL.", "recommendation": "Use parameters."})
            found.append({"file": "app.py", "severity": "bogus", "title": "dropped"})
        json.dump({"summary": "reviewed " + cat, "findings": found}, open(os.environ["MAYOR_RUN_DIR"] + "/result.json", "w"))
        PY
        echo "an attempt to change a file" >> app.py
    """,
    )
    configure(mayor_repo, {"reviewer": agent})
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "config")
    return mayor_repo


def check_sarif_required_fields(log: dict) -> None:
    """The properties the SARIF 2.1.0 schema marks required, for every object mayor writes."""
    assert log["version"] == "2.1.0" and isinstance(log["runs"], list)
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert driver["name"]
        rules = driver.get("rules", [])
        assert all(rule["id"] for rule in rules)
        for result in run["results"]:
            assert result["message"]["text"]
            assert result["level"] in ("none", "note", "warning", "error")
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            for location in result["locations"]:
                physical = location["physicalLocation"]
                assert physical["artifactLocation"]["uri"]
                assert physical.get("region", {"startLine": 1})["startLine"] >= 1


def test_review_reports_merged_findings_as_sarif_and_fails_on_high(reviewed: Path) -> None:
    head = git(reviewed, "rev-parse", "HEAD")
    out = mayor(
        reviewed,
        "review",
        "--category",
        "secrets",
        "--category",
        "injection",
        "--category",
        "auth",
        "--sarif",
        "out.sarif",
        "--fail-on",
        "high",
    )
    assert out.returncode == 1, out.stderr
    assert "findings at or above high" in out.stderr
    log = json.loads((reviewed / "out.sarif").read_text())
    check_sarif_required_fields(log)
    results = log["runs"][0]["results"]
    titles = sorted((r["properties"]["severity"], r["message"]["text"].split("\n")[0]) for r in results)
    assert titles == [("high", "Hard-coded password"), ("medium", "SQL built by concatenation")]
    assert {r["ruleId"] for r in results} == {"mayor/secrets/high", "mayor/injection/medium"}
    assert "[rejected]" in out.stderr and "severity" in out.stderr  # the `bogus` finding is reported, not dropped
    # nothing a review does can land: main is where it was, the file the agent touched is untouched
    assert git(reviewed, "rev-parse", "main") == head
    assert "an attempt" not in (reviewed / "app.py").read_text()
    ids = [b for b in (reviewed / ".mayor" / "beads").glob("review-*.json")]
    assert len(ids) == 3
    assert {bead(reviewed, p.stem).status for p in ids} == {"done"}


def test_fail_on_critical_passes_and_base_limits_scope(reviewed: Path) -> None:
    base = git(reviewed, "rev-parse", "HEAD~1")
    out = mayor(reviewed, "review", "--category", "secrets", "--fail-on", "critical", "--base", base)
    assert out.returncode == 0, out.stderr
    [path] = list((reviewed / ".mayor" / "beads").glob("review-secrets-*.json"))
    description = bead(reviewed, path.stem).description
    assert ".mayor/config.toml" in description  # the changed file is named in the scope
    assert "```diff" in description


def test_bad_arguments_are_user_errors(reviewed: Path) -> None:
    assert mayor(reviewed, "review", "--fail-on", "severe").returncode == 2  # a bad option value: usage
    out = mayor(reviewed, "review", "--base", "no-such-ref")
    assert out.returncode == 1 and "fetch it first" in out.stderr


def test_collect_deduplicates_across_categories_keeping_the_most_severe() -> None:
    from beads.models import Bead, Result

    def b(cat: str, sev: str) -> Bead:
        f = Finding(file="a.py", line=3, severity=sev, title="Same Thing!")  # type: ignore[arg-type]
        return Bead(id=f"r-{cat}", title="r", kind="review", source={"category": cat}, result=Result(findings=[f]))

    found = review.collect([b("x", "low"), b("y", "critical"), b("z", "medium")])
    assert [(f.severity, f.category) for f in found] == [("critical", "y")]
    assert review.counts(found)["critical"] == 1
    assert review.at_or_above("critical", "high") and not review.at_or_above("medium", "high")


def test_reported_keeps_the_most_severe_copy_and_every_bead_that_saw_it() -> None:
    from beads.models import Bead, Result

    def b(bead_id: str, *found: tuple[str, str]) -> Bead:
        findings = [Finding(file="./a.py", line=3, severity=sev, title=title) for sev, title in found]  # type: ignore[arg-type]
        return Bead(
            id=bead_id, title="r", kind="review", source={"category": bead_id}, result=Result(findings=findings)
        )

    beads = [b("r-2", ("low", "Same thing")), b("r-1", ("high", "same THING!"), ("medium", "Other")), b("r-3")]
    [first, second] = review.reported(beads)
    assert (first.finding.severity, first.bead, first.beads) == ("high", "r-1", ["r-1", "r-2"])
    assert (second.finding.title, second.bead, second.beads) == ("Other", "r-1", ["r-1"])
    assert [r.finding for r in review.reported(beads)] == review.collect(beads)
    assert review.failing(review.collect(beads), "high") and not review.failing(review.collect(beads), "none")


def test_a_review_run_is_tidy_list_show_and_gc(reviewed: Path) -> None:
    add = mayor(reviewed, "add", "A plan bead")
    assert add.returncode == 0, add.stderr
    out = mayor(reviewed, "review", "--category", "secrets", "--category", "injection", "--fail-on", "none")
    assert out.returncode == 0, out.stderr
    assert "mayor review: 2 reviewed, 0 did not finish; 2 finding(s), 1 rejected" in out.stderr
    assert "mayor: 2 reviewed, 0 failed" in out.stderr and " landed, " not in out.stderr
    listed = mayor(reviewed, "list")
    assert "A plan bead" in listed.stdout and "review-" not in listed.stdout
    assert "2 review bead(s) not listed: mayor list --all, or --kind review" in listed.stderr
    for flags in (["--all"], ["--kind", "review"]):
        shown = mayor(reviewed, "list", *flags).stdout
        assert shown.count("review-") == 2, flags
    assert "A plan bead" not in mayor(reviewed, "list", "--kind", "review").stdout
    [path] = list((reviewed / ".mayor" / "beads").glob("review-injection-*.json"))
    show = mayor(reviewed, "show", path.stem)
    assert show.returncode == 0 and len(show.stdout.splitlines()) < 20, show.stdout
    assert "findings: 0 critical, 0 high, 2 medium, 0 low" in show.stdout
    assert "[medium] app.py:2 SQL built by concatenation" in show.stdout
    assert "rejected findings (1)" in show.stdout and "severity" in show.stdout
    assert f"mayor show {path.stem} --json" in show.stdout and "You are" not in show.stdout
    assert json.loads(mayor(reviewed, "show", path.stem, "--json").stdout)["description"]  # the prompt, whole
    assert git(reviewed, "branch", "--list", review.REVIEW_BRANCH)
    gc = mayor(reviewed, "gc")
    assert gc.returncode == 0, gc.stderr
    assert git(reviewed, "branch", "--list", review.REVIEW_BRANCH) == ""
    assert git(reviewed, "branch", "--list", "mayor/review-*") == ""
