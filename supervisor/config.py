"""``.mayor/config.toml``: what a repository tells mayor. Read with tomllib, checked by pydantic."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from supervisor.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class AgentConfig(_Section):
    """One ``[agents.NAME]`` entry."""

    kind: str = "command"
    """``builtin`` (the Claude agent), ``claude-code``, ``codex``, or ``command`` (any shell command line)."""
    command: str | None = None
    """The shell command line that runs the agent in the bead's worktree."""
    model: str | None = None
    args: list[str] = Field(default_factory=list)
    """Extra arguments for an external CLI (permission flags and the like)."""
    max_steps: int | None = None
    """Built-in agent: model calls per attempt (``--max-steps`` overrides)."""
    max_tokens: int | None = None
    """Built-in agent: tokens per attempt; reaching it ends the attempt as failed."""
    max_usd: float | None = None
    """Built-in agent: dollars per attempt."""
    max_seconds: float | None = None
    """Built-in agent: wall time of the model loop per attempt."""
    trim_after_tokens: int | None = None
    """Built-in agent: past this many prompt tokens, the oldest tool results are shortened."""
    ray_resources: dict[str, Any] = Field(default_factory=dict)
    """``--executor ray``: what each attempt reserves on its node (``num_cpus`` 1 unless given;
    ``num_gpus``, ``memory``, custom ``resources``)."""


class BudgetConfig(_Section):
    usd: float | None = None
    """Stop slinging new beads once a run has spent this many dollars."""
    tokens: int | None = None


class Config(_Section):
    target: str = "main"
    """The branch the merge queue lands work on."""
    slots: int = Field(default=4, ge=1)
    gate: str | None = None
    """The command that must pass on a merge candidate before the target moves (e.g. ``pytest -q``)."""
    setup: str | None = None
    """A command run once in a fresh worktree (install dependencies)."""
    copy_files: list[str] = Field(default_factory=list, alias="copy")
    """Gitignored files copied into each worktree (``.env``)."""
    worktrees: str | None = None
    """The folder under which this repository's worktree pool lives (default
    ``$XDG_DATA_HOME/mayor/worktrees``); never inside the repository or its ``.git``."""
    agent: str = "builtin"
    """The default agent's name."""
    max_attempts: int = Field(default=3, ge=1)
    timeout: str = "30m"
    idle_timeout: str = "10m"
    merge: Literal["merge", "rebase"] = "merge"
    id_prefix: str = Field(default="mr", pattern=r"^[a-z][a-z0-9]{0,9}$")
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    executor: Literal["local", "ray"] = "local"
    """Where attempts run: ``local`` (this machine's worktree pool) or ``ray`` (a Ray cluster)."""
    ray_address: str | None = None
    """``executor = "ray"``: the cluster's head (``HOST:6379``); unset: ``RAY_ADDRESS``, else a local Ray."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def load_config(path: Path) -> Config:
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML ({exc})") from exc
    try:
        return Config.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(path, f"{where}: {first['msg']}") from exc


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``90s``, ``10m``, ``1h``, ``250ms`` or plain seconds, as seconds."""
    match = _DURATION.match(text)
    if not match:
        from supervisor.errors import MayorError

        raise MayorError(f"bad duration {text!r}: write it like 90s, 10m or 1h")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def render_default(target: str) -> str:
    """The commented ``config.toml`` that ``mayor init`` writes."""
    return f'''# mayor configuration. Every key is optional; the values shown are the defaults.

# The branch the merge queue lands work on.
target = "{target}"

# How many beads run at once (mayor sling -j overrides).
slots = 4

# The command that must pass on every merge candidate before the target moves.
# Unset means no gate: only the beads' own acceptance checks guard the target.
# gate = "python -m pytest -q"

# Run once in each fresh worktree (install dependencies, build).
# setup = "pip install -e ."

# Gitignored files copied into each worktree.
copy = []

# The agent used for beads that name none, and how hard to try.
agent = "builtin"
max_attempts = 3
timeout = "30m"        # wall time of one attempt
idle_timeout = "10m"   # no output and no file change for this long kills the attempt
merge = "merge"        # or "rebase"
id_prefix = "mr"

# Agents. "builtin" (the Claude agent, needs ANTHROPIC_API_KEY), "claude-code" and "codex"
# work without an entry; add one to set a model, limits or the CLI's flags. kind = "command"
# runs any shell command line in the bead's worktree.
# [agents.builtin]
# model = "claude-sonnet-5-5"
# max_steps = 60             # model calls per attempt
# max_tokens = 2000000       # tokens per attempt
# max_usd = 2.0              # dollars per attempt
# max_seconds = 1800         # wall time of the model loop
# trim_after_tokens = 120000 # past this, the oldest tool results are shortened
# [agents.cc]
# kind = "claude-code"
# args = ["--permission-mode", "acceptEdits"]
# [agents.script]
# kind = "command"
# command = "./scripts/agent.sh"

[budget]
# usd = 20.0        # stop slinging new beads past this spend
# tokens = 5000000
'''


GITIGNORE = """# mayor's local state (the config and, if you like, beads/ are meant to be tracked)
runs/
events.jsonl
locks/
*.lock
crash-*.log
state/
"""
