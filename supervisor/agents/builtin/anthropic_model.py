"""The real model: the anthropic SDK, behind the shared rate limiter. Imported only by agents."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from beads.models import Usage
from supervisor.agents.builtin.limiter import DEFAULT_CONCURRENCY, SharedLimiter, retry_after_s
from supervisor.agents.builtin.model import Reply
from supervisor.pricing import WORKER_MODEL

DEFAULT_RETRIES = 4
DEFAULT_MAX_OUTPUT = 8192
RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class AnthropicModel:
    def __init__(
        self,
        name: str,
        limiter: SharedLimiter,
        *,
        max_retries: int = DEFAULT_RETRIES,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT,
    ) -> None:
        import anthropic

        self.name = name
        self.limiter = limiter
        self.max_output_tokens = max_output_tokens
        http = anthropic.DefaultHttpxClient(event_hooks={"response": [self._on_response]})
        self.client = anthropic.Anthropic(max_retries=max_retries, http_client=http)

    @classmethod
    def from_env(cls) -> AnthropicModel:
        env = os.environ
        folder = Path(env.get("MAYOR_LIMITER_DIR") or Path(env.get("MAYOR_RUN_DIR", ".")) / "limiter")
        limiter = SharedLimiter(folder, int(env.get("MAYOR_API_CONCURRENCY") or DEFAULT_CONCURRENCY))
        return cls(
            env.get("MAYOR_MODEL") or WORKER_MODEL,
            limiter,
            max_retries=int(env.get("MAYOR_API_RETRIES") or DEFAULT_RETRIES),
            max_output_tokens=int(env.get("MAYOR_MAX_OUTPUT_TOKENS") or DEFAULT_MAX_OUTPUT),
        )

    def _on_response(self, response: Any) -> None:
        """Every HTTP answer, retries included: a 429/529/5xx makes every agent hold off."""
        if response.status_code in RETRYABLE and response.status_code >= 429:
            self.limiter.pause(retry_after_s(response.headers))

    def query(self, system: list[dict[str, Any]], tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> Reply:
        with self.limiter.slot():
            response = self.client.messages.create(
                model=self.name,
                max_tokens=self.max_output_tokens,
                system=system,  # type: ignore[arg-type]
                tools=tools,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
            )
        content = [block.model_dump(mode="json", exclude_none=True) for block in response.content]
        return Reply(content, response.stop_reason, usage_of(response.usage))


def usage_of(raw: Any) -> Usage:
    return Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_read_input_tokens=getattr(raw, "cache_read_input_tokens", None) or 0,
        cache_creation_input_tokens=getattr(raw, "cache_creation_input_tokens", None) or 0,
    )
