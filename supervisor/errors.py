"""Errors of the supervisor. All derive from :class:`beads.errors.MayorError`.

MayorError (beads.errors)
+-- NotInitialized      no .mayor folder up from here
+-- ConfigError         .mayor/config.toml cannot be used (names the file and the key)
+-- CommandError        a git or other subprocess failed (shows command, code, output)
+-- UsageError          a bad option value or argument: exit 2, like the parser's own usage errors
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from beads.errors import MayorError

__all__ = ["CommandError", "ConfigError", "MayorError", "NotInitialized", "UsageError"]


class NotInitialized(MayorError):
    def __init__(self, start: Path) -> None:
        super().__init__(f"no .mayor folder in {start} or above it; run `mayor init` at the repository root")


class ConfigError(MayorError):
    def __init__(self, path: Path, problem: str, key: str | None = None) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else f"{path}"
        super().__init__(f"{where}: {problem}")


class UsageError(MayorError):
    """A command was called wrongly (an option value it cannot take): exit 2, as for the parser's
    own usage errors. The message names the option and says what it takes."""

    exit_code = 2


class CommandError(MayorError):
    def __init__(self, cmd: Sequence[str], code: int, stdout: str, stderr: str) -> None:
        self.cmd = list(cmd)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        shown = " ".join(self.cmd)
        detail = (stderr.strip() or stdout.strip())[-2000:]
        super().__init__(f"`{shown}` exited {code}" + (f": {detail}" if detail else ""))
