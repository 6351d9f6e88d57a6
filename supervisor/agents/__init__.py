"""Agents: how each kind is started as a process, and how its report is read afterwards.

Every agent runs under the same process contract (see :mod:`supervisor.run.agentproc`); an adapter
only says which command line to run and how to read what the agent left behind (``result.json``
or a structured stream in its log) into usage, cost, an error and findings.

    kind         command line                                   report from
    command      the configured shell line                      result.json (optional)
    builtin      python -m supervisor.agents.builtin            result.json (written by the loop)
    claude-code  claude -p ... < prompt (acceptEdits, git)      the stream's final ``result`` event
    codex        codex exec --json ... - < prompt (sandboxed)   ``turn.completed`` / ``turn.failed``
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from supervisor.agents import external
from supervisor.agents.types import Adapter, Launch, LaunchContext, Report, result_file_report
from supervisor.config import AgentConfig, Config
from supervisor.errors import MayorError

__all__ = [
    "KINDS",
    "Adapter",
    "BuiltinAdapter",
    "CommandAdapter",
    "Launch",
    "LaunchContext",
    "Report",
    "adapter_for",
    "api_key_set",
    "check_runnable",
    "resolve_agent",
    "result_file_report",
]


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
    if agent.kind == "codex" and "--full-auto" in agent.args:
        raise MayorError(
            f"agent {name!r} passes --full-auto, which codex no longer has; drop it: mayor runs codex in "
            "its workspace-write sandbox with the worktree's git folders and the run folder writable"
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
        return external.ClaudeCodeAdapter() if kind == "claude-code" else external.CodexAdapter()
    raise MayorError(f"unknown agent kind {kind!r}; one of: {', '.join(KINDS)}")
