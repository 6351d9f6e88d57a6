"""``mayor summary``: the report of the runs on disk, for people, for CI and for pull requests.

The facts and their Markdown come from :mod:`supervisor.views.report`. Destinations: stdout (the
default), ``--out FILE``, ``--github`` (appended to ``$GITHUB_STEP_SUMMARY``) and ``--comment PR``
(one sticky comment on a pull request, through the ``gh`` CLI: found again by
:data:`supervisor.views.report.MARKER` and edited in place, so it never piles up). ``--llm`` puts a
short narrative by the strong model on top; the facts below it stay the deterministic ones.
Everything that can be refused (an unset variable, no ``gh``, no API key) is refused before the
model is asked, so a refusal costs nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beads.errors import MayorError
from supervisor.output import say
from supervisor.repo import Repo, open_repo

if TYPE_CHECKING:
    from supervisor.views.report_types import Facts

FORMATS = ("md", "json")


def run(
    *, fmt: str = "md", out: str | None = None, github: bool = False, comment: int | None = None, llm: bool = False
) -> int:
    if fmt not in FORMATS:
        raise MayorError(f"--format {fmt!r}: use md or json")
    repo = open_repo()
    step_summary = step_summary_path() if github else None
    where = _comment_repo(repo, comment) if comment is not None else None
    if llm:
        from supervisor.commands.design import require_api_key

        require_api_key("summary --llm")
    from supervisor.views import report

    facts = report.facts(repo)
    narrative = narrative_of(repo, facts) if llm else None
    markdown = report.render_markdown(facts, narrative)
    text = markdown if fmt == "md" else _json(facts, narrative)
    _deliver(text, markdown, out, step_summary, where, comment)
    return 0


def _json(facts: Facts, narrative: str | None) -> str:
    data = facts if narrative is None else {**facts, "narrative": narrative}
    return json.dumps(data, indent=2) + "\n"


def _deliver(
    text: str, markdown: str, out: str | None, step_summary: Path | None, where: str | None, pr: int | None
) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
        say(f"wrote the mayor summary to {out}")
    if step_summary is not None:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
        say(f"appended the mayor summary to $GITHUB_STEP_SUMMARY ({step_summary})")
    if where is not None and pr is not None:
        url = sticky_comment(where, pr, markdown)
        say(f"the mayor summary is on pull request #{pr}: {url}")
    if not (out or step_summary or where):
        sys.stdout.write(text)


def step_summary_path() -> Path:
    value = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
    if not value:
        raise MayorError(
            "--github appends to the file named by $GITHUB_STEP_SUMMARY, which is not set (GitHub "
            "Actions sets it in each step); outside Actions use --out FILE"
        )
    return Path(value)


# -- the narrative ---------------------------------------------------------------------------------


def narrative_of(repo: Repo, facts: Facts) -> str:
    """A short account of the run by the strong model, from the summary prompt and the facts."""
    from supervisor.commands.design import Workspace, open_chat
    from supervisor.prompts import render

    prompt = render("summary", {"facts": json.dumps(facts, indent=1)}, repo.mayor_dir)
    with tempfile.TemporaryDirectory(prefix="mayor-summary-") as scratch:
        chat = open_chat(Workspace(repo.root, repo.mayor_dir, repo.config.gate), None, Path(scratch))
        try:
            answer = chat.ask(prompt)
        finally:
            chat.report()
    if not answer.strip():
        raise MayorError(f"{chat.model.name} gave an empty narrative; run without --llm for the facts alone")
    return f"{answer.strip()}\n\n<sub>Narrative by {chat.model.name}, written from the facts below.</sub>"


# -- the sticky comment ----------------------------------------------------------------------------


def _comment_repo(repo: Repo, pr: int) -> str:
    """``owner/name`` of the repository whose pull request gets the comment; ``gh`` must be there."""
    if pr < 1:
        raise MayorError(f"--comment {pr}: give the pull request's number")
    if shutil.which("gh") is None:
        raise MayorError(
            "--comment posts through the GitHub CLI, and `gh` is not on PATH; install it "
            "(https://cli.github.com) and set GH_TOKEN, or use --github / --out"
        )
    slug = os.environ.get("GITHUB_REPOSITORY", "").strip()
    if slug:
        return slug
    data = json.loads(_gh(["repo", "view", "--json", "nameWithOwner"], repo.root) or "{}")
    if not isinstance(data, dict) or not data.get("nameWithOwner"):
        raise MayorError("`gh repo view` did not name this repository; set GITHUB_REPOSITORY=owner/name")
    return str(data["nameWithOwner"])


def sticky_comment(slug: str, pr: int, body: str, cwd: Path | None = None) -> str:
    """Edit the comment of ``pr`` that carries the summary's marker, or post one; its URL."""
    from supervisor.views.report import MARKER

    comments = _json_values(_gh(["api", f"repos/{slug}/issues/{pr}/comments", "--paginate"], cwd))
    mine = [c for c in comments if isinstance(c, dict) and MARKER in str(c.get("body") or "")]
    with tempfile.TemporaryDirectory(prefix="mayor-comment-") as scratch:
        payload = Path(scratch) / "body.json"
        payload.write_text(json.dumps({"body": body}), encoding="utf-8")
        if mine:
            path, method = f"repos/{slug}/issues/comments/{mine[0]['id']}", "PATCH"
        else:
            path, method = f"repos/{slug}/issues/{pr}/comments", "POST"
        answer = _gh(["api", "-X", method, path, "--input", str(payload)], cwd)
    found = _json_values(answer)
    return str(found[0].get("html_url") or "") if found and isinstance(found[0], dict) else ""


def _gh(args: list[str], cwd: Path | None) -> str:
    """``gh ARGS``; a failure is an error that shows gh's own message."""
    from supervisor.proc import run

    return run(["gh", *args], cwd).stdout


def _json_values(text: str) -> list[Any]:
    """Every JSON value in ``text``, arrays flattened: ``gh api --paginate`` prints one array per
    page, back to back."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    text = text.strip()
    while index < len(text):
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError:
            raise MayorError(f"gh answered something that is not JSON: {text[index : index + 200]!r}") from None
        values += value if isinstance(value, list) else [value]
        while index < len(text) and text[index].isspace():
            index += 1
    return values
