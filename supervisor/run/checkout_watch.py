"""The user's checkout, compared before and after each attempt: what an agent wrote there is
named with the bead, never blamed on the user.

Agents work in their own worktrees, but run with the user's rights and can ``cd`` anywhere. The
state compared is the checkout's ``HEAD`` and its ``git status`` (mayor's own ``.mayor/`` left
out; landings fast-forward the checkout without leaving changes, and move ``HEAD`` only to the
target's tip). A change seen across an attempt is recorded in ``state/checkout-touched.json``
with the beads that were running meanwhile, emitted as ``checkout_touched``, and the next run's
dirty check names them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from beads.store import atomic_write
from supervisor.proc import run


@dataclass(frozen=True)
class CheckoutState:
    head: str
    changes: frozenset[str]


def state_of(root: Path) -> CheckoutState:
    head = run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], root, check=False).stdout.strip()
    # --no-optional-locks: a slot thread must not take the index lock of the user's checkout under
    # the merge thread's `git merge --ff-only` there (the landing would fail as "blocked")
    status = run(
        ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=all"], root, check=False
    ).stdout
    changes = frozenset(line for line in status.splitlines() if line[3:] and not line[3:].startswith(".mayor/"))
    return CheckoutState(head, changes)


def touched(before: CheckoutState, after: CheckoutState, target_tip: str | None) -> list[str]:
    """What changed in the checkout, in words; a move of HEAD to the target's tip is a landing."""
    found = sorted(line[3:] for line in before.changes ^ after.changes)
    if after.head != before.head and after.head != target_tip:
        found.append(f"HEAD moved to {after.head[:12]}")
    return found


def record(state_dir: Path, bead_ids: list[str], files: list[str]) -> None:
    path = state_dir / "checkout-touched.json"
    try:
        earlier = json.loads(path.read_text())
        assert isinstance(earlier, list)
    except (OSError, ValueError, AssertionError):
        earlier = []
    atomic_write(path, json.dumps([*earlier, {"beads": bead_ids, "files": files}][-20:]))


def blamed(state_dir: Path, dirty: list[str]) -> list[str]:
    """The beads recorded as having touched any of the ``dirty`` paths of the checkout."""
    try:
        records = json.loads((state_dir / "checkout-touched.json").read_text())
    except (OSError, ValueError):
        return []
    names = set(dirty)
    found: list[str] = []
    for entry in records if isinstance(records, list) else []:
        if isinstance(entry, dict) and names & set(entry.get("files", [])):
            found += [b for b in entry.get("beads", []) if isinstance(b, str) and b not in found]
    return found
