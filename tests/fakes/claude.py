"""A fake ``claude`` CLI: prints what ``claude -p PROMPT --output-format stream-json --verbose``
prints, for the scenario named by ``FAKE_SCENARIO``.

Installed by the tests as an executable named ``claude`` (see ``tests/test_external_agents.py``).
It records its argv as JSON to ``FAKE_ARGV_FILE`` (default ``$MAYOR_RUN_DIR/argv.json``).

Scenarios: ``success`` (default), ``edit`` (also writes ``FAKE_EDIT_FILE`` and commits it),
``nocost`` (no ``total_cost_usd``), ``findings``, ``result_file`` (writes result.json),
``max_turns``, ``during_execution``, ``api_error``, ``crash`` (dies mid-stream, no result).
"""

import json
import os
import subprocess
import sys

SESSION = "5f1c6a2e-9d7b-4e61-a0c3-2b8e4f7d9a10"
FINDINGS_TEXT = """Reviewed the request handlers.

```json
{"summary": "one injection", "findings": [
  {"file": "app/db.py", "line": 42, "severity": "high", "title": "SQL built by string formatting",
   "description": "user input reaches execute()", "recommendation": "use parameters"},
  {"file": "app/x.py", "severity": "catastrophic", "title": "not a severity"}
]}
```
"""


def emit(event):
    print(json.dumps(event), flush=True)


def option(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


def init(model):
    emit(
        {
            "type": "system",
            "subtype": "init",
            "cwd": os.getcwd(),
            "session_id": SESSION,
            "tools": ["Bash", "Edit", "Read", "Write"],
            "mcp_servers": [],
            "model": model,
            "permissionMode": "acceptEdits",
            "apiKeySource": "ANTHROPIC_API_KEY",
        }
    )


def assistant(msg_id, model, content, usage):
    emit(
        {
            "type": "assistant",
            "parent_tool_use_id": None,
            "session_id": SESSION,
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        }
    )


def tool_round(model):
    usage = {
        "input_tokens": 4,
        "cache_creation_input_tokens": 1500,
        "cache_read_input_tokens": 9000,
        "output_tokens": 120,
        "service_tier": "standard",
    }
    assistant("msg_01", model, [{"type": "text", "text": "Let me look."}], usage)
    assistant(
        "msg_01", model, [{"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}], usage
    )  # same API message, usage repeated
    emit(
        {
            "type": "user",
            "parent_tool_use_id": None,
            "session_id": SESSION,
            "message": {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "README.md", "is_error": False}
                ],
            },
        }
    )


def result(subtype, text=None, *, is_error=False, turns=2, cost=0.0421, errors=None):
    event = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": 5321,
        "duration_api_ms": 4890,
        "num_turns": turns,
        "session_id": SESSION,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 1500,
            "cache_read_input_tokens": 20000,
            "output_tokens": 340,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": "standard",
        },
        "permission_denials": [],
    }
    if text is not None:
        event["result"] = text
    if cost is not None:
        event["total_cost_usd"] = cost
    if errors is not None:
        event["errors"] = errors
    emit(event)


def edit():
    name = os.environ.get("FAKE_EDIT_FILE", "feature.txt")
    with open(name, "w") as out:
        out.write(f"made by fake claude for {os.environ.get('MAYOR_BEAD_ID', '?')}\n")
    subprocess.run(["git", "add", name], check=True)
    subprocess.run(["git", "commit", "-q", "-m", f"Add {name}"], check=True)


def main():
    argv = sys.argv[1:]
    record = os.environ.get("FAKE_ARGV_FILE") or os.path.join(os.environ.get("MAYOR_RUN_DIR", "."), "argv.json")
    with open(record, "w") as out:
        json.dump(argv, out)
    scenario = os.environ.get("FAKE_SCENARIO", "success")
    model = option(argv, "--model") or "claude-sonnet-4-5-20250929"
    print("[warn] this line is not JSON and must be skipped", file=sys.stderr, flush=True)
    init(model)
    tool_round(model)
    if scenario == "crash":
        assistant(
            "msg_02",
            model,
            [{"type": "text", "text": "Now I will"}],
            {"input_tokens": 6, "cache_read_input_tokens": 10500, "output_tokens": 30},
        )
        print('{"type": "assistant", "message": {"id": "msg_0', flush=True)  # cut off mid-line
        print("Error: socket hang up", file=sys.stderr, flush=True)
        os._exit(1)
    if scenario == "edit":
        edit()
    if scenario == "result_file":
        with open(os.path.join(os.environ["MAYOR_RUN_DIR"], "result.json"), "w") as out:
            json.dump(
                {
                    "summary": "from the file",
                    "findings": [{"file": "a.py", "line": 3, "severity": "low", "title": "unused import"}],
                },
                out,
            )
    text = FINDINGS_TEXT if scenario == "findings" else "Done: added the feature and its test."
    if scenario == "max_turns":
        result("error_max_turns", is_error=True, turns=3, errors=[])
        return 1
    if scenario == "during_execution":
        result("error_during_execution", is_error=True, turns=1, errors=["Tool permission stream closed"])
        return 1
    if scenario == "api_error":
        result("success", 'API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}', is_error=True, turns=1)
        return 1
    result("success", text, cost=None if scenario == "nocost" else 0.0421)
    return 0


if __name__ == "__main__":
    sys.exit(main())
