"""The repository context every bead's agent shares, made once per run so it is byte-identical.

It is part of the cached prompt prefix: a file list and the README at the target's tip, and the
repository's conventions. Nothing that varies between beads (time, bead id) goes in it.
"""

from __future__ import annotations

from pathlib import Path

from supervisor.proc import git

MAX_FILES = 600
README_CHARS = 6000


def repo_context(root: Path, target: str, gate: str | None) -> str:
    files = git("ls-tree", "-r", "--name-only", target, cwd=root).splitlines()
    listing = "\n".join(files[:MAX_FILES])
    if len(files) > MAX_FILES:
        listing += f"\n... and {len(files) - MAX_FILES} more files"
    readme = next((name for name in ("README.md", "README.rst", "README.txt", "README") if name in files), None)
    readme_text = git("show", f"{target}:{readme}", cwd=root)[:README_CHARS] if readme else "(no README)"
    parts = [
        "# Repository context (shared by every bead of this run)",
        f"Target branch: {target}",
        f"Gate (must pass before any merge lands): {gate or '(none configured)'}",
        f"## Files ({len(files)})\n{listing}",
        f"## {readme or 'README'}\n{readme_text}",
    ]
    return "\n\n".join(parts) + "\n"


def write_context(root: Path, target: str, gate: str | None, state_dir: Path) -> Path:
    path = state_dir / "context.md"
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(repo_context(root, target, gate), encoding="utf-8")
    return path
