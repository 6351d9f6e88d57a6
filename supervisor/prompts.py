"""Rendering the prompt pack: ``prompts/*.md`` in the package, overridable in ``.mayor/prompts/``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from beads.models import Bead


def template_text(name: str, mayor_dir: Path | None = None) -> str:
    """The template ``name`` (``execute``, ``review`` ...): the repository's override first.

    A leading HTML comment (where a template documents its placeholders) is for people, not the
    model, and is left out.
    """
    text = None
    if mayor_dir is not None:
        override = mayor_dir / "prompts" / f"{name}.md"
        if override.is_file():
            text = override.read_text(encoding="utf-8")
    if text is None:
        text = resources.files("prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    return _without_leading_comment(text)


def _without_leading_comment(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("<!--") and "-->" in stripped:
        return stripped.split("-->", 1)[1].lstrip("\n")
    return text


def bead_fields(bead: Bead) -> dict[str, Any]:
    acceptance = "\n".join(
        f"- {c.text}" + (f" (checked by running `{c.check}`)" if c.check else "") for c in bead.acceptance
    )
    return {
        **bead.model_dump(mode="json"),
        "acceptance": acceptance or "- (none given: use your judgement, and keep the tests green)",
        "labels": ", ".join(bead.labels),
        "deps": ", ".join(bead.deps),
    }


def render(name: str, fields: dict[str, Any], mayor_dir: Path | None = None) -> str:
    """Fill ``$field`` placeholders; unknown ones are left as they are."""
    return Template(template_text(name, mayor_dir)).safe_substitute(fields)
