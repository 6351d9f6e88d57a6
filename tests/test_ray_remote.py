"""The node side of a remote attempt, without Ray: the git-only contract end to end on real git.

The supervisor's repository and the node's work folder are separate folders; only bytes (the
spec, the bundles) pass between them, as they would through Ray's object store.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from beads.models import Bead, Criterion
from supervisor.run import remote
from supervisor.run.remote import RemoteSpec

BEAD_ID = "mr-ab12"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_spec(repo: Path, command: str, bead_id: str = BEAD_ID, attempt: int = 1, **kw: Any) -> RemoteSpec:
    """A spec as the supervisor would send it for ``repo``'s main."""
    checks = kw.pop("checks", [])
    bead = Bead(id=bead_id, title="write a file", acceptance=[Criterion(text=c, check=c) for c in checks])
    fields: dict[str, Any] = {
        "repo_id": remote.repo_id(repo),
        "bead_json": bead.to_json(),
        "attempt": attempt,
        "base": git(repo, "rev-parse", "main"),
        "branch": f"mayor/{bead_id}",
        "target": "main",
        "prompt": "do it",
        "feedback": "",
        "command": command,
        "env": {"MAYOR_BEAD_ID": bead_id, "MAYOR_ATTEMPT": str(attempt), "MAYOR_RUN_DIR": "/nowhere"},
        "timeout": 60.0,
        "idle_timeout": 30.0,
    }
    fields.update(kw)
    return RemoteSpec(**fields)


WRITE_AND_COMMIT = 'echo "$MAYOR_NODE" > node.txt && git add node.txt && git commit -qm "node work"'


class Events(list[tuple[str, dict[str, Any]]]):
    def __call__(self, type: str, data: dict[str, Any]) -> None:
        self.append((type, data))

    @property
    def types(self) -> list[str]:
        return [t for t, _ in self]


def test_a_node_attempt_comes_back_as_a_branch_the_supervisor_fetches(git_repo: Path, tmp_path: Path) -> None:
    spec = make_spec(git_repo, WRITE_AND_COMMIT, checks=["test -f node.txt"])
    events = Events()
    result = remote.run_remote_attempt(spec, remote.ship(git_repo, spec.base, spec.branch), tmp_path / "node", events)
    assert (result.error, result.code, result.reason) == ("", 0, "exited")
    assert [c.code for c in result.checks] == [0]
    assert events.types == ["agent_started", "agent_exited", "check_passed"]
    assert git(git_repo, "for-each-ref", "refs/mayor/") == ""  # the temporary ship ref is gone
    remote.receive(git_repo, result, spec.branch)
    assert git(git_repo, "rev-parse", spec.branch) == result.head
    assert git(git_repo, "show", f"{spec.branch}:node.txt") == "local"
    assert git(git_repo, "log", "--format=%s", "-1", spec.branch) == "node work"
    assert json.loads(result.files["agent.json"])["node"] == "local"
    worktree = tmp_path / "node" / spec.repo_id / "worktrees" / "slot-0"
    assert git(worktree, "status", "--porcelain") == "" and git_repo not in worktree.parents


def test_a_retry_starts_from_its_branch_and_reuses_the_node_worktree(git_repo: Path, tmp_path: Path) -> None:
    node = tmp_path / "node"
    first = make_spec(git_repo, WRITE_AND_COMMIT)
    remote.receive(
        git_repo,
        remote.run_remote_attempt(first, remote.ship(git_repo, first.base, first.branch), node, Events()),
        first.branch,
    )
    second = make_spec(git_repo, "echo more >> node.txt", attempt=2)  # leftovers: committed on the node
    events = Events()
    result = remote.run_remote_attempt(second, remote.ship(git_repo, second.base, second.branch), node, events)
    assert result.leftovers and "committed_leftovers" in events.types
    remote.receive(git_repo, result, second.branch)
    assert git(git_repo, "log", "--format=%s", f"main..{second.branch}").splitlines() == [
        f"mayor: leftover changes of {BEAD_ID} (attempt 2)",
        "node work",
    ]
    assert sorted(p.name for p in (node / first.repo_id / "worktrees").iterdir() if p.is_dir()) == ["slot-0"]


def test_a_failing_agent_runs_no_check_and_says_how_it_ended(git_repo: Path, tmp_path: Path) -> None:
    spec = make_spec(git_repo, "echo broken; (exit 3)", checks=["true"])
    result = remote.run_remote_attempt(spec, remote.ship(git_repo, spec.base, spec.branch), tmp_path / "node", Events())
    assert (result.code, result.reason, result.checks, result.bundle) == (3, "exited", [], b"")
    assert result.head == spec.base and "broken" in result.log_tail
    assert result.files["exit_status"].strip() == b"3"


def test_a_stopped_agent_is_killed_and_its_events_are_forwarded_in_order(git_repo: Path, tmp_path: Path) -> None:
    emit = 'printf \'%s\\n\' \'{"type":"step","data":{"n":1}}\' \'{"type":"step","data":{"n":2}}\' >> "$MAYOR_ROOT/.mayor/events.jsonl"'
    spec = make_spec(git_repo, f"{emit}; touch $MAYOR_RUN_DIR/ready; sleep 60")
    events = Events()

    def stop() -> str | None:
        return "cancelled" if (tmp_path / "node" / spec.repo_id / "runs" / BEAD_ID / "1" / "ready").exists() else None

    result = remote.run_remote_attempt(
        spec, remote.ship(git_repo, spec.base, spec.branch), tmp_path / "node", events, stop=stop
    )  # type: ignore[arg-type]
    assert (result.code, result.reason) == (None, "cancelled")
    assert events == [
        events[0],
        ("step", {"n": 1}),
        ("step", {"n": 2}),
        ("agent_exited", {"code": None, "reason": "cancelled"}),
    ]


def test_a_bundle_that_is_no_bundle_is_an_error_not_a_crash(git_repo: Path, tmp_path: Path) -> None:
    spec = make_spec(git_repo, "true")
    result = remote.run_remote_attempt(spec, b"not a bundle", tmp_path / "node", Events())
    assert result.error and "bundle" in result.error


@pytest.mark.parametrize("held", [1, 2])
def test_concurrent_attempts_on_one_node_take_separate_worktrees(git_repo: Path, tmp_path: Path, held: int) -> None:
    import contextlib

    node = tmp_path / "node"
    spec = make_spec(git_repo, "pwd > where.txt")
    with contextlib.ExitStack() as stack:
        for slot in range(held):  # as if other attempts were running there
            stack.enter_context(remote._locked(node / spec.repo_id / "worktrees" / f"slot-{slot}.lock"))
        result = remote.run_remote_attempt(spec, remote.ship(git_repo, spec.base, spec.branch), node, Events())
    remote.receive(git_repo, result, spec.branch)
    assert git(git_repo, "show", f"{spec.branch}:where.txt").endswith(f"slot-{held}")


def test_the_attempts_on_a_node_share_its_rate_limiter(git_repo: Path, tmp_path: Path) -> None:
    node, seen = tmp_path / "node", tmp_path / "limiters"
    for bead_id in ("mr-l1", "mr-l2"):
        spec = make_spec(git_repo, f'echo "$MAYOR_LIMITER_DIR" >> {seen}', bead_id=bead_id)
        remote.run_remote_attempt(spec, remote.ship(git_repo, spec.base, spec.branch), node, Events())
    assert seen.read_text().splitlines() == [str(node / spec.repo_id / "limiter")] * 2


def test_the_spec_comes_from_the_run_folder_and_the_files_go_back_into_it(git_repo: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / BEAD_ID / "2"
    run_dir.mkdir(parents=True)
    bead = Bead(id=BEAD_ID, title="t", acceptance=[Criterion(text="a file", check="test -f node.txt")])
    (run_dir / "bead.json").write_text(bead.to_json())
    (run_dir / "prompt.md").write_text("the prompt")
    (run_dir / "feedback.md").write_text("the feedback")
    (run_dir / "base").write_text(git(git_repo, "rev-parse", "main") + "\n")
    (tmp_path / "context.md").write_text("# Repository context\nthe context\n")  # as mayor writes it
    env = {"MAYOR_CONTEXT_FILE": str(tmp_path / "context.md"), "MAYOR_BEAD_ID": BEAD_ID}
    spec = remote.spec_from_run_dir(git_repo, run_dir, WRITE_AND_COMMIT, env, "main", 60.0, 30.0)
    assert (spec.attempt, spec.branch, spec.prompt, spec.feedback, spec.context) == (
        2,
        f"mayor/{BEAD_ID}",
        "the prompt",
        "the feedback",
        "# Repository context\nthe context\n",
    )
    result = remote.run_remote_attempt(spec, remote.ship(git_repo, spec.base, spec.branch), tmp_path / "node", Events())
    assert [c.passed for c in result.checks] == [True]
    result.files["../escape"] = b"no"
    remote.write_back(run_dir, result)
    assert (run_dir / "agent.json").exists() and (run_dir / "checks.log").read_text().startswith("$ test -f node.txt")
    assert not (tmp_path / "runs" / BEAD_ID / "escape").exists()


def test_the_node_enforces_the_agents_timeouts(git_repo: Path, tmp_path: Path) -> None:
    spec = make_spec(git_repo, "sleep 30", timeout=1.0, idle_timeout=30.0)
    result = remote.run_remote_attempt(spec, remote.ship(git_repo, spec.base, spec.branch), tmp_path / "node", Events())
    assert (result.code, result.reason, result.checks) == (None, "timeout", [])
    assert result.timings["agent_s"] < 10


def test_a_retry_after_a_conflict_finds_the_target_merged_in_with_markers(git_repo: Path, tmp_path: Path) -> None:
    git(git_repo, "switch", "-q", "-c", f"mayor/{BEAD_ID}")
    (git_repo / "README.md").write_text("# the bead's title\n")
    git(git_repo, "commit", "-qam", "bead's change")
    git(git_repo, "switch", "-q", "main")
    (git_repo / "README.md").write_text("# the target's title\n")
    git(git_repo, "commit", "-qam", "target's change")
    solve = "grep -q '^<<<<<<<' README.md && echo '# both titles' > README.md && git commit -qam resolved"
    spec = make_spec(git_repo, solve, attempt=2, merge_target=True)
    result = remote.run_remote_attempt(spec, remote.ship(git_repo, spec.base, spec.branch), tmp_path / "node", Events())
    assert (result.error, result.code, result.markers) == ("", 0, [])  # the agent saw the markers and resolved them
    remote.receive(git_repo, result, spec.branch)
    assert git(git_repo, "merge-base", "--is-ancestor", "main", spec.branch) == ""  # the target is merged in
    assert git(git_repo, "show", f"{spec.branch}:README.md") == "# both titles"
