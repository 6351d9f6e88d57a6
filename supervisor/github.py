"""GitHub as a destination of reports: the Actions step summary, and a sticky pull-request comment.

The comment goes through the ``gh`` CLI (its login or ``GH_TOKEN``): :func:`sticky_comment` finds
the comment that mayor itself wrote (its author is mayor's own login, :func:`identity`, and its body
starts with the marker) and edits it in place, or posts one, so a comment never piles up and a
person's comment that quotes the marker is never touched. Everything that can be refused (an unset
variable, no ``gh``) is refused by :func:`step_summary_path` and :func:`comment_repo`, before
anything costly is done. GitHub's limits on what it accepts are :data:`COMMENT_LIMIT` and
:data:`STEP_SUMMARY_LIMIT`; the report is cut to fit them before it gets here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from beads.errors import MayorError

COMMENT_LIMIT = 65_536
"""Characters GitHub accepts in a comment body (more is refused with HTTP 422)."""
STEP_SUMMARY_LIMIT = 1024 * 1024
"""Bytes GitHub accepts in one step's summary file (more and the summary is not shown)."""
ACTIONS_BOT = "github-actions[bot]"
"""Who writes with the workflow's ``GITHUB_TOKEN``, which may not read ``GET /user``."""


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


def identity(cwd: Path | None = None) -> str:
    """The login ``gh`` writes as (``gh api user``); under GitHub Actions, where the workflow token
    may not read it, ``github-actions[bot]``."""
    from supervisor.proc import run

    proc = run(["gh", "api", "user", "--jq", ".login"], cwd, check=False)
    login = proc.stdout.strip()
    if proc.returncode == 0 and login:
        return login
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return ACTIONS_BOT
    why = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
    raise MayorError(
        f"`gh api user` did not say who gh is ({why}); mayor edits only its own comment, so it must "
        "know its login: run `gh auth login` or set GH_TOKEN"
    )


def is_sticky(comment: object, login: str, marker: str) -> bool:
    """``comment`` is mayor's own: written by ``login`` and starting with ``marker``."""
    if not isinstance(comment, dict):
        return False
    author = comment.get("user")
    written_by = str(author.get("login") or "") if isinstance(author, dict) else ""
    return written_by.lower() == login.lower() and str(comment.get("body") or "").startswith(marker)


def sticky_comment(slug: str, pr: int, body: str, marker: str, cwd: Path | None = None) -> str:
    """Edit mayor's own comment of ``pr`` (see :func:`is_sticky`), or post one; its URL."""
    if len(body) > COMMENT_LIMIT:
        raise MayorError(f"the comment is {len(body):,} characters; GitHub takes at most {COMMENT_LIMIT:,}")
    login = identity(cwd)
    comments = json_values(_gh(["api", f"repos/{slug}/issues/{pr}/comments", "--paginate"], cwd))
    mine = [c for c in comments if is_sticky(c, login, marker)]
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
