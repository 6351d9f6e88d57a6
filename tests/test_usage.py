"""Usage errors exit 2 in every command: an unknown option, a value of the wrong type or outside
its choices, and each command's own checks of option values. Bad input never exits 3. Help shows
readable metavars (``--jobs N``, ``--format tree|dot|mermaid``), never ``<list[str]>``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperArgument

from supervisor.cli import app
from tests.test_cli import invoke


def leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    subs = getattr(command, "commands", None)
    if not subs:
        return [(path, command)]
    return [found for name, sub in sorted(subs.items()) for found in leaves(sub, (*path, name))]


COMMANDS = leaves(typer.main.get_command(app))
NUMERIC = {"N", "0-4", "MINUTES", "USD", "TOKENS", "PR"}


def positionals(command: Any) -> list[str]:
    """A placeholder for each required argument, so that only the option under test is wrong."""
    return ["x" for p in command.params if isinstance(p, TyperArgument) and p.required]


def usage_exit(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 2, (args, result.exit_code, result.output, result.exception)
    return result.stderr


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"add", "dep add", "dep rm", "reopen", "sling", "reject", "summary"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_exits_2_on_usage_errors(mayor_repo: Path, path: tuple[str, ...], command: Any) -> None:
    usage_exit(*path, *positionals(command), "--no-such-option")
    for param in command.params:
        if param.param_type_name != "option" or param.is_flag or param.metavar is None:
            continue
        if param.metavar in NUMERIC:
            usage_exit(*path, *positionals(command), param.opts[0], "many")
        elif "|" in param.metavar:
            stderr = usage_exit(*path, *positionals(command), param.opts[0], "bogus")
            assert "'bogus' is not one of " + ", ".join(param.metavar.split("|")) in stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["list", "--status", "bogus"], "--status bogus: no such status"),
        (["graph", "--format", "svg"], "'svg' is not one of tree, dot, mermaid"),
        (["reject", "mr-0000"], "Missing option '--reason'"),
        (["reject", "mr-0000", "--reason", "  "], "must not be blank"),
        (["sling", "-j", "0"], "--jobs"),
        (["sling", "--timeout", "30 minutes"], "'30 minutes' is not a duration; write it like 90s"),
        (["sling", "--idle-timeout", "soon"], "is not a duration"),
        (["sling", "--agent", "nosuch"], "no agent 'nosuch'"),
        (["review", "--agent", "claude_code"], "did you mean 'claude-code'?"),
        (["add", "t", "--agent", "nosuch"], "define it as [agents.nosuch]"),
        (["update", "mr-0000", "--agent", "nosuch"], "no agent 'nosuch'"),
        (["add", "t", "--kind", "Big one"], "a kind is lowercase letters"),
        (["add", "t", "--approval", "maybe"], "'maybe' is not one of auto, human"),
        (["emit", "step", "--data", "[1]"], "must be a JSON object"),
        (["emit", "step", "--data", "{"], "not valid JSON"),
        (["design", " "], "must not be blank"),
        (["reopen"], "--failed"),
    ],
)
def test_bad_option_values_are_usage_errors(mayor_repo: Path, args: list[str], says: str) -> None:
    assert says in usage_exit(*args)


def test_an_unknown_agent_outside_a_repository_says_to_init(git_repo: Path) -> None:
    result = invoke("add", "t", "--agent", "nosuch")
    assert result.exit_code == 1 and "mayor init" in result.stderr


def test_a_known_agent_is_accepted(mayor_repo: Path) -> None:
    assert invoke("add", "t", "--agent", "codex").exit_code == 0


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_shows_readable_metavars(path: tuple[str, ...], command: Any) -> None:
    text = invoke(*path, "--help").stdout
    assert not re.search(r"<(str|int|float|bool|list\[|path|text)", text), text
    for param in command.params:
        if param.param_type_name == "option" and not param.is_flag:
            assert param.metavar, f"mayor {' '.join(path)} {param.opts[0]} has no metavar"
