"""Git hooks that every git command an agent runs goes through: the target branch is the queue's.

Agents get ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` in their environment
(git reads these as command-line config), setting ``core.hooksPath`` to a folder mayor writes.
So every git process the agent starts, in its worktree or anywhere else (the user's checkout
included), runs mayor's ``reference-transaction`` hook, which refuses any update of the target
branch or of another bead's branch, however it is made (``commit``, ``update-ref``, ``push .``,
``reset``, ``branch -f``). Every other hook is a small wrapper that runs the repository's own
hook, so the user's ``pre-commit`` and friends still apply to agents.

This stops careless agents and agents that use git as it is meant to be used. A hostile process
running as the same user can unset the variables or write refs by hand: the lander's check that
the target still holds every landing and moved only forward (:mod:`supervisor.run.lander`) and
the target guard catch what gets through; a container or a separate user contains the rest.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from supervisor.proc import run

HOOKS = (
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-auto-gc",
    "post-rewrite",
    "post-index-change",
)
"""Client-side hooks whose user's version is chained to."""

_GUARD = """#!/usr/bin/env bash
# Written by mayor: agents may not move {target} (the merge queue lands their branches) or
# another bead's branch. Then the repository's own reference-transaction hook, if any, runs.
input=$(cat)
if [ "$1" = prepared ]; then
  while read -r old new ref; do
    case "$ref" in
      refs/heads/{target_glob})
        echo "mayor: refused: an agent may not move {target}; commit on your own branch, the merge queue lands it" >&2
        exit 1 ;;
      refs/heads/mayor/*)
        if [ "$ref" != "refs/heads/mayor/${{MAYOR_BEAD_ID:-}}" ]; then
          echo "mayor: refused: $ref belongs to another bead" >&2
          exit 1
        fi ;;
    esac
  done <<< "$input"
fi
user={user_hooks}/reference-transaction
if [ -x "$user" ]; then printf '%s\\n' "$input" | "$user" "$@"; exit $?; fi
exit 0
"""

_CHAIN = """#!/bin/sh
# Written by mayor: the repository's own {name} hook, if it has one.
hook={user_hooks}/{name}
if [ -x "$hook" ]; then exec "$hook" "$@"; fi
exit 0
"""


def user_hooks_dir(repo_root: Path) -> Path:
    """Where the repository's own hooks are: ``core.hooksPath`` or ``<common dir>/hooks``."""
    configured = run(["git", "config", "--path", "core.hooksPath"], repo_root, check=False).stdout.strip()
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else repo_root / path
    common = run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], repo_root).stdout.strip()
    return Path(common) / "hooks"


def write_hooks(folder: Path, target: str, user_hooks: Path) -> Path:
    """The hooks folder for agents (written anew each run, so a change of target applies)."""
    folder.mkdir(parents=True, exist_ok=True)
    quoted = shlex.quote(str(user_hooks))
    glob = "".join(f"[{c}]" if c in "*?[]" else c for c in target)
    _write(folder / "reference-transaction", _GUARD.format(target=target, target_glob=glob, user_hooks=quoted))
    for name in HOOKS:
        _write(folder / name, _CHAIN.format(name=name, user_hooks=quoted))
    return folder


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    os.replace(tmp, path)


def agent_git_env(hooks: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment entries that make every git command of an agent use ``hooks`` (kept after
    any ``GIT_CONFIG_*`` entries the user's environment already has)."""
    env = os.environ if base is None else base
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    return {
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": "core.hooksPath",
        f"GIT_CONFIG_VALUE_{count}": str(hooks),
    }
