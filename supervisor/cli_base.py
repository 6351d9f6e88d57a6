"""The command line's frame: the Typer app, its error handling group, the options commands share.

The commands are in :mod:`supervisor.cli` (the plan) and :mod:`supervisor.cli_run` (runs and
what they show). The command line: parse, dispatch, turn errors into exit codes. No work happens here.

Exit codes: 0 done; 1 a user error (one line: what is wrong, what to do); 2 usage (an unknown
option, a missing argument, an option value the command cannot take: the parser's own errors,
``typer.BadParameter`` from the checks below and :class:`~supervisor.errors.UsageError`);
3 unexpected (with the path of a crash log); 130 interrupted. Bad input never exits 3.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from supervisor import __version__
from supervisor import cli_checks as checks


class MayorGroup(TyperGroup):
    """The one handler around every command."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        checks.plain_arguments(self)

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:  # type: ignore[override]
        kw["standalone_mode"] = False
        sys.exit(self._guarded(args, *a, **kw))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # typer would turn it into a silent Exit(130)
            raise typer.Abort() from None

    def _guarded(self, args: Sequence[str] | None, *a: Any, **kw: Any) -> int:
        from beads.errors import MayorError

        try:
            code = super().main(args, *a, **kw)
        except typer.Exit as exc:
            return exc.exit_code
        except typer.TyperException as exc:  # usage errors: typer's own click
            show = getattr(exc, "show", None)
            if show is not None:
                show()
            else:
                sys.stderr.write(f"mayor: {exc.format_message()}\n")
            return exc.exit_code
        except (typer.Abort, KeyboardInterrupt):
            sys.stderr.write("mayor: interrupted\n")
            return 130
        except MayorError as exc:
            from supervisor.crash import say

            say(f"mayor: {exc}")
            return exc.exit_code
        except Exception as exc:
            from supervisor.crash import handle

            return handle(exc)
        return code if isinstance(code, int) else 0


app = typer.Typer(
    cls=MayorGroup,
    name="mayor",
    help="Run coding agents in parallel on one git repository and land their work safely.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
dep_app = typer.Typer(help="Add or remove a dependency between two beads.", no_args_is_help=True)
app.add_typer(dep_app, name="dep")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Multi = Optional[list[str]]  # noqa: UP045 - typer reads Optional here
AgentOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        metavar="NAME", callback=checks.agent, help="The agent: an [agents.NAME], builtin, claude-code, codex."
    ),
]
PlanningModel = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(metavar="MODEL", help="The model (default: the strong model for planning)."),
]
OnlyLabel = Annotated[Optional[str], typer.Option(metavar="LABEL", help="Only beads with this label.")]  # noqa: UP045


def _version(value: bool) -> None:
    if value:
        print(f"mayor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Run coding agents in parallel on one git repository and land their work safely."""
