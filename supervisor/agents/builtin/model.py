"""The model boundary of the built-in agent: what the loop asks (:class:`Model`) and gets back (:class:`Reply`).

The loop (:mod:`supervisor.agents.builtin.loop`) and the models that implement the protocol,
:class:`~supervisor.agents.builtin.anthropic_model.AnthropicModel` (the SDK) and
:class:`~supervisor.agents.builtin.demo.DemoModel` (offline), all import this module and none of
them imports another for these types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from beads.models import Usage


@dataclass
class Reply:
    """One answer of the model, as the Messages API gives it."""

    content: list[dict[str, Any]]
    """Content blocks as JSON (``text``, ``tool_use``...), appended to the conversation as they are."""
    stop_reason: str | None
    """``end_turn``, ``tool_use``, ``max_tokens``..."""
    usage: Usage
    """Tokens of this call, unpriced (the loop prices them)."""


class Model(Protocol):
    name: str

    def query(
        self, system: list[dict[str, Any]], tools: list[dict[str, Any]], messages: list[dict[str, Any]]
    ) -> Reply: ...
