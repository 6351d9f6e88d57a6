"""The built-in Claude agent: a small tool-use loop on the anthropic SDK.

Run as the agent process of a bead (``python -m supervisor.agents.builtin``), it reads the
supervisor's contract from the environment, then: query the model, run the tools it asked for,
append the results, repeat. Limits (steps, tokens, dollars, wall time, malformed replies) are
checked before every model call; reaching one ends the attempt as failed with the reason. The
loop only ends by an exception (:mod:`supervisor.agents.builtin.stops`): ``Finished``,
``LimitReached``, ``FormatErrors``, ``Terminated`` (SIGTERM), or any failure. The transcript is
written after every step (so a SIGKILL after the supervisor's grace period loses at most the step
in progress), and again with ``result.json`` in ``finally``, whatever happens; every file is
written whole or not at all (a temporary file, then ``os.replace``).

The request is laid out for prompt caching: tools, then the system prompt and the repository
context (byte-identical for every bead of a run, with a cache breakpoint on the last system
block), then the conversation (a second, moving breakpoint on its last block). Nothing that
varies between beads comes before the first breakpoint.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from beads.models import Usage
from supervisor.agents.builtin.model import Model, Reply
from supervisor.agents.builtin.stops import AgentStop, Finished, FormatErrors, LimitReached, Terminated
from supervisor.agents.findings import findings_from_text
from supervisor.pricing import min_cacheable, priced

CACHE = {"type": "ephemeral"}
TRIMMED = "[output trimmed by mayor to keep the conversation short; run the tool again if you need it]"
MAX_MALFORMED = 3


def _terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once; the supervisor's SIGKILL follows anyway
    raise Terminated("stopped by the supervisor (SIGTERM: a timeout, the budget, a cancel or Ctrl-C)")


@dataclass
class Limits:
    max_steps: int = 60
    max_tokens: int | None = None
    max_usd: float | None = None
    max_seconds: float | None = None
    trim_after_tokens: int = 120_000
    """When a request's input passes this many tokens, the oldest tool results are shortened."""


@dataclass
class Agent:
    model: Model
    workspace: Any
    """A :class:`supervisor.agents.builtin.tools.Workspace` (anything with ``run(name, input)``)."""
    system: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    limits: Limits
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    calls: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    clock: Callable[[], float] = time.monotonic
    """The wall clock of ``max_seconds`` (a seam for tests)."""
    started: float = field(init=False)
    """When the agent was made, by ``clock``."""
    usage_file: Path | None = None
    """Where the running usage is written after each call (the supervisor's budget reads it)."""
    transcript_file: Path | None = None
    """Where the transcript is written after each step (and by :func:`save` at the end)."""
    malformed: int = 0
    final_text: str = ""

    def __post_init__(self) -> None:
        self.started = self.clock()

    def run(self, task: str) -> NoReturn:
        """Work on ``task`` until an :class:`~supervisor.agents.builtin.stops.AgentStop` ends it."""
        self.messages = [{"role": "user", "content": [{"type": "text", "text": task}]}]
        while True:
            self._check_limits()
            reply = self._query()
            self.messages.append({"role": "assistant", "content": reply.content})
            uses = [block for block in reply.content if block.get("type") == "tool_use"]
            if uses:
                self.malformed = 0
                self.messages.append({"role": "user", "content": [self._run_tool(block) for block in uses]})
            else:
                self._finish_or_nudge(reply)
            self._checkpoint()

    def _check_limits(self) -> None:
        lim, usage = self.limits, self.usage
        if self.steps >= lim.max_steps:
            raise LimitReached("steps", self.steps, lim.max_steps)
        if lim.max_tokens is not None and usage.total_tokens >= lim.max_tokens:
            raise LimitReached("tokens", usage.total_tokens, lim.max_tokens)
        if lim.max_usd is not None and usage.cost_usd is not None and usage.cost_usd >= lim.max_usd:
            raise LimitReached("usd", usage.cost_usd, lim.max_usd)
        if lim.max_seconds is not None and (elapsed := self.clock() - self.started) >= lim.max_seconds:
            raise LimitReached("seconds", elapsed, lim.max_seconds)
        if self.malformed >= MAX_MALFORMED:
            raise FormatErrors(self.malformed)

    def _query(self) -> Reply:
        self.steps += 1
        messages = with_moving_breakpoint(self.messages)
        reply = self.model.query(self.system, self.tools, messages)
        usage = priced(self.model.name, reply.usage)
        self.usage = self.usage + usage
        self.calls.append({"step": self.steps, "usage": usage.model_dump(), "stop_reason": reply.stop_reason})
        if self.usage_file is not None:
            write_whole(self.usage_file, self.usage.model_dump_json())
        if prompt_tokens(usage) > self.limits.trim_after_tokens:
            trim_oldest_results(self.messages)
        return reply

    def _finish_or_nudge(self, reply: Reply) -> None:
        text = "\n".join(block.get("text", "") for block in reply.content if block.get("type") == "text").strip()
        if reply.stop_reason == "max_tokens" or not text:
            self.malformed += 1
            nudge = "Your reply was cut off or empty. Continue: call a tool, or give your final summary."
            self.messages.append({"role": "user", "content": [{"type": "text", "text": nudge}]})
            return
        self.final_text = text
        raise Finished(text)

    def _checkpoint(self) -> None:
        """The transcript so far, after a step: what a SIGKILL leaves behind."""
        if self.transcript_file is not None:
            write_whole(self.transcript_file, json.dumps(self.transcript(None), indent=1, default=str))

    def transcript(self, error: str | None) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "system": self.system,
            "tools": self.tools,
            "messages": self.messages,
            "calls": self.calls,
            "error": error,
        }

    def _run_tool(self, block: dict[str, Any]) -> dict[str, Any]:
        raw = block.get("input")
        if not isinstance(raw, dict):
            outcome_text, is_error = "tool input must be a JSON object", True
        else:
            outcome = self.workspace.run(block.get("name", ""), raw)
            outcome_text, is_error = outcome.content, outcome.is_error
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": block["id"], "content": outcome_text}
        if is_error:
            result["is_error"] = True
        return result


def prompt_tokens(usage: Usage) -> int:
    return usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens


def with_moving_breakpoint(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``messages`` whose last block carries ``cache_control`` (conversation caching)."""
    out = [dict(m) for m in messages]
    last = dict(out[-1])
    blocks = [dict(b) for b in last["content"]]
    blocks[-1]["cache_control"] = CACHE
    last["content"] = blocks
    out[-1] = last
    return out


def trim_oldest_results(messages: list[dict[str, Any]], keep_recent: int = 6) -> int:
    """Shorten the tool results of all but the last ``keep_recent`` messages; return how many.

    The first message (the task) and the cached system prefix are never touched.
    """
    trimmed = 0
    for message in messages[1:-keep_recent]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if (
                block.get("type") == "tool_result"
                and block.get("content") != TRIMMED
                and len(str(block.get("content"))) > 200
            ):
                block["content"] = TRIMMED
                trimmed += 1
    return trimmed


def system_blocks(system_prompt: str, context: str) -> list[dict[str, Any]]:
    """The shared, cached part of every request: identical bytes for every bead of a run."""
    return [
        {"type": "text", "text": system_prompt},
        {"type": "text", "text": context, "cache_control": CACHE},
    ]


def prefix_warning(model: str, system: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str | None:
    """A warning when the shared prefix is likely under the model's minimum cacheable length."""
    chars = sum(len(b["text"]) for b in system) + len(json.dumps(tools))
    estimate = chars // 4 + 700  # the server-side tool definitions add several hundred tokens
    minimum = min_cacheable(model)
    if estimate >= minimum:
        return None
    return (
        f"the shared prompt prefix is about {estimate} tokens, under the {minimum}-token minimum "
        f"that {model} caches: parallel agents will each pay for it in full"
    )


# -- the process entry point --------------------------------------------------------------------


def main() -> int:
    from supervisor.agents.builtin.anthropic_model import AnthropicModel
    from supervisor.agents.builtin.demo import DEMO_MODEL, DemoModel
    from supervisor.agents.builtin.tools import TOOL_DEFINITIONS, Workspace
    from supervisor.agents.context import NO_CONTEXT, read_context
    from supervisor.prompts import template_text

    env = os.environ
    run_dir = Path(env["MAYOR_RUN_DIR"])
    root = Path(env.get("MAYOR_ROOT", ".")) / ".mayor"
    context_file = env.get("MAYOR_CONTEXT_FILE")
    context = read_context(Path(context_file)) if context_file else NO_CONTEXT
    system = system_blocks(template_text("system", root), context)
    tools = [*TOOL_DEFINITIONS[:-1], {**TOOL_DEFINITIONS[-1], "cache_control": CACHE}]
    model: Model
    model = DemoModel.from_env() if env.get("MAYOR_MODEL") == DEMO_MODEL else AnthropicModel.from_env()
    warning = prefix_warning(model.name, system, tools)
    if warning:
        print(f"mayor: warning: {warning}", file=sys.stderr)
    home = run_dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(Path.cwd(), env={k: v for k, v in env.items() if not k.startswith("ANTHROPIC")}, home=home)
    agent = Agent(
        model,
        workspace,
        system,
        tools,
        limits_from_env(env),
        usage_file=run_dir / "usage.json",
        transcript_file=run_dir / "transcript.json",
    )
    signal.signal(signal.SIGTERM, _terminated)
    return run_agent(agent, task_text(env), run_dir)


def task_text(env: os._Environ[str] | dict[str, str]) -> str:
    task = Path(env["MAYOR_PROMPT_FILE"]).read_text()
    feedback_file = env.get("MAYOR_FEEDBACK_FILE")
    feedback = Path(feedback_file).read_text().strip() if feedback_file and Path(feedback_file).exists() else ""
    if feedback:
        task += (
            f"\n\n## Feedback from your last attempt (attempt {int(env.get('MAYOR_ATTEMPT', '2')) - 1})\n{feedback}\n"
        )
    return task


def limits_from_env(env: os._Environ[str] | dict[str, str]) -> Limits:
    def number(name: str, cast: type) -> Any:
        value = env.get(name)
        return cast(value) if value else None

    limits = Limits()
    limits.max_steps = number("MAYOR_MAX_STEPS", int) or limits.max_steps
    limits.max_tokens = number("MAYOR_MAX_TOKENS", int)
    limits.max_usd = number("MAYOR_MAX_USD", float)
    limits.max_seconds = number("MAYOR_MAX_SECONDS", float)
    limits.trim_after_tokens = number("MAYOR_TRIM_AFTER_TOKENS", int) or limits.trim_after_tokens
    return limits


def run_agent(agent: Agent, task: str, run_dir: Path) -> int:
    """Run the loop; whatever happens, save the transcript and ``result.json``. Exit 0 when done."""
    error: str | None = None
    try:
        agent.run(task)
    except AgentStop as stop:
        error = stop.error
    except Exception as exc:
        error = describe_failure(exc)
    except Terminated as stop:
        error = str(stop)
    finally:
        save(agent, run_dir, error)
    if error:
        print(f"mayor: the built-in agent stopped: {error}", file=sys.stderr)
    return 0 if error is None else 1


def describe_failure(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    if status == 401:
        return "the Anthropic API refused the key (401): set a valid ANTHROPIC_API_KEY"
    if status is not None:
        return f"the Anthropic API failed for good with status {status} after retries: {exc}"
    return f"the agent failed: {type(exc).__name__}: {exc}"


def save(agent: Agent, run_dir: Path, error: str | None) -> None:
    """``result.json`` (small, what the supervisor reads) first, then the transcript; each whole or
    not at all, even if the supervisor's SIGKILL comes in the middle."""
    run_dir.mkdir(parents=True, exist_ok=True)
    findings, problems = findings_from_text(agent.final_text)
    result = {
        "summary": agent.final_text,
        "usage": agent.usage.model_dump(),
        "error": error,
        "turns": agent.steps,
        "model": agent.model.name,
        "findings": findings,
        "problems": problems,
    }
    write_whole(run_dir / "result.json", json.dumps(result, indent=1, default=str))
    write_whole(run_dir / "transcript.json", json.dumps(agent.transcript(error), indent=1, default=str))


def write_whole(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then ``os.replace``."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
