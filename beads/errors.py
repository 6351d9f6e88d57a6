"""The one user-facing error type of mayor, and its tree.

    MayorError                  anything the user can act on: exit 1 with its message
    +-- BeadFileError           a bead file on disk that cannot be read (names the file)
    +-- ValidationError         a bead or a set of beads that breaks a rule
    |   +-- UnknownDependency   a dep that names no bead
    |   +-- CycleError          a dependency cycle (names the cycle)
    |   +-- BadField            a field value the bead model refuses (names the field)
    +-- NotFound                an id that names no bead
    +-- ImportFormatError       a record of an import file that cannot be used (names the line)

The supervisor adds its own subclasses (supervisor/errors.py); they all format their own message
and the CLI turns any of them into one line on stderr and exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class MayorError(Exception):
    """An error the user can act on. ``str()`` is the whole message."""

    exit_code = 1


class BeadFileError(MayorError):
    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"bead file {path} is broken: {problem}. "
            "Fix it by hand (or move it away); mayor never rewrites or deletes it."
        )


class ValidationError(MayorError):
    pass


class UnknownDependency(ValidationError):
    def __init__(self, bead_id: str, missing: Sequence[str]) -> None:
        self.bead_id = bead_id
        self.missing = list(missing)
        names = ", ".join(self.missing)
        super().__init__(f"bead {bead_id} depends on unknown bead(s) {names}; add them first or drop the dependency")


class CycleError(ValidationError):
    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        path = " -> ".join([*self.cycle, self.cycle[0]])
        super().__init__(f"dependency cycle: {path}; remove one of these dependencies")


class BadField(ValidationError):
    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"bad bead field {problem}; nothing was written")


class NotFound(MayorError):
    def __init__(self, bead_id: str) -> None:
        self.bead_id = bead_id
        super().__init__(f"no bead with id {bead_id!r}; see `mayor list`")


class ImportFormatError(MayorError):
    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {problem}; nothing was imported")
