"""The parameters of :mod:`supervisor.cli`: checks of option values, and how arguments are shown.

A check runs in the parser before the command starts: a bad value is a usage error
(``typer.BadParameter``, exit 2) that names the option and says what it takes. Each is a Typer
``callback``; nothing costly is imported until a check needs it.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument


def plain_arguments(command: Any) -> None:
    """Arguments shown by their metavar alone (``TITLE``, not ``TITLE <str>``), in every command."""
    for param in getattr(command, "params", []):
        if isinstance(param, TyperArgument):
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
    for sub in (getattr(command, "commands", None) or {}).values():
        plain_arguments(sub)


def duration(value: str | None) -> str | None:
    from supervisor.config import DURATION_HINT, _seconds

    if value is not None and _seconds(value) is None:
        raise typer.BadParameter(f"{value!r} is not a duration; {DURATION_HINT}")
    return value


def kind(value: str | None) -> str | None:
    import re

    if value is not None and not re.fullmatch(r"[a-z][a-z0-9_-]*", value):
        raise typer.BadParameter(f"{value!r}: a kind is lowercase letters, digits, - and _ (task, bug, review ...)")
    return value


def one_of(*choices: str) -> Any:
    """A check that the value is one of ``choices`` (shown in the option's metavar, ``a|b``)."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def said(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("say it in words: it must not be blank")
    return value


def json_object(value: str | None) -> str | None:
    import json

    try:
        data = json.loads(value) if value else {}
    except ValueError as exc:
        raise typer.BadParameter(f"not valid JSON ({exc}); pass an object like '{{\"step\": 2}}'") from None
    if not isinstance(data, dict):
        raise typer.BadParameter("must be a JSON object, like '{\"step\": 2}'")
    return value


def agent(value: str | None) -> str | None:
    """An agent the repository's config defines (or an implicit one), with "did you mean"."""
    if value is None:
        return None
    from supervisor.repo import open_repo

    problem = open_repo().config.unknown_agent(value)
    if problem:
        raise typer.BadParameter(problem)
    return value
