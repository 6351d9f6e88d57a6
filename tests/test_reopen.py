"""``mayor reopen ID... [--failed] [--fresh]``: a new attempt budget, and with --fresh a new branch."""

from __future__ import annotations

from pathlib import Path

from beads.models import Attempt, Bead
from supervisor.repo import open_repo
from supervisor.run.beadstate import begin_attempt, counted_attempts, end_attempt, modify
from tests.conftest import git
from tests.test_cli import add, fails, invoke, ok, shown


def spent(bead_id: str, attempts: int = 3, status: str = "failed") -> None:
    """What the supervisor leaves after ``attempts`` failed attempts."""

    def change(bead: Bead) -> None:
        for n in range(1, attempts + 1):
            bead.attempts.append(Attempt(n=n, outcome="conflict", error="conflict in x.py"))
        bead.status, bead.error = status, "conflict in x.py"

    modify(open_repo().store, bead_id, change)


def test_a_reopened_bead_gets_its_whole_attempt_budget_again(mayor_repo: Path) -> None:
    bead_id = add("Thrice failed")
    spent(bead_id)
    result = ok("reopen", bead_id)
    assert f"reopened {bead_id} (was failed): 3 attempt(s) again" in result.stderr
    data = shown(bead_id)
    assert (data["status"], data["error"], data["attempts_base"], len(data["attempts"])) == ("open", None, 3, 3)
    bead = open_repo().store.get(bead_id)
    assert counted_attempts(bead) == 0
    for n in (1, 2):  # a conflict on the first attempt after the reopen no longer fails it outright
        begin_attempt(bead, "w")
        end_attempt(bead, "conflict", "conflict again", max_attempts=3)
        assert bead.status == "open", n
    begin_attempt(bead, "w")
    assert bead.attempts[-1].n == 6  # the history is kept and numbered on
    end_attempt(bead, "conflict", "conflict again", max_attempts=3)
    assert bead.status == "failed"


def test_reopen_several_and_every_failed_one(mayor_repo: Path) -> None:
    a, b, c, d = add("A"), add("B"), add("C"), add("D")
    for bead_id in (a, b, c):
        spent(bead_id, 1)
    ok("cancel", d)
    result = ok("reopen", a, d)
    assert f"reopened {a}" in result.stderr and f"reopened {d} (was cancelled)" in result.stderr
    assert [shown(x)["status"] for x in (a, b, c, d)] == ["open", "failed", "failed", "open"]
    result = ok("reopen", "--failed", a)
    assert f"{a} is already open" in result.stderr
    assert [shown(x)["status"] for x in (b, c)] == ["open", "open"]
    assert "no failed bead to reopen" in ok("reopen", "--failed").stderr


def test_reopen_refuses_all_when_one_is_busy_or_unknown(mayor_repo: Path) -> None:
    a, b = add("A"), add("B")
    spent(a, 1)
    spent(b, 1, status="running")
    assert f"{b} is running" in fails("reopen", a, b)
    assert "mr-zzzz" in fails("reopen", a, "mr-zzzz")
    assert shown(a)["status"] == "failed"


def test_reopen_without_ids_is_a_usage_error(mayor_repo: Path) -> None:
    result = invoke("reopen")
    assert result.exit_code == 2 and "--failed" in result.stderr


def test_an_open_bead_with_attempts_gets_a_new_budget(mayor_repo: Path) -> None:
    bead_id = add("Retrying")
    spent(bead_id, 2, status="open")
    assert f"reopened {bead_id} (was open)" in ok("reopen", bead_id).stderr
    assert shown(bead_id)["attempts_base"] == 2
    assert "already open" in ok("reopen", bead_id).stderr


def test_reopen_fresh_starts_the_branch_again_at_the_target_and_keeps_the_old_one(mayor_repo: Path) -> None:
    bead_id = add("Four copies")
    spent(bead_id)
    branch = f"mayor/{bead_id}"
    git(mayor_repo, "branch", branch, "main")
    git(mayor_repo, "switch", "-q", branch)
    (mayor_repo / "f.py").write_text("def f(): ...\n" * 4)
    git(mayor_repo, "add", "f.py")
    git(mayor_repo, "commit", "-q", "-m", "old work")
    old = git(mayor_repo, "rev-parse", branch)
    assert "checked out" in fails("reopen", "--fresh", bead_id)
    assert shown(bead_id)["status"] == "failed"
    git(mayor_repo, "switch", "-q", "main")
    (mayor_repo / "g.txt").write_text("the target moved on\n")
    git(mayor_repo, "add", "g.txt")
    git(mayor_repo, "commit", "-q", "-m", "target moves")

    result = ok("reopen", "--fresh", bead_id)

    assert git(mayor_repo, "rev-parse", branch) == git(mayor_repo, "rev-parse", "main")
    [backup] = git(mayor_repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/mayor-backup/").split()
    assert backup.startswith(f"mayor-backup/{bead_id}/") and git(mayor_repo, "rev-parse", backup) == old
    assert f"the old one is kept as {backup}" in result.stderr
    assert shown(bead_id)["status"] == "open"


def test_reopen_fresh_of_a_bead_with_no_branch(mayor_repo: Path) -> None:
    bead_id = add("Never started")
    ok("cancel", bead_id)
    result = ok("reopen", "--fresh", bead_id)
    assert "kept as" not in result.stderr and shown(bead_id)["status"] == "open"
