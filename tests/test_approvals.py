"""approval = human: a bead waits in review after its checks; approve lands it, reject retries it."""

from __future__ import annotations

from pathlib import Path

from tests.sling_helpers import add_bead, bead, configure, events, git, mayor, of, script, sling


def _setup(root: Path, tmp_path: Path) -> None:
    agent = script(
        tmp_path / "agent.sh",
        """
        if [ -s "$MAYOR_FEEDBACK_FILE" ]; then cp "$MAYOR_FEEDBACK_FILE" "feedback-$MAYOR_ATTEMPT.txt"; fi
        echo "attempt $MAYOR_ATTEMPT" > "work-$MAYOR_BEAD_ID.txt"
        git add -A && git commit -qm "work on $MAYOR_BEAD_ID"
    """,
    )
    configure(root, {"a": agent})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "config")
    add_bead(root, "h1", approval="human", acceptance=[{"text": "file", "check": "test -f work-h1.txt"}])


def test_approve_sends_a_reviewed_bead_to_the_queue(mayor_repo: Path, tmp_path: Path) -> None:
    _setup(mayor_repo, tmp_path)
    first = sling(mayor_repo)
    assert first.returncode == 1
    assert "waiting for approval: h1" in first.stderr and "mayor approve h1" in first.stderr
    assert bead(mayor_repo, "h1").status == "review"
    assert not (mayor_repo / "work-h1.txt").exists()
    assert mayor(mayor_repo, "approve", "h1").returncode == 0
    assert bead(mayor_repo, "h1").status == "queued"
    second = sling(mayor_repo)
    assert second.returncode == 0, second.stderr
    assert bead(mayor_repo, "h1").status == "merged"
    assert (mayor_repo / "work-h1.txt").read_text() == "attempt 1\n"
    assert of(events(mayor_repo), "approved", "h1")


def test_reject_sends_it_back_with_the_reason(mayor_repo: Path, tmp_path: Path) -> None:
    _setup(mayor_repo, tmp_path)
    sling(mayor_repo)
    out = mayor(mayor_repo, "reject", "h1", "--reason", "name the file after the feature")
    assert out.returncode == 0, out.stderr
    rejected = bead(mayor_repo, "h1")
    assert rejected.status == "open" and rejected.attempts[-1].outcome == "rejected"
    sling(mayor_repo)  # attempt 2, waits in review again
    assert bead(mayor_repo, "h1").status == "review"
    assert mayor(mayor_repo, "approve", "h1").returncode == 0
    assert sling(mayor_repo).returncode == 0
    assert "name the file after the feature" in (mayor_repo / "feedback-2.txt").read_text()


def test_approve_and_reject_refuse_beads_not_in_review(mayor_repo: Path, tmp_path: Path) -> None:
    _setup(mayor_repo, tmp_path)
    out = mayor(mayor_repo, "approve", "h1")
    assert out.returncode == 1 and "not waiting for approval" in out.stderr
    assert mayor(mayor_repo, "reject", "h1", "--reason", "x").returncode == 1
    assert mayor(mayor_repo, "reject", "h1").returncode == 2  # --reason is required: a usage error
    assert bead(mayor_repo, "h1").status == "open"
