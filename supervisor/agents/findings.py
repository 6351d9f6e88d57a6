"""Findings reported in an agent's final text: a JSON object with a ``findings`` list."""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic

from beads.models import Finding

_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)\n```", re.DOTALL)


def _candidates(text: str) -> list[str]:
    found = _FENCED.findall(text)
    start = text.find("{")
    if start != -1:
        found.append(text[start : text.rfind("}") + 1])
    return found


def findings_from_text(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Valid findings (as dicts) from the first JSON object with a ``findings`` list, and problems."""
    for candidate in _candidates(text or ""):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("findings"), list):
            return validate(data["findings"])
    return [], []


def validate(raw: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    good: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, item in enumerate(raw):
        try:
            good.append(Finding.model_validate(item).model_dump())
        except pydantic.ValidationError as exc:
            problems.append(f"finding {index + 1} dropped: {exc.errors()[0]['msg']}")
    return good, problems
