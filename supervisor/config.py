"""``.mayor/config.toml``: what a repository tells mayor. Read with tomllib, checked by pydantic.

A file mayor cannot use stops every command with a :class:`~supervisor.errors.ConfigError` that
names the file and the key, in mayor's words rather than pydantic's: a misspelt key gets "did you
mean", a top-level key that sits under a ``[table]`` (TOML's trap: every key after a table header
belongs to that table) is explained, durations and agents are checked when the file is read.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from supervisor.errors import ConfigError, UsageError

IMPLICIT_AGENTS = ("builtin", "claude-code", "codex")
"""Agent names that work without an ``[agents.NAME]`` entry: the name is the kind."""
AGENT_KINDS = ("command", "builtin", "claude-code", "codex")


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

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in AGENT_KINDS:
            raise ValueError(f"unknown agent kind{_did_you_mean(kind, AGENT_KINDS)}; one of: {', '.join(AGENT_KINDS)}")
        return kind

    @model_validator(mode="after")
    def _command_given(self) -> AgentConfig:
        if self.kind == "command" and not (self.command or "").strip():
            raise ValueError('kind = "command" needs command = "..." (the shell line that runs the agent)')
        return self


def default_parallel_gates() -> int:
    """Gates at once unless configured: one per CPU, at least 2 (a sleeping or I/O-bound gate
    overlaps well) and at most 8."""
    import os

    return max(2, min(8, os.cpu_count() or 2))


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
    gate_timeout: str = "30m"
    """A gate run taking longer than this is killed (with its process group) and counts as failed."""
    gate_retries: int = Field(default=1, ge=0)
    """A failed gate is run again this many times on the same tree; a pass then is ``flaky``. 0
    for a slow suite that is not flaky (the failure is not paid for twice)."""
    id_prefix: str = Field(default="mr", pattern=r"^[a-z][a-z0-9]{0,9}$")
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    queue: Literal["auto", "serial"] = "auto"
    """``auto``: the merge queue batches and speculates, as far as the failure rate it has measured
    makes worth it; ``serial``: one candidate at a time."""
    max_batch: int = Field(default=8, ge=1, le=64)
    """Most beads gated as one candidate (1: never batch; speculation still goes on)."""
    max_parallel_gates: int = Field(default_factory=lambda: default_parallel_gates(), ge=1, le=64)
    """Gate runs at once (speculative candidates, bisection), each in a pooled worktree of its own."""
    executor: Literal["local", "ray"] = "local"
    """Where attempts run: ``local`` (this machine's worktree pool) or ``ray`` (a Ray cluster)."""
    ray_address: str | None = None
    """``executor = "ray"``: the cluster's head (``HOST:6379``); unset: ``RAY_ADDRESS``, else a local Ray."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("copy_files")
    @classmethod
    def _copy_inside(cls, patterns: list[str]) -> list[str]:
        from beads.paths import copy_pattern_problem

        for pattern in patterns:
            problem = copy_pattern_problem(pattern)
            if problem:
                raise ValueError(problem)
        return patterns

    @field_validator("timeout", "idle_timeout", "gate_timeout")
    @classmethod
    def _duration(cls, text: str) -> str:
        if _seconds(text) is None:
            raise ValueError(f"not a duration; {DURATION_HINT}")
        return text

    def agent_names(self) -> list[str]:
        """Every name an agent may be called by here: the entries, then the implicit ones."""
        return [*self.agents, *(n for n in IMPLICIT_AGENTS if n not in self.agents)]

    def unknown_agent(self, name: str) -> str | None:
        """Why ``name`` names no agent here (with "did you mean"), or None when it does."""
        if name in self.agents or name in IMPLICIT_AGENTS:
            return None
        return (
            f"no agent {name!r}{_did_you_mean(name, self.agent_names())}; define it as [agents.{name}] in "
            f".mayor/config.toml, or use one of: {', '.join(self.agent_names())}"
        )


def check_agent(config: Config, name: str | None, option: str = "--agent") -> None:
    """Refuse an ``--agent`` value that names no agent of ``config`` (a usage error, exit 2)."""
    problem = None if name is None else config.unknown_agent(name)
    if problem:
        raise UsageError(f"{option} {name}: {problem}")


def load_config(path: Path) -> Config:
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML ({exc})") from exc
    try:
        config = Config.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        key, problem = explain(errors[0])
        raise ConfigError(path, problem + more, key) from exc
    unknown = config.unknown_agent(config.agent)
    if unknown:
        raise ConfigError(path, unknown, "agent")
    return config


# -- pydantic's errors in mayor's words ---------------------------------------------------------------
_SECTIONS: Mapping[str, type[BaseModel]] = {"": Config, "agents.*": AgentConfig, "budget": BudgetConfig}


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def explain(error: Mapping[str, Any]) -> tuple[str, str]:
    """The key (dotted, ``agents.x.kind``) and the problem, for one of pydantic's ``errors()``."""
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        return key, _unknown_key(loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    if isinstance(value, Mapping | list) or error["type"] == "missing":
        return key, message
    return key, f"{json.dumps(value)}: {message}"


def _unknown_key(loc: list[str]) -> str:
    *table, name = loc
    header = ".".join(table)
    top = _keys(Config)
    if table and name in top and name not in ("agents", "budget"):
        return (
            f"{name!r} is a top-level key, but it sits under [{header}]: in TOML every key after a [table] "
            f"header belongs to that table; move `{name} = ...` above the first [table] line of the file"
        )
    section = "agents.*" if table[:1] == ["agents"] else header
    known = _keys(_SECTIONS.get(section, Config))
    where = f"[{header}]" if header else "the top level"
    hint = _did_you_mean(name, known)
    return f"unknown key{hint}" + ("" if hint else f"; the keys of {where}: {', '.join(known)}")


# -- durations ---------------------------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
DURATION_HINT = "write it like 90s, 10m, 1h, 250ms or plain seconds"


def _seconds(text: str) -> float | None:
    match = _DURATION.match(text)
    return None if match is None else float(match.group(1)) * _UNIT_S[match.group(2)]


def parse_duration(text: str, what: str = "duration") -> float:
    """``90s``, ``10m``, ``1h``, ``250ms`` or plain seconds, as seconds. ``what`` names the option
    in the error (a usage error: the config's durations are checked when it is read)."""
    seconds = _seconds(text)
    if seconds is None:
        raise UsageError(f"{what} {text!r} is not a duration; {DURATION_HINT}")
    return seconds


def render_default(target: str, setup: str | None = None) -> str:
    """The commented ``config.toml`` that ``mayor init`` writes; ``setup`` (a Python project's, see
    :func:`supervisor.run.workenv.default_setup`) is written active, else shown commented out."""
    return f'''# mayor configuration. Every key is optional; the values shown are the defaults.
# Top-level keys go above the first [table] line: in TOML every key after a [table] header
# belongs to that table.

# The branch the merge queue lands work on.
target = "{target}"

# How many beads run at once (mayor sling -j overrides).
slots = 4

# The command that must pass on every merge candidate before the target moves.
# Unset means no gate: only the beads' own acceptance checks guard the target.
# gate = "python -m pytest -q"

{_setup_lines(setup)}

# Gitignored files copied into each worktree.
copy = []

# The agent used for beads that name none, and how hard to try.
agent = "builtin"
max_attempts = 3
timeout = "30m"        # wall time of one attempt
idle_timeout = "10m"   # no output and no file change for this long kills the attempt
merge = "merge"        # or "rebase"
gate_timeout = "30m"   # a gate run longer than this is killed and fails
gate_retries = 1       # a failed gate runs again on the same tree (a pass then is "flaky"); 0 for a slow suite
queue = "auto"         # batch and speculate as the measured failure rate allows; "serial": one at a time
# max_parallel_gates = 2 # gate runs at once (default: the number of CPUs, 2 to 8)
# max_batch = 8          # most beads in one candidate; 1: never batch
id_prefix = "mr"
executor = "local"     # where attempts run; "ray": on a Ray cluster (pip install 'mayor[ray]')
# ray_address = "HEAD:6379" # executor = "ray": the cluster's head (unset: RAY_ADDRESS, else a local Ray)

# Agents. "builtin" (the Claude agent, needs ANTHROPIC_API_KEY), "claude-code" and "codex"
# work without an entry (agent = "claude-code" is enough); add one only to set a model, limits
# or the CLI's flags. kind = "command" runs any shell command line in the bead's worktree.
# [agents.builtin]
# model = "claude-sonnet-5-5"
# max_steps = 60             # model calls per attempt
# max_tokens = 2000000       # tokens per attempt
# max_usd = 2.0              # dollars per attempt
# max_seconds = 1800         # wall time of the model loop
# trim_after_tokens = 120000 # past this, the oldest tool results are shortened
# [agents.script]
# kind = "command"
# command = "./scripts/agent.sh"
# ray_resources = {{num_cpus = 2}} # executor = "ray": what one attempt reserves on its node (1 CPU)

[budget]
# usd = 20.0        # stop slinging new beads past this spend
# tokens = 5000000
'''


def _setup_lines(setup: str | None) -> str:
    if setup is None:
        return '# Run once in each fresh worktree (install dependencies, build).\n# setup = "pip install -e ."'
    return (
        "# Run once in each fresh worktree: its own .venv with this project installed in it. The\n"
        "# agents, the checks and the gate run with that .venv active, so they import the code of the\n"
        "# worktree they test (a merge candidate), never your own editable install of the project.\n"
        f"setup = {json.dumps(setup)}"
    )


GITIGNORE = """# mayor's local state (the config and, if you like, beads/ are meant to be tracked)
runs/
events.jsonl
locks/
*.lock
crash-*.log
state/
"""
