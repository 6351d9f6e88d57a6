"""The Claude Code and Codex adapters, driven against fake CLIs that print the real formats.

The fakes (``tests/fakes/claude.py``, ``tests/fakes/codex.py``) are installed in the test's
``tmp_path`` as executables named ``claude`` and ``codex``. Each launch is run for real: the
adapter's command line goes through the agent-process contract (bash, the run folder, the log),
the fake records the argv it got, and the adapter reads the log it left.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from beads.models import Bead, Finding, Usage
from supervisor.agents import LaunchContext, Report, adapter_for
from supervisor.agents.external import NO_RESULT, NO_TURN, ClaudeCodeAdapter, CodexAdapter
from supervisor.config import AgentConfig
from supervisor.pricing import cost
from supervisor.run.agentproc import AgentProcess
from tests.sling_helpers import add_bead, bead, git, sling

FAKES = Path(__file__).parent / "fakes"
PROMPT = 'Fix the "parser"; don\'t touch $HOME or `rm -rf`.\nSecond line: 100% * ? [x] \\n\n\n'
"""Quotes, expansions, globs and newlines: the shell must hand all of it over unchanged."""


def install(bin_dir: Path, name: str) -> Path:
    """The fake CLI ``name`` as an executable in ``bin_dir``, run by this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n" + (FAKES / f"{name}.py").read_text())
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``claude`` and ``codex`` fakes first on PATH."""
    bin_dir = tmp_path / "bin"
    install(bin_dir, "claude")
    install(bin_dir, "codex")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def context(
    tmp_path: Path,
    kind: str,
    *,
    model: str | None = None,
    args: list[str] | None = None,
    command: str | None = None,
    max_steps: int | None = None,
) -> LaunchContext:
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "prompt.md").write_text(PROMPT)
    config = AgentConfig(kind=kind, command=command, model=model, args=args or [])
    worktree = tmp_path / "wt"
    worktree.mkdir(exist_ok=True)
    return LaunchContext(Bead(id="b1", title="t"), kind, config, run_dir, worktree, model, max_steps)


def run(ctx: LaunchContext, scenario: str = "success", **env: str) -> int | None:
    """Launch ``ctx``'s agent as the supervisor does and wait for it; its exit status."""
    adapter = adapter_for(ctx.config.kind)
    launch = adapter.launch(ctx)
    full_env = {
        "MAYOR_PROMPT_FILE": str(ctx.run_dir / "prompt.md"),
        "MAYOR_BEAD_ID": ctx.bead.id,
        "FAKE_SCENARIO": scenario,
        **launch.env,
        **env,
    }
    agent = AgentProcess.start(launch.command, ctx.worktree, ctx.run_dir, full_env)
    return agent.wait(60.0, 60.0, lambda: None, lambda: None).code


def argv(ctx: LaunchContext) -> list[str]:
    return json.loads((ctx.run_dir / "argv.json").read_text())


def reported(ctx: LaunchContext, scenario: str = "success", **env: str) -> Report:
    run(ctx, scenario, **env)
    return adapter_for(ctx.config.kind).report(ctx.run_dir, ctx.model)


# -- the command lines ---------------------------------------------------------------------------


def test_adapter_for_gives_the_external_adapters() -> None:
    assert isinstance(adapter_for("claude-code"), ClaudeCodeAdapter)
    assert isinstance(adapter_for("codex"), CodexAdapter)


def test_claude_command_line_carries_prompt_model_limit_and_permission_flags(fake_bin: Path, tmp_path: Path) -> None:
    args = ["--permission-mode", "acceptEdits", "--allowedTools", "Bash(git commit:*) Edit", "--add-dir", "a b"]
    ctx = context(tmp_path, "claude-code", model="claude-sonnet-4-5", args=args, max_steps=7)

    assert run(ctx) == 0

    assert argv(ctx) == [
        "-p",
        PROMPT.rstrip("\n"),
        "--output-format",
        "stream-json",
        "--verbose",
        "--max-turns",
        "7",
        "--model",
        "claude-sonnet-4-5",
        *args,
    ]


def test_claude_command_override_and_no_model(tmp_path: Path) -> None:
    exe = install(tmp_path / "tools dir", "claude")  # not on PATH, and a space in its path
    ctx = context(tmp_path, "claude-code", command=shlex.quote(str(exe)), args=["--dangerously-skip-permissions"])

    assert run(ctx) == 0

    assert argv(ctx) == [
        "-p",
        PROMPT.rstrip("\n"),
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
    ]


def test_codex_command_line_passes_the_prompt_last_after_the_options(fake_bin: Path, tmp_path: Path) -> None:
    args = ["--sandbox", "workspace-write", "--skip-git-repo-check", "-c", "model_reasoning_effort=high"]
    ctx = context(tmp_path, "codex", model="gpt-5-codex", args=args)
    (ctx.run_dir / "prompt.md").write_text("--help is not an option here\n")

    assert run(ctx) == 0

    assert argv(ctx) == ["exec", "--json", "--model", "gpt-5-codex", *args, "--", "--help is not an option here"]


def test_codex_without_model_or_args(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "codex")

    assert run(ctx) == 0

    assert argv(ctx) == ["exec", "--json", "--", PROMPT.rstrip("\n")]


# -- Claude Code reports -------------------------------------------------------------------------


def test_claude_success_takes_usage_cost_turns_and_text_from_the_result_event(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "claude-code", model="claude-sonnet-4-5"))

    assert report.error is None
    assert report.usage == Usage(
        input_tokens=12,
        output_tokens=340,
        cache_read_input_tokens=20000,
        cache_creation_input_tokens=1500,
        cost_usd=0.0421,
    )
    assert report.turns == 2
    assert report.summary == "Done: added the feature and its test."
    assert report.findings == [] and report.problems == []


def test_claude_without_cost_is_priced_from_the_table_by_the_init_model(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "claude-code")  # no model configured: the init event names it

    report = reported(ctx, "nocost")

    tokens = Usage(input_tokens=12, output_tokens=340, cache_read_input_tokens=20000, cache_creation_input_tokens=1500)
    expected = cost("claude-sonnet-4-5-20250929", tokens)
    assert expected is not None and expected > 0
    assert report.usage is not None and report.usage.cost_usd == pytest.approx(expected)


def test_claude_without_cost_on_an_unknown_model_is_unpriced_not_free(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "claude-code", model="claude-unknown-9"), "nocost")

    assert report.usage is not None and report.usage.output_tokens == 340
    assert report.usage.cost_usd is None


def test_claude_max_turns_is_an_error_with_the_reason(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "claude-code"), "max_turns")

    assert report.error == "claude-code stopped: error_max_turns after 3 turns"
    assert report.turns == 3
    assert report.usage is not None and report.usage.cost_usd == 0.0421  # what it spent still counts


def test_claude_error_during_execution_carries_its_errors(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "claude-code"), "during_execution")

    assert report.error == "claude-code stopped: error_during_execution after 1 turn (Tool permission stream closed)"


def test_claude_api_error_reported_as_success_with_is_error(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "claude-code"), "api_error")

    assert report.error is not None
    assert report.error.startswith("claude-code reported an error after 1 turn: API Error: 529")


def test_claude_crash_without_result_event_counts_each_message_once(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "claude-code", model="claude-sonnet-4-5")

    assert run(ctx, "crash") == 1
    report = ClaudeCodeAdapter().report(ctx.run_dir, ctx.model)

    assert report.error == NO_RESULT
    # msg_01 appears on two events (text, then tool_use) and counts once; msg_02 once
    tokens = Usage(
        input_tokens=4 + 6,
        output_tokens=120 + 30,
        cache_read_input_tokens=9000 + 10500,
        cache_creation_input_tokens=1500,
    )
    assert report.usage is not None
    assert report.usage.model_dump(exclude={"cost_usd"}) == tokens.model_dump(exclude={"cost_usd"})
    assert report.usage.cost_usd == pytest.approx(cost("claude-sonnet-4-5", tokens))


def test_claude_report_of_an_empty_or_missing_log(tmp_path: Path) -> None:
    report = ClaudeCodeAdapter().report(tmp_path, None)

    assert report.error == NO_RESULT and report.usage is None


def test_claude_findings_in_the_final_text_are_validated(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "claude-code"), "findings")

    assert report.error is None
    expected = Finding(
        file="app/db.py",
        line=42,
        severity="high",
        title="SQL built by string formatting",
        description="user input reaches execute()",
        recommendation="use parameters",
    )
    assert report.findings == [expected]
    assert len(report.problems) == 1 and report.problems[0].startswith("finding 2 dropped")


def test_claude_falls_back_to_the_result_file_for_findings(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "claude-code"), "result_file")

    assert report.summary == "Done: added the feature and its test."  # the stream's text wins
    assert [f.title for f in report.findings] == ["unused import"]
    assert report.usage is not None and report.usage.cost_usd == 0.0421


# -- Codex reports -------------------------------------------------------------------------------


def test_codex_success_moves_cached_input_out_of_input_and_stays_unpriced(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "codex", model="gpt-5-codex"))

    assert report.error is None
    assert report.usage == Usage(
        input_tokens=24763 - 24448, cache_read_input_tokens=24448, output_tokens=122, cost_usd=None
    )
    assert report.summary == "Implemented the change; tests pass."
    assert report.turns == 1


def test_codex_without_a_model_is_unpriced_too(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "codex"))

    assert report.usage is not None and report.usage.total_tokens == 24763 + 122
    assert report.usage.cost_usd is None


def test_codex_on_a_model_in_the_table_is_priced(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "codex", model="claude-sonnet-4-5"))

    tokens = Usage(input_tokens=315, cache_read_input_tokens=24448, output_tokens=122)
    assert report.usage is not None and report.usage.cost_usd == pytest.approx(cost("claude-sonnet-4-5", tokens))


def test_codex_turn_failed_is_the_error(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "codex")

    assert run(ctx, "turn_failed") == 1
    report = CodexAdapter().report(ctx.run_dir, None)

    assert report.error == "codex turn failed: stream disconnected before completion: retries exhausted"
    assert report.usage is None


def test_codex_error_event_is_the_error(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "codex"), "error")

    assert report.error == "codex error: unexpected status 401 Unauthorized"


def test_codex_error_the_turn_outlived_is_a_problem_not_the_error(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "codex"), "retried")

    assert report.error is None
    assert report.problems == ["codex went on after: codex error: Reconnecting... 1/5"]
    assert report.summary == "Implemented the change; tests pass."


def test_codex_crash_without_turn_completed(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "codex")

    assert run(ctx, "crash") == 101
    report = CodexAdapter().report(ctx.run_dir, None)

    assert report.error == NO_TURN and report.usage is None


def test_codex_usage_is_the_running_total_per_thread_summed_over_threads(fake_bin: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "codex")

    run(ctx, "two_turns", FAKE_THREAD="thread-a")  # turn.completed 1000/800/50, then the total 2500/1800/130
    one = CodexAdapter().report(ctx.run_dir, None)
    run(ctx, "success", FAKE_THREAD="thread-b")  # a second codex run appends to the same log
    both = CodexAdapter().report(ctx.run_dir, None)

    assert one.usage == Usage(input_tokens=700, cache_read_input_tokens=1800, output_tokens=130, cost_usd=None)
    assert one.turns == 2 and one.summary == "Implemented the change; tests pass."
    assert both.usage == Usage(
        input_tokens=700 + 315, cache_read_input_tokens=1800 + 24448, output_tokens=130 + 122, cost_usd=None
    )
    assert both.turns == 3


def test_codex_reads_the_older_assistant_message_items(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "codex"), "legacy")

    assert report.summary == "Implemented the change; tests pass."


def test_codex_findings_in_the_last_message(fake_bin: Path, tmp_path: Path) -> None:
    report = reported(context(tmp_path, "codex"), "findings")

    assert [(f.file, f.line, f.severity) for f in report.findings] == [("srv/auth.py", 7, "critical")]
    assert len(report.problems) == 1 and "finding 2 dropped" in report.problems[0]


# -- end to end: mayor sling with an external agent ----------------------------------------------


def configure_external(root: Path, kind: str, exe: Path, model: str) -> None:
    with open(root / ".git" / "info" / "exclude", "a") as out:
        out.write(".mayor/\n")
    (root / ".mayor" / "config.toml").write_text(
        f'target = "main"\nagent = "ext"\n\n[agents.ext]\nkind = "{kind}"\ncommand = {json.dumps(str(exe))}\n'
        f'model = "{model}"\nargs = ["--permission-mode", "acceptEdits"]\n'
    )


@pytest.mark.parametrize("kind", ["claude-code", "codex"])
def test_sling_lands_the_work_of_an_external_agent_and_books_its_usage(
    mayor_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    exe = install(tmp_path / "bin", "claude" if kind == "claude-code" else "codex")
    configure_external(mayor_repo, kind, exe, "claude-sonnet-4-5" if kind == "claude-code" else "gpt-5-codex")
    add_bead(mayor_repo, "feat", "Add the feature file")
    monkeypatch.setenv("FAKE_SCENARIO", "edit")  # inherited by mayor and its agents

    proc = sling(mayor_repo)

    assert proc.returncode == 0, proc.stderr
    feat = bead(mayor_repo, "feat")
    assert feat.status == "merged"
    assert git(mayor_repo, "show", "main:feature.txt") == "made by fake " + kind.split("-")[0] + " for feat"
    assert feat.result is not None and feat.result.summary
    usage = feat.attempts[-1].usage
    if kind == "claude-code":
        assert usage == Usage(
            input_tokens=12,
            output_tokens=340,
            cache_read_input_tokens=20000,
            cache_creation_input_tokens=1500,
            cost_usd=0.0421,
        )
    else:
        assert usage == Usage(input_tokens=315, cache_read_input_tokens=24448, output_tokens=122, cost_usd=None)
    assert feat.usage == usage


@pytest.mark.parametrize("kind", ["claude-code", "codex"])
def test_sling_review_bead_done_by_an_external_agent_keeps_its_findings(
    mayor_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    exe = install(tmp_path / "bin", "claude" if kind == "claude-code" else "codex")
    configure_external(mayor_repo, kind, exe, "claude-sonnet-4-5" if kind == "claude-code" else "gpt-5-codex")
    add_bead(mayor_repo, "rev", "Review the handlers", kind="review")
    tip = git(mayor_repo, "rev-parse", "main")
    monkeypatch.setenv("FAKE_SCENARIO", "findings")

    proc = sling(mayor_repo)

    assert proc.returncode == 0, proc.stderr
    rev = bead(mayor_repo, "rev")
    assert rev.status == "done"
    assert rev.result is not None and len(rev.result.findings) == 1
    assert rev.result.findings[0].severity == ("high" if kind == "claude-code" else "critical")
    assert git(mayor_repo, "rev-parse", "main") == tip
