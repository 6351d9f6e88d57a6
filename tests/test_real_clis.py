"""The REAL agent CLIs, end to end and offline: Claude Code (``claude -p``) against the fake
Messages API (tests/fake_anthropic.py), Codex (``codex exec``) against the fake Responses API
(tests/fake_openai.py), both on 127.0.0.1. What each test pins down is written up in
docs/agent-clis.md; the event shapes are compared with the recorded real output in
``../shared/fixtures/agent-streams/`` when it is there.

The CLIs come from ``.ci/install-clis`` (its cache folder, ``$MAYOR_CLI_CACHE`` or
``~/.cache/mayor-clis``) or from PATH. Without them the tests skip, saying how to install
them; under ``CI=true`` they fail instead, so CI never passes by skipping.

Each test works in its own temporary git repository, in a *linked worktree* that lies outside
any ``.git`` folder (as mayor's do), with a run folder beside it, and runs one CLI process
with the prompt on stdin. Retries are turned down to 0 so that failures take about a second.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED, git
from tests.fake_anthropic import FakeAnthropic, Step, cut, final, tool
from tests.fake_openai import FakeOpenAI, exec_command, failed, say
from tests.fake_openai import cut as cut_response
from tests.fake_openai import error as http_error

FIXTURES = SHARED / "fixtures" / "agent-streams"
TIMEOUT_S = 90.0
CLAUDE_QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # no DNS, no /api/hello, no telemetry or updates
    "CLAUDE_CODE_MAX_RETRIES": "0",  # the default, 10, makes a bad key take about 3 minutes
}
CLAUDE_ARGS = ["-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits"]
CODEX_MODEL = "gpt-fake-1"
USAGE = {"input_tokens": 11, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 2000, "output_tokens": 50}
TOKENS = tuple(USAGE)


# -- finding the CLIs -----------------------------------------------------------------------------


def cli_cache() -> Path:
    """``.ci/install-clis``'s cache; the real home's, not the test's (conftest replaces HOME)."""
    configured = os.environ.get("MAYOR_CLI_CACHE")
    return Path(configured) if configured else Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "mayor-clis"


def find_cli(name: str) -> str:
    installed = cli_cache() / "bin" / name
    found = str(installed) if os.access(installed, os.X_OK) else shutil.which(name)
    if found is None:
        reason = f"the real `{name}` CLI is not installed: run .ci/install-clis (or put `{name}` on PATH)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI=true this is a failure, not a skip")
        pytest.skip(reason)
    return found


@pytest.fixture
def claude() -> str:
    return find_cli("claude")


@pytest.fixture
def codex() -> str:
    return find_cli("codex")


# -- the work place: a linked worktree outside .git, and a run folder -----------------------------


@dataclass
class Place:
    repo: Path
    worktree: Path
    run: Path
    outside: Path
    """A folder that no agent may write to."""

    @property
    def gitdir(self) -> Path:
        """The worktree's own git folder, in the main repository's .git/worktrees/."""
        return Path(git(self.worktree, "rev-parse", "--path-format=absolute", "--git-dir"))

    @property
    def common_dir(self) -> Path:
        return Path(git(self.worktree, "rev-parse", "--path-format=absolute", "--git-common-dir"))

    def log(self) -> list[str]:
        return git(self.worktree, "log", "--format=%s").splitlines()


@pytest.fixture
def place(tmp_path: Path) -> Place:
    repo, worktree, run, outside = (tmp_path / name for name in ("repo", "slot-0", "run", "outside"))
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# test repo\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    git(repo, "worktree", "add", "-q", "-b", "mayor/slot-0", str(worktree))
    run.mkdir()
    outside.mkdir()
    assert (worktree / ".git").is_file() and ".git" not in worktree.parts
    return Place(repo, worktree, run, outside)


# -- running a CLI --------------------------------------------------------------------------------


@dataclass
class Ran:
    """One CLI process: exit code, its JSON lines, what else it printed, how long it took."""

    code: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str
    seconds: float

    def of(self, kind: str, subtype: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind and (subtype is None or e.get("subtype") == subtype)]

    @property
    def result(self) -> dict[str, Any]:
        results = self.of("result")
        assert len(results) == 1, f"expected one result event:\n{self.stdout}\n{self.stderr}"
        return results[0]

    def explain(self) -> str:
        return f"exit {self.code} after {self.seconds:.1f}s\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_cli(argv: list[str], cwd: Path, env: Mapping[str, str], prompt: str, record: Path) -> Ran:
    """Run ``argv`` with ``prompt`` on stdin; stdout is kept in ``record`` (to compare with the fixtures)."""
    started = time.monotonic()
    done = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **env}, input=prompt, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    seconds = time.monotonic() - started
    record.write_text(done.stdout)
    events = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return Ran(done.returncode, events, done.stdout, done.stderr, seconds)


def fixture_event(path: str, kind: str) -> dict[str, Any] | None:
    """The last event of type ``kind`` in a recorded fixture (None when ../shared is absent)."""
    file = FIXTURES / path
    if not file.is_file():
        return None
    found = [json.loads(line) for line in file.read_text().splitlines() if line.startswith("{")]
    return [e for e in found if e.get("type") == kind][-1]


def assert_shaped_like(event: Mapping[str, Any], path: str, *, ignore: Collection[str] = ()) -> None:
    """``event`` has every top-level field that the recorded real event of its type has."""
    recorded = fixture_event(path, str(event.get("type")))
    if recorded is not None:
        assert set(recorded) - set(event) - set(ignore) == set(), (
            f"fields the recording has and this run lacks ({path})"
        )


# -- Claude Code ----------------------------------------------------------------------------------


def claude_env(fake: FakeAnthropic, **more: str) -> dict[str, str]:
    return {**fake.env(), **CLAUDE_QUIET, **more}


def claude_argv(claude: str, place: Place, *extra: str) -> list[str]:
    """The unattended command line: edits auto-accepted inside the working folders (the worktree
    and the run folder), git allowed in Bash, everything else refused without a prompt."""
    return [claude, *CLAUDE_ARGS, "--allowedTools", "Bash(git:*)", "--add-dir", str(place.run), *extra]


def usage_step(*blocks: dict[str, Any], stop: str = "tool_use") -> Step:
    return Step(tuple(blocks), stop, usage=USAGE)


def test_claude_writes_and_commits_in_a_linked_worktree(claude: str, place: Place, tmp_path: Path) -> None:
    target, report = place.worktree / "mr-cc1.txt", place.run / "result.json"
    steps = [
        usage_step(
            *tool("Write", {"file_path": str(target), "content": "written by claude\n"}, text="Writing.").content
        ),
        usage_step(*tool("Bash", {"command": "git add -A && git commit -qm 'mr-cc1: add file'"}).content),
        usage_step(*tool("Write", {"file_path": str(report), "content": '{"summary": "ok"}\n'}).content),
        usage_step({"type": "text", "text": "Done: committed mr-cc1.txt."}, stop="end_turn"),
    ]
    with FakeAnthropic({"mr-cc1": steps}) as fake:
        ran = run_cli(
            claude_argv(claude, place, "--max-turns", "10"), place.worktree, claude_env(fake),
            "Work on bead mr-cc1.", tmp_path / "claude.jsonl",
        )  # fmt: skip
        calls = fake.calls_for("mr-cc1")
    assert ran.code == 0, ran.explain()
    assert target.read_text() == "written by claude\n" and report.exists()
    assert place.log() == ["mr-cc1: add file", "initial"]
    init, result = ran.of("system", "init")[0], ran.result
    assert init["permissionMode"] == "acceptEdits" and init["cwd"] == str(place.worktree)
    assert init["additional_directories"] == [str(place.run)]
    assert result["subtype"] == "success" and result["is_error"] is False and result["num_turns"] == 4
    assert result["result"] == "Done: committed mr-cc1.txt." and result["permission_denials"] == []
    assert {k: result["usage"][k] for k in TOKENS} == {k: 4 * v for k, v in USAGE.items()}  # the server's, summed
    assert isinstance(result["total_cost_usd"], float) and result["total_cost_usd"] > 0
    assert "Work on bead mr-cc1." in calls[0].first_user_text  # the prompt came on stdin
    assert all(c.streamed for c in calls) and [m["role"] for m in calls[0].body["messages"]] == ["user", "system"]
    assert all(e["message"]["usage"]["output_tokens"] == 1 for e in ran.of("assistant"))  # message_start's count
    assert_shaped_like(init, "claude/success.jsonl", ignore={"messaging_socket_path"})
    assert_shaped_like(result, "claude/success.jsonl")


def test_claude_refuses_writes_outside_its_folders(claude: str, place: Place, tmp_path: Path) -> None:
    """acceptEdits accepts edits in the worktree and ``--add-dir`` folders only; elsewhere the tool
    call is refused at once (no prompt in -p mode) and lands in ``result.permission_denials``."""
    outside = place.outside / "escape.txt"
    steps = [
        usage_step(*tool("Write", {"file_path": str(outside), "content": "no\n"}).content),
        usage_step(*tool("Bash", {"command": f"echo no > {place.outside / 'bash.txt'}"}).content),
        usage_step({"type": "text", "text": "Could not."}, stop="end_turn"),
    ]
    with FakeAnthropic({"mr-cc2": steps}) as fake:
        ran = run_cli(
            claude_argv(claude, place), place.worktree, claude_env(fake), "Bead mr-cc2.", tmp_path / "c.jsonl"
        )
        answered = fake.calls_for("mr-cc2")[-1].tool_results()
    assert ran.code == 0, ran.explain()
    assert not outside.exists() and not (place.outside / "bash.txt").exists()
    denials = ran.result["permission_denials"]
    assert [d["tool_name"] for d in denials] == ["Write", "Bash"]
    assert denials[0]["tool_input"] == {"file_path": str(outside), "content": "no\n"}
    seen = ran.of("system", "permission_denied")
    assert seen[0]["decision_reason_type"] == "workingDir" and seen[0]["decision_reason"] == (
        "Path is outside allowed working directories"
    )
    assert "outside the working directories" in seen[1]["message"]
    assert answered and answered[0]["is_error"] is True  # the model is told, as a tool_result error
    assert ran.result["subtype"] == "success" and ran.result["is_error"] is False


def test_claude_bad_key_fails_in_seconds_with_bounded_retries(claude: str, place: Place, tmp_path: Path) -> None:
    """A 401 is retried like any error (10 times by default: about 3 minutes, see the fixture
    bad_key_401.jsonl); ``CLAUDE_CODE_MAX_RETRIES`` bounds it."""
    with FakeAnthropic({"mr-cc3": [final("never")]}, keys=["sk-ant-the-right-key"]) as fake:
        env = claude_env(fake, CLAUDE_CODE_MAX_RETRIES="1")
        ran = run_cli(claude_argv(claude, place), place.worktree, env, "Bead mr-cc3.", tmp_path / "c.jsonl")
        statuses = [c.status for c in fake.calls]
    assert ran.code == 1, ran.explain()
    assert statuses == [401, 401] and ran.seconds < 20
    (retry,) = ran.of("system", "api_retry")
    assert {k: retry[k] for k in ("attempt", "max_retries", "error_status", "error")} == {
        "attempt": 1, "max_retries": 1, "error_status": 401, "error": "authentication_failed",
    }  # fmt: skip
    result = ran.result
    assert result["subtype"] == "success" and result["is_error"] is True  # an API error is a "success" subtype
    assert result["api_error_status"] == 401 and result["terminal_reason"] == "api_error"
    assert result["result"] == "Invalid API key · Fix external API key"
    synthetic = ran.of("assistant")[-1]
    assert synthetic["message"]["model"] == "<synthetic>" and synthetic["error"] == "authentication_failed"
    assert_shaped_like(result, "claude/bad_key_401.jsonl")


def test_claude_max_turns(claude: str, place: Place, tmp_path: Path) -> None:
    forever = usage_step(*tool("Bash", {"command": "git status --short"}).content)
    with FakeAnthropic({"mr-cc4": lambda call: forever}) as fake:
        argv = claude_argv(claude, place, "--max-turns", "2")  # not in --help any more, still accepted
        ran = run_cli(argv, place.worktree, claude_env(fake), "Bead mr-cc4.", tmp_path / "c.jsonl")
        served = len(fake.calls)
    assert ran.code == 1, ran.explain()
    result = ran.result
    assert result["subtype"] == "error_max_turns" and result["is_error"] is True
    assert result["errors"] == ["Reached maximum number of turns (2)"] and result["terminal_reason"] == "max_turns"
    assert served == 2 and result["num_turns"] == 3  # num_turns counts the turn it refused to start
    assert {k: result["usage"][k] for k in TOKENS} == {k: 2 * v for k, v in USAGE.items()}
    assert_shaped_like(result, "claude/error_max_turns.jsonl")


def test_claude_cut_stream_falls_back_to_an_unstreamed_request(claude: str, place: Place, tmp_path: Path) -> None:
    """A stream dropped mid-answer is tried again *without* streaming, even with retries at 0."""
    answer = usage_step({"type": "text", "text": "Recovered."}, stop="end_turn")
    with FakeAnthropic({"mr-cc5": [cut(answer, after=4), answer]}) as fake:
        ran = run_cli(
            claude_argv(claude, place), place.worktree, claude_env(fake), "Bead mr-cc5.", tmp_path / "c.jsonl"
        )
        calls = fake.calls_for("mr-cc5")
    seen = [(c.streamed, c.cut, c.status) for c in calls]
    assert ran.code == 0, f"{seen}\n{ran.explain()}"
    assert seen == [(True, True, 200), (False, False, 200)], ran.explain()
    assert ran.result["result"] == "Recovered."
    # The cut stream's message_start usage (its input tokens and output_tokens 1) counts or not,
    # depending on timing: seen both ways, the second under load.
    with_cut = {k: 2 * v for k, v in USAGE.items()} | {"output_tokens": USAGE["output_tokens"] + 1}
    assert {k: ran.result["usage"][k] for k in TOKENS} in (USAGE, with_cut)


def test_claude_cut_streams_end_in_an_api_error(claude: str, place: Place, tmp_path: Path) -> None:
    dropped = cut(usage_step({"type": "text", "text": "never whole"}, stop="end_turn"), after=4)
    with FakeAnthropic({"mr-cc6": lambda call: dropped}) as fake:
        ran = run_cli(
            claude_argv(claude, place), place.worktree, claude_env(fake), "Bead mr-cc6.", tmp_path / "c.jsonl"
        )
        calls = fake.calls_for("mr-cc6")
    assert ran.code == 1, ran.explain()
    assert [c.streamed for c in calls] == [True, False]
    result = ran.result
    assert result["is_error"] is True and result["terminal_reason"] == "api_error"
    assert result["api_error_status"] is None and "Connection dropped" in result["result"]
    assert {k: result["usage"][k] for k in TOKENS} == dict.fromkeys(TOKENS, 0)  # the cut stream's usage is dropped


def test_claude_bypass_permissions_as_root_needs_is_sandbox(claude: str, place: Place, tmp_path: Path) -> None:
    """``--dangerously-skip-permissions`` (and ``--permission-mode bypassPermissions``) exit at
    once under root unless ``IS_SANDBOX=1``; as another user they work without it."""
    target = place.worktree / "mr-cc7.txt"
    steps = [
        usage_step(*tool("Write", {"file_path": str(target), "content": "x\n"}).content),
        usage_step({"type": "text", "text": "Done."}, stop="end_turn"),
    ]
    argv = [claude, "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"]
    with FakeAnthropic({"mr-cc7": steps}) as fake:
        plain = run_cli(argv, place.worktree, claude_env(fake), "Bead mr-cc7.", tmp_path / "plain.jsonl")
        sandboxed = run_cli(
            argv, place.worktree, claude_env(fake, IS_SANDBOX="1"), "Bead mr-cc7.", tmp_path / "s.jsonl"
        )
    if os.geteuid() == 0:
        assert plain.code == 1 and plain.events == [], plain.explain()
        assert "--dangerously-skip-permissions cannot be used with root/sudo privileges" in plain.stderr
    else:
        assert plain.code == 0, plain.explain()
    assert sandboxed.code == 0, sandboxed.explain()
    assert sandboxed.of("system", "init")[0]["permissionMode"] == "bypassPermissions" and target.exists()


# -- Codex ----------------------------------------------------------------------------------------


def codex_argv(codex: str, fake: FakeOpenAI, place: Place, *extra: str, roots: list[Path] | None = None) -> list[str]:
    """The unattended command line: a provider at the fake server, no retries, nothing fetched
    (plugins), the workspace-write sandbox with the worktree's git folders and the run folder
    writable and /tmp not (so the tests' temporary folders are not all writable), prompt on stdin."""
    provider = (
        f'{{name="fake", base_url="{fake.url}", env_key="FAKE_OPENAI_KEY", wire_api="responses", '
        "request_max_retries=0, stream_max_retries=0}"
    )
    writable = [place.common_dir, place.gitdir, place.run] if roots is None else roots
    config = {
        "model_provider": '"fake"',
        "model_providers.fake": provider,
        "analytics.enabled": "false",
        "check_for_update_on_startup": "false",
        "sandbox_workspace_write.writable_roots": json.dumps([str(p) for p in writable]),
        "sandbox_workspace_write.exclude_slash_tmp": "true",
        "sandbox_workspace_write.exclude_tmpdir_env_var": "true",
    }
    overrides = [word for key, value in config.items() for word in ("-c", f"{key}={value}")]
    return [
        codex, "exec", "--json", "--strict-config", "--disable", "plugins", "--sandbox", "workspace-write",
        "-m", CODEX_MODEL, *overrides, *extra, "-",
    ]  # fmt: skip


def codex_env(fake: FakeOpenAI, place: Place, key: str | None = None) -> dict[str, str]:
    return {**fake.env(*([key] if key else [])), "CODEX_HOME": str(place.run.parent / "codex-home")}


@pytest.fixture
def codex_home(place: Place) -> Path:
    home = place.run.parent / "codex-home"
    home.mkdir()
    return home


def response_usage(**counts: int) -> dict[str, int]:
    return {"input_tokens": 1000, "cached_tokens": 800, "output_tokens": 50, "reasoning_tokens": 10, **counts}


def test_codex_writes_and_commits_in_a_linked_worktree(codex: str, place: Place, codex_home: Path) -> None:
    commit = "printf 'written by codex\\n' > mr-cx1.txt && git add -A && git commit -qm 'mr-cx1: add file'"
    steps = [
        exec_command(commit, usage=response_usage(cache_write_tokens=5)),
        exec_command(f"printf '{{}}\\n' > {place.run}/result.json", usage=response_usage()),
        exec_command(f"echo escape > {place.outside}/escape.txt", usage=response_usage()),
        say("Done: committed mr-cx1.txt.", usage=response_usage()),
    ]
    with FakeOpenAI({"mr-cx1": steps}) as fake:
        ran = run_cli(
            codex_argv(codex, fake, place), place.worktree, codex_env(fake, place), "Work on bead mr-cx1.",
            place.run.parent / "codex.jsonl",
        )  # fmt: skip
        calls = fake.calls_for("mr-cx1")
    outputs = "\n".join(o["output"] for c in calls for o in c.outputs())
    assert ran.code == 0, ran.explain()
    assert (place.worktree / "mr-cx1.txt").read_text() == "written by codex\n", outputs
    assert place.log() == ["mr-cx1: add file", "initial"], f"the sandbox kept git out?\n{outputs}"
    assert (place.run / "result.json").exists(), outputs
    assert not (place.outside / "escape.txt").exists()
    assert "Read-only file system" in calls[3].outputs()[-1]["output"]  # the sandbox refused it
    assert "Work on bead mr-cx1." in calls[0].user_texts()  # the prompt came on stdin
    (done,) = ran.of("turn.completed")
    assert done["usage"] == {  # the turn's sums of what the server sent
        "input_tokens": 4000,
        "cached_input_tokens": 3200,
        "cache_write_input_tokens": 5,
        "output_tokens": 200,
        "reasoning_output_tokens": 40,
    }
    assert [e["type"] for e in ran.events[:3]] == ["thread.started", "item.completed", "turn.started"]
    warning = ran.events[1]["item"]
    assert warning["type"] == "error" and "Model metadata for `gpt-fake-1` not found" in warning["message"]
    commands = [e["item"] for e in ran.of("item.completed") if e["item"]["type"] == "command_execution"]
    assert commands[0]["exit_code"] == 0 and commands[0]["status"] == "completed"
    assert " -lc " in commands[0]["command"]  # the login shell of the user: /bin/bash -lc "..." for root
    assert ran.of("item.completed")[-1]["item"] == {"id": "item_" + str(len(ran.of("item.completed")) - 1),
                                                    "type": "agent_message", "text": "Done: committed mr-cx1.txt."}  # fmt: skip
    assert_shaped_like(done, "codex/success_with_command.jsonl")


def test_codex_sandbox_keeps_a_linked_worktrees_gitdir_read_only(codex: str, place: Place, codex_home: Path) -> None:
    """workspace-write protects the gitdir a worktree's ``.git`` file points to, even when the
    common dir is a writable root: both must be listed (the test above)."""
    commit = "printf 'x\\n' > mr-cx3.txt && git add -A && git commit -qm 'mr-cx3'"
    with FakeOpenAI({"mr-cx3": [exec_command(commit), say("Could not commit.")]}) as fake:
        argv = codex_argv(codex, fake, place, roots=[place.common_dir, place.run])
        ran = run_cli(argv, place.worktree, codex_env(fake, place), "Bead mr-cx3.", place.run / "codex.jsonl")
        output = fake.calls_for("mr-cx3")[-1].outputs()[0]["output"]
    assert ran.code == 0, ran.explain()
    assert (place.worktree / "mr-cx3.txt").exists() and place.log() == ["initial"]
    assert f"Unable to create '{place.gitdir}/index.lock': Read-only file system" in output


@pytest.mark.parametrize(
    ("step", "key", "message"),
    [
        (http_error(400, "fake: invalid request"), None, '"message": "fake: invalid request"'),
        (say("never"), "bad-key", "unexpected status 401 Unauthorized: Incorrect API key provided: bad-key."),
        (http_error(500), None, "We’re currently experiencing high demand, which may cause temporary errors."),
        (failed("fake: the model failed"), None, "stream disconnected before completion: fake: the model failed"),
        (cut_response(say("a long answer " * 5), after=4), None, "stream disconnected before completion: "),
    ],
    ids=["400", "401", "500", "response.failed", "cut"],
)
def test_codex_failures_end_the_turn(
    codex: str, place: Place, codex_home: Path, step: Any, key: str | None, message: str
) -> None:
    """With ``request_max_retries=0, stream_max_retries=0`` every failure is one request and about
    a second (by default: ``Reconnecting... n/5`` error events, 8 to 30 seconds)."""
    with FakeOpenAI({"mr-cx2": [step] * 3}) as fake:
        env = codex_env(fake, place, key)
        ran = run_cli(codex_argv(codex, fake, place), place.worktree, env, "Bead mr-cx2.", place.run / "codex.jsonl")
        requests = len(fake.calls)
    assert ran.code == 1, ran.explain()
    assert requests == 1 and ran.seconds < 20
    assert [e["type"] for e in ran.events[-2:]] == ["error", "turn.failed"]
    error, turn_failed = ran.events[-2:]
    assert message in error["message"] and turn_failed["error"]["message"] == error["message"]
    assert not ran.of("turn.completed")
    assert_shaped_like(turn_failed, "codex/error_500.jsonl")
