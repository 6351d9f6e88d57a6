"""A fake ``claude`` or ``codex`` CLI (by the name it is installed under) that prints, byte for
byte, a stream the real CLI printed: ``tests/fakes/streams/<name>/$FAKE_STREAM`` (copies of
``../shared/fixtures/agent-streams/``). JSON lines go to stdout, other lines to stderr, and the
exit code is the real one's: 0 after a successful ``result`` or ``turn.completed``, else 1 (2 for
a command line the CLI rejects, a ``.log`` fixture).

Kept only for what the real CLIs cannot show on demand: the exact argv and stdin mayor gives
them (recorded as JSON to ``$MAYOR_RUN_DIR/argv.json`` and ``stdin.txt``), and streams from
servers the tests cannot reach (a model the CLI cannot price, a kill before the result).
``FAKE_STREAMS`` overrides the streams folder.
"""

import json
import os
import sys
from pathlib import Path

STREAMS = Path(os.environ.get("FAKE_STREAMS") or Path(__file__).resolve().parent / "streams")


def exit_code(name, fixture, lines):
    if fixture.suffix == ".log":
        return 2
    events = [json.loads(line) for line in lines if line.startswith("{")]
    last = events[-1] if events else {}
    if name == "claude":
        return 0 if last.get("type") == "result" and not last.get("is_error") else 1
    return 0 if last.get("type") == "turn.completed" else 1


def main():
    name = Path(sys.argv[0]).name
    run_dir = Path(os.environ.get("MAYOR_RUN_DIR", "."))
    (run_dir / "argv.json").write_text(json.dumps(sys.argv[1:]))
    (run_dir / "stdin.txt").write_text(sys.stdin.read())
    fixture = STREAMS / name / os.environ.get("FAKE_STREAM", "success.jsonl")
    lines = fixture.read_text().splitlines()
    for line in lines:
        print(line, file=sys.stdout if line.startswith("{") else sys.stderr, flush=True)
    return exit_code(name, fixture, lines)


if __name__ == "__main__":
    sys.exit(main())
