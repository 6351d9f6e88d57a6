"""``mayor demo``: the whole loop, offline, on a throwaway repository.

It makes a small Python package with tests, seven beads with dependencies, and runs
``mayor sling -j 3`` on them with the built-in agent driven by a deterministic offline model:
one bead needs a second attempt, two beads conflict and the queue sends one back to resolve it.
It shows the live view, then the summary, and prints the repository's path on its last line.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from beads import importer
from supervisor import demo_project
from supervisor.errors import MayorError
from supervisor.output import say
from supervisor.proc import git

DEMO_CONFIG = """
agent = "demo"
slots = 3
max_attempts = 3
timeout = "2m"
idle_timeout = "1m"

[agents.demo]
kind = "builtin"
model = "mayor-demo"
"""


def make_repo(folder: Path) -> Path:
    """The demo package, committed on ``main``, with ``.mayor`` initialised and its beads added."""
    from supervisor.commands import init

    if folder.exists() and any(folder.iterdir()):
        raise MayorError(f"{folder} is not empty; give `mayor demo --dir` a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in demo_project.FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git("init", "-q", "-b", "main", cwd=folder)
    git("config", "user.name", "mayor demo", cwd=folder)
    git("config", "user.email", "demo@mayor.invalid", cwd=folder)
    init.run(cwd=folder)
    config = folder / ".mayor" / "config.toml"
    config.write_text(f'target = "main"\ngate = {json.dumps(demo_project.GATE)}\n' + DEMO_CONFIG)
    git("add", "-A", cwd=folder)
    git("commit", "-q", "-m", "textkit: the demo project", cwd=folder)
    return folder


def add_beads(folder: Path) -> list[str]:
    from supervisor.repo import Repo

    repo = Repo(folder)
    plan = repo.mayor_dir / "state" / "demo-beads.json"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps(demo_project.beads(), indent=1))
    with repo.store.edit() as tx:
        imported = importer.read(plan, "mayor", tx.beads, prefix=repo.store.prefix)
        for bead in imported.beads:
            tx.put(bead)
    return [bead.id for bead in imported.beads]


def run(*, folder: str | None = None) -> int:
    path = Path(folder).resolve() if folder else Path(tempfile.mkdtemp(prefix="mayor-demo-"))
    make_repo(path)
    ids = add_beads(path)
    say(f"mayor demo: {len(ids)} beads in a new repository at {path}; slinging them with 3 agents (offline)")
    code = _sling(path)
    _summary(path)
    print(path)
    return code


def _sling(path: Path) -> int:
    from supervisor.repo import Repo
    from supervisor.run import sling
    from supervisor.run.context import Options

    repo = Repo(path)
    return sling(repo, Options.of(repo.config, jobs=3))


def _summary(path: Path) -> None:
    """The mayor summary drawn for a terminal (rich's Markdown: headings, tables, no HTML)."""
    from rich.console import Console
    from rich.markdown import Markdown

    from supervisor.repo import Repo
    from supervisor.views import report

    console = Console(soft_wrap=False)
    console.print(Markdown(for_terminal(report.render_markdown(report.facts(Repo(path))))))


DETAILS = re.compile(r"<details><summary>(?P<head>.*?)</summary>")


def for_terminal(markdown: str) -> str:
    """GitHub's Markdown of the summary without its HTML: a folded group becomes a heading."""
    lines = []
    for line in markdown.splitlines():
        if line.startswith("<!--") or line.strip() == "</details>":
            continue
        match = DETAILS.match(line)
        if match:
            line = "#### " + re.sub(r"</?b>", "", match["head"])
        lines.append(line)
    return "\n".join(lines)
