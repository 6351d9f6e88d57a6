"""The command line: parse, dispatch, turn errors into exit codes. No work happens here.

The app, its error handling and shared options are in :mod:`supervisor.cli_base`; the commands of
a run are in :mod:`supervisor.cli_run`; this module has the plan's commands and ``main``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from supervisor import cli_checks as checks
from supervisor.cli_base import AgentOpt, JsonOpt, Multi, OnlyLabel, app, dep_app

__all__ = ["app", "main"]


@app.command()
def init(
    target: Annotated[
        str | None, typer.Option(metavar="BRANCH", help="The branch to land work on (default: the current one).")
    ] = None,
) -> int:
    """Make .mayor/ here: a commented config.toml, the bead store and a .gitignore."""
    from supervisor.commands import init as cmd

    return cmd.run(target=target)


@app.command()
def add(
    title: Annotated[str, typer.Argument(metavar="TITLE", help="What the bead is, in a line.")],
    description: Annotated[str, typer.Option("-d", "--description", metavar="TEXT", help="The whole task.")] = "",
    accept: Annotated[Multi, typer.Option("--accept", metavar="TEXT", help="An acceptance criterion (repeat).")] = None,
    check: Annotated[
        Multi,
        typer.Option(
            "--check", metavar="COMMAND", help="A shell command that proves a criterion; pairs with the n-th --accept."
        ),
    ] = None,
    dep: Annotated[Multi, typer.Option("--dep", metavar="ID", help="A bead that must land first (repeat).")] = None,
    priority: Annotated[int, typer.Option("-p", "--priority", metavar="0-4", min=0, max=4, help="0 highest .. 4.")] = 2,
    label: Annotated[Multi, typer.Option("--label", metavar="LABEL", help="A label (repeat).")] = None,
    kind: Annotated[
        str,
        typer.Option(metavar="KIND", callback=checks.kind, help="task, bug, feature, design, review (report-only) ..."),
    ] = "task",
    estimate: Annotated[
        int | None, typer.Option(metavar="MINUTES", min=0, help="Minutes of work, for the critical path.")
    ] = None,
    agent: AgentOpt = None,
    model: Annotated[str | None, typer.Option(metavar="MODEL", help="The model for the agent.")] = None,
    approval: Annotated[
        str,
        typer.Option(
            callback=checks.one_of("auto", "human"),
            metavar="auto|human",
            help="auto, or human: wait for `mayor approve`.",
        ),
    ] = "auto",
    as_json: JsonOpt = False,
) -> int:
    """Add a bead; print its new id (or the whole record with --json)."""
    from supervisor.commands import add as cmd

    return cmd.run(
        title=title,
        description=description,
        accept=accept or (),
        check=check or (),
        dep=dep or (),
        priority=priority,
        label=label or (),
        kind=kind,
        estimate=estimate,
        agent=agent,
        model=model,
        approval=approval,
        as_json=as_json,
    )


@app.command(name="import")
def import_(
    path: Annotated[str, typer.Argument(metavar="PATH", help="A file (JSON array or JSONL) or a beads backup folder.")],
    source: Annotated[
        str,
        typer.Option(
            "--from",
            callback=checks.one_of("mayor", "beads"),
            metavar="mayor|beads",
            help="mayor, or beads (bd export JSONL or backup folder).",
        ),
    ] = "mayor",
    as_json: JsonOpt = False,
) -> int:
    """Add many beads at once, all or nothing."""
    from supervisor.commands import import_ as cmd

    return cmd.run(path=path, source=source, as_json=as_json)


@app.command(name="export")
def export_(
    path: Annotated[str, typer.Argument(metavar="FILE", help="The JSONL file to write (replaced if it exists).")],
    target: Annotated[
        str,
        typer.Option(
            "--to",
            callback=checks.one_of("beads"),
            metavar="beads",
            help="beads: one issue a line, as `bd import` reads.",
        ),
    ] = "beads",
) -> int:
    """Write every bead to a file another tracker reads."""
    from supervisor.commands import export as cmd

    return cmd.run(path=path, target=target)


@app.command(name="list")
def list_(
    status: Annotated[
        Multi, typer.Option("--status", metavar="STATUS", help="Only beads in this status (repeat): open, failed ...")
    ] = None,
    label: OnlyLabel = None,
    kind: Annotated[
        str | None, typer.Option(metavar="KIND", help="Only beads of this kind (review: mayor review's).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Review beads too (hidden by default).")] = False,
    as_json: JsonOpt = False,
) -> int:
    """List the beads (all but review beads by default)."""
    from supervisor.commands import query

    return query.list_beads(status=status or (), label=label, kind=kind, every=every, as_json=as_json)


@app.command()
def show(bead_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOpt = False) -> int:
    """Show one bead whole."""
    from supervisor.commands import query

    return query.show(bead_id=bead_id, as_json=as_json)


@app.command()
def ready(as_json: JsonOpt = False) -> int:
    """The beads that can start now: by priority, then longest critical path."""
    from supervisor.commands import query

    return query.ready(as_json=as_json)


@app.command()
def blocked(as_json: JsonOpt = False) -> int:
    """The open beads that cannot start yet, and what holds each."""
    from supervisor.commands import query

    return query.blocked(as_json=as_json)


@dep_app.command("add")
def dep_add(
    bead_id: Annotated[str, typer.Argument(metavar="ID")], dep: Annotated[str, typer.Argument(metavar="DEP")]
) -> int:
    """Make ID wait for DEP to land."""
    from supervisor.commands import edit

    return edit.dep_add(bead_id=bead_id, dep=dep)


@dep_app.command("rm")
def dep_rm(
    bead_id: Annotated[str, typer.Argument(metavar="ID")], dep: Annotated[str, typer.Argument(metavar="DEP")]
) -> int:
    """Drop the dependency of ID on DEP."""
    from supervisor.commands import edit

    return edit.dep_rm(bead_id=bead_id, dep=dep)


@app.command()
def update(
    bead_id: Annotated[str, typer.Argument(metavar="ID")],
    title: Annotated[str | None, typer.Option(metavar="TEXT", help="A new title.")] = None,
    description: Annotated[
        str | None, typer.Option("-d", "--description", metavar="TEXT", help="A new description.")
    ] = None,
    priority: Annotated[
        int | None, typer.Option("-p", "--priority", metavar="0-4", min=0, max=4, help="0 highest .. 4.")
    ] = None,
    label: Annotated[Multi, typer.Option("--label", metavar="LABEL", help="Add a label (repeat).")] = None,
    remove_label: Annotated[
        Multi, typer.Option("--remove-label", metavar="LABEL", help="Remove a label (repeat).")
    ] = None,
    kind: Annotated[str | None, typer.Option(metavar="KIND", callback=checks.kind, help="A new kind.")] = None,
    estimate: Annotated[int | None, typer.Option(metavar="MINUTES", min=0, help="Minutes of work.")] = None,
    agent: AgentOpt = None,
    model: Annotated[str | None, typer.Option(metavar="MODEL", help="The model for the agent.")] = None,
    approval: Annotated[
        str | None,
        typer.Option(callback=checks.one_of("auto", "human"), metavar="auto|human", help="auto or human."),
    ] = None,
    accept: Annotated[
        Multi, typer.Option("--accept", metavar="TEXT", help="Replace the acceptance criteria (repeat).")
    ] = None,
    check: Annotated[
        Multi, typer.Option("--check", metavar="COMMAND", help="Checks paired with --accept (repeat).")
    ] = None,
) -> int:
    """Change fields of a bead; the graph is checked before anything is written."""
    from supervisor.commands import edit

    return edit.update(
        bead_id=bead_id,
        title=title,
        description=description,
        priority=priority,
        label=label or (),
        remove_label=remove_label or (),
        kind=kind,
        estimate=estimate,
        agent=agent,
        model=model,
        approval=approval,
        accept=accept or (),
        check=check or (),
    )


@app.command()
def cancel(bead_id: Annotated[str, typer.Argument(metavar="ID")]) -> int:
    """Cancel a bead that has not landed; its dependents show as blocked."""
    from supervisor.commands import edit

    return edit.cancel(bead_id=bead_id)


@app.command()
def retry(
    bead_id: Annotated[str, typer.Argument(metavar="ID")],
    note: Annotated[str, typer.Option("--note", "-m", metavar="TEXT", help="What the next attempt should know.")] = "",
) -> int:
    """Stop a bead's running attempt and start a new one with a note in its feedback (not a failure)."""
    from supervisor.commands import retry as cmd

    return cmd.run(bead_id=bead_id, note=note)


@app.command()
def reopen(
    bead_ids: Annotated[Multi, typer.Argument(metavar="ID", help="The beads to open again.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed bead too.")] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start each bead's branch again at the target; the old one is kept.")
    ] = False,
) -> int:
    """Open failed, cancelled or finished beads again, with a new attempt budget."""
    from supervisor.commands import edit

    return edit.reopen(bead_ids=bead_ids or (), failed=failed, fresh=fresh)


@app.command()
def graph(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            callback=checks.one_of("tree", "dot", "mermaid"),
            metavar="tree|dot|mermaid",
            help="tree, dot (Graphviz) or mermaid.",
        ),
    ] = "tree",
) -> int:
    """Draw the dependency graph."""
    from supervisor.commands import query

    return query.show_graph(fmt=fmt)


@app.command()
def schema() -> int:
    """Print the JSON Schema of a bead file."""
    from supervisor.commands import query

    return query.schema()


from supervisor import cli_run  # noqa: E402, F401 - registers the run's commands after the plan's


def main() -> None:
    app()
