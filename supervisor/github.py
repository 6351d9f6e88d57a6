"""GitHub as a destination of reports: the Actions step summary, and a sticky pull-request comment.

The comment goes through the ``gh`` CLI (its login or ``GH_TOKEN``): :func:`sticky_comment` finds
the comment that carries a marker and edits it in place, or posts one, so a comment never piles up.
Everything that can be refused (an unset variable, no ``gh``) is refused by :func:`step_summary_path`
and :func:`comment_repo`, before anything costly is done.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from beads.errors import MayorError


def step_summary_path() -> Path:
    """The file GitHub Actions shows as the step's summary (``$GITHUB_STEP_SUMMARY``)."""
    value = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
    if not value:
        raise MayorError(
            "--github appends to the file named by $GITHUB_STEP_SUMMARY, which is not set (GitHub "
            "Actions sets it in each step); outside Actions use --out FILE"
        )
    return Path(value)


def comment_repo(root: Path, pr: int) -> str:
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
    data = json.loads(_gh(["repo", "view", "--json", "nameWithOwner"], root) or "{}")
    if not isinstance(data, dict) or not data.get("nameWithOwner"):
        raise MayorError("`gh repo view` did not name this repository; set GITHUB_REPOSITORY=owner/name")
    return str(data["nameWithOwner"])


def sticky_comment(slug: str, pr: int, body: str, marker: str, cwd: Path | None = None) -> str:
    """Edit the comment of ``pr`` that carries ``marker``, or post one; its URL."""
    comments = json_values(_gh(["api", f"repos/{slug}/issues/{pr}/comments", "--paginate"], cwd))
    mine = [c for c in comments if isinstance(c, dict) and marker in str(c.get("body") or "")]
    with tempfile.TemporaryDirectory(prefix="mayor-comment-") as scratch:
        payload = Path(scratch) / "body.json"
        payload.write_text(json.dumps({"body": body}), encoding="utf-8")
        if mine:
            path, method = f"repos/{slug}/issues/comments/{mine[0]['id']}", "PATCH"
        else:
            path, method = f"repos/{slug}/issues/{pr}/comments", "POST"
        answer = _gh(["api", "-X", method, path, "--input", str(payload)], cwd)
    found = json_values(answer)
    return str(found[0].get("html_url") or "") if found and isinstance(found[0], dict) else ""


def _gh(args: list[str], cwd: Path | None) -> str:
    """``gh ARGS``; a failure is an error that shows gh's own message."""
    from supervisor.proc import run

    return run(["gh", *args], cwd).stdout


def json_values(text: str) -> list[Any]:
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
