"""Agents: how each kind is started as a process, and how its report is read afterwards.

Every agent runs under the same process contract (see :mod:`supervisor.run.agentproc`); an adapter
only says which command line to run and how to read what the agent left behind (``result.json``
or a structured stream in its log) into usage, cost, an error and findings.

    kind         command line                                   report from
    command      the configured shell line                      result.json (optional)
    builtin      python -m supervisor.agents.builtin            result.json (written by the loop)
    claude-code  claude -p ... --output-format stream-json      the stream's final ``result`` event
    codex        codex exec --json ...                          ``turn.completed`` / ``turn.failed``
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pydantic

from beads.models import Bead, Finding, Usage
from supervisor.config import AgentConfig, Config
from supervisor.errors import MayorError


@dataclass
class LaunchContext:
    bead: Bead
    name: str
    """The agent's name in the config."""
    config: AgentConfig
    run_dir: Path
    worktree: Path
    model: str | None
    """Resolved: ``--model``, then the bead's, then the agent's, then the kind's default."""
    max_steps: int | None = None


@dataclass
class Launch:
    command: str
    """A shell command line, run with bash in the worktree."""
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    """What an agent said about its own run: informative, never proof of the work."""

    usage: Usage | None = None
    error: str | None = None
    summary: str = ""
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Parts of the agent's output that could not be used (and were dropped)."""
    turns: int | None = None


class Adapter(Protocol):
    kind: str

    def launch(self, ctx: LaunchContext) -> Launch: ...

    def report(self, run_dir: Path, model: str | None) -> Report: ...


def result_file_report(run_dir: Path) -> Report:
    """The optional ``result.json`` an agent writes in its run folder; bad parts are reported,
    never trusted."""
    path = run_dir / "result.json"
    if not path.exists():
        return Report()
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Report(problems=[f"result.json is not valid JSON: {exc}"])
    if not isinstance(data, dict):
        return Report(problems=["result.json is not a JSON object"])
    out = Report(summary=str(data.get("summary") or ""), error=data.get("error") or None)
    if isinstance(data.get("turns"), int):
        out.turns = data["turns"]
    for index, raw in enumerate(data.get("findings") or []):
        try:
            out.findings.append(Finding.model_validate(raw))
        except pydantic.ValidationError as exc:
            out.problems.append(f"finding {index + 1} dropped: {exc.errors()[0]['msg']}")
    if data.get("usage") is not None:
        try:
            out.usage = Usage.model_validate(data["usage"])
        except pydantic.ValidationError as exc:
            out.problems.append(f"usage dropped: {exc.errors()[0]['msg']}")
    return out


class CommandAdapter:
    """Any command line: the contract is the environment, the exit status and ``result.json``."""

    kind = "command"

    def launch(self, ctx: LaunchContext) -> Launch:
        if not ctx.config.command:
            raise MayorError(f'agent {ctx.name!r} has no command; set command = "..." under [agents.{ctx.name}]')
        return Launch(ctx.config.command)

    def report(self, run_dir: Path, model: str | None) -> Report:
        return result_file_report(run_dir)


class BuiltinAdapter:
    """The built-in Claude agent: a tool-use loop on the anthropic SDK, in its own process."""

    kind = "builtin"

    def launch(self, ctx: LaunchContext) -> Launch:
        from supervisor.pricing import WORKER_MODEL

        env = {"MAYOR_MODEL": ctx.model or WORKER_MODEL}
        limits = {
            "MAYOR_MAX_STEPS": ctx.max_steps or ctx.config.max_steps,
            "MAYOR_MAX_TOKENS": ctx.config.max_tokens,
            "MAYOR_MAX_USD": ctx.config.max_usd,
            "MAYOR_MAX_SECONDS": ctx.config.max_seconds,
            "MAYOR_TRIM_AFTER_TOKENS": ctx.config.trim_after_tokens,
        }
        env.update({name: str(value) for name, value in limits.items() if value is not None})
        return Launch(f"{shlex.quote(sys.executable)} -m supervisor.agents.builtin", env)

    def report(self, run_dir: Path, model: str | None) -> Report:
        report = result_file_report(run_dir)
        if report.usage is None and (run_dir / "usage.json").exists():  # killed before it wrote result.json
            from supervisor.run.budget import live_usage

            report.usage = live_usage(run_dir)
        return report


KINDS = ("command", "builtin", "claude-code", "codex")
IMPLICIT = {"builtin": "builtin", "claude-code": "claude-code", "codex": "codex"}
"""Agent names that work without an ``[agents.NAME]`` entry: the name is the kind."""


def resolve_agent(config: Config, name: str) -> AgentConfig:
    """The ``[agents.NAME]`` entry, or the implicit one for ``builtin``, ``claude-code``, ``codex``."""
    found = config.agents.get(name)
    if found is not None:
        return found
    if name in IMPLICIT:
        return AgentConfig(kind=IMPLICIT[name])
    raise MayorError(
        f"agent {name!r} is not defined in .mayor/config.toml; add [agents.{name}] with "
        f'command = "...", or pass --agent (defined: {", ".join(config.agents) or "none"})'
    )


def api_key_set() -> bool:
    """Whether the anthropic SDK will find credentials in the environment."""
    import os

    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def check_runnable(name: str, agent: AgentConfig) -> None:
    """Refuse at start what cannot run: a missing key or executable, an unknown kind."""
    import shutil

    adapter_for(agent.kind)
    offline = agent.model == "mayor-demo"
    if agent.kind == "builtin" and not offline and not api_key_set():
        raise MayorError(
            f"agent {name!r} is the built-in Claude agent and needs ANTHROPIC_API_KEY; set it, or "
            "use an agent that is a command (`mayor demo` runs offline)"
        )
    if agent.kind in ("claude-code", "codex"):
        exe = (agent.command or ("claude" if agent.kind == "claude-code" else "codex")).split()[0]
        if shutil.which(exe) is None:
            raise MayorError(
                f'agent {name!r} runs {exe!r}, which is not on PATH; install it or set command = "/path/to/{exe}"'
            )


def adapter_for(kind: str) -> Adapter:
    if kind == "command":
        return CommandAdapter()
    if kind == "builtin":
        return BuiltinAdapter()
    if kind in ("claude-code", "codex"):
        from supervisor.agents import external

        return external.ClaudeCodeAdapter() if kind == "claude-code" else external.CodexAdapter()
    raise MayorError(f"unknown agent kind {kind!r}; one of: {', '.join(KINDS)}")
