"""The command line: parse, dispatch, turn errors into exit codes. No work happens here.

Exit codes: 0 done; 1 a user error (one line: what is wrong, what to do); 2 usage;
3 unexpected (with the path of a crash log); 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from supervisor import __version__


class MayorGroup(TyperGroup):
    """The one handler around every command."""

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
            sys.stderr.write(f"mayor: {exc}\n")
            return exc.exit_code
        except Exception as exc:
            from supervisor.crash import write_crash_log

            path = write_crash_log(exc)
            sys.stderr.write(f"mayor: unexpected error: {exc!r}\nA crash log is at {path}; please report it.\n")
            return 3
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


@app.command()
def init(
    target: Annotated[str | None, typer.Option(help="The branch to land work on (default: the current one).")] = None,
) -> int:
    """Make .mayor/ here: a commented config.toml, the bead store and a .gitignore."""
    from supervisor.commands import init as cmd

    return cmd.run(target=target)


@app.command()
def add(
    title: Annotated[str, typer.Argument(metavar="TITLE", help="What the bead is, in a line.")],
    description: Annotated[str, typer.Option("-d", "--description", help="The whole task.")] = "",
    accept: Annotated[Multi, typer.Option("--accept", help="An acceptance criterion (repeat).")] = None,
    check: Annotated[
        Multi, typer.Option("--check", help="A shell command that proves a criterion; pairs with the n-th --accept.")
    ] = None,
    dep: Annotated[Multi, typer.Option("--dep", help="A bead that must land first (repeat).")] = None,
    priority: Annotated[int, typer.Option("-p", "--priority", min=0, max=4, help="0 highest .. 4.")] = 2,
    label: Annotated[Multi, typer.Option("--label", help="A label (repeat).")] = None,
    kind: Annotated[str, typer.Option(help="task, bug, feature, design, review (report-only) ...")] = "task",
    estimate: Annotated[int | None, typer.Option(help="Minutes of work, for the critical path.")] = None,
    agent: Annotated[str | None, typer.Option(help="The agent to run it (an [agents.NAME]).")] = None,
    model: Annotated[str | None, typer.Option(help="The model for the agent.")] = None,
    approval: Annotated[str, typer.Option(help="auto, or human: wait for `mayor approve`.")] = "auto",
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
        str, typer.Option("--from", help="mayor, or beads (bd export JSONL or backup folder).")
    ] = "mayor",
    as_json: JsonOpt = False,
) -> int:
    """Add many beads at once, all or nothing."""
    from supervisor.commands import import_ as cmd

    return cmd.run(path=path, source=source, as_json=as_json)


@app.command(name="export")
def export_(
    path: Annotated[str, typer.Argument(metavar="FILE", help="The JSONL file to write (replaced if it exists).")],
    target: Annotated[str, typer.Option("--to", help="beads: one issue a line, as `bd import` reads.")] = "beads",
) -> int:
    """Write every bead to a file another tracker reads."""
    from supervisor.commands import export as cmd

    return cmd.run(path=path, target=target)


@app.command(name="list")
def list_(
    status: Annotated[Multi, typer.Option("--status", help="Only beads in this status (repeat).")] = None,
    label: Annotated[str | None, typer.Option(help="Only beads with this label.")] = None,
    as_json: JsonOpt = False,
) -> int:
    """List the beads (every one by default)."""
    from supervisor.commands import query

    return query.list_beads(status=status or (), label=label, as_json=as_json)


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
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    description: Annotated[str | None, typer.Option("-d", "--description", help="A new description.")] = None,
    priority: Annotated[int | None, typer.Option("-p", "--priority", min=0, max=4, help="0 highest .. 4.")] = None,
    label: Annotated[Multi, typer.Option("--label", help="Add a label (repeat).")] = None,
    remove_label: Annotated[Multi, typer.Option("--remove-label", help="Remove a label (repeat).")] = None,
    kind: Annotated[str | None, typer.Option(help="A new kind.")] = None,
    estimate: Annotated[int | None, typer.Option(help="Minutes of work.")] = None,
    agent: Annotated[str | None, typer.Option(help="The agent to run it.")] = None,
    model: Annotated[str | None, typer.Option(help="The model for the agent.")] = None,
    approval: Annotated[str | None, typer.Option(help="auto or human.")] = None,
    accept: Annotated[Multi, typer.Option("--accept", help="Replace the acceptance criteria (repeat).")] = None,
    check: Annotated[Multi, typer.Option("--check", help="Checks paired with --accept (repeat).")] = None,
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
def reopen(bead_id: Annotated[str, typer.Argument(metavar="ID")]) -> int:
    """Open a failed, cancelled or finished bead again."""
    from supervisor.commands import edit

    return edit.reopen(bead_id=bead_id)


@app.command()
def graph(
    fmt: Annotated[str, typer.Option("--format", help="tree, dot (Graphviz) or mermaid.")] = "tree",
) -> int:
    """Draw the dependency graph."""
    from supervisor.commands import query

    return query.show_graph(fmt=fmt)


@app.command()
def schema() -> int:
    """Print the JSON Schema of a bead file."""
    from supervisor.commands import query

    return query.schema()


@app.command()
def sling(
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", min=1, help="Slots: beads running at once.")] = None,
    target: Annotated[str | None, typer.Option(help="The branch to land on.")] = None,
    gate: Annotated[str | None, typer.Option(help="The command every merge candidate must pass.")] = None,
    agent: Annotated[str | None, typer.Option(help="Run every bead with this agent.")] = None,
    only: Annotated[Multi, typer.Option("--only", help="Only this bead (repeat).")] = None,
    label: Annotated[str | None, typer.Option(help="Only beads with this label.")] = None,
    max_attempts: Annotated[int | None, typer.Option(min=1, help="Attempts per bead before it fails.")] = None,
    timeout: Annotated[str | None, typer.Option(help="Wall time of one attempt: 90s, 10m, 1h.")] = None,
    idle_timeout: Annotated[str | None, typer.Option(help="Kill an agent silent this long: 90s, 10m.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would start, start nothing.")] = False,
    model: Annotated[str | None, typer.Option(help="The model for every bead (else the bead's, the agent's).")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Model calls per attempt (built-in agent).")] = None,
    budget_usd: Annotated[
        float | None, typer.Option(min=0, help="Stop the run once it has spent this many dollars.")
    ] = None,
    budget_tokens: Annotated[
        int | None, typer.Option(min=0, help="Stop the run once it has used this many tokens.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No live view or event lines; only the verdict.")
    ] = False,
    executor: Annotated[
        str | None, typer.Option(help="Where attempts run: local or ray (a Ray cluster; pip install 'mayor[ray]').")
    ] = None,
    ray_address: Annotated[str | None, typer.Option(help="--executor ray: the cluster's head, HOST:6379.")] = None,
) -> int:
    """Run the ready beads with agents and land their work on the target, keeping it green."""
    from supervisor.commands import sling as cmd

    return cmd.run(
        jobs=jobs,
        target=target,
        gate=gate,
        agent=agent,
        only=only or (),
        label=label,
        max_attempts=max_attempts,
        timeout=timeout,
        idle_timeout=idle_timeout,
        dry_run=dry_run,
        model=model,
        max_steps=max_steps,
        budget_usd=budget_usd,
        budget_tokens=budget_tokens,
        quiet=quiet,
        executor=executor,
        ray_address=ray_address,
    )


@app.command()
def events(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events.")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Print the event log (.mayor/events.jsonl)."""
    from supervisor.commands import events as cmd

    return cmd.show(follow=follow, as_json=as_json)


@app.command()
def emit(
    type: Annotated[str, typer.Argument(metavar="TYPE", help="The event type, e.g. milestone.")],
    data: Annotated[str | None, typer.Option(help="A JSON object to attach.")] = None,
) -> int:
    """Write an event (for agents: the bead id comes from MAYOR_BEAD_ID)."""
    from supervisor.commands import events as cmd

    return cmd.emit(type=type, data=data)


@app.command()
def gc(keep_pool: Annotated[bool, typer.Option("--keep-pool", help="Keep the slot worktrees.")] = False) -> int:
    """Remove worktrees and mayor/ branches no bead needs; say how much disk was freed."""
    from supervisor.commands import gc as cmd

    return cmd.run(keep_pool=keep_pool)


@app.command()
def demo(
    folder: Annotated[
        str | None, typer.Option("--dir", help="Make the demo repository here (default: a new temporary folder).")
    ] = None,
) -> int:
    """Watch the whole loop offline: a throwaway repo, 7 beads, 3 agents, the queue, the summary."""
    from supervisor.commands import demo as cmd

    return cmd.run(folder=folder)


@app.command()
def approve(bead_id: Annotated[str, typer.Argument(metavar="ID")]) -> int:
    """Send a bead waiting in review (approval = human) to the merge queue."""
    from supervisor.commands import approve as cmd

    return cmd.approve(bead_id=bead_id)


@app.command()
def reject(
    bead_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="Why: the agent gets it as feedback.")] = "",
) -> int:
    """Send a bead waiting in review back to its agent, with the reason."""
    from supervisor.commands import approve as cmd

    return cmd.reject(bead_id=bead_id, reason=reason)


@app.command()
def review(
    category: Annotated[
        Multi, typer.Option("--category", help="A category to review (repeat); default: all five.")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="The agent to run the reviews.")] = None,
    sarif: Annotated[str | None, typer.Option(help="Write the findings as SARIF 2.1.0 to this file.")] = None,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 on a finding at or above: critical, high, medium, low, none.")
    ] = "high",
    base: Annotated[str | None, typer.Option(help="Review only what changed since this ref (a PR's base).")] = None,
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", min=1, help="Reviews at once (default: all).")] = None,
) -> int:
    """Security review: one report-only bead per category, in parallel; nothing they do can land."""
    from supervisor.commands import review as cmd

    return cmd.run(categories=category or (), agent=agent, sarif=sarif, fail_on=fail_on, base=base, jobs=jobs)


@app.command()
def design(
    feature: Annotated[str, typer.Argument(metavar="FEATURE", help="The feature, in your own words.")],
    out: Annotated[str | None, typer.Option(help="Write it here (default: docs/design/<slug>.md).")] = None,
    model: Annotated[str | None, typer.Option(help="The model (default: the strong model for planning).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file if it exists.")] = False,
) -> int:
    """Ask the model for a first-draft design document of FEATURE; print its path."""
    from supervisor.commands import design as cmd

    return cmd.run(feature=feature, out=out, model=model, force=force)


@app.command()
def plan(
    design: Annotated[str, typer.Argument(metavar="DESIGN.md", help="The design document to cut into beads.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the beads as JSON; add nothing.")] = False,
    model: Annotated[str | None, typer.Option(help="The model (default: the strong model for planning).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Add without asking (asked only on a terminal).")] = False,
) -> int:
    """Ask the model to cut a design into beads, check them (model, graph), warn of duplicates, add them."""
    from supervisor.commands import plan as cmd

    return cmd.run(design=design, dry_run=dry_run, model=model, yes=yes)


@app.command()
def summary(
    fmt: Annotated[str, typer.Option("--format", help="md (GitHub-flavoured Markdown) or json (the facts).")] = "md",
    out: Annotated[str | None, typer.Option(help="Write it to this file instead of printing it.")] = None,
    github: Annotated[bool, typer.Option("--github", help="Append the Markdown to $GITHUB_STEP_SUMMARY.")] = False,
    comment: Annotated[
        int | None,
        typer.Option(
            metavar="PR", help="Post it as one sticky comment on pull request PR (via gh); updated, never repeated."
        ),
    ] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Put a short narrative by the strong model on top (needs ANTHROPIC_API_KEY).")
    ] = False,
) -> int:
    """The mayor summary of the beads and events on disk: what landed, failed, needs a human, cost."""
    from supervisor.commands import summary as cmd

    return cmd.run(fmt=fmt, out=out, github=github, comment=comment, llm=llm)


@app.command()
def status(as_json: JsonOpt = False) -> int:
    """The supervisor, the beads in play and the merge queue, from disk (works during a run too)."""
    from supervisor.commands import status as cmd

    return cmd.run(as_json=as_json)


def main() -> None:
    app()
