"""A fake ``codex`` CLI: prints what ``codex exec --json PROMPT`` prints, for the scenario named by
``FAKE_SCENARIO``.

Installed by the tests as an executable named ``codex`` (see ``tests/test_external_agents.py``).
It records its argv as JSON to ``FAKE_ARGV_FILE`` (default ``$MAYOR_RUN_DIR/argv.json``).

Scenarios: ``success`` (default), ``edit`` (also writes ``FAKE_EDIT_FILE`` and commits it),
``legacy`` (``item_type: assistant_message``, as older versions wrote), ``findings``,
``two_turns`` (one thread, two ``turn.completed`` carrying the running total), ``turn_failed``,
``error`` (an ``error`` event, then exit 1), ``retried`` (an ``error`` event the turn outlives),
``crash`` (dies mid-turn).
"""

import json
import os
import subprocess
import sys
import uuid

FINDINGS_TEXT = """Done.

```json
{"findings": [{"file": "srv/auth.py", "line": 7, "severity": "critical", "title": "hard-coded key"},
              {"file": "srv/auth.py", "line": "seven", "severity": "low", "title": "bad line"}]}
```
"""


def emit(event):
    print(json.dumps(event), flush=True)


def usage(inp, cached, out):
    return {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out}


def command_item(n):
    item = {
        "id": f"item_{n}",
        "type": "command_execution",
        "command": "bash -lc ls",
        "aggregated_output": "",
        "exit_code": None,
        "status": "in_progress",
    }
    emit({"type": "item.started", "item": item})
    emit(
        {
            "type": "item.completed",
            "item": {**item, "aggregated_output": "README.md\n", "exit_code": 0, "status": "completed"},
        }
    )


def message(n, text, legacy=False):
    kind = {"item_type": "assistant_message"} if legacy else {"type": "agent_message"}
    emit({"type": "item.completed", "item": {"id": f"item_{n}", **kind, "text": text}})


def edit():
    name = os.environ.get("FAKE_EDIT_FILE", "feature.txt")
    with open(name, "w") as out:
        out.write(f"made by fake codex for {os.environ.get('MAYOR_BEAD_ID', '?')}\n")
    subprocess.run(["git", "add", name], check=True)
    subprocess.run(["git", "commit", "-q", "-m", f"Add {name}"], check=True)
    emit(
        {
            "type": "item.completed",
            "item": {
                "id": "item_9",
                "type": "file_change",
                "status": "completed",
                "changes": [{"path": name, "kind": "add"}],
            },
        }
    )


def main():
    argv = sys.argv[1:]
    record = os.environ.get("FAKE_ARGV_FILE") or os.path.join(os.environ.get("MAYOR_RUN_DIR", "."), "argv.json")
    with open(record, "w") as out:
        json.dump(argv, out)
    scenario = os.environ.get("FAKE_SCENARIO", "success")
    print("Reading prompt from argv... (not JSON, skipped)", file=sys.stderr, flush=True)
    emit({"type": "thread.started", "thread_id": os.environ.get("FAKE_THREAD") or str(uuid.uuid4())})
    emit({"type": "turn.started"})
    emit({"type": "item.completed", "item": {"id": "item_0", "type": "reasoning", "text": "**Looking around**"}})
    command_item(1)
    if scenario == "crash":
        print("thread 'main' panicked", file=sys.stderr, flush=True)
        os._exit(101)
    if scenario == "turn_failed":
        emit({"type": "error", "message": "stream disconnected before completion"})
        emit({"type": "turn.failed", "error": {"message": "stream disconnected before completion: retries exhausted"}})
        return 1
    if scenario == "error":
        emit({"type": "error", "message": "unexpected status 401 Unauthorized"})
        return 1
    if scenario == "retried":
        emit({"type": "error", "message": "Reconnecting... 1/5"})
    if scenario == "edit":
        edit()
    if scenario == "two_turns":
        message(2, "first answer")
        emit({"type": "turn.completed", "usage": usage(1000, 800, 50)})
        emit({"type": "turn.started"})
    text = FINDINGS_TEXT if scenario == "findings" else "Implemented the change; tests pass."
    message(3, text, legacy=scenario == "legacy")
    if scenario == "two_turns":
        emit({"type": "turn.completed", "usage": usage(2500, 1800, 130)})  # the thread's running total
    else:
        emit({"type": "turn.completed", "usage": usage(24763, 24448, 122)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
