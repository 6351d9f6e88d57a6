"""The streamed answers of the fake model servers: tests/fake_anthropic.py through the real
``anthropic`` SDK, tests/fake_openai.py through plain HTTP (Server-Sent Events read by hand)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

import anthropic
import pytest

from tests.fake_anthropic import FakeAnthropic, Step, cut, error, final, tool
from tests.fake_openai import KEY, FakeOpenAI, exec_command, failed, say
from tests.fake_openai import cut as cut_openai
from tests.fake_openai import error as openai_error

USAGE = {"input_tokens": 11, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 2000, "output_tokens": 50}


def messages(task: str) -> list[Any]:
    system = {"role": "system", "content": [{"type": "text", "text": "# Environment\nbetween turns"}]}
    return [{"role": "user", "content": [{"type": "text", "text": task}]}, system]


def test_anthropic_streams_text_and_tool_use_with_the_final_usage(fake_anthropic: FakeAnthropic) -> None:
    write = {"file_path": "/w/a.txt", "content": "x" * 100}
    fake_anthropic.scripts = {"s1": [Step(tool("Write", write, text="I will write.").content, "tool_use", usage=USAGE)]}
    client = anthropic.Anthropic(max_retries=0)
    with client.messages.stream(model="claude-opus-5-5", max_tokens=1000, messages=messages("task s1")) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "message_delta" in kinds
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "I will write." and message.content[1].input == write  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 50 and message.usage.cache_read_input_tokens == 2000
    assert fake_anthropic.total_usage() == {k: USAGE[k] for k in fake_anthropic.total_usage()}


def test_anthropic_cut_stream_and_midstream_error(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.scripts = {"c1": [cut(final("a long answer " * 5), after=4)], "e1": [error(529, midstream=True)]}
    client = anthropic.Anthropic(max_retries=0)
    with pytest.raises(Exception, match=r"incomplete chunked read"):  # the SDK lets httpx's error through
        list(client.messages.create(model="m", max_tokens=10, messages=messages("c1"), stream=True))
    assert fake_anthropic.calls[-1].cut and fake_anthropic.calls[-1].usage is None
    with pytest.raises(anthropic.APIStatusError, match="overloaded"):
        list(client.messages.create(model="m", max_tokens=10, messages=messages("e1"), stream=True))


def test_anthropic_other_routes_and_keys() -> None:
    with FakeAnthropic(keys=["sk-ant-good"]) as fake:
        hello = urllib.request.urlopen(urllib.request.Request(f"{fake.url}/api/hello", method="HEAD"))
        assert hello.status == 200
        good = anthropic.Anthropic(api_key="sk-ant-good", base_url=fake.url, max_retries=0)
        counted = good.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hello " * 40}])
        assert counted.input_tokens > 40
        bad = anthropic.Anthropic(api_key="sk-ant-bad", base_url=fake.url, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
            bad.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        assert ("HEAD", "/api/hello") in fake.requests


# -- the Responses API ----------------------------------------------------------------------------


def post(fake: FakeOpenAI, body: dict[str, Any], key: str = KEY) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """POST /v1/responses; the status and the (event, data) pairs of the stream, or the error body."""
    request = urllib.request.Request(
        f"{fake.url}/responses",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as answer:
            text = answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, [("", json.loads(refused.read()))]
    events = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return 200, events


def request(task: str, *extra: dict[str, Any]) -> dict[str, Any]:
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": task}]}
    return {"model": "gpt-fake-1", "stream": True, "prompt_cache_key": "thread-1", "input": [user, *extra]}


def test_openai_streams_a_function_call_then_text_with_usage() -> None:
    usage = {"input_tokens": 1000, "cached_tokens": 800, "output_tokens": 50, "reasoning_tokens": 10}
    with FakeOpenAI({"k1": [exec_command("git commit -qm x", usage=usage), say("Done.")]}) as fake:
        status, events = post(fake, request("task k1"))
        assert status == 200
        names = [name for name, _ in events]
        assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
        assert "response.function_call_arguments.delta" in names and names[-1] == "response.completed"
        assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
        item = events[-2][1]["item"]
        assert item["type"] == "function_call" and item["name"] == "exec_command"
        assert json.loads(item["arguments"]) == {"cmd": "git commit -qm x"}
        done = events[-1][1]["response"]
        assert done["usage"]["input_tokens_details"] == {"cached_tokens": 800}
        assert done["usage"]["output_tokens_details"] == {"reasoning_tokens": 10}
        answer = {"type": "function_call_output", "call_id": item["call_id"], "output": "ok"}
        status, events = post(fake, request("task k1", item, answer))
        deltas = "".join(d["delta"] for name, d in events if name == "response.output_text.delta")
        assert deltas == "Done." and fake.calls[-1].served == 1 and fake.calls[-1].outputs() == [answer]
        assert fake.total_usage()["input_tokens"] == 1000 + fake.calls[-1].usage["input_tokens"]  # type: ignore[index]


def test_openai_errors_failures_and_cuts() -> None:
    script = [openai_error(500), failed("fake: the model failed"), cut_openai(say("long " * 20), after=3)]
    with FakeOpenAI({"k2": script}) as fake:
        status, body = post(fake, request("k2"), key="bad-key")
        assert status == 401 and body[0][1]["error"]["message"] == "Incorrect API key provided: bad-key."
        status, body = post(fake, request("k2"))
        assert status == 500 and body[0][1]["error"]["type"] == "server_error"
        status, events = post(fake, request("k2"))
        assert events[-1][0] == "response.failed"
        assert events[-1][1]["response"]["error"]["message"] == "fake: the model failed"
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            post(fake, request("k2"))
        assert fake.calls[-1].cut and fake.total_usage()["input_tokens"] == 0
