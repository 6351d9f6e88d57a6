"""The repository context every bead's agent shares, made once per run so it is byte-identical.

It is part of the cached prompt prefix: a file list and the README at the target's tip, and the
repository's conventions. Nothing that varies between beads (time, bead id) goes in it.
"""

from __future__ import annotations

from pathlib import Path

from beads import setaside
from beads.setaside import BadStateFile
from beads.store import atomic_write
from supervisor.events import set_aside
from supervisor.output import say
from supervisor.proc import git

MAX_FILES = 600
README_CHARS = 6000
HEADER = "# Repository context"
NO_CONTEXT = f"{HEADER}\n(none)\n"
"""What an agent gets when there is no context file, or a broken one."""
MAX_CONTEXT_BYTES = 4 << 20


def repo_context(root: Path, target: str, gate: str | None) -> str:
    files = git("ls-tree", "-r", "--name-only", target, cwd=root).splitlines()
    listing = "\n".join(files[:MAX_FILES])
    if len(files) > MAX_FILES:
        listing += f"\n... and {len(files) - MAX_FILES} more files"
    readme = next((name for name in ("README.md", "README.rst", "README.txt", "README") if name in files), None)
    readme_text = git("show", f"{target}:{readme}", cwd=root)[:README_CHARS] if readme else "(no README)"
    parts = [
        f"{HEADER} (shared by every bead of this run)",
        f"Target branch: {target}",
        f"Gate (must pass before any merge lands): {gate or '(none configured)'}",
        f"## Files ({len(files)})\n{listing}",
        f"## {readme or 'README'}\n{readme_text}",
    ]
    return "\n\n".join(parts) + "\n"


def write_context(root: Path, target: str, gate: str | None, state_dir: Path) -> Path:
    """``state/context.md``, written whole (a folder put in its place is set aside first)."""
    path = state_dir / "context.md"
    state_dir.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        set_aside(path, "is a folder, not the repository context", state_dir.parent / "events.jsonl")
    atomic_write(path, repo_context(root, target, gate))
    return path


def read_context(path: Path) -> str:
    """The repository context an agent gets. A file that is not one mayor wrote (garbage, empty,
    binary, a folder or a FIFO in its place) is set aside with a message, and the agent goes on
    with :data:`NO_CONTEXT`; so does one that is missing."""
    try:
        text = _context_text(path)
    except FileNotFoundError:
        say(f"mayor: {path} is missing; going on without the repository context")
        return NO_CONTEXT
    except BadStateFile as exc:
        events = path.parent.parent / "events.jsonl"
        if path.parent.name == "state" and events.exists():
            set_aside(path, str(exc), events)
        else:
            setaside.set_aside(path, str(exc))
        return NO_CONTEXT
    return text


def _context_text(path: Path) -> str:
    data = setaside.read_bytes(path, MAX_CONTEXT_BYTES, follow=False)
    if len(data) > MAX_CONTEXT_BYTES:
        raise BadStateFile(f"is over {MAX_CONTEXT_BYTES >> 20} MiB, more than mayor ever writes there")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadStateFile("is not UTF-8 text") from None
    if not text.startswith(HEADER):
        raise BadStateFile(f"does not start with {HEADER!r}: it is not the context mayor writes")
    return text
