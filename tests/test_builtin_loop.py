"""The built-in agent's loop, in process: a scripted model at the model boundary, real tools.

The model fake takes ``query(system, tools, messages)`` and plays a list of replies (or raises a
scripted exception); it records a JSON snapshot of every request, taken at call time, because the
loop keeps mutating its own conversation afterwards (trimming).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from beads.models import Usage
from supervisor.agents.builtin.loop import (
    CACHE,
    TRIMMED,
    Agent,
    Limits,
    limits_from_env,
    prefix_warning,
    run_agent,
    system_blocks,
)
from supervisor.agents.builtin.model import Reply
from supervisor.agents.builtin.stops import Finished, FormatErrors, LimitReached
from supervisor.agents.builtin.tools import TOOL_DEFINITIONS, Workspace
from supervisor.pricing import min_cacheable

SYSTEM = system_blocks("You are a careful engineer.", "# Repository context\nA small repo.\n")
TOOLS = [*TOOL_DEFINITIONS[:-1], {**TOOL_DEFINITIONS[-1], "cache_control": CACHE}]
LONG_OUTPUT = "seq 1 100"
"""A command whose output (292 characters) is long enough to be trimmed (over 200)."""


class ScriptedModel:
    def __init__(self, name: str, script: list[Reply | BaseException]) -> None:
        self.name = name
        self.script = list(script)
        self.requests: list[dict[str, str]] = []

    def query(
        self,
        system: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        messages: list[dict[str, Any]],
    ) -> Reply:
        self.requests.append(
            {
                "system": json.dumps(system),
                "tools": json.dumps(tools),
                "messages": json.dumps(messages),
            }
        )
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def usage(input_tokens: int = 10, output_tokens: int = 5) -> Usage:
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens)


def bash(command: str, n: int, tokens: Usage | None = None) -> Reply:
    block = {
        "type": "tool_use",
        "id": f"toolu_{n}",
        "name": "bash",
        "input": {"command": command},
    }
    return Reply([{"type": "text", "text": f"step {n}"}, block], "tool_use", tokens or usage())


def final(text: str = "All done.", tokens: Usage | None = None) -> Reply:
    return Reply([{"type": "text", "text": text}], "end_turn", tokens or usage())


def empty() -> Reply:
    return Reply([], "end_turn", usage())


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    return Workspace(
        root,
        home=tmp_path / "home",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )


def agent_for(model: ScriptedModel, workspace: Workspace, limits: Limits | None = None) -> Agent:
    return Agent(model, workspace, SYSTEM, TOOLS, limits or Limits())


def tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


# -- 1. trimming ----------------------------------------------------------------------------------


def test_large_prompts_trim_the_oldest_tool_results_only(workspace: Workspace) -> None:
    big = Usage(input_tokens=50, cache_read_input_tokens=5_000, output_tokens=20)
    model = ScriptedModel(
        "claude-sonnet-5-5",
        [*(bash(LONG_OUTPUT, n, big) for n in range(1, 7)), final(tokens=big)],
    )
    agent = agent_for(model, workspace, Limits(trim_after_tokens=1_000))
    task = "Do the task."
    with pytest.raises(Finished) as stop:
        agent.run(task)
    assert stop.value.ok and stop.value.message == agent.final_text == "All done."

    messages = agent.messages
    assert len(messages) == 14  # task, 6 x (assistant, results), the final assistant
    assert messages[0] == {"role": "user", "content": [{"type": "text", "text": task}]}
    old = [r for m in messages[1:-6] for r in tool_results(m)]
    recent = [r for m in messages[-6:] for r in tool_results(m)]
    assert len(old) == 3 and all(r["content"] == TRIMMED for r in old)
    assert len(recent) == 3 and all(r["content"].startswith("1\n2\n3\n") for r in recent)
    assert all(r["content"].rstrip().endswith("100") for r in recent)
    # the assistant turns are never rewritten
    assert all(m["content"][-1]["input"] == {"command": LONG_OUTPUT} for m in messages[1:13:2])

    # the cached prefix is byte-identical in every request
    assert len(model.requests) == 7
    assert {r["system"] for r in model.requests} == {json.dumps(SYSTEM)}
    assert {r["tools"] for r in model.requests} == {json.dumps(TOOLS)}


def test_small_prompts_trim_nothing(workspace: Workspace) -> None:
    model = ScriptedModel("claude-sonnet-5-5", [*(bash(LONG_OUTPUT, n) for n in range(1, 7)), final()])
    agent = agent_for(model, workspace, Limits(trim_after_tokens=1_000))
    with pytest.raises(Finished):
        agent.run("task")
    assert TRIMMED not in json.dumps(agent.messages)


# -- 2. the moving cache breakpoint ---------------------------------------------------------------


def test_one_moving_breakpoint_per_request_and_none_stored(
    workspace: Workspace,
) -> None:
    script: list[Reply | BaseException] = [
        bash("echo one", 1),
        empty(),
        bash("echo two", 2),
        final(),
    ]
    model = ScriptedModel("claude-sonnet-5-5", script)
    agent = agent_for(model, workspace)
    with pytest.raises(Finished):
        agent.run("task")
    assert len(model.requests) == 4
    for request in model.requests:
        messages = json.loads(request["messages"])
        assert messages[-1]["content"][-1]["cache_control"] == CACHE
        assert request["messages"].count("cache_control") == 1
        assert sum(request[k].count("cache_control") for k in ("system", "tools", "messages")) <= 4
    assert "cache_control" not in json.dumps(agent.messages)
    assert agent.messages[0]["content"] == [{"type": "text", "text": "task"}]


# -- 3. prefix_warning ----------------------------------------------------------------------------


def test_prefix_warning_names_the_model_and_its_minimum() -> None:
    model = "claude-haiku-4-5"
    assert min_cacheable(model) == 4096
    warning = prefix_warning(model, SYSTEM, TOOLS)
    assert warning is not None
    assert model in warning and "4096" in warning

    long_system = system_blocks("x" * (4 * 4096), "context")
    assert prefix_warning(model, long_system, TOOLS) is None


# -- 4. limits ------------------------------------------------------------------------------------


def test_max_tokens_stops_the_loop(workspace: Workspace) -> None:
    model = ScriptedModel("claude-sonnet-5-5", [bash("echo hi", n, usage(600, 0)) for n in range(1, 10)])
    agent = agent_for(model, workspace, Limits(max_tokens=1_000))
    with pytest.raises(LimitReached) as stop:
        agent.run("task")
    assert not stop.value.ok and stop.value.limit == "tokens"
    assert "token limit" in stop.value.message and "1000" in stop.value.message
    assert agent.steps == 2


def test_max_usd_stops_the_loop(workspace: Workspace) -> None:
    # claude-sonnet-5-5 input is $2 per million tokens: each call costs $0.60
    model = ScriptedModel(
        "claude-sonnet-5-5",
        [bash("echo hi", n, usage(300_000, 0)) for n in range(1, 10)],
    )
    agent = agent_for(model, workspace, Limits(max_usd=1.0))
    with pytest.raises(LimitReached) as stop:
        agent.run("task")
    assert not stop.value.ok and stop.value.limit == "usd"
    assert "cost limit" in stop.value.message and "$1.00" in stop.value.message
    assert agent.steps == 2
    assert agent.usage.cost_usd == pytest.approx(1.2)


def test_max_seconds_stops_the_loop(workspace: Workspace) -> None:
    readings = iter([0.0, 0.1, 0.3])  # the start, before the first call, before the second
    model = ScriptedModel("claude-sonnet-5-5", [bash("echo hi", n) for n in range(1, 10)])
    agent = Agent(model, workspace, SYSTEM, TOOLS, Limits(max_seconds=0.2), clock=lambda: next(readings))
    with pytest.raises(LimitReached) as stop:
        agent.run("task")
    assert not stop.value.ok and stop.value.limit == "seconds"
    assert "time limit" in stop.value.message
    assert agent.steps == 1


def test_max_steps_stops_the_loop(workspace: Workspace) -> None:
    model = ScriptedModel("claude-sonnet-5-5", [bash("echo hi", n) for n in range(1, 10)])
    agent = agent_for(model, workspace, Limits(max_steps=3))
    with pytest.raises(LimitReached) as stop:
        agent.run("task")
    assert stop.value.limit == "steps" and "step limit" in stop.value.message and agent.steps == 3


def test_three_empty_replies_in_a_row_are_malformed(workspace: Workspace) -> None:
    model = ScriptedModel("claude-sonnet-5-5", [empty(), empty(), empty(), final()])
    agent = agent_for(model, workspace)
    with pytest.raises(FormatErrors) as stop:
        agent.run("task")
    assert not stop.value.ok and "malformed" in stop.value.message and stop.value.count == 3
    assert agent.steps == 3 and model.script == [final()]


def test_a_tool_call_resets_the_malformed_count(workspace: Workspace) -> None:
    model = ScriptedModel(
        "claude-sonnet-5-5",
        [empty(), empty(), bash("echo hi", 1), empty(), empty(), final()],
    )
    agent = agent_for(model, workspace)
    with pytest.raises(Finished) as stop:
        agent.run("task")
    assert stop.value.ok and agent.final_text == "All done."


def test_limits_from_env() -> None:
    env = {
        "MAYOR_MAX_STEPS": "7",
        "MAYOR_MAX_TOKENS": "12345",
        "MAYOR_MAX_USD": "0.5",
        "MAYOR_MAX_SECONDS": "90",
        "MAYOR_TRIM_AFTER_TOKENS": "5000",
    }
    limits = limits_from_env(env)
    assert limits == Limits(
        max_steps=7,
        max_tokens=12345,
        max_usd=0.5,
        max_seconds=90.0,
        trim_after_tokens=5000,
    )
    assert limits_from_env({}) == Limits()


# -- 5. run_agent saves whatever happens ----------------------------------------------------------


def test_run_agent_saves_everything_when_the_model_raises(workspace: Workspace, tmp_path: Path) -> None:
    model = ScriptedModel(
        "claude-sonnet-5-5",
        [bash("echo hi", 1, usage(1000, 100)), RuntimeError("connection reset")],
    )
    agent = agent_for(model, workspace)
    run_dir = tmp_path / "run"
    assert run_agent(agent, "task", run_dir) == 1

    result = json.loads((run_dir / "result.json").read_text())
    assert result["error"] == "the agent failed: RuntimeError: connection reset"
    assert result["summary"] == ""
    assert result["turns"] == 2
    assert result["usage"]["input_tokens"] == 1000 and result["usage"]["output_tokens"] == 100
    assert result["usage"]["cost_usd"] == pytest.approx(0.003)

    transcript = json.loads((run_dir / "transcript.json").read_text())
    assert transcript["error"] == result["error"]
    assert transcript["system"] == SYSTEM and transcript["tools"] == TOOLS
    assert [m["role"] for m in transcript["messages"]] == ["user", "assistant", "user"]
    assert tool_results(transcript["messages"][-1])[0]["content"].strip() == "hi"
    assert not list(run_dir.glob("*.tmp"))


def test_run_agent_success_returns_0_with_the_summary(workspace: Workspace, tmp_path: Path) -> None:
    model = ScriptedModel("claude-sonnet-5-5", [final("Fixed it.")])
    run_dir = tmp_path / "run"
    assert run_agent(agent_for(model, workspace), "task", run_dir) == 0
    result = json.loads((run_dir / "result.json").read_text())
    assert result["error"] is None and result["summary"] == "Fixed it." and result["turns"] == 1
    assert (run_dir / "transcript.json").exists()


# -- 6. each typed stop, as result.json says it ---------------------------------------------------

STOPS: dict[str, tuple[Limits, list[Reply | BaseException], str | None, str]] = {
    "finished": (Limits(), [bash("echo hi", 1), final("Fixed it.")], None, "Fixed it."),
    "steps": (
        Limits(max_steps=2),
        [bash("echo hi", n) for n in range(1, 5)],
        "step limit reached: 2 model calls (max_steps = 2)",
        "",
    ),
    "tokens": (
        Limits(max_tokens=1_000),
        [bash("echo hi", n, usage(600, 0)) for n in range(1, 5)],
        "token limit reached: 1200 tokens (max 1000)",
        "",
    ),
    "usd": (
        Limits(max_usd=1.0),
        [bash("echo hi", n, usage(300_000, 0)) for n in range(1, 5)],
        "cost limit reached: $1.20 (max $1.00)",
        "",
    ),
    "malformed": (Limits(), [empty(), empty(), empty(), final()], "3 malformed replies in a row", ""),
}


@pytest.mark.parametrize("kind", list(STOPS))
def test_each_typed_stop_writes_its_result(kind: str, workspace: Workspace, tmp_path: Path) -> None:
    limits, script, error, summary = STOPS[kind]
    model = ScriptedModel("claude-sonnet-5-5", script)
    run_dir = tmp_path / "run"
    assert run_agent(agent_for(model, workspace, limits), "task", run_dir) == (0 if error is None else 1)
    result = json.loads((run_dir / "result.json").read_text())
    assert set(result) == {"summary", "usage", "error", "turns", "model", "findings", "problems"}
    assert result["error"] == error and result["summary"] == summary
    assert result["turns"] == len(model.requests) and result["model"] == "claude-sonnet-5-5"
    assert json.loads((run_dir / "transcript.json").read_text())["error"] == error


def test_the_time_limit_writes_its_result(workspace: Workspace, tmp_path: Path) -> None:
    readings = iter([0.0, 0.1, 90.0])
    model = ScriptedModel("claude-sonnet-5-5", [bash("echo hi", n) for n in range(1, 5)])
    agent = Agent(model, workspace, SYSTEM, TOOLS, Limits(max_seconds=60), clock=lambda: next(readings))
    assert run_agent(agent, "task", tmp_path / "run") == 1
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["error"] == "time limit reached: 60s" and result["turns"] == 1


# -- 7. the transcript after every step -----------------------------------------------------------


def test_the_transcript_is_written_after_every_step(workspace: Workspace, tmp_path: Path) -> None:
    """What a SIGKILL would leave: before each model call, the file holds every step before it."""
    path = tmp_path / "transcript.json"
    seen: list[list[str]] = []

    class Watching(ScriptedModel):
        def query(self, system: Any, tools: Any, messages: list[dict[str, Any]]) -> Reply:
            saved = json.loads(path.read_text()) if path.exists() else None
            seen.append([m["role"] for m in saved["messages"]] if saved else [])
            return super().query(system, tools, messages)

    model = Watching("claude-sonnet-5-5", [bash("echo one", 1), empty(), bash("echo two", 2), final()])
    agent = Agent(model, workspace, SYSTEM, TOOLS, Limits(), transcript_file=path)
    with pytest.raises(Finished):
        agent.run("task")
    assert [len(roles) for roles in seen] == [0, 3, 5, 7]  # task; + tool step; + nudge; + tool step
    assert seen[-1] == ["user", "assistant"] * 3 + ["user"]
    saved = json.loads(path.read_text())
    assert saved["error"] is None and len(saved["calls"]) == 3 and saved["system"] == SYSTEM
    assert not list(tmp_path.glob("*.tmp"))
