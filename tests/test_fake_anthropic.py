"""The fake Messages API (tests/fake_anthropic.py), tested like the real one: through the real SDK."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.fake_anthropic import FakeAnthropic, bash, edit, final, overloaded, rate_limited

CACHE = {"type": "ephemeral"}
TOOLS: list[Any] = [
    {"type": "bash_20250124", "name": "bash"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool", "cache_control": CACHE},
]
SYSTEM: list[Any] = [
    {"type": "text", "text": "You are careful. " * 50},
    {"type": "text", "text": "# Repository context\n" * 40, "cache_control": CACHE},
]


def client(retries: int = 2) -> anthropic.Anthropic:
    return anthropic.Anthropic(max_retries=retries)


def ask(task: str, *history: dict[str, Any], retries: int = 2) -> Any:
    messages: list[Any] = [{"role": "user", "content": [{"type": "text", "text": task}]}, *history]
    last = messages[-1]
    last["content"][-1]["cache_control"] = CACHE
    return client(retries).messages.create(
        model="claude-sonnet-5-5", max_tokens=1024, system=SYSTEM, tools=TOOLS, messages=messages
    )


def test_scripted_conversation_per_key_in_the_api_shape(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.scripts = {
        "b1": [edit("create", "a.py", file_text="x = 1\n"), final("made a.py")],
        "b10": [bash("true"), bash("false"), final("b10 done")],
    }
    first = ask("Work on bead b10 now")
    assert first.type == "message" and first.role == "assistant" and first.stop_reason == "tool_use"
    use = first.content[0]
    assert use.type == "tool_use" and use.name == "bash" and use.id.startswith("toolu_")
    other = ask("Work on bead b1 now")
    assert other.content[0].input == {"command": "create", "path": "a.py", "file_text": "x = 1\n"}
    assert [c.key for c in fake_anthropic.calls] == ["b10", "b1"]
    reply = {"role": "assistant", "content": [use.model_dump(exclude_none=True)]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "ok"}]}
    second = ask("Work on bead b10 now", reply, result)
    assert second.content[0].input == {"command": "false"}
    assert fake_anthropic.calls[-1].tool_results()[0]["tool_use_id"] == use.id


def test_usage_simulates_prompt_caching(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.default = lambda call: final("ok")
    cold = ask("task one").usage
    assert cold.cache_read_input_tokens == 0 and cold.cache_creation_input_tokens > 700  # tools' own tokens count
    warm = ask("task two").usage  # same tools and system: read; its own message: written
    assert warm.cache_read_input_tokens > 0
    assert warm.cache_read_input_tokens + warm.cache_creation_input_tokens + warm.input_tokens == (
        cold.cache_read_input_tokens + cold.cache_creation_input_tokens + cold.input_tokens
    )
    again = ask("task two").usage  # the whole prompt was a breakpoint prefix: all read
    assert again.cache_read_input_tokens == warm.cache_read_input_tokens + warm.cache_creation_input_tokens
    assert again.cache_creation_input_tokens == 0 and again.input_tokens == 0


def test_minimum_cacheable_length() -> None:
    with (
        FakeAnthropic(default=lambda call: final(), min_cacheable_tokens=100_000) as fake,
        pytest.MonkeyPatch.context() as mp,
    ):
        for name, value in fake.env().items():
            mp.setenv(name, value)
        ask("one")
        usage = ask("one").usage
    assert usage.cache_read_input_tokens == usage.cache_creation_input_tokens == 0 and usage.input_tokens > 0


def test_errors_are_retried_by_the_sdk_and_fail_for_good(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.scripts = {"r": [rate_limited(0.01), final("after the 429")], "o": [overloaded(0.01)] * 3}
    assert ask("r").content[0].text == "after the 429"
    assert [c.status for c in fake_anthropic.calls_for("r")] == [429, 200]
    with pytest.raises(anthropic.APIStatusError) as raised:
        ask("o", retries=1)
    assert raised.value.status_code == 529 and len(fake_anthropic.calls_for("o")) == 2


def test_requests_the_api_would_refuse(fake_anthropic: FakeAnthropic) -> None:
    dangling = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}]}
    with pytest.raises(anthropic.BadRequestError, match="without tool_result"):
        ask("x", dangling, {"role": "user", "content": [{"type": "text", "text": "?"}]})
    five: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": str(i), "cache_control": CACHE} for i in range(3)]}
    ]
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4"):
        client().messages.create(model="m", max_tokens=1, system=SYSTEM, tools=TOOLS, messages=five)
    assert fake_anthropic.total_usage() == dict.fromkeys(
        ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"), 0
    )
