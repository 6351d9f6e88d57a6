"""``mayor demo`` draws its summary for a terminal: rich's Markdown, no GitHub HTML, no pipes."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown

from supervisor.commands.demo import for_terminal
from supervisor.repo import Repo
from supervisor.views import report
from tests.dashboard_helpers import ran_repo


def test_the_summary_is_drawn_without_html_or_markdown_syntax(mayor_repo: Path, tmp_path: Path) -> None:
    ran_repo(mayor_repo, tmp_path)
    markdown = report.render_markdown(report.facts(Repo(mayor_repo)))
    assert "<details>" in markdown and "|---|" in markdown  # what GitHub gets

    out = io.StringIO()
    Console(file=out, width=120).print(Markdown(for_terminal(markdown)))
    text = out.getvalue()

    assert "mayor summary" in text and "Build part A" in text and "An impossible bead" in text
    for raw in ("<details>", "<summary>", "</details>", "<!--", "|---|", "## ", "**"):
        assert raw not in text
