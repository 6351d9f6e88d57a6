"""The sticky pull-request comment, through the real ``gh`` CLI and a fake GitHub on 127.0.0.1.

``gh`` is the Debian package's (``apt-get install gh``); it reaches :mod:`tests.fake_github` as
the host ``github.localhost`` through ``HTTP_PROXY``. The fake enforces what GitHub does: only a
comment's author may edit it, a workflow token may not read ``GET /user``, comments come in pages.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from supervisor import github
from supervisor.cli import app
from supervisor.views import report
from tests.conftest import git
from tests.fake_github import ACTIONS_BOT, FakeGitHub
from tests.tools import absent

REPO = "acme/widgets"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def fake_github(mayor_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The real ``gh`` pointed at a fake GitHub; the pull request already has a person's comment
    that quotes mayor's marker, and a few others, so the list takes several pages."""
    if shutil.which("gh") is None:
        absent("the GitHub CLI `gh` is not installed (apt-get install gh)")
    with FakeGitHub() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        fake.add(REPO, 42, "alice", "LGTM")
        fake.add(REPO, 42, "alice", f"{report.MARKER}\n> quoting the bot: why did `broken` fail?")
        fake.add(REPO, 42, "bob", "ship it")
        yield fake


def bodies(fake: FakeGitHub) -> dict[int, tuple[str, str]]:
    return {c["id"]: (c["user"]["login"], c["body"]) for c in fake.comments[(REPO, 42)]}


def test_the_comment_is_posted_once_then_edited_and_a_quoting_person_is_never_touched(
    fake_github: FakeGitHub,
) -> None:
    before = bodies(fake_github)
    first = invoke("summary", "--comment", "42")
    assert first.exit_code == 0, first.output
    after = bodies(fake_github)
    [new] = set(after) - set(before)
    assert after[new][0] == "mayor-bot" and after[new][1].startswith(report.MARKER)
    assert {i: after[i] for i in before} == before
    assert f"#issuecomment-{new}" in first.stderr

    second = invoke("summary", "--comment", "42")
    assert second.exit_code == 0, second.output
    assert set(bodies(fake_github)) == set(after), "a second summary must not pile up"
    [post, patch] = fake_github.writes()
    assert (post.method, post.path) == ("POST", f"/repos/{REPO}/issues/42/comments")
    assert (patch.method, patch.path) == ("PATCH", f"/repos/{REPO}/issues/comments/{new}")
    assert {i: bodies(fake_github)[i] for i in before} == before
    pages = [c for c in fake_github.calls if c.method == "GET" and c.path.endswith("/42/comments")]
    assert len(pages) >= 4  # two summaries, each reading every page (2 comments a page)


def test_under_actions_the_workflow_token_is_github_actions_bot(
    fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = fake_github.add(REPO, 42, ACTIONS_BOT, f"{report.MARKER}\nan older summary")
    other_bot = fake_github.add(REPO, 42, "mayor-bot", f"{report.MARKER}\nwritten by another identity")
    monkeypatch.setenv("GH_TOKEN", "ghs_workflow_token")  # not a user token: GET /user is refused
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = invoke("summary", "--comment", "42")
    assert result.exit_code == 0, result.output
    [patch] = fake_github.writes()
    assert patch.path == f"/repos/{REPO}/issues/comments/{ours['id']}"
    assert "### Needs a human" in ours["body"] and other_bot["body"].endswith("written by another identity")


def test_without_a_known_identity_outside_actions_nothing_is_written(
    fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GH_TOKEN", "some-app-token")
    result = invoke("summary", "--comment", "42")
    assert result.exit_code == 1
    assert "`gh api user`" in result.stderr and "Resource not accessible by integration" in result.stderr
    assert fake_github.writes() == []


def test_the_repository_is_found_by_gh_from_the_remote(
    fake_github: FakeGitHub, mayor_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY")
    git(mayor_repo, "remote", "add", "origin", "http://github.localhost/acme/widgets.git")
    assert github.comment_repo(mayor_repo, 42) == REPO
    result = invoke("summary", "--comment", "42")
    assert result.exit_code == 0, result.output
    assert [c.path for c in fake_github.writes()] == [f"/repos/{REPO}/issues/42/comments"]


def test_gh_missing_is_a_clear_error(mayor_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = invoke("summary", "--comment", "42")
    assert result.exit_code == 1 and "`gh` is not on PATH" in result.stderr


def test_is_sticky_needs_both_the_author_and_the_marker_first() -> None:
    marker = report.MARKER
    assert github.is_sticky({"user": {"login": "Mayor-Bot"}, "body": marker + "\nx"}, "mayor-bot", marker)
    assert not github.is_sticky({"user": {"login": "alice"}, "body": marker}, "mayor-bot", marker)
    assert not github.is_sticky({"user": {"login": "mayor-bot"}, "body": "> " + marker}, "mayor-bot", marker)
    assert not github.is_sticky({"body": marker}, "mayor-bot", marker) and not github.is_sticky([], "x", marker)
