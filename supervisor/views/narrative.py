"""The ``mayor summary --llm`` narrative: a short account of the run by the strong model, written
from the facts of :func:`supervisor.views.report.facts` and put on top of them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from beads.errors import MayorError
from supervisor.chat import RepoSite, conversation

if TYPE_CHECKING:
    from supervisor.repo import Repo
    from supervisor.views.report_types import Facts


def narrative(repo: Repo, facts: Facts) -> str:
    """The model's account, from the summary prompt and the facts, signed with the model's name."""
    from supervisor.prompts import render

    prompt = render("summary", {"facts": json.dumps(facts, indent=1)}, repo.mayor_dir)
    with conversation(RepoSite.of(repo), None, "mayor-summary-") as chat:
        answer = chat.ask(prompt)
    if not answer.strip():
        raise MayorError(f"{chat.model.name} gave an empty narrative; run without --llm for the facts alone")
    return f"{answer.strip()}\n\n<sub>Narrative by {chat.model.name}, written from the facts below.</sub>"
