"""The verdict's totals line: token and dollar totals only when some agent reported usage."""

from __future__ import annotations

from pathlib import Path

from tests.sling_helpers import add_bead, configure, script, sling

COMMITS = """
echo done > "$MAYOR_BEAD_ID.txt"
git add -A
git commit -q -m "work on $MAYOR_BEAD_ID"
"""
REPORTS = (
    COMMITS
    + """
printf '%s' '{"usage": {"input_tokens": 1000, "output_tokens": 200}}' > "$MAYOR_RUN_DIR/result.json"
"""
)


def verdict_line(mayor_repo: Path, tmp_path: Path, body: str) -> str:
    with open(mayor_repo / ".git" / "info" / "exclude", "a") as out:
        out.write(".mayor/\n")
    configure(mayor_repo, {"w": script(tmp_path / "agent.sh", body)})
    add_bead(mayor_repo, "v1")
    out = sling(mayor_repo, "-q")
    assert out.returncode == 0, out.stderr
    [line] = [x for x in out.stderr.splitlines() if " landed, " in x]
    return line


def test_no_usage_reported_means_no_totals(mayor_repo: Path, tmp_path: Path) -> None:
    assert verdict_line(mayor_repo, tmp_path, COMMITS) == "mayor: 1 landed, 0 failed, 0 not landed"


def test_reported_usage_is_totalled(mayor_repo: Path, tmp_path: Path) -> None:
    line = verdict_line(mayor_repo, tmp_path, REPORTS)
    assert line.startswith("mayor: 1 landed, 0 failed, 0 not landed; 1200 tokens, "), line
