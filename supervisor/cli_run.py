"""The command line, part two: running the plan and watching it (sling, review, demo, status,
summary, logs, diff, dashboard, events, gc, approvals, design and plan). See :mod:`supervisor.cli_base`."""

from __future__ import annotations

from typing import Annotated

import typer

from supervisor import cli_checks as checks
from supervisor.cli_base import AgentOpt, JsonOpt, Multi, OnlyLabel, PlanningModel, app

BudgetUsd = Annotated[
    float | None, typer.Option(metavar="USD", min=0, help="Stop the run once it has spent this many dollars.")
]
BudgetTokens = Annotated[
    int | None, typer.Option(metavar="TOKENS", min=0, help="Stop the run once it has used this many tokens.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No live view or event lines; only the verdict.")]
Executor = Annotated[
    str | None,
    typer.Option(
        metavar="local|ray",
        callback=checks.one_of("local", "ray"),
        help="Where attempts run: local or ray (pip install 'mayor[ray]').",
    ),
]
QueueOpt = Annotated[
    str | None,
    typer.Option(
        "--queue",
        metavar="auto|serial",
        callback=checks.one_of("auto", "serial"),
        help="The merge queue: auto (batches and speculates) or serial.",
    ),
]
RayAddress = Annotated[str | None, typer.Option(metavar="HOST:PORT", help="--executor ray: the cluster's head.")]


@app.command()
def sling(
    jobs: Annotated[
        int | None, typer.Option("-j", "--jobs", metavar="N", min=1, help="Slots: beads running at once.")
    ] = None,
    target: Annotated[str | None, typer.Option(metavar="BRANCH", help="The branch to land on.")] = None,
    gate: Annotated[
        str | None, typer.Option(metavar="COMMAND", help="The command every merge candidate must pass.")
    ] = None,
    agent: AgentOpt = None,
    only: Annotated[Multi, typer.Option("--only", metavar="ID", help="Only this bead (repeat).")] = None,
    label: OnlyLabel = None,
    max_attempts: Annotated[
        int | None, typer.Option(metavar="N", min=1, help="Attempts per bead before it fails.")
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option(metavar="DURATION", callback=checks.duration, help="Wall time of one attempt: 90s, 10m, 1h."),
    ] = None,
    idle_timeout: Annotated[
        str | None,
        typer.Option(metavar="DURATION", callback=checks.duration, help="Kill an agent silent this long: 90s, 10m."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would start, start nothing.")] = False,
    model: Annotated[
        str | None, typer.Option(metavar="MODEL", help="The model for every bead (else the bead's, the agent's).")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(metavar="N", min=1, help="Model calls per attempt (built-in agent).")
    ] = None,
    budget_usd: BudgetUsd = None,
    budget_tokens: BudgetTokens = None,
    quiet: Quiet = False,
    executor: Executor = None,
    ray_address: RayAddress = None,
    queue: QueueOpt = None,
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
        queue=queue,
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
    data: Annotated[
        str | None, typer.Option(metavar="JSON", callback=checks.json_object, help="A JSON object to attach.")
    ] = None,
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
        str | None,
        typer.Option(
            "--dir", metavar="FOLDER", help="Make the demo repository here (default: a new temporary folder)."
        ),
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
    reason: Annotated[
        str, typer.Option(metavar="TEXT", callback=checks.said, help="Why: the agent gets it as feedback (required).")
    ],
) -> int:
    """Send a bead waiting in review back to its agent, with the reason."""
    from supervisor.commands import approve as cmd

    return cmd.reject(bead_id=bead_id, reason=reason)


@app.command()
def review(
    category: Annotated[
        Multi,
        typer.Option("--category", metavar="CATEGORY", help="A category to review (repeat); default: all five."),
    ] = None,
    agent: AgentOpt = None,
    sarif: Annotated[
        str | None, typer.Option(metavar="FILE", help="Write the findings as SARIF 2.1.0 to this file.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            callback=checks.one_of("critical", "high", "medium", "low", "none"),
            metavar="SEVERITY",
            help="Exit 1 on a finding at or above: critical, high, medium, low, none.",
        ),
    ] = "high",
    base: Annotated[
        str | None, typer.Option(metavar="REF", help="Review only what changed since this ref (a PR's base).")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("-j", "--jobs", metavar="N", min=1, help="Reviews at once (default: all).")
    ] = None,
) -> int:
    """Security review: one report-only bead per category, in parallel; nothing they do can land."""
    from supervisor.commands import review as cmd

    return cmd.run(categories=category or (), agent=agent, sarif=sarif, fail_on=fail_on, base=base, jobs=jobs)


@app.command()
def design(
    feature: Annotated[
        str, typer.Argument(metavar="FEATURE", callback=checks.said, help="The feature, in your own words.")
    ],
    out: Annotated[
        str | None, typer.Option(metavar="FILE", help="Write it here (default: docs/design/<slug>.md).")
    ] = None,
    model: PlanningModel = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file if it exists.")] = False,
) -> int:
    """Ask the model for a first-draft design document of FEATURE; print its path."""
    from supervisor.commands import design as cmd

    return cmd.run(feature=feature, out=out, model=model, force=force)


@app.command()
def plan(
    design: Annotated[str, typer.Argument(metavar="DESIGN.md", help="The design document to cut into beads.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the beads as JSON; add nothing.")] = False,
    model: PlanningModel = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Add without asking (asked only on a terminal).")] = False,
) -> int:
    """Ask the model to cut a design into beads, check them (model, graph), warn of duplicates, add them."""
    from supervisor.commands import plan as cmd

    return cmd.run(design=design, dry_run=dry_run, model=model, yes=yes)


@app.command()
def summary(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            callback=checks.one_of("md", "json"),
            metavar="md|json",
            help="md (GitHub-flavoured Markdown) or json (the facts).",
        ),
    ] = "md",
    out: Annotated[
        str | None, typer.Option(metavar="FILE", help="Write it to this file instead of printing it.")
    ] = None,
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


@app.command()
def logs(
    bead_id: Annotated[str, typer.Argument(metavar="ID")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the log is complete.")] = False,
    attempt: Annotated[int | None, typer.Option(min=1, metavar="N", help="This attempt (default: the last).")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="The gate's log on the bead's merge candidate.")] = False,
    checks: Annotated[bool, typer.Option("--checks", help="The acceptance checks' log.")] = False,
) -> int:
    """Print a bead's agent log (or its checks' or gate's), of its last attempt by default."""
    from supervisor.commands import logs as cmd

    if gate and checks:
        raise typer.BadParameter("give --gate or --checks, not both")
    return cmd.run(bead_id=bead_id, follow=follow, attempt=attempt, gate=gate, checks=checks)


@app.command()
def diff(bead_id: Annotated[str, typer.Argument(metavar="ID")]) -> int:
    """A bead's change against the target: its branch, or its merge commit once landed."""
    from supervisor.commands import diff as cmd

    return cmd.run(bead_id=bead_id)


@app.command()
def dashboard(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="The address to listen on (others can reach it unless 127.0.0.1).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, metavar="PORT", help="The port (0: any free one).")] = 8470,
    actions: Annotated[
        bool, typer.Option("--actions", help="Show approve, reject, cancel and retry buttons (default: read-only).")
    ] = False,
) -> int:
    """Serve a live web page of this repository's run (status, queue, logs, diffs); prints its URL."""
    from supervisor.commands import dashboard as cmd

    return cmd.run(host=host, port=port, actions=actions)
