"""Each worktree's own environment, so that agents, checks and the gate test exactly that tree.

The trap this avoids: a Python project installed in editable mode (``pip install -e .``) into the
user's active virtualenv. A gate run in a merge candidate's worktree with that virtualenv imports
the project from the user's checkout, not from the candidate, and passes a change that breaks the
tests. So:

- ``setup`` runs with the user's virtualenv switched off (``VIRTUAL_ENV`` unset, its ``bin`` off
  ``PATH``) and ``PIP_REQUIRE_VIRTUALENV=1``: it cannot change the user's environment, and a bare
  ``pip install -e .`` fails loudly instead of re-pointing the user's install at a worktree.
- When a worktree has its own ``.venv`` (made by ``setup``), every command run there (agent,
  checks, gate) runs with it active, and the user's virtualenv off ``PATH``.
- :func:`import_leak` tells, before a run, whether the gate's Python would import the project
  from outside the tree it tests.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from supervisor.proc import run

VENV = ".venv"


def _without_user_venv(env: Mapping[str, str]) -> dict[str, str]:
    out = dict(env)
    user = out.pop("VIRTUAL_ENV", None)
    out.pop("PYTHONHOME", None)
    if user:
        path = out.get("PATH", "").split(os.pathsep)
        out["PATH"] = os.pathsep.join(p for p in path if p and Path(p) != Path(user) / "bin")
    return out


def own_venv(worktree: Path) -> Path | None:
    venv = worktree / VENV
    return venv if (venv / "bin" / "python").exists() else None


def worktree_env(worktree: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for commands run in ``worktree``: with its own ``.venv`` active when it
    has one (and the user's off ``PATH``); else the user's environment as it is."""
    env = dict(os.environ if base is None else base)
    venv = own_venv(worktree)
    if venv is None:
        return env
    env = _without_user_venv(env)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *filter(None, env.get("PATH", "").split(os.pathsep))])
    return env


def setup_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment ``setup`` runs in: the user's virtualenv off, pip refusing to install outside one."""
    env = _without_user_venv(os.environ if base is None else base)
    env["PIP_REQUIRE_VIRTUALENV"] = "1"
    return env


SETUP_HINT = (
    "setup runs with your virtualenv switched off so that it cannot change it; make an environment "
    "in the worktree instead, e.g. setup = \"python -m venv .venv && .venv/bin/pip install -q -e '.[test]'\" "
    "(or with uv: setup = \"uv venv -q .venv && uv pip install -q -e '.[test]'\")"
)


# -- Python projects --------------------------------------------------------------------------------
def python_packages(root: Path) -> list[str]:
    """Import names of the project's own top-level packages (``src/`` layout or flat), if it is a
    Python project (a ``pyproject.toml`` or ``setup.py``)."""
    if not ((root / "pyproject.toml").exists() or (root / "setup.py").exists()):
        return []
    found = []
    for folder in (root / "src", root):
        if not folder.is_dir():
            continue
        for init in sorted(folder.glob("*/__init__.py")):
            name = init.parent.name
            if name.isidentifier() and name not in ("tests", "test", "docs") and not name.startswith("."):
                found.append(name)
    return found


def import_leak(worktree: Path, packages: list[str], env: Mapping[str, str]) -> str | None:
    """Where the gate's ``python`` would import one of ``packages`` from outside ``worktree``, or None."""
    for name in packages:
        probe = f"import importlib.util as u; s = u.find_spec({name!r}); print(s.origin if s and s.origin else '')"
        proc = run(["python", "-c", probe], worktree, check=False, base=env)
        origin = proc.stdout.strip()
        if proc.returncode != 0 or not origin:
            continue
        where = Path(origin).resolve()
        if worktree.resolve() not in where.parents:
            return f"{name} from {where}"
    return None


def default_setup(root: Path, have_uv: bool) -> str | None:
    """The ``setup`` line ``mayor init`` writes for a Python project: its own ``.venv`` in each
    worktree, with the test extra when the project declares one."""
    if not (root / "pyproject.toml").exists() and not (root / "setup.py").exists():
        return None
    target = "."
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {})
        extras = project.get("optional-dependencies", {}) if isinstance(project, dict) else {}
        extra = next((e for e in ("test", "tests", "dev") if e in extras), None)
        target = f".[{extra}]" if extra else "."
    except (OSError, ValueError):
        pass
    if have_uv:
        return f"uv venv -q {VENV} && uv pip install -q -e '{target}'"
    return f"python -m venv {VENV} && {VENV}/bin/pip install -q -e '{target}'"


# -- commands that are not there ---------------------------------------------------------------------
_SEPARATORS = re.compile(r"&&|\|\||[;|\n]")
_FIRST_WORD = re.compile(r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*([^\s;&|()<>]+)")


def first_words(command: str) -> list[str]:
    """The program each simple command of a shell line starts with (a rough parse: enough to
    catch a misspelt or missing program before it costs an attempt)."""
    words = []
    for part in _SEPARATORS.split(command):
        match = _FIRST_WORD.match(part)
        if match and not match.group(1).startswith(("$", "`", "'", '"', "#")):
            words.append(match.group(1))
    return list(dict.fromkeys(words))


def missing_programs(command: str, cwd: Path, env: Mapping[str, str]) -> list[str]:
    """The programs of ``command`` that bash cannot find in ``cwd`` with ``env`` (builtins and
    keywords count as found)."""
    words = first_words(command)
    if not words:
        return []
    probe = 'for w in "$@"; do command -v -- "$w" >/dev/null 2>&1 || printf "%s\\n" "$w"; done'
    proc = run(["bash", "-c", probe, "probe", *words], cwd, check=False, base=env)
    return proc.stdout.split()
