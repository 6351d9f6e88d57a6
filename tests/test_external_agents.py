"""The Claude Code and Codex adapters: their command lines, and their reports read from what the
real CLIs printed (``tests/fakes/streams/``, copies of ``../shared/fixtures/agent-streams/``).

Command lines run for real through the agent-process contract (bash, the run folder, the log)
with a fake CLI (``tests/fakes/replay.py``) that records the argv and stdin it got and replays a
recorded stream. tests/test_agents_real_sling.py drives the real CLIs under ``mayor sling``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from beads.models import Bead, Usage
from supervisor.agents import LaunchContext, Report, adapter_for, check_runnable
from supervisor.agents.external import NO_RESULT, NO_TURN, ClaudeCodeAdapter, CodexAdapter
from supervisor.config import AgentConfig
from supervisor.errors import MayorError
from supervisor.run.agentproc import AgentProcess
from tests.conftest import git

FAKES = Path(__file__).parent / "fakes"
STREAMS = FAKES / "streams"
PROMPT = 'Fix the "parser"; don\'t touch $HOME or `rm -rf`.\nSecond line: 100% * ? [x] \\n\n\n'
"""Quotes, expansions, globs and newlines: the shell must hand all of it over unchanged."""


def install(bin_dir: Path, name: str) -> Path:
    """The fake CLI as an executable named ``name`` in ``bin_dir``, run by this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n" + (FAKES / "replay.py").read_text())
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``claude`` and ``codex`` fakes first on PATH."""
    bin_dir = tmp_path / "bin"
    install(bin_dir, "claude")
    install(bin_dir, "codex")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_STREAMS", str(STREAMS))
    return bin_dir


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """A linked worktree outside the repository's .git, as mayor's pool makes them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    git(repo, "worktree", "add", "-q", "-b", "mayor/b1", str(tmp_path / "slot-0"))
    return tmp_path / "slot-0"


def context(
    tmp_path: Path,
    kind: str,
    *,
    model: str | None = None,
    args: list[str] | None = None,
    command: str | None = None,
    max_steps: int | None = None,
    worktree: Path | None = None,
) -> LaunchContext:
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "prompt.md").write_text(PROMPT)
    config = AgentConfig(kind=kind, command=command, model=model, args=args or [])
    if worktree is None:
        worktree = tmp_path / "wt"
        worktree.mkdir(exist_ok=True)
    return LaunchContext(Bead(id="b1", title="t"), kind, config, run_dir, worktree, model, max_steps)


def run(ctx: LaunchContext, stream: str = "success.jsonl") -> int | None:
    """Launch ``ctx``'s agent as the supervisor does and wait for it; its exit status."""
    launch = adapter_for(ctx.config.kind).launch(ctx)
    env = {"MAYOR_PROMPT_FILE": str(ctx.run_dir / "prompt.md"), "FAKE_STREAM": stream, **launch.env}
    agent = AgentProcess.start(launch.command, ctx.worktree, ctx.run_dir, env)
    return agent.wait(60.0, 60.0, lambda: None, lambda: None).code


def argv(ctx: LaunchContext) -> list[str]:
    return json.loads((ctx.run_dir / "argv.json").read_text())


def stdin(ctx: LaunchContext) -> str:
    return (ctx.run_dir / "stdin.txt").read_text()


def report_of(kind: str, stream: str | list[str], tmp_path: Path, model: str | None = None) -> Report:
    """The adapter's report of a log holding a recorded stream (or these lines)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    name = "claude" if kind == "claude-code" else "codex"
    text = (STREAMS / name / stream).read_text() if isinstance(stream, str) else "\n".join(stream) + "\n"
    (run_dir / "agent.log").write_text(text)
    return adapter_for(kind).report(run_dir, model)


def events_of(name: str, stream: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (STREAMS / name / stream).read_text().splitlines() if line.startswith("{")]


# -- the command lines ---------------------------------------------------------------------------


def test_adapter_for_gives_the_external_adapters() -> None:
    assert isinstance(adapter_for("claude-code"), ClaudeCodeAdapter)
    assert isinstance(adapter_for("codex"), CodexAdapter)


def test_claude_command_line_confines_edits_allows_git_and_reads_the_prompt_on_stdin(
    fake_bin: Path, tmp_path: Path
) -> None:
    args = ["--allowedTools", "Bash(pytest:*)", "--add-dir", "a b"]
    ctx = context(tmp_path, "claude-code", model="claude-sonnet-4-5", args=args, max_steps=7)

    assert run(ctx) == 0

    assert argv(ctx) == [
        "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits",
        "--allowedTools", "Bash(git:*)", "--add-dir", str(ctx.run_dir),
        "--max-turns", "7", "--model", "claude-sonnet-4-5", *args,
    ]  # fmt: skip
    assert stdin(ctx) == PROMPT


def test_claude_environment_bounds_retries_and_quiets_the_cli_unless_the_user_set_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = context(tmp_path, "claude-code")
    monkeypatch.delenv("CLAUDE_CODE_MAX_RETRIES", raising=False)
    monkeypatch.delenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", raising=False)
    assert ClaudeCodeAdapter().launch(ctx).env == {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "2",
    }
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "5")
    assert ClaudeCodeAdapter().launch(ctx).env == {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


def test_claude_command_override_and_a_prompt_past_the_argument_limit(tmp_path: Path) -> None:
    exe = install(tmp_path / "tools dir", "claude")  # not on PATH, and a space in its path
    ctx = context(tmp_path, "claude-code", command=shlex.quote(str(exe)))
    big = "x" * 200_000 + "\n"  # an argument is capped at 128 KiB ("Argument list too long")
    (ctx.run_dir / "prompt.md").write_text(big)
    os.environ["FAKE_STREAMS"] = str(STREAMS)
    try:
        assert run(ctx) == 0
    finally:
        del os.environ["FAKE_STREAMS"]
    assert argv(ctx)[-2:] == ["--add-dir", str(ctx.run_dir)] and stdin(ctx) == big


def test_codex_command_line_sandboxes_with_the_git_folders_and_run_folder_writable(
    fake_bin: Path, tmp_path: Path, worktree: Path
) -> None:
    args = ["--skip-git-repo-check", "-c", "model_reasoning_effort=high"]
    ctx = context(tmp_path, "codex", model="gpt-5-codex", args=args, worktree=worktree)

    assert run(ctx, "success_with_command.jsonl") == 0

    common = str(tmp_path / "repo" / ".git")
    roots = [common, f"{common}/worktrees/slot-0", str(ctx.run_dir)]
    assert argv(ctx) == [
        "exec", "--json", "-c", "analytics.enabled=false", "-c", "check_for_update_on_startup=false",
        "--sandbox", "workspace-write", "-c", f"sandbox_workspace_write.writable_roots={json.dumps(roots)}",
        "--model", "gpt-5-codex", *args, "-",
    ]  # fmt: skip
    assert stdin(ctx) == PROMPT


def test_codex_sandbox_chosen_by_the_user_replaces_mayors(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "codex", args=["--dangerously-bypass-approvals-and-sandbox"])

    assert run(ctx, "success_text_only.jsonl") == 0

    assert "--sandbox" not in argv(ctx) and argv(ctx)[-2:] == ["--dangerously-bypass-approvals-and-sandbox", "-"]


def test_codex_sandbox_named_in_args_still_gets_the_writable_roots(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "codex", args=["--sandbox", "workspace-write"])

    assert run(ctx, "success_text_only.jsonl") == 0

    assert argv(ctx).count("--sandbox") == 1 and argv(ctx)[-3:] == ["--sandbox", "workspace-write", "-"]
    roots = f"sandbox_workspace_write.writable_roots={json.dumps([str(ctx.run_dir)])}"  # not a git worktree here
    assert roots in argv(ctx)


def test_codex_full_auto_is_refused_at_start_with_the_way_out(fake_bin: Path) -> None:
    with pytest.raises(MayorError, match="--full-auto, which codex no longer has"):
        check_runnable("cx", AgentConfig(kind="codex", args=["--full-auto"]))


# -- Claude Code reports -------------------------------------------------------------------------


def test_claude_success_takes_usage_cost_turns_and_text_from_the_result_event(tmp_path: Path) -> None:
    report = report_of("claude-code", "success.jsonl", tmp_path)

    assert report.error is None and report.problems == []
    assert report.usage == Usage(
        input_tokens=22,
        output_tokens=100,
        cache_read_input_tokens=4000,
        cache_creation_input_tokens=2000,
        cost_usd=0.012888,
    )
    assert report.turns == 2 and report.summary == "Done: wrote mr-abc1.txt."


def test_claude_model_it_cannot_price_stays_unpriced_and_its_denial_is_the_error(tmp_path: Path) -> None:
    report = report_of("claude-code", "unknown_model_cost.jsonl", tmp_path)

    assert report.usage is not None and report.usage.output_tokens == 100
    assert report.usage.cost_usd is None  # total_cost_usd says 0.012888, costBasis says "unknown"
    assert report.error is not None and report.error.startswith(
        "claude-code was refused 1 tool call: Write `/home/dev/work/scratch1/mr-um1.txt` "
        "(Claude requested permissions to write to /home/dev/work/scratch1/mr-um1.txt, but you haven't granted it yet.)"
    )
    assert "--allowedTools" in report.error


def test_claude_denial_in_a_worktree_under_git_names_the_sensitive_file(tmp_path: Path) -> None:
    report = report_of("claude-code", "permission_denied_in_mayor_worktree.log", tmp_path)

    assert report.error is not None and "which is a sensitive file" in report.error


def test_claude_bad_key_is_an_api_error_with_its_status(tmp_path: Path) -> None:
    report = report_of("claude-code", "bad_key_401.jsonl", tmp_path)

    assert report.error == (
        "claude-code: API error 401 authentication_error after 1 turn: Invalid API key · Fix external API key"
    )
    assert report.usage == Usage(cost_usd=0.0)


@pytest.mark.parametrize(
    ("stream", "status"), [("api_400.jsonl", "400"), ("overloaded_529.jsonl", "529"), ("no_key.jsonl", "")]
)
def test_claude_other_api_errors_name_their_status(tmp_path: Path, stream: str, status: str) -> None:
    result = events_of("claude", stream)[-1]
    report = report_of("claude-code", stream, tmp_path)

    assert report.error is not None and report.error.startswith("claude-code: API error")
    assert status in report.error and str(result["result"])[:40] in report.error


def test_claude_max_turns_is_an_error_with_the_reason(tmp_path: Path) -> None:
    report = report_of("claude-code", "error_max_turns.jsonl", tmp_path)

    assert report.error == (
        "claude-code stopped: error_max_turns after 3 turns (Reached maximum number of turns (2)) [max_turns]"
    )
    assert report.usage is not None and report.usage.cost_usd == 0.012888  # what it spent still counts


def test_claude_killed_before_its_result_books_final_input_and_estimated_output(tmp_path: Path) -> None:
    report = report_of("claude-code", "cut_before_result.jsonl", tmp_path)

    blocks = [e["message"]["content"][0] for e in events_of("claude", "cut_before_result.jsonl")  # type: ignore[index]
              if e["type"] == "assistant"]  # fmt: skip
    estimate = len(json.dumps(blocks, separators=(",", ":"))) // 4
    assert report.error == NO_RESULT
    assert report.usage is not None
    assert report.usage.model_dump(exclude={"cost_usd"}) == {
        "input_tokens": 11,  # message_start's counts of the one message: final for the input
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "output_tokens": estimate,  # not message_start's 1
    }
    assert estimate > 1 and report.problems == [
        "claude-code ended before its result event: output tokens are estimated from the text seen"
    ]


def test_claude_retrying_when_killed_says_which_api_error(tmp_path: Path) -> None:
    lines = (STREAMS / "claude" / "bad_key_401.jsonl").read_text().splitlines()[:4]
    report = report_of("claude-code", lines, tmp_path)

    assert report.error == f"{NO_RESULT}; it was retrying an API error (401 authentication_failed, retry 3 of 10)"
    assert report.usage is None


def test_claude_refused_as_root_quotes_its_stderr(tmp_path: Path) -> None:
    line = "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
    report = report_of("claude-code", [line], tmp_path)

    assert report.error == f"{NO_RESULT}; it last said: {line}"


def test_claude_findings_in_the_final_text_and_the_result_file(tmp_path: Path) -> None:
    events = events_of("claude", "success.jsonl")
    text = '```json\n{"findings": [{"file": "app/db.py", "line": 42, "severity": "high", "title": "SQL"}]}\n```'
    events[-1]["result"] = text
    report = report_of("claude-code", [json.dumps(e) for e in events], tmp_path)
    assert [(f.file, f.line, f.severity) for f in report.findings] == [("app/db.py", 42, "high")]

    (tmp_path / "run" / "result.json").write_text(
        json.dumps({"findings": [{"file": "a.py", "severity": "low", "title": "unused"}]})
    )
    report = report_of("claude-code", "success.jsonl", tmp_path)
    assert [f.title for f in report.findings] == ["unused"] and report.summary == "Done: wrote mr-abc1.txt."


# -- Codex reports -------------------------------------------------------------------------------


def test_codex_success_books_cache_reads_apart_and_stays_unpriced(tmp_path: Path) -> None:
    report = report_of("codex", "success_with_command.jsonl", tmp_path, model="gpt-fake-1")

    assert report.error is None and report.problems == []  # the model-metadata warning item is no error
    assert report.usage == Usage(input_tokens=400, cache_read_input_tokens=1600, output_tokens=100, cost_usd=None)
    assert report.summary == "Done: wrote mr-cx015.txt." and report.turns == 1


def test_codex_cache_writes_are_booked_as_cache_creation(tmp_path: Path) -> None:
    usage = {"input_tokens": 4000, "cached_input_tokens": 3200, "cache_write_input_tokens": 5, "output_tokens": 200,
             "reasoning_output_tokens": 40}  # fmt: skip
    lines = ['{"type":"thread.started","thread_id":"t"}', '{"type":"turn.started"}']
    report = report_of("codex", [*lines, json.dumps({"type": "turn.completed", "usage": usage})], tmp_path)

    assert report.usage == Usage(
        input_tokens=4000 - 3200 - 5,
        cache_read_input_tokens=3200,
        cache_creation_input_tokens=5,
        output_tokens=200,  # reasoning included, as codex counts it
        cost_usd=None,
    )


@pytest.mark.parametrize(
    ("stream", "said"),
    [
        ("error_badkey.jsonl", "unexpected status 401 Unauthorized: Incorrect API key provided: bad-key."),
        ("error_400.jsonl", "fake: invalid request"),
        ("error_500.jsonl", "We’re currently experiencing high demand"),
        ("error_FAILED.jsonl", "stream disconnected before completion: fake: the model failed"),
        ("error_nokey.jsonl", "Missing environment variable: `FAKE_OPENAI_KEY`."),
    ],
)
def test_codex_turn_failed_is_the_error(tmp_path: Path, stream: str, said: str) -> None:
    report = report_of("codex", stream, tmp_path)

    assert report.error is not None and report.error.startswith("codex turn failed: ") and said in report.error
    assert report.usage is None


def test_codex_rejected_command_line_quotes_its_stderr(tmp_path: Path) -> None:
    report = report_of("codex", "full_auto_flag_rejected.log", tmp_path)

    assert report.error is not None and report.error.startswith(NO_TURN)
    assert "error: unexpected argument '--full-auto' found" in report.error


def test_codex_error_the_turn_outlived_is_a_problem_not_the_error(tmp_path: Path) -> None:
    lines = (STREAMS / "codex" / "success_text_only.jsonl").read_text().splitlines()
    lines.insert(3, '{"type":"error","message":"Reconnecting... 1/5 (stream disconnected)"}')
    report = report_of("codex", lines, tmp_path)

    assert report.error is None
    assert report.problems == ["codex went on after: codex error: Reconnecting... 1/5 (stream disconnected)"]


def test_codex_usage_is_the_running_total_per_thread_summed_over_threads(tmp_path: Path) -> None:
    first = (STREAMS / "codex" / "success_with_command.jsonl").read_text().splitlines()  # 2000/1600/100
    resumed = (STREAMS / "codex" / "resume_running_total.jsonl").read_text().splitlines()  # same thread: 3000/2400/150
    other = (STREAMS / "codex" / "success_text_only.jsonl").read_text().splitlines()  # another thread: 1000/800/50

    report = report_of("codex", [*first, *resumed, *other], tmp_path)

    assert report.usage == Usage(
        input_tokens=(3000 - 2400) + (1000 - 800),
        cache_read_input_tokens=2400 + 800,
        output_tokens=150 + 50,
        cost_usd=None,
    )


def test_codex_reads_the_older_assistant_message_items(tmp_path: Path) -> None:
    lines = ['{"type":"item.completed","item":{"id":"item_1","item_type":"assistant_message","text":"Old."}}']
    assert report_of("codex", lines, tmp_path).summary == "Old."


def test_codex_killed_mid_turn(tmp_path: Path) -> None:
    lines = (STREAMS / "codex" / "success_with_command.jsonl").read_text().splitlines()[:4]
    report = report_of("codex", [*lines, "thread 'main' panicked at core/src/exec.rs"], tmp_path)

    assert report.error == f"{NO_TURN}; it last said: thread 'main' panicked at core/src/exec.rs"
    assert report.usage is None
