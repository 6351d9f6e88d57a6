"""The deterministic offline model behind ``mayor demo``: no network, no key, same agent loop.

It plays the part of the model in the built-in agent (:mod:`supervisor.agents.builtin.loop`), so the
demo runs the real loop, the real tools and the real supervisor. What it writes comes from the
bead's ``source["demo"]`` plan: ``files`` (path -> content), optionally ``first_try`` (files written
on attempt 1 only, e.g. with a bug the acceptance check catches), ``check`` and ``message``. When
its worktree holds an unresolved merge (the supervisor merged the target in after a conflict),
it resolves it by keeping both sides, as a careful engineer would for an append-only file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from beads.models import Usage
from supervisor.agents.builtin.model import Reply

DEMO_MODEL = "mayor-demo"
EDITOR = "str_replace_based_edit_tool"


def resolve_both_sides(text: str) -> str:
    """Drop conflict markers, keeping our lines, then theirs (without repeating a line)."""
    out: list[str] = []
    ours: list[str] = []
    theirs: list[str] = []
    state = "plain"
    for line in text.splitlines(keepends=True):
        if line.startswith("<<<<<<< "):
            state, ours, theirs = "ours", [], []
        elif line.startswith("=======") and state == "ours":
            state = "theirs"
        elif line.startswith(">>>>>>> ") and state == "theirs":
            out += ours + [x for x in theirs if x not in ours]
            state = "plain"
        elif state == "ours":
            ours.append(line)
        elif state == "theirs":
            theirs.append(line)
        else:
            out.append(line)
    return "".join(out)


class DemoModel:
    name = DEMO_MODEL

    def __init__(self, bead: dict[str, Any], attempt: int, worktree: Path) -> None:
        self.bead = bead
        self.plan: dict[str, Any] = bead.get("source", {}).get("demo", {})
        self.attempt = attempt
        self.worktree = worktree
        self.steps = self._script()

    @classmethod
    def from_env(cls) -> DemoModel:
        bead = json.loads(Path(os.environ["MAYOR_BEAD_FILE"]).read_text())
        return cls(bead, int(os.environ.get("MAYOR_ATTEMPT", "1")), Path.cwd())

    def _conflicted(self) -> list[str]:
        out = subprocess.run(
            ["git", "diff", "--name-only", "--diff-filter=U"], cwd=self.worktree, capture_output=True, text=True
        ).stdout
        return [line for line in out.splitlines() if line]

    def _script(self) -> list[dict[str, Any]]:
        conflicted = self._conflicted()
        if conflicted:
            steps = [self._edit(path, resolve_both_sides((self.worktree / path).read_text())) for path in conflicted]
            message = f"Merge the target into {self.bead['id']}: keep both sides"
        else:
            files = dict(self.plan.get("files", {}))
            if self.attempt == 1:
                files.update(self.plan.get("first_try", {}))
            steps = [self._edit(path, text) for path, text in files.items()]
            message = self.plan.get("message") or self.bead["title"]
        if self.plan.get("check"):
            steps.append({"name": "bash", "input": {"command": self.plan["check"]}})
        steps.append({"name": "bash", "input": {"command": f"git add -A && git commit -q -m {json.dumps(message)}"}})
        return steps

    @staticmethod
    def _edit(path: str, text: str) -> dict[str, Any]:
        return {"name": EDITOR, "input": {"command": "create", "path": path, "file_text": text}}

    def query(self, system: list[dict[str, Any]], tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> Reply:
        done = sum(1 for m in messages if m["role"] == "assistant")
        if done < len(self.steps):
            step = self.steps[done]
            content: list[dict[str, Any]] = [
                {"type": "text", "text": f"Step {done + 1}: {step['name']}."},
                {"type": "tool_use", "id": f"toolu_demo_{done}", "name": step["name"], "input": step["input"]},
            ]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": f"Done: {self.bead['title']}. The acceptance check passes here."}]
            stop = "end_turn"
        sent = len(json.dumps([system, tools, messages]))
        usage = Usage(input_tokens=sent // 4, output_tokens=len(json.dumps(content)) // 4)
        return Reply(content, stop, usage)
