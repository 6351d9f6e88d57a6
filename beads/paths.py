"""Path rules that need no repository: whether a path a user wrote stays inside the repository.

For ``copy`` in ``.mayor/config.toml`` (files copied into each agent's worktree): call
:func:`copy_pattern_problem` where the config is validated, and :func:`inside` on each match
before copying it (a symlink may point out of the repository).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def copy_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a ``copy`` glob, or None: it must be a relative path inside the
    repository (no leading ``/`` or ``~``, no ``..`` part, no control character)."""
    if not pattern.strip():
        return "a copy pattern may not be empty"
    if any(ord(c) < 32 or c == "\x7f" for c in pattern):
        return f"copy pattern {pattern!r} holds a control character"
    if pattern.startswith(("/", "~", "\\")) or (len(pattern) > 1 and pattern[1] == ":"):
        return f"copy pattern {pattern!r} must be relative to the repository root, e.g. '.env'"
    if ".." in PurePosixPath(pattern.replace("\\", "/")).parts:
        return f"copy pattern {pattern!r} may not leave the repository ('..')"
    return None


def inside(root: Path, path: Path) -> bool:
    """``path``, symlinks resolved, is ``root`` or under it."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False
