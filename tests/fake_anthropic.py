"""A local stand-in for the Anthropic Messages API, for tests and benchmarks (no network).

The real ``anthropic`` SDK reaches it through ``ANTHROPIC_BASE_URL``; nothing of the SDK is
patched. It listens on 127.0.0.1 (a free port), answers ``POST /v1/messages`` with the exact
response shape of the API, and plays **scripted conversations**:

    from tests.fake_anthropic import FakeAnthropic, bash, edit, final, rate_limited

    scripts = {"b1": [edit("create", "hello.py", file_text="print(1)\\n"),
                      rate_limited(0.05),            # a 429 with retry-after; the SDK retries
                      bash("git add -A && git commit -qm hello"),
                      final("Added hello.py")]}
    with FakeAnthropic(scripts) as fake:
        env = fake.env()                             # ANTHROPIC_BASE_URL, a dummy key, NO_PROXY
        ...                                          # run agents with that environment
        fake.calls                                   # every request, recorded (body, raw bytes)

**Choosing a script.** A request belongs to a *conversation*: its first user message (cache
markers aside), so every attempt of a bead is its own conversation. The script is the one whose
key appears, as a whole word, in that first message (the bead id is in the task prompt), else
``default``. A script is a sequence of steps, played one per request of the conversation (an
error step uses a request too, so ``[rate_limited(), final()]`` answers the SDK's retry with the
final text); past its end, the conversation gets a final text. A script may instead be a
callable that receives the :class:`Call` (its ``turn``, ``served``, body) and returns the step.

**Usage, with prompt caching simulated.** The prompt is cut into blocks in the order the API
caches it (tools, system, messages), each as canonical JSON without its ``cache_control``. Each
breakpoint (a block with ``cache_control``) writes its prefix to a cache, keyed by the model and
the prefix's bytes; a request reads the longest prefix already cached, looking at the block
boundaries up to 20 blocks before each of its breakpoints, as the API does. Then
``cache_read_input_tokens`` is that prefix, ``cache_creation_input_tokens`` the rest up to the
last breakpoint, and ``input_tokens`` what follows. Tokens are bytes / 4, plus the fixed cost of
Anthropic-defined tools (``bash_*``, ``text_editor_*``). Prefixes under ``min_cacheable_tokens``
are not cached (0 by default, so small test prompts still show the effect).

**Streaming** (``stream: true``, what Claude Code asks for): Server-Sent Events in chunked
encoding, ``message_start`` (empty content, the input usage, ``output_tokens: 1``), ``ping``, per
block ``content_block_start``/``_delta`` (``text_delta``, ``input_json_delta``)/``_stop``,
``message_delta`` (stop reason, the final usage) and ``message_stop``. ``cut(step, after=N)``
drops the connection after N events (unstreamed: before any answer); ``error(..., midstream=True)``
sends ``event: error`` after ``message_start``. Besides ``/v1/messages`` it answers
``/v1/messages/count_tokens`` and ``HEAD``/``GET /api/hello`` (Claude Code's connection warm-up);
``keys=[...]`` makes it refuse other keys with the API's 401; ``requests`` lists every route hit.

**Checks on requests**, as the API makes them, answered 400/401 like the API: a key and an
``anthropic-version`` header; ``model``, ``max_tokens`` and ``messages``; roles that alternate
from ``user`` (``system`` messages after the first, which Claude Code sends, are skipped); at
most 4 cache breakpoints; every ``tool_use`` answered by a ``tool_result``
(first in the next user message) and no ``tool_result`` without its ``tool_use``.
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

EDITOR = "str_replace_based_edit_tool"
LOOKBACK_BLOCKS = 20
"""How far before a breakpoint the API looks for an earlier cached prefix."""
MAX_BREAKPOINTS = 4
TOOL_TYPE_TOKENS = {"bash_": 245, "text_editor_": 700}
"""Input tokens the API adds for its own tool types (their definitions are server-side)."""
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


# -- steps: what the server answers ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One answer of a script: a reply (content blocks) or an HTTP error."""

    content: tuple[dict[str, Any], ...] = ()
    stop_reason: str = "end_turn"
    status: int = 200
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    """Seconds to wait before answering (a slow model)."""
    usage: Mapping[str, int] | None = None
    """Usage to report instead of the simulated one."""
    cut_after: int | None = None
    """Drop the connection after this many events of a streamed answer (a stream cut short); a
    request that did not ask for a stream gets no answer at all."""
    midstream: bool = False
    """Streamed error answers only: a 200 whose stream starts, then carries the error event."""


Script = Union[Sequence[Step], Callable[["Call"], Step]]  # noqa: UP007 - a runtime alias; "Call" is defined below


def final(text: str = "Done.", *, stop_reason: str = "end_turn") -> Step:
    """A reply with no tool call: the agent's last word (``stop_reason="max_tokens"``: cut off)."""
    return Step(({"type": "text", "text": text},), stop_reason)


def tools(*calls: tuple[str, dict[str, Any]], text: str | None = None) -> Step:
    """A reply asking for one or more tool calls (``(name, input)`` pairs), ids filled in on serving."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    blocks += [{"type": "tool_use", "name": name, "input": dict(input_)} for name, input_ in calls]
    return Step(tuple(blocks), "tool_use")


def tool(name: str, input_: dict[str, Any], *, text: str | None = None) -> Step:
    return tools((name, input_), text=text)


def bash(command: str, *, text: str | None = None) -> Step:
    return tool("bash", {"command": command}, text=text)


def edit(command: str, path: str, *, text: str | None = None, **fields: Any) -> Step:
    """The text editor tool: ``edit("view", "a.py")``, ``edit("create", "a.py", file_text=...)``."""
    return tool(EDITOR, {"command": command, "path": path, **fields}, text=text)


def error(
    status: int, message: str = "", *, retry_after: float | None = None, midstream: bool = False, **headers: str
) -> Step:
    """An error answer in the API's shape (``{"type": "error", "error": {type, message}}``).
    ``midstream``: to a streamed request, a 200 whose stream starts and then sends ``event: error``
    with that body (how the API reports an overload met while streaming)."""
    found = tuple((k.replace("_", "-"), v) for k, v in headers.items())
    if retry_after is not None:
        found += (("retry-after", f"{retry_after:g}"),)
    text = message or f"fake {ERROR_TYPES.get(status, 'api_error')}"
    return Step(status=status, message=text, headers=found, midstream=midstream)


def cut(step: Step, after: int = 3) -> Step:
    """``step`` with the connection dropped after ``after`` events of its stream (no
    ``message_stop``); unstreamed, the connection drops before any answer."""
    return dataclasses.replace(step, cut_after=after)


def rate_limited(retry_after: float = 0.05) -> Step:
    return error(429, "Number of request tokens has exceeded your per-minute rate limit", retry_after=retry_after)


def overloaded(retry_after: float | None = None) -> Step:
    return error(529, "Overloaded", retry_after=retry_after)


def server_error(retry_after: float | None = None) -> Step:
    return error(500, "Internal server error", retry_after=retry_after)


# -- what the server saw --------------------------------------------------------------------------


@dataclass
class Call:
    """One request, as received, and what was answered."""

    index: int
    raw: bytes
    body: dict[str, Any]
    headers: dict[str, str]
    key: str | None = None
    """The script key found in the first user message (None: the default script)."""
    conversation: str = ""
    served: int = 0
    """Requests of this conversation answered before this one (errors included)."""
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    cut: bool = False
    """A streamed answer whose connection was dropped before its end."""

    @property
    def streamed(self) -> bool:
        return self.body.get("stream") is True

    @property
    def turn(self) -> int:
        """Assistant turns already in the conversation (0 on its first request)."""
        return sum(1 for m in self.body.get("messages", []) if m.get("role") == "assistant")

    @property
    def usage(self) -> dict[str, int] | None:
        """The usage answered (None for an error or a stream cut short)."""
        return self.response.get("usage") if self.status == 200 and not self.cut else None

    @property
    def first_user_text(self) -> str:
        messages = self.body.get("messages") or [{}]
        return "\n".join(b.get("text", "") for b in _blocks(messages[0].get("content")) if b.get("type") == "text")

    def tool_results(self) -> list[dict[str, Any]]:
        """The ``tool_result`` blocks of the last user message (what the agent sent back)."""
        users = [m for m in self.body.get("messages") or [] if m.get("role") == "user"] or [{}]
        return [b for b in _blocks(users[-1].get("content")) if b.get("type") == "tool_result"]

    def shared_prefix(self) -> bytes:
        """The request's tools and system blocks up to the last system breakpoint, as sent
        (``cache_control`` included), canonical JSON: what every bead should share byte for byte."""
        system = _blocks(self.body.get("system"))
        marked = [i for i, b in enumerate(system) if "cache_control" in b]
        upto = system[: marked[-1] + 1] if marked else system
        return _canon({"tools": self.body.get("tools", []), "system": upto})


def _blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def _canon(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _strip(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


# -- prompt caching -------------------------------------------------------------------------------


class PromptCache:
    """The API's prompt cache, simulated: prefixes by model and bytes, with a time to live."""

    def __init__(self, min_tokens: int = 0, ttl_s: float = 300.0) -> None:
        self.min_tokens = min_tokens
        self.ttl_s = ttl_s
        self.entries: dict[str, float] = {}

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        units, breakpoints = _prompt_units(body)
        hashes, tokens = [hashlib.sha256(str(body.get("model")).encode()).hexdigest()], [0.0]
        for unit, extra in units:
            hashes.append(hashlib.sha256(hashes[-1].encode() + unit).hexdigest())
            tokens.append(tokens[-1] + len(unit) / 4 + extra)
        count = [int(t) for t in tokens]
        now = time.monotonic()
        hit = 0
        for bp in breakpoints:
            for j in range(max(1, bp - LOOKBACK_BLOCKS), bp + 1):
                if j > hit and self.entries.get(hashes[j], 0.0) > now:
                    hit = j
        if hit:
            self.entries[hashes[hit]] = now + self.ttl_s
        written = 0
        for bp in breakpoints:
            if bp > hit and count[bp] >= self.min_tokens:
                self.entries[hashes[bp]] = now + self.ttl_s
                written = max(written, bp)
        read = count[hit]
        created = count[written] - read if written else 0
        return {
            "input_tokens": count[-1] - read - created,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": created,
        }


def _prompt_units(body: dict[str, Any]) -> tuple[list[tuple[bytes, float]], list[int]]:
    """The prompt as cacheable blocks (bytes, extra tokens) and the breakpoints (prefix lengths)."""
    units: list[tuple[bytes, float]] = []
    breakpoints: list[int] = []

    def add(kind: str, block: dict[str, Any], extra: float = 0.0) -> None:
        units.append((_canon({kind: _strip(block)}), extra))
        if "cache_control" in block:
            breakpoints.append(len(units))

    for spec in body.get("tools") or []:
        kind = str(spec.get("type", ""))
        add("tool", spec, next((n for prefix, n in TOOL_TYPE_TOKENS.items() if kind.startswith(prefix)), 0))
    for block in _blocks(body.get("system")):
        add("system", block)
    for message in body.get("messages") or []:
        for block in _blocks(message.get("content")):
            add(str(message.get("role")), block)
    return units, breakpoints


# -- checks the API makes -------------------------------------------------------------------------


def request_problem(body: Any, headers: Mapping[str, str], *, count: bool = False) -> tuple[int, str] | None:
    """Why the real API would refuse this request (status, message), or None (``count``: a
    count_tokens request, which has no ``max_tokens``)."""
    if not (headers.get("x-api-key") or headers.get("authorization")):
        return 401, "x-api-key header is required"
    if not headers.get("anthropic-version"):
        return 400, "anthropic-version: header is required"
    if not isinstance(body, dict):
        return 400, "the body must be a JSON object"
    required = (
        (("model", str), ("messages", list)) if count else (("model", str), ("max_tokens", int), ("messages", list))
    )
    for name, kind in required:
        if not isinstance(body.get(name), kind):
            return 400, f"{name}: Field required"
    return _messages_problem(body["messages"]) or _breakpoints_problem(body)


def _messages_problem(messages: list[Any]) -> tuple[int, str] | None:
    if not messages:
        return 400, "messages: at least one message is required"
    pending: set[str] = set()
    turns = 0
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "system" and index > 0:  # system text between turns (Claude Code sends it)
            continue
        if role != ("user" if turns % 2 == 0 else "assistant"):
            return 400, f"messages.{index}.role: roles must alternate, starting with user (got {role!r})"
        turns += 1
        blocks = _blocks(message.get("content"))
        if not blocks:
            return 400, f"messages.{index}: content must be non-empty"
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if results and any(b.get("type") != "tool_result" for b in blocks[: len(results)]):
            return 400, f"messages.{index}: tool_result blocks must come first in the content"
        unknown = [r for r in results if r not in pending]
        if unknown:
            return 400, f"messages.{index}: unexpected tool_use_id {unknown[0]} in tool_result blocks"
        if pending - set(results):
            missing = sorted(pending - set(results))[0]
            return 400, f"messages.{index}: tool_use ids were found without tool_result blocks: {missing}"
        pending = {b["id"] for b in blocks if b.get("type") == "tool_use"} if role == "assistant" else set()
    return None


def _breakpoints_problem(body: dict[str, Any]) -> tuple[int, str] | None:
    blocks = list(body.get("tools") or []) + _blocks(body.get("system"))
    blocks += [b for m in body["messages"] for b in _blocks(m.get("content"))]
    marked = sum(1 for b in blocks if isinstance(b, dict) and "cache_control" in b)
    if marked > MAX_BREAKPOINTS:
        return 400, f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {marked}."
    return None


# -- the server -----------------------------------------------------------------------------------


class FakeAnthropic:
    """The fake API: start it (``with`` or :meth:`start`), point the SDK at :meth:`env`.

    ``keys``: the API keys it accepts (any, when None); another gets the API's 401."""

    def __init__(
        self,
        scripts: Mapping[str, Script] | None = None,
        default: Script | None = None,
        *,
        min_cacheable_tokens: int = 0,
        cache_ttl_s: float = 300.0,
        keys: Collection[str] | None = None,
    ) -> None:
        self.scripts: dict[str, Script] = dict(scripts or {})
        self.default = default
        self.keys = None if keys is None else set(keys)
        self.cache = PromptCache(min_cacheable_tokens, cache_ttl_s)
        self.calls: list[Call] = []
        self.requests: list[tuple[str, str]] = []
        """Every request as (method, path), /v1/messages and the others."""
        self.lock = threading.Lock()
        self._served: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._server = ThreadServer(type("Handler", (_Handler,), {"fake": self}), "fake-anthropic")

    # -- lifecycle
    def start(self) -> FakeAnthropic:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def env(self) -> dict[str, str]:
        """What a process needs to talk to this server through the real SDK."""
        local = "127.0.0.1,localhost"
        return {
            "ANTHROPIC_BASE_URL": self.url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-key-for-tests",
            "NO_PROXY": local,
            "no_proxy": local,
        }

    # -- what happened
    def calls_for(self, key: str | None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.key == key]

    def total_usage(self, key: str | None = None) -> dict[str, int]:
        """The sum of the usage of every successful answer (for ``key``'s conversations, if given)."""
        with self.lock:
            calls = [c for c in self.calls if c.usage and (key is None or c.key == key)]
        names = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        return {name: sum(c.usage[name] for c in calls if c.usage) for name in names}

    # -- serving
    def answer(self, raw: bytes, headers: dict[str, str]) -> tuple[Call, Step | None, tuple[int, str] | None]:
        """Record a request and choose its answer: a step, or the API's refusal (status, message)."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problem = self._key_problem(headers) or request_problem(body, headers)
        with self.lock:
            call = Call(len(self.calls), raw, body if isinstance(body, dict) else {}, headers)
            self.calls.append(call)
            if problem is not None:
                call.status = problem[0]
                return call, None, problem
            call.key = self._key(call.first_user_text)
            first = _canon([_strip(b) for b in _blocks(call.body["messages"][0].get("content"))])
            call.conversation = hashlib.sha256(f"{call.key}\0".encode() + first).hexdigest()[:16]
            call.served = self._served.get(call.conversation, 0)
            self._served[call.conversation] = call.served + 1
            script = self.scripts.get(call.key) if call.key is not None else self.default
        step = self._step(script, call)
        return call, step, None

    def _key_problem(self, headers: Mapping[str, str]) -> tuple[int, str] | None:
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if self.keys is None or not given or given in self.keys:
            return None
        return 401, "invalid x-api-key"

    def _key(self, text: str) -> str | None:
        found = [k for k in self.scripts if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", text)]
        return max(found, key=len) if found else None

    @staticmethod
    def _step(script: Script | None, call: Call) -> Step:
        if script is None:
            return final("(the fake server has no script for this conversation)")
        if callable(script):
            return script(call)
        return script[call.served] if call.served < len(script) else final("(the script has ended)")

    def reply(self, call: Call, step: Step) -> dict[str, Any]:
        """The API's message for a reply step, with ids filled in and usage simulated."""
        content = []
        for block in step.content:
            block = dict(block)
            if block.get("type") == "tool_use":
                block["id"] = f"toolu_fake_{next(self._ids):06d}"
            content.append(block)
        with self.lock:
            usage: dict[str, Any] = dict(step.usage) if step.usage is not None else self.cache.usage(call.body)
        usage.setdefault("output_tokens", max(1, len(_canon(content)) // 4))
        for name in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            usage.setdefault(name, 0)
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
            "ephemeral_1h_input_tokens": 0,
        }
        usage["service_tier"] = "standard"
        return {
            "id": f"msg_fake_{call.index:06d}",
            "type": "message",
            "role": "assistant",
            "model": call.body["model"],
            "content": content,
            "stop_reason": step.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def count_tokens(self, raw: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, the prompt counted as by
        the usage (bytes / 4 and the tools' own tokens), nothing cached."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problem = self._key_problem(headers) or request_problem(body, headers, count=True)
        if problem is not None:
            return problem[0], _error_body(*problem)
        units, _ = _prompt_units(body)
        return 200, {"input_tokens": int(sum(len(unit) / 4 + extra for unit, extra in units))}


TEXT_PIECE, JSON_PIECE = 24, 40
"""Characters per text_delta and per input_json_delta of a streamed answer."""


def stream_events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """A message as the API streams it: ``message_start`` (empty content, the input usage and
    ``output_tokens: 1``), ``ping``, each block's ``content_block_start``/``_delta``/``_stop``,
    ``message_delta`` (stop reason and the final usage, cumulative) and ``message_stop``."""
    usage = message["usage"]
    started = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": started}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        if block.get("type") == "tool_use":
            opened = {**block, "input": {}}
            kind, field_, text, size = (
                "input_json_delta",
                "partial_json",
                json.dumps(block.get("input", {})),
                JSON_PIECE,
            )
        else:
            opened = {**block, "text": ""}
            kind, field_, text, size = "text_delta", "text", str(block.get("text", "")), TEXT_PIECE
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": opened}
        for at in range(0, len(text), size):
            delta = {"type": kind, field_: text[at : at + size]}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    final_usage = {k: usage[k] for k in _USAGE_FIELDS if k in usage}
    stopped = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield "message_delta", {"type": "message_delta", "delta": stopped, "usage": final_usage}
    yield "message_stop", {"type": "message_stop"}


_USAGE_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._get(head=True)

    def do_GET(self) -> None:
        self._get(head=False)

    def _get(self, *, head: bool) -> None:
        """``/api/hello``: Claude Code's connection warm-up (a HEAD at startup; any answer will do)."""
        with self.fake.lock:
            self.fake.requests.append((self.command, self.path))
        if self.path.split("?")[0] == "/api/hello":
            self._send(200, {}, head=head)
        else:
            self._send(404, _error_body(404, f"no route {self.command} {self.path}"), head=head)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        route = self.path.split("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.fake.lock:
            self.fake.requests.append((self.command, self.path))
        if route == "/v1/messages/count_tokens":
            self._send(*self.fake.count_tokens(raw, headers))
            return
        if route != "/v1/messages":
            self._send(404, _error_body(404, f"no route POST {self.path}"))
            return
        call, step, problem = self.fake.answer(raw, headers)
        if problem is not None:
            call.response = _error_body(*problem)
            self._send(problem[0], call.response)
            return
        assert step is not None
        if step.delay:
            time.sleep(step.delay)
        if step.status != 200:
            call.status, call.response = step.status, _error_body(step.status, step.message)
            if step.midstream and call.streamed:
                self._stream_error(call, step)
            else:
                self._send(step.status, call.response, dict(step.headers))
            return
        call.response = self.fake.reply(call, step)
        if call.streamed:
            self._stream(call, step)
        elif step.cut_after is not None:  # no answer at all: the connection drops
            call.cut = True
            EventStream.hang_up(self)
        else:
            self._send(200, call.response, dict(step.headers))

    def _stream(self, call: Call, step: Step) -> None:
        headers = {"request-id": request_id(), **dict(step.headers)}
        stream = EventStream(self, headers, cut_after=step.cut_after, on_cut=lambda: setattr(call, "cut", True))
        for event, data in stream_events(call.response):
            if not stream.send(event, data):
                return
        stream.end()

    def _stream_error(self, call: Call, step: Step) -> None:
        stream = EventStream(self, {"request-id": request_id(), **dict(step.headers)})
        started = next(stream_events(self.fake.reply(call, final(""))))
        stream.send(*started)
        stream.send("error", call.response)
        stream.end()

    def _send(self, status: int, body: dict[str, Any], headers: Mapping[str, str] = {}, *, head: bool = False) -> None:
        send_json(self, status, body, {"request-id": request_id(), **headers}, head=head)


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": request_id(),
    }


def serve(
    scripts: Mapping[str, Script] | None = None, default: Script | None = None, **kw: Any
) -> Iterator[FakeAnthropic]:
    """A generator for fixtures: the started server, stopped afterwards."""
    with FakeAnthropic(scripts, default, **kw) as fake:
        yield fake
