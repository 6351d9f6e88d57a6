"""``mayor summary``: the report of the runs on disk, for people, for CI and for pull requests.

The facts and their Markdown come from :mod:`supervisor.views.report`. Destinations: stdout (the
default), ``--out FILE``, ``--github`` (appended to ``$GITHUB_STEP_SUMMARY``) and ``--comment PR``
(one sticky comment on a pull request, through the ``gh`` CLI: found again by
:data:`supervisor.views.report.MARKER` and edited in place, so it never piles up; see
:mod:`supervisor.github`). ``--llm`` puts a short narrative by the strong model on top
(:mod:`supervisor.views.narrative`); the facts below it stay the deterministic ones. Everything that
can be refused (an unset variable, no ``gh``, no API key) is refused before the model is asked, so
a refusal costs nothing.

The comment and the step summary each fit GitHub's limit (:data:`supervisor.github.COMMENT_LIMIT`,
:data:`supervisor.github.STEP_SUMMARY_LIMIT`): the report is cut by priority and says where the
whole of it is (``--out``, uploaded as a workflow artifact). ``--out`` and stdout get it whole.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from beads.errors import MayorError
from supervisor.chat import require_api_key
from supervisor.github import COMMENT_LIMIT, STEP_SUMMARY_LIMIT, comment_repo, step_summary_path, sticky_comment
from supervisor.output import say
from supervisor.repo import open_repo
from supervisor.views import report
from supervisor.views.narrative import narrative as narrative_of

if TYPE_CHECKING:
    from supervisor.views.report_types import Facts

FORMATS = ("md", "json")
MARGIN = 1024
"""Bytes kept free under each GitHub limit."""


def run(
    *, fmt: str = "md", out: str | None = None, github: bool = False, comment: int | None = None, llm: bool = False
) -> int:
    if fmt not in FORMATS:
        raise MayorError(f"--format {fmt!r}: use md or json")
    repo = open_repo()
    step_summary = step_summary_path() if github else None
    where = comment_repo(repo.root, comment) if comment is not None else None
    if llm:
        require_api_key("summary --llm")
    facts = report.facts(repo)
    narrative = narrative_of(repo, facts) if llm else None
    markdown = report.render_markdown(facts, narrative)
    text = markdown if fmt == "md" else _json(facts, narrative)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        say(f"wrote the mayor summary to {out}")
    if step_summary is not None:
        _append_step_summary(step_summary, facts, narrative)
    if where is not None and comment is not None:
        body = report.render_markdown(facts, narrative, limit=COMMENT_LIMIT - MARGIN)
        url = sticky_comment(where, comment, body, report.MARKER)
        say(f"the mayor summary is on pull request #{comment}: {url}")
    if not (out or step_summary or where):
        sys.stdout.write(text)
    return 0


def _json(facts: Facts, narrative: str | None) -> str:
    data = facts if narrative is None else {**facts, "narrative": narrative}
    return json.dumps(data, indent=2) + "\n"


def _append_step_summary(path: Path, facts: Facts, narrative: str | None) -> None:
    """Append the report to the step summary, cut to what GitHub still shows of that file."""
    used = path.stat().st_size if path.exists() else 0
    room = max(STEP_SUMMARY_LIMIT - used - MARGIN, 4096)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(report.render_markdown(facts, narrative, limit=room) + "\n")
    say(f"appended the mayor summary to $GITHUB_STEP_SUMMARY ({path})")
