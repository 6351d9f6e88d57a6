"""A local stand-in for the OpenAI Responses API, for running the real Codex CLI offline.

It listens on 127.0.0.1 (a free port), answers ``POST /v1/responses`` with ``stream: true`` the
way the API streams a response (Server-Sent Events), and plays **scripted conversations**, in
the manner of tests/fake_anthropic.py:

    from tests.fake_openai import FakeOpenAI, error, exec_command, say

    scripts = {"mr-cx1": [exec_command("printf 'hi\\\\n' > hi.txt && git add -A && git commit -qm hi"),
                          say("Done: committed hi.txt.")]}
    with FakeOpenAI(scripts) as fake:
        fake.url                       # http://127.0.0.1:PORT/v1 (a provider's base_url)
        fake.env()                     # FAKE_OPENAI_KEY (the key the server accepts), NO_PROXY
        ...                            # run codex with a provider pointing there
        fake.calls                     # every /v1/responses request, recorded

**Choosing a script.** A request belongs to a *conversation*: its ``prompt_cache_key`` (Codex
sends its thread id there), else its first user message. The script is the one whose key
appears, as a whole word, in a user message of the request, else ``default``. A script is a
sequence of steps, one per request of the conversation (an error step uses a request too);
past its end the conversation gets a final text. A script may instead be a callable that
receives the :class:`Call` and returns the step.

**The stream of an answer**: ``response.created``, ``response.in_progress``, then for each output
item ``response.output_item.added``, its deltas (``response.content_part.added``,
``response.output_text.delta``/``.done``, ``response.content_part.done`` for a message;
``response.function_call_arguments.delta``/``.done`` for a function call),
``response.output_item.done``; last ``response.completed`` whose ``response.usage`` carries
``input_tokens`` (cached ones included, OpenAI's convention), ``input_tokens_details.cached_tokens``,
``output_tokens``, ``output_tokens_details.reasoning_tokens`` and ``total_tokens``. A step may
instead end in ``response.failed``, be refused with an HTTP status (the API's error body) or be
cut: the connection dropped after N events.

**Usage** is the step's, else simulated: input tokens are the request's ``input`` bytes / 4, the
cached part is the previous request's input of the same conversation (its prefix), output tokens
are the output's bytes / 4.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Union

from tests.fake_http import EventStream, ThreadServer, request_id, send_json

KEY = "sk-fake-openai-key-for-tests"
KEY_ENV = "FAKE_OPENAI_KEY"
"""The environment variable that carries the key (a Codex provider's ``env_key``)."""
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error"}
ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}


# -- steps: what the server answers ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One answer: output items (a message, function calls), or an error."""

    output: tuple[dict[str, Any], ...] = ()
    status: int = 200
    message: str = ""
    """The error's message (an HTTP error or ``response.failed``)."""
    failed: bool = False
    """A 200 whose stream ends in ``response.failed`` instead of ``response.completed``."""
    usage: Mapping[str, int] | None = None
    """``input_tokens``, ``cached_tokens``, ``output_tokens``, ``reasoning_tokens`` (and optionally
    ``cache_write_tokens``) to report instead of the simulated ones."""
    cut_after: int | None = None
    """Drop the connection after this many events (no ``response.completed``)."""
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


Script = Union[Sequence[Step], Callable[["Call"], Step]]  # noqa: UP007 - a runtime alias; "Call" is defined below


def message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def function_call(name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": json.dumps(dict(arguments))}


def say(text: str = "Done.", *, usage: Mapping[str, int] | None = None) -> Step:
    """A final answer: one assistant message."""
    return Step((message(text),), usage=usage)


def call(
    name: str, arguments: Mapping[str, Any], *, text: str | None = None, usage: Mapping[str, int] | None = None
) -> Step:
    """A function call (with a message before it when ``text`` is given)."""
    return Step(((message(text),) if text else ()) + (function_call(name, arguments),), usage=usage)


def exec_command(cmd: str, *, text: str | None = None, usage: Mapping[str, int] | None = None, **more: Any) -> Step:
    """Codex's shell tool (``exec_command``, a command line for its shell, run in the turn's cwd)."""
    return call("exec_command", {"cmd": cmd, **more}, text=text, usage=usage)


def error(status: int, message: str = "", *, retry_after: float | None = None) -> Step:
    """An HTTP error with the API's body (``{"error": {message, type, param, code}}``)."""
    headers = (("retry-after", f"{retry_after:g}"),) if retry_after is not None else ()
    return Step(status=status, message=message or f"fake error {status}", headers=headers)


def failed(message: str = "fake: the model failed") -> Step:
    """A stream that starts, then ends in ``response.failed`` (``response.error`` set)."""
    return Step(status=200, message=message, failed=True)


def cut(step: Step, after: int = 3) -> Step:
    """``step`` with the connection dropped after ``after`` events of its stream."""
    return dataclasses.replace(step, cut_after=after)


# -- what the server saw --------------------------------------------------------------------------


@dataclass
class Call:
    """One request to /v1/responses, as received, and what was answered."""

    index: int
    raw: bytes
    body: dict[str, Any]
    headers: dict[str, str]
    key: str | None = None
    conversation: str = ""
    served: int = 0
    """Requests of this conversation answered before this one (errors included)."""
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    """The ``response`` object of the last event sent (``response.completed`` or ``.failed``)."""
    cut: bool = False

    @property
    def usage(self) -> dict[str, Any] | None:
        """The usage of a completed response (None for an error, a failure or a cut stream)."""
        if self.status != 200 or self.cut or self.response.get("status") != "completed":
            return None
        return self.response.get("usage")

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.body.get("input") or [] if isinstance(i, dict) and i.get("type") == kind]

    def user_texts(self) -> list[str]:
        """The text of every user message of the input, in order."""
        return [
            str(part.get("text", ""))
            for item in self.items("message")
            if item.get("role") == "user"
            for part in _parts(item.get("content"))
        ]

    def outputs(self) -> list[dict[str, Any]]:
        """The ``function_call_output`` items: what the agent sent back for the calls."""
        return self.items("function_call_output")


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    return [p for p in content or [] if isinstance(p, dict)]


def _tokens(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"))) // 4


def request_problem(body: Any, headers: Mapping[str, str], keys: Collection[str]) -> tuple[int, str] | None:
    """Why the real API would refuse this request (status, message), or None."""
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
        return 401, "You didn't provide an API key. You need to provide your API key in an Authorization header."
    given = auth.removeprefix("Bearer ").strip()
    if given not in keys:
        return 401, f"Incorrect API key provided: {given}."
    if not isinstance(body, dict):
        return 400, "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str):
        return 400, "Missing required parameter: 'model'."
    if not isinstance(body.get("input"), (list, str)):
        return 400, "Missing required parameter: 'input'."
    return None


def error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": None,
            "code": ERROR_CODES.get(status),
        }
    }


# -- the server -----------------------------------------------------------------------------------


class FakeOpenAI:
    """The fake API: start it (``with`` or :meth:`start`), point a client at :attr:`url`."""

    def __init__(
        self,
        scripts: Mapping[str, Script] | None = None,
        default: Script | None = None,
        *,
        keys: Collection[str] = (KEY,),
    ) -> None:
        self.scripts: dict[str, Script] = dict(scripts or {})
        self.default = default
        self.keys = set(keys)
        self.calls: list[Call] = []
        self.requests: list[tuple[str, str]] = []
        """Every request as (method, path)."""
        self.lock = threading.Lock()
        self._served: dict[str, int] = {}
        self._last_input: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._server = ThreadServer(type("Handler", (_Handler,), {"fake": self}), "fake-openai")

    def start(self) -> FakeOpenAI:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API's base URL, ``/v1`` included (what a Codex provider's ``base_url`` takes)."""
        return f"http://127.0.0.1:{self._server.port}/v1"

    def env(self, key: str = KEY) -> dict[str, str]:
        local = "127.0.0.1,localhost"
        return {KEY_ENV: key, "NO_PROXY": local, "no_proxy": local}

    # -- what happened
    def calls_for(self, key: str | None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.key == key]

    def total_usage(self, key: str | None = None) -> dict[str, int]:
        """The sums of the usage of the completed responses, flattened: ``input_tokens``,
        ``cached_tokens``, ``cache_write_tokens``, ``output_tokens``, ``reasoning_tokens``."""
        with self.lock:
            usages = [c.usage for c in self.calls if c.usage and (key is None or c.key == key)]
        total = dict.fromkeys(("input_tokens", "cached_tokens", "cache_write_tokens", "output_tokens"), 0)
        total["reasoning_tokens"] = 0
        for usage in usages:
            assert usage is not None
            for name, value in flat_usage(usage).items():
                total[name] += value
        return total

    # -- serving
    def answer(self, raw: bytes, headers: dict[str, str]) -> tuple[Call, Step | None, tuple[int, str] | None]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problem = request_problem(body, headers, self.keys)
        with self.lock:
            call = Call(len(self.calls), raw, body if isinstance(body, dict) else {}, headers)
            self.calls.append(call)
            if problem is not None:
                call.status = problem[0]
                return call, None, problem
            call.key = self._key("\n".join(call.user_texts()))
            first = (call.user_texts() or [""])[0]
            thread = str(call.body.get("prompt_cache_key") or hashlib.sha256(first.encode()).hexdigest()[:16])
            call.conversation = f"{call.key}:{thread}"
            call.served = self._served.get(call.conversation, 0)
            self._served[call.conversation] = call.served + 1
            script = self.scripts.get(call.key) if call.key is not None else self.default
        return call, self._step(script, call), None

    def _key(self, text: str) -> str | None:
        found = [k for k in self.scripts if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", text)]
        return max(found, key=len) if found else None

    @staticmethod
    def _step(script: Script | None, call: Call) -> Step:
        if script is None:
            return say("(the fake server has no script for this conversation)")
        if callable(script):
            return script(call)
        return script[call.served] if call.served < len(script) else say("(the script has ended)")

    def response(self, call: Call, step: Step) -> dict[str, Any]:
        """The completed ``response`` object for a step: ids filled in, usage given or simulated."""
        output = [self._filled(item) for item in step.output]
        return {
            "id": f"resp_fake_{call.index:06d}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "error": None,
            "incomplete_details": None,
            "model": call.body.get("model"),
            "output": output,
            "parallel_tool_calls": call.body.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "store": call.body.get("store", False),
            "usage": self._usage(call, step, output),
        }

    def _filled(self, item: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        if item["type"] == "function_call":
            return {"id": f"fc_fake_{n:06d}", **item, "call_id": f"call_fake_{n:06d}", "status": "completed"}
        return {"id": f"msg_fake_{n:06d}", **item, "status": "completed"}

    def _usage(self, call: Call, step: Step, output: list[dict[str, Any]]) -> dict[str, Any]:
        given = dict(step.usage or {})
        inputs = _tokens(call.body.get("input"))
        with self.lock:
            cached = min(self._last_input.get(call.conversation, 0), inputs)
            self._last_input[call.conversation] = inputs
        details: dict[str, int] = {"cached_tokens": given.get("cached_tokens", cached)}
        if "cache_write_tokens" in given:
            details["cache_write_tokens"] = given["cache_write_tokens"]
        input_tokens = given.get("input_tokens", inputs)
        output_tokens = given.get("output_tokens", max(1, _tokens(output)))
        return {
            "input_tokens": input_tokens,
            "input_tokens_details": details,
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": given.get("reasoning_tokens", 0)},
            "total_tokens": input_tokens + output_tokens,
        }


def flat_usage(usage: Mapping[str, Any]) -> dict[str, int]:
    """A Responses usage as flat counts (the names of :meth:`FakeOpenAI.total_usage`)."""
    inputs = usage.get("input_tokens_details") or {}
    outputs = usage.get("output_tokens_details") or {}
    return {
        "input_tokens": int(usage.get("input_tokens") or 0),
        "cached_tokens": int(inputs.get("cached_tokens") or 0),
        "cache_write_tokens": int(inputs.get("cache_write_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "reasoning_tokens": int(outputs.get("reasoning_tokens") or 0),
    }


TEXT_PIECE, JSON_PIECE = 24, 40
"""Characters per output_text delta and per function_call_arguments delta."""


def stream_events(response: Mapping[str, Any], *, failure: str | None = None) -> Iterator[dict[str, Any]]:
    """A response as the API streams it (each event's ``type`` is also its SSE ``event:`` name);
    ``failure``: the stream ends in ``response.failed`` with that message, before any output."""
    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    yield {"type": "response.created", "response": pending}
    yield {"type": "response.in_progress", "response": pending}
    if failure is not None:
        error = {"code": "server_error", "message": failure}
        yield {"type": "response.failed", "response": {**pending, "status": "failed", "error": error}}
        return
    for index, item in enumerate(response["output"]):
        yield from _item_events(index, item)
    yield {"type": "response.completed", "response": dict(response)}


def _item_events(index: int, item: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    where = {"item_id": item["id"], "output_index": index}
    if item["type"] == "function_call":
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "arguments": "", "status": "in_progress"},
        }
        arguments = str(item["arguments"])
        for at in range(0, len(arguments), JSON_PIECE):
            yield {"type": "response.function_call_arguments.delta", **where, "delta": arguments[at : at + JSON_PIECE]}
        yield {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
    else:
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "content": [], "status": "in_progress"},
        }
        for content_index, part in enumerate(item.get("content") or []):
            at_part = {**where, "content_index": content_index}
            text = str(part.get("text", ""))
            yield {"type": "response.content_part.added", **at_part, "part": {**part, "text": "", "annotations": []}}
            for at in range(0, len(text), TEXT_PIECE):
                delta = text[at : at + TEXT_PIECE]
                yield {"type": "response.output_text.delta", **at_part, "delta": delta, "logprobs": []}
            yield {"type": "response.output_text.done", **at_part, "text": text, "logprobs": []}
            yield {"type": "response.content_part.done", **at_part, "part": {**part, "annotations": []}}
    yield {"type": "response.output_item.done", "output_index": index, "item": dict(item)}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        with self.fake.lock:
            self.fake.requests.append((self.command, self.path))
        self._send(404, error_body(404, f"Invalid URL (GET {self.path})"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.fake.lock:
            self.fake.requests.append((self.command, self.path))
        if self.path.split("?")[0] != "/v1/responses":
            self._send(404, error_body(404, f"Invalid URL (POST {self.path})"))
            return
        call, step, problem = self.fake.answer(raw, {k.lower(): v for k, v in self.headers.items()})
        if problem is not None:
            self._refuse(call, *problem)
            return
        assert step is not None
        if step.delay:
            time.sleep(step.delay)
        if step.status != 200:
            self._refuse(call, step.status, step.message, dict(step.headers))
            return
        self._stream(call, step)

    def _refuse(self, call: Call, status: int, message: str, headers: Mapping[str, str] = {}) -> None:
        call.status, call.response = status, error_body(status, message)
        self._send(status, call.response, headers)

    def _stream(self, call: Call, step: Step) -> None:
        call.response = self.fake.response(call, step)
        headers = {"x-request-id": request_id(), **dict(step.headers)}
        stream = EventStream(self, headers, cut_after=step.cut_after, on_cut=lambda: setattr(call, "cut", True))
        events = stream_events(call.response, failure=step.message if step.failed else None)
        for number, event in enumerate(events):
            if event["type"] == "response.failed":
                call.response = event["response"]
            if not stream.send(event["type"], {**event, "sequence_number": number}):
                return
        stream.end()

    def _send(self, status: int, body: dict[str, Any], headers: Mapping[str, str] = {}) -> None:
        send_json(self, status, body, {"x-request-id": request_id(), **headers})
