"""Adapters for external agent CLIs: Claude Code (``claude -p``) and Codex (``codex exec``).

Both CLIs run under the common agent-process contract, the prompt on standard input (no
argument-length limit); their stdout and stderr land in ``<run_dir>/agent.log``. With the flags
set here, stdout is JSON Lines: one event a line. Other lines are the CLI's stderr (warnings, a
crash): the last of them are quoted in the attempt's error when the run failed.
docs/agent-clis.md says what the real CLIs do; the command lines below rest on it.

Claude Code (2.1.x), ``claude -p --output-format stream-json --verbose``::

    {"type": "system", "subtype": "init", "model": ..., "permissionMode": ..., ...}
    {"type": "system", "subtype": "api_retry", "attempt", "max_retries", "error_status", "error", ...}
    {"type": "assistant", "message": {id, model, content: [ONE block], usage: <message_start's>}, ...}
    {"type": "system", "subtype": "permission_denied", "tool_name", "tool_use_id", "message", ...}
    {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", ...}]}, ...}
    {"type": "result", "subtype": "success" | "error_max_turns" | ..., "is_error", "num_turns",
     "result", "errors", "usage", "modelUsage": {MODEL: {..., "costUSD", "costBasis"}},
     "total_cost_usd", "permission_denials": [{tool_name, tool_use_id, tool_input}],
     "terminal_reason", "api_error_status", "api_error_type", ...}

The last ``result`` event is the account of the run: its ``usage`` is the sum of each request's
final usage. An API error comes as subtype ``success`` with ``is_error: true``,
``api_error_status`` and ``terminal_reason: "api_error"``. ``total_cost_usd`` is filled in even
for a model Claude Code cannot price (``costBasis: "unknown"``): such a model's part is priced
from mayor's table, or left unpriced. Without a result event (the CLI crashed or was killed),
the ``assistant`` events are all there is, and their usage is a snapshot taken when each message
*started* (``output_tokens: 1``): the input and cache counts are final, the output count is
estimated from the content seen (about four characters a token), and the report says so.

Codex (0.171), ``codex exec --json ... -``::

    {"type": "thread.started", "thread_id": "..."}
    {"type": "turn.started"}
    {"type": "item.started" | "item.updated" | "item.completed", "item": {"id": "item_0",
     "type": "agent_message" | "reasoning" | "command_execution" | "file_change" | "error", ...}}
    {"type": "turn.completed", "usage": {"input_tokens", "cached_input_tokens",
     "cache_write_input_tokens", "output_tokens", "reasoning_output_tokens"}}
    {"type": "error", "message": "..."}
    {"type": "turn.failed", "error": {"message": "..."}}

Codex's ``usage`` is the thread's running total, not one turn's: per thread the last one counts,
and threads (a log holding several ``codex exec`` runs) are added. ``input_tokens`` includes the
cached and the cache-written tokens and ``output_tokens`` the reasoning ones (OpenAI's
convention); booked in Anthropic's terms: cache reads and writes are taken out of the input.
Older codex versions wrote ``item_type: "assistant_message"``; both spellings are read. An
``error`` event that a later ``turn.completed`` outlived (a stream retry) is kept as a problem,
not as the run's error. An ``item`` of type ``error`` is a warning (an unknown model's metadata).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beads.models import Finding, Usage
from supervisor.agents.findings import findings_from_text
from supervisor.agents.types import Launch, LaunchContext, Report, result_file_report
from supervisor.pricing import priced

STDIN = '< "$MAYOR_PROMPT_FILE"'
"""The rendered prompt on standard input: no limit on its length (an argument is capped at 128 KiB)."""
NO_RESULT = "claude-code ended without a result event (crashed or killed?)"
NO_TURN = "codex ended without a turn.completed event (crashed or killed?)"
DETAIL_CHARS = 500
STDERR_LINES = 3
"""How many of the CLI's last non-JSON lines an error quotes (error lines first)."""
STDERR_KEPT = 20

CLAUDE_FLAGS = ["--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits"]
"""Edits (Write, Edit) accepted without a prompt inside the working folders only: the worktree
(the cwd) and each ``--add-dir``; anything else is refused at once (``-p`` never prompts)."""
CLAUDE_TOOLS = ["--allowedTools", "Bash(git:*)"]
"""Bash for git only (add, commit, log...), so that the agent can commit; other commands need the
user's leave (``args`` or ``.claude/settings.json``). Repeated ``--allowedTools`` add up."""
CLAUDE_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # no telemetry, error reports, update checks, warm-up
    "CLAUDE_CODE_MAX_RETRIES": "2",  # the default, 10, makes a bad key take three minutes
}
"""Set for the agent unless mayor's own environment sets them (the user's word wins)."""
CODEX_SANDBOX = ["--sandbox", "workspace-write"]
CODEX_QUIET = ["-c", "analytics.enabled=false", "-c", "check_for_update_on_startup=false"]
CODEX_OWN_SANDBOX = ("--sandbox", "-s", "--dangerously-bypass-approvals-and-sandbox", "--yolo")
"""Options by which the user's ``args`` choose the sandbox themselves (mayor then passes none)."""


# -- shared ---------------------------------------------------------------------------------------


def command_line(executable: str, words: list[str]) -> str:
    """``executable`` (shell words as the user wrote them), the quoted arguments, the prompt on stdin."""
    return " ".join([executable, *(shlex.quote(w) for w in words), STDIN])


def log_lines(log: Path) -> Iterator[dict[str, Any] | str]:
    """Each line of ``log``: its JSON object, or the line as text (stderr, warnings)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        found: Any = None
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                found = None
        yield found if isinstance(found, dict) else line


def json_lines(log: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of ``log``, one a line; anything else on a line is skipped."""
    return (line for line in log_lines(log) if isinstance(line, dict))


def keep_last(lines: list[str], line: str) -> None:
    lines.append(line)
    del lines[:-STDERR_KEPT]


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


def said(stderr: list[str]) -> str:
    """The CLI's last lines of other output, quoted for an error ("" when there are none): the
    last ones that look like an error, else the last ones (a usage text after "error: ...")."""
    errors = [line for line in stderr if any(w in line.lower() for w in ("error", "cannot", "panicked", "fatal"))]
    quoted = (errors or stderr)[-STDERR_LINES:]
    return f"; it last said: {clip(' | '.join(quoted))}" if quoted else ""


def user_env(defaults: Mapping[str, str]) -> dict[str, str]:
    """``defaults`` less what mayor's own environment already sets."""
    return {name: value for name, value in defaults.items() if name not in os.environ}


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
    """Assistant API messages by id: the largest usage seen and every content block."""
    denied: dict[str, tuple[str, str]] = field(default_factory=dict)
    """The ``permission_denied`` events' tool and reason, by tool use id."""
    retry: dict[str, Any] | None = None
    """The last ``api_retry`` event."""
    stderr: list[str] = field(default_factory=list)
    """The last lines that were not JSON events."""


def claude_step(stream: ClaudeStream, event: dict[str, Any]) -> None:
    kind, subtype = event.get("type"), event.get("subtype")
    if kind == "result":
        stream.result = event
    elif kind == "system" and subtype == "init" and isinstance(event.get("model"), str):
        stream.model = event["model"]
    elif kind == "system" and subtype == "api_retry":
        stream.retry = event
    elif kind == "system" and subtype == "permission_denied":
        reason = string(event.get("decision_reason")) or string(event.get("message"))
        stream.denied[str(event.get("tool_use_id"))] = (string(event.get("tool_name")), reason)
    elif kind == "assistant" and isinstance(event.get("message"), dict):
        add_message(stream, event["message"])


def add_message(stream: ClaudeStream, message: Mapping[str, Any]) -> None:
    """One assistant event: Claude Code sends one per content block, the same message id and the
    same (message_start) usage on each."""
    if not isinstance(message.get("usage"), dict):
        return
    key = str(message.get("id") or len(stream.messages))
    seen = stream.messages.setdefault(key, {"model": message.get("model"), "usage": {}, "content": []})
    for name, value in message["usage"].items():
        if isinstance(value, int) and not isinstance(value, bool):
            seen["usage"][name] = max(value, seen["usage"].get(name, 0))
    if isinstance(message.get("content"), list):
        seen["content"] += message["content"]


def read_claude(log: Path) -> ClaudeStream:
    stream = ClaudeStream()
    for line in log_lines(log):
        if isinstance(line, dict):
            claude_step(stream, line)
        else:
            keep_last(stream.stderr, line)
    return stream


def claude_usage(raw: Mapping[str, Any]) -> Usage:
    return Usage(
        input_tokens=count(raw, "input_tokens"),
        output_tokens=count(raw, "output_tokens"),
        cache_read_input_tokens=count(raw, "cache_read_input_tokens"),
        cache_creation_input_tokens=count(raw, "cache_creation_input_tokens"),
    )


def model_usage(entry: Mapping[str, Any]) -> Usage:
    """One ``modelUsage`` entry's tokens (camelCase there)."""
    return Usage(
        input_tokens=count(entry, "inputTokens"),
        output_tokens=count(entry, "outputTokens"),
        cache_read_input_tokens=count(entry, "cacheReadInputTokens"),
        cache_creation_input_tokens=count(entry, "cacheCreationInputTokens"),
    )


def result_cost(result: Mapping[str, Any], model: str | None, usage: Usage) -> float | None:
    """Claude Code's own price, except for the models it could not price (``costBasis:
    "unknown"``): those are priced from mayor's table, or the whole is unpriced."""
    models = result.get("modelUsage")
    cost = number(result.get("total_cost_usd"))
    entries = [(str(n), e) for n, e in models.items() if isinstance(e, dict)] if isinstance(models, dict) else []
    if not any(e.get("costBasis") == "unknown" for _, e in entries):
        return cost if cost is not None else priced_as(model, usage).cost_usd
    total = 0.0
    for name, entry in entries:
        own = number(entry.get("costUSD")) if entry.get("costBasis") != "unknown" else None
        part = own if own is not None else priced_as(name, model_usage(entry)).cost_usd
        if part is None:
            return None
        total += part
    return total


def result_usage(result: Mapping[str, Any], model: str | None) -> Usage | None:
    raw = result.get("usage")
    if not isinstance(raw, dict):
        cost = number(result.get("total_cost_usd"))
        return None if cost is None else Usage(cost_usd=cost)
    usage = claude_usage(raw)
    return usage.model_copy(update={"cost_usd": result_cost(result, model, usage)})


def partial_usage(stream: ClaudeStream, model: str | None) -> Usage | None:
    """The usage of the assistant messages seen, each priced at its own model: input and cache
    tokens as each message's start reported them (final), output tokens estimated from the
    content seen (message_start says 1)."""
    total: Usage | None = None
    for message in stream.messages.values():
        tokens = claude_usage(message["usage"])
        if tokens.total_tokens == 0:  # Claude Code's own ``<synthetic>`` messages cost nothing
            continue
        written = len(json.dumps(message["content"], separators=(",", ":"))) // 4
        tokens.output_tokens = max(tokens.output_tokens, written)
        usage = priced_as(message.get("model") or model, tokens)
        total = usage if total is None else total + usage
    return total


def denials(result: Mapping[str, Any] | None, stream: ClaudeStream) -> str | None:
    """The tool calls Claude Code refused, with the tool, what it was asked and why."""
    listed = result.get("permission_denials") if result is not None else None
    found = [d for d in listed if isinstance(d, dict)] if isinstance(listed, list) else []
    if not found and result is None:
        found = [{"tool_use_id": key, "tool_name": tool} for key, (tool, _) in stream.denied.items()]
    if not found:
        return None
    parts = []
    for denial in found:
        raw = denial.get("tool_input")
        inputs: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        asked = next((string(inputs.get(k)) for k in ("command", "file_path", "path") if inputs.get(k)), "")
        reason = stream.denied.get(str(denial.get("tool_use_id")), ("", ""))[1]
        what = " ".join(w for w in (string(denial.get("tool_name")) or "a tool", asked and f"`{asked}`") if w)
        parts.append(what + (f" ({reason})" if reason else ""))
    calls = "call" if len(found) == 1 else "calls"
    return clip(
        f"claude-code was refused {len(found)} tool {calls}: {'; '.join(parts)}. mayor lets it edit the "
        "worktree and the run folder and run git; allow more with --allowedTools in [agents.NAME].args "
        "or in .claude/settings.json"
    )


def claude_failure(result: Mapping[str, Any], turns: int | None) -> str | None:
    """Why a run with a result event failed (None when it did not)."""
    subtype = str(result.get("subtype") or "unknown")
    if subtype == "success" and not result.get("is_error"):
        return None
    errors = [str(e) for e in result.get("errors") or [] if e] if isinstance(result.get("errors"), list) else []
    detail = clip("; ".join(errors) or string(result.get("result")))
    status, reason = result.get("api_error_status"), string(result.get("terminal_reason"))
    if reason == "api_error" or status is not None:
        kind = " ".join(str(w) for w in (status, result.get("api_error_type")) if w)
        head = "claude-code: API error" + (f" {kind}" if kind else "")
        return f"{head}{turns_word(turns)}: {detail or 'no detail given'}"
    if subtype == "success":
        return f"claude-code reported an error{turns_word(turns)}: {detail or 'no detail given'}"
    why = f" ({detail})" if detail else ""
    return f"claude-code stopped: {subtype}{turns_word(turns)}{why}" + (f" [{reason}]" if reason else "")


def no_result(stream: ClaudeStream) -> str:
    retry = stream.retry
    if retry is None:
        return NO_RESULT + said(stream.stderr)
    last = " ".join(str(retry.get(k)) for k in ("error_status", "error") if retry.get(k) is not None)
    tried = f"retry {retry.get('attempt')} of {retry.get('max_retries')}"
    return f"{NO_RESULT}; it was retrying an API error ({last or 'unknown'}, {tried}){said(stream.stderr)}"


def claude_report(stream: ClaudeStream, model: str | None) -> Report:
    model = model or stream.model
    result = stream.result
    refused = denials(result, stream)
    if result is None:
        problems = ["claude-code ended before its result event: output tokens are estimated from the text seen"]
        error = "; ".join(e for e in (no_result(stream), refused) if e)
        return Report(usage=partial_usage(stream, model), error=error, problems=problems if stream.messages else [])
    turns = result.get("num_turns") if isinstance(result.get("num_turns"), int) else None
    failure = claude_failure(result, turns)
    failure = failure + said(stream.stderr) if failure else None
    return Report(
        usage=result_usage(result, model),
        error="; ".join(e for e in (failure, refused) if e) or None,
        summary=string(result.get("result")),
        turns=turns,
    )


class ClaudeCodeAdapter:
    """Claude Code in print mode, the prompt on stdin, read through its ``stream-json`` events.

    Unattended and confined: ``--permission-mode acceptEdits`` with ``--add-dir RUN_DIR`` (edits
    in the worktree and the run folder only) and ``--allowedTools 'Bash(git:*)'`` (to commit);
    the user's and the project's Claude Code settings (their allow and deny rules) still apply.
    ``command`` replaces the executable (default ``claude``); ``args`` come last (more
    ``--allowedTools``, another ``--permission-mode``: the last one wins); ``max_steps`` (or
    ``--max-steps``) becomes ``--max-turns``.
    """

    kind = "claude-code"

    def launch(self, ctx: LaunchContext) -> Launch:
        steps = ctx.max_steps or ctx.config.max_steps
        words = ["-p", *CLAUDE_FLAGS, *CLAUDE_TOOLS, "--add-dir", str(ctx.run_dir)]
        words += [*(["--max-turns", str(steps)] if steps else []), *(["--model", ctx.model] if ctx.model else [])]
        executable = ctx.config.command or "claude"
        return Launch(command_line(executable, [*words, *ctx.config.args]), user_env(CLAUDE_ENV))

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
    stderr: list[str] = field(default_factory=list)
    """The last lines that were not JSON events."""


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
    for line in log_lines(log):
        if isinstance(line, dict):
            codex_step(stream, line)
        else:
            keep_last(stream.stderr, line)
    return stream


def codex_usage(raw: Mapping[str, Any]) -> Usage:
    """Codex's counts in Anthropic's terms: its ``input_tokens`` include the cache reads
    (``cached_input_tokens``) and writes (``cache_write_input_tokens``), taken out here; its
    ``output_tokens`` include ``reasoning_output_tokens``."""
    read, written = count(raw, "cached_input_tokens"), count(raw, "cache_write_input_tokens")
    return Usage(
        input_tokens=max(0, count(raw, "input_tokens") - read - written),
        output_tokens=count(raw, "output_tokens"),
        cache_read_input_tokens=read,
        cache_creation_input_tokens=written,
    )


def codex_report(stream: CodexStream, model: str | None) -> Report:
    usage: Usage | None = None
    for raw in stream.usage.values():
        usage = codex_usage(raw) if usage is None else usage + codex_usage(raw)
    error = stream.error or (None if stream.completed else NO_TURN + said(stream.stderr))
    return Report(
        usage=None if usage is None else priced_as(model, usage),
        error=error,
        summary=stream.last_message,
        problems=list(stream.recovered),
        turns=stream.turns or None,
    )


def git_folders(worktree: Path) -> list[str]:
    """The worktree's git folders that ``git commit`` writes: the common dir (objects, refs) and
    the worktree's own gitdir (index, HEAD), which codex's sandbox keeps read-only unless listed."""
    from supervisor.proc import run

    found = []
    for which in ("--git-common-dir", "--git-dir"):
        proc = run(["git", "rev-parse", "--path-format=absolute", which], worktree, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            found.append(proc.stdout.strip())
    return list(dict.fromkeys(found))


class CodexAdapter:
    """Codex in ``exec`` mode, the prompt on stdin (``-``), read through its ``--json`` events.

    Sandboxed: ``--sandbox workspace-write`` with the worktree's git folders and the run folder
    as extra writable roots, so the agent can commit and write ``result.json``; the user's own
    ``~/.codex`` (auth, config, provider) is used as it is. ``command`` replaces the executable
    (default ``codex``); ``args`` go before the prompt (a ``--sandbox`` or
    ``--dangerously-bypass-approvals-and-sandbox`` there replaces mayor's choice of sandbox; the
    writable roots are passed all the same). Codex models
    are mostly not in mayor's price table: their usage is then unpriced.
    """

    kind = "codex"

    def launch(self, ctx: LaunchContext) -> Launch:
        args = list(ctx.config.args)
        roots = [*git_folders(ctx.worktree), str(ctx.run_dir)]
        words = ["exec", "--json", *CODEX_QUIET]
        if not any(a.split("=")[0] in CODEX_OWN_SANDBOX for a in args):
            words += CODEX_SANDBOX
        words += ["-c", f"sandbox_workspace_write.writable_roots={json.dumps(roots)}"]  # for any workspace-write
        words += [*(["--model", ctx.model] if ctx.model else []), *args, "-"]
        return Launch(command_line(ctx.config.command or "codex", words))

    def report(self, run_dir: Path, model: str | None) -> Report:
        return with_findings(codex_report(read_codex(run_dir / "agent.log"), model), run_dir)
