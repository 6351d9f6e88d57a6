"""Adapters for external agent CLIs: Claude Code (``claude -p``) and Codex (``codex exec``).

Both CLIs run under the common agent-process contract; their stdout and stderr land in
``<run_dir>/agent.log``. With the flags set here, stdout is JSON Lines: one event a line. Lines
that are not JSON objects (warnings, stderr) are skipped.

Claude Code, ``claude -p PROMPT --output-format stream-json --verbose``
(Claude Code's headless docs and the Agent SDK's ``SDKMessage`` types)::

    {"type": "system", "subtype": "init", "session_id": ..., "model": ..., "tools": [...], ...}
    {"type": "assistant", "message": {<Messages API message: id, model, content, usage>}, ...}
    {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", ...}]}, ...}
    {"type": "result", "subtype": "success" | "error_max_turns" | "error_during_execution" | ...,
     "is_error": bool, "num_turns": int, "result": "final text" (success only),
     "errors": [...] (error subtypes), "total_cost_usd": float,
     "usage": {"input_tokens", "output_tokens", "cache_read_input_tokens",
               "cache_creation_input_tokens", ...}, "duration_ms": ..., "session_id": ...}

The last ``result`` event is the account of the run. A failed API call can come as subtype
``success`` with ``is_error: true`` and the message in ``result``. Without a result event (the CLI
crashed or was killed), the usage of the assistant messages seen is counted instead, each API
message once (Claude Code repeats a message's usage on every event of its content blocks).

Codex, ``codex exec --json PROMPT`` (openai/codex ``codex-rs/exec/src/exec_events.rs``)::

    {"type": "thread.started", "thread_id": "..."}
    {"type": "turn.started"}
    {"type": "item.started" | "item.updated" | "item.completed", "item": {"id": "item_0",
     "type": "agent_message" | "reasoning" | "command_execution" | "file_change" | ..., ...}}
    {"type": "turn.completed", "usage": {"input_tokens", "cached_input_tokens", "output_tokens"}}
    {"type": "turn.failed", "error": {"message": "..."}}
    {"type": "error", "message": "..."}

Codex's ``usage`` is the thread's running total (``total_token_usage``), not one turn's: per
thread the last one counts, and threads (a log holding several ``codex exec`` runs) are added.
``input_tokens`` includes ``cached_input_tokens`` (OpenAI's convention; codex itself computes
``non_cached_input = input_tokens - cached_input_tokens``), so the cached part is moved to
``cache_read_input_tokens``. Older codex versions wrote ``item_type: "assistant_message"``;
both spellings are read. An ``error`` event that a later ``turn.completed`` outlived (a stream
retry) is kept as a problem, not as the run's error.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beads.models import Finding, Usage
from supervisor.agents.findings import findings_from_text
from supervisor.agents.types import Launch, LaunchContext, Report, result_file_report
from supervisor.pricing import priced

PROMPT = '"$(cat "$MAYOR_PROMPT_FILE")"'
"""The rendered prompt as one shell word, read when the command runs."""
NO_RESULT = "claude-code ended without a result event (crashed or killed?)"
NO_TURN = "codex ended without a turn.completed event (crashed or killed?)"
DETAIL_CHARS = 500


# -- shared ---------------------------------------------------------------------------------------


def command_line(executable: str, before: list[str], model: str | None, after: list[str]) -> str:
    """``executable`` (shell words as the user wrote them) and the quoted arguments."""
    words = [*before, *(["--model", model] if model else []), *after]
    return " ".join([executable, *(shlex.quote(w) for w in words)])


def json_lines(log: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of ``log``, one a line; anything else on a line is skipped."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            yield found


def count(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def priced_as(model: str | None, usage: Usage) -> Usage:
    """``usage`` priced from mayor's table; unpriced (None, never $0) for an unknown model."""
    return priced(model, usage) if model else usage.model_copy(update={"cost_usd": None})


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


def with_findings(report: Report, run_dir: Path) -> Report:
    """Findings from the final text (a fenced ```json block or an object with ``findings``),
    else from ``result.json``; the file also fills what the stream did not say."""
    found, problems = findings_from_text(report.summary)
    report.findings = [Finding.model_validate(f) for f in found]
    report.problems += problems
    if not (run_dir / "result.json").exists():
        return report
    written = result_file_report(run_dir)
    if not found and not problems:
        report.findings = written.findings
    report.problems += written.problems
    report.summary = report.summary or written.summary
    report.usage = report.usage if report.usage is not None else written.usage
    report.turns = report.turns if report.turns is not None else written.turns
    report.error = report.error or written.error
    return report


def turns_word(turns: int | None) -> str:
    if turns is None:
        return ""
    return f" after {turns} turn" + ("" if turns == 1 else "s")


# -- Claude Code ----------------------------------------------------------------------------------


@dataclass
class ClaudeStream:
    """What a ``stream-json`` log says."""

    result: dict[str, Any] | None = None
    """The last ``result`` event."""
    model: str | None = None
    """The model named by the ``system``/``init`` event."""
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Assistant API messages by id (their usage counts when no result event came)."""


def read_claude(log: Path) -> ClaudeStream:
    stream = ClaudeStream()
    for event in json_lines(log):
        kind = event.get("type")
        if kind == "result":
            stream.result = event
        elif kind == "system" and event.get("subtype") == "init" and isinstance(event.get("model"), str):
            stream.model = event["model"]
        elif kind == "assistant" and isinstance(event.get("message"), dict):
            message = event["message"]
            if isinstance(message.get("usage"), dict):
                stream.messages[str(message.get("id") or len(stream.messages))] = message
    return stream


def claude_usage(raw: Mapping[str, Any]) -> Usage:
    return Usage(
        input_tokens=count(raw, "input_tokens"),
        output_tokens=count(raw, "output_tokens"),
        cache_read_input_tokens=count(raw, "cache_read_input_tokens"),
        cache_creation_input_tokens=count(raw, "cache_creation_input_tokens"),
    )


def result_usage(result: Mapping[str, Any], model: str | None) -> Usage | None:
    """The result's usage, at the CLI's own ``total_cost_usd`` when it gives one."""
    cost = number(result.get("total_cost_usd"))
    raw = result.get("usage")
    if not isinstance(raw, dict):
        return None if cost is None else Usage(cost_usd=cost)
    usage = claude_usage(raw)
    return usage.model_copy(update={"cost_usd": cost}) if cost is not None else priced_as(model, usage)


def partial_usage(stream: ClaudeStream, model: str | None) -> Usage | None:
    """The usage of the assistant messages seen, each priced at its own model."""
    total: Usage | None = None
    for message in stream.messages.values():
        tokens = claude_usage(message["usage"])
        if tokens.total_tokens == 0:  # Claude Code's own ``<synthetic>`` messages cost nothing
            continue
        usage = priced_as(message.get("model") or model, tokens)
        total = usage if total is None else total + usage
    return total


def claude_error(result: Mapping[str, Any], turns: int | None) -> str | None:
    subtype = str(result.get("subtype") or "unknown")
    if subtype == "success" and not result.get("is_error"):
        return None
    errors = [str(e) for e in result.get("errors") or [] if e] if isinstance(result.get("errors"), list) else []
    detail = clip("; ".join(errors) or string(result.get("result")))
    if subtype == "success":
        return f"claude-code reported an error{turns_word(turns)}: {detail or 'no detail given'}"
    return f"claude-code stopped: {subtype}{turns_word(turns)}" + (f" ({detail})" if detail else "")


def claude_report(stream: ClaudeStream, model: str | None) -> Report:
    model = model or stream.model
    result = stream.result
    if result is None:
        return Report(usage=partial_usage(stream, model), error=NO_RESULT)
    turns = result.get("num_turns") if isinstance(result.get("num_turns"), int) else None
    return Report(
        usage=result_usage(result, model),
        error=claude_error(result, turns),
        summary=string(result.get("result")),
        turns=turns,
    )


class ClaudeCodeAdapter:
    """Claude Code in print mode, read through its ``stream-json`` events.

    ``command`` in the config replaces the executable (default ``claude``); ``args`` are added
    as they are (the permission flags for unattended work: ``--permission-mode acceptEdits``,
    ``--allowedTools ...``, ``--dangerously-skip-permissions``); ``max_steps`` (or
    ``--max-steps``) becomes ``--max-turns``.
    """

    kind = "claude-code"

    def launch(self, ctx: LaunchContext) -> Launch:
        steps = ctx.max_steps or ctx.config.max_steps
        fixed = ["--output-format", "stream-json", "--verbose", *(["--max-turns", str(steps)] if steps else [])]
        executable = f"{ctx.config.command or 'claude'} -p {PROMPT}"
        return Launch(command_line(executable, fixed, ctx.model, list(ctx.config.args)))

    def report(self, run_dir: Path, model: str | None) -> Report:
        return with_findings(claude_report(read_claude(run_dir / "agent.log"), model), run_dir)


# -- Codex ----------------------------------------------------------------------------------------


@dataclass
class CodexStream:
    """What a ``codex exec --json`` log says."""

    usage: dict[str | None, Mapping[str, Any]] = field(default_factory=dict)
    """The last ``turn.completed`` usage of each thread (a running total)."""
    thread: str | None = None
    turns: int = 0
    completed: bool = False
    error: str | None = None
    """The failure standing at the end of the log so far."""
    recovered: list[str] = field(default_factory=list)
    """Errors a later completed turn outlived."""
    last_message: str = ""


def is_agent_message(item: Mapping[str, Any]) -> bool:
    return item.get("type") == "agent_message" or item.get("item_type") in ("agent_message", "assistant_message")


def codex_step(stream: CodexStream, event: Mapping[str, Any]) -> None:
    kind = event.get("type")
    if kind == "thread.started":
        stream.thread = str(event.get("thread_id") or "")
    elif kind == "turn.started":
        stream.turns += 1
    elif kind == "turn.completed":
        stream.completed = True
        if isinstance(event.get("usage"), dict):
            stream.usage[stream.thread] = event["usage"]
        if stream.error:
            stream.recovered.append(f"codex went on after: {stream.error}")
            stream.error = None
    elif kind == "turn.failed":
        error = event.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        stream.error = f"codex turn failed: {clip(str(message or 'no message given'))}"
    elif kind == "error":
        stream.error = f"codex error: {clip(str(event.get('message') or 'no message given'))}"
    elif kind == "item.completed" and isinstance(event.get("item"), dict) and is_agent_message(event["item"]):
        stream.last_message = str(event["item"].get("text") or "")


def read_codex(log: Path) -> CodexStream:
    stream = CodexStream()
    for event in json_lines(log):
        codex_step(stream, event)
    return stream


def codex_usage(raw: Mapping[str, Any]) -> Usage:
    cached = count(raw, "cached_input_tokens")
    return Usage(
        input_tokens=max(0, count(raw, "input_tokens") - cached),
        output_tokens=count(raw, "output_tokens"),
        cache_read_input_tokens=cached,
    )


def codex_report(stream: CodexStream, model: str | None) -> Report:
    usage: Usage | None = None
    for raw in stream.usage.values():
        usage = codex_usage(raw) if usage is None else usage + codex_usage(raw)
    error = stream.error or (None if stream.completed else NO_TURN)
    return Report(
        usage=None if usage is None else priced_as(model, usage),
        error=error,
        summary=stream.last_message,
        problems=list(stream.recovered),
        turns=stream.turns or None,
    )


class CodexAdapter:
    """Codex in ``exec`` mode, read through its ``--json`` events.

    ``command`` replaces the executable (default ``codex``); ``args`` go before the prompt as
    they are (``--sandbox workspace-write``, ``--full-auto``, ``--skip-git-repo-check``...).
    Codex models are mostly not in mayor's price table: their usage is then unpriced.
    """

    kind = "codex"

    def launch(self, ctx: LaunchContext) -> Launch:
        executable = ctx.config.command or "codex"
        return Launch(command_line(executable, ["exec", "--json"], ctx.model, list(ctx.config.args)) + f" -- {PROMPT}")

    def report(self, run_dir: Path, model: str | None) -> Report:
        return with_findings(codex_report(read_codex(run_dir / "agent.log"), model), run_dir)
