"""The adapter boundary: what the supervisor hands an agent kind and what it reads back.

Shared by the registry (:mod:`supervisor.agents`) and every adapter (:mod:`supervisor.agents.external`
and the two in the package), so that none of them imports another to get these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pydantic

from beads.models import Bead, Finding, Usage
from supervisor.config import AgentConfig


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
    never trusted (a field of the wrong type is dropped with a note, never a crash)."""
    from beads.setaside import BadStateFile, read_json

    try:
        data: Any = read_json(run_dir / "result.json")
    except FileNotFoundError:
        return Report()
    except BadStateFile as exc:
        return Report(problems=[f"result.json {exc}"])
    if not isinstance(data, dict):
        return Report(problems=["result.json is not a JSON object"])
    out = Report()
    out.summary = _text(data, "summary", out.problems)
    out.error = _text(data, "error", out.problems) or None
    if isinstance(data.get("turns"), int) and not isinstance(data["turns"], bool):
        out.turns = data["turns"]
    findings = data.get("findings") or []
    if not isinstance(findings, list):
        out.problems.append(f"findings dropped: a list was expected, not {type(findings).__name__}")
        findings = []
    for index, raw in enumerate(findings):
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


MAX_TEXT = 20_000
"""Characters kept of an agent's summary or error."""


def _text(data: dict[str, Any], key: str, problems: list[str]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{key} dropped: a string was expected, not {type(value).__name__}")
        return ""
    return value.encode("utf-8", "replace").decode("utf-8")[:MAX_TEXT]
