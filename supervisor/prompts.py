"""Rendering the prompt pack: ``prompts/*.md`` in the package, overridable in ``.mayor/prompts/``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from beads.models import Bead


def template_text(name: str, mayor_dir: Path | None = None) -> str:
    """The template ``name`` (``execute``, ``review`` ...): the repository's override first."""
    if mayor_dir is not None:
        override = mayor_dir / "prompts" / f"{name}.md"
        if override.is_file():
            return override.read_text(encoding="utf-8")
    return resources.files("prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")


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
