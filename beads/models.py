"""The bead and the records it carries. Pure data: no files, no git, no processes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Status = Literal["open", "running", "queued", "review", "merged", "done", "failed", "cancelled"]
STATUSES: tuple[str, ...] = ("open", "running", "queued", "review", "merged", "done", "failed", "cancelled")
LANDED: frozenset[str] = frozenset({"merged", "done"})
"""A dependency in one of these states no longer blocks its dependents."""
ACTIVE: frozenset[str] = frozenset({"running", "queued", "review"})
REPORT_ONLY_KINDS: frozenset[str] = frozenset({"review"})
"""Kinds whose beads produce a report, never a commit; they end ``done``, never ``merged``."""

Severity = Literal["critical", "high", "medium", "low"]
Outcome = Literal[
    "passed",
    "failed",
    "conflict",
    "gate_failed",
    "timeout",
    "idle",
    "no_change",
    "check_failed",
    "setup_failed",
    "cancelled",
    "interrupted",
    "rejected",
    "retry_requested",
]
"""How an attempt ended. ``interrupted`` (the supervisor stopped, the budget ran out) does not
count against ``max_attempts``; ``passed`` means the supervisor's checks passed, not that it landed."""
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$"
"""Safe as a file name and inside a branch name ``mayor/<id>``: no leading or trailing dot; with
:func:`id_problem` also none of git's other ref rules broken (``..``, a ``.lock`` suffix)."""

DEFAULT_ESTIMATE_MINUTES = 30
"""Used for the critical path when a bead has no estimate."""


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def id_problem(bead_id: str) -> str | None:
    """Why ``bead_id`` cannot be a bead's id (a file name and a git ref component), or None."""
    if re.fullmatch(ID_PATTERN, bead_id) is None:
        return "an id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, not ending with '.'"
    if ".." in bead_id:
        return "an id may not contain '..' (git refuses it in a branch name)"
    if bead_id.endswith(".lock"):
        return "an id may not end with '.lock' (git refuses it in a branch name)"
    return None


def _check_id(bead_id: str) -> str:
    problem = id_problem(bead_id)
    if problem is not None:
        raise ValueError(problem)
    return bead_id


def _utc(value: datetime) -> datetime:
    """A timestamp without a zone is read as UTC, so that every timestamp compares with every other."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None or value.utcoffset() is None else value


MAX_DEPTH = 32
"""How deeply a bead's free-form JSON (``source``) may nest: far more than any tracker writes, far
less than the JSON reader's limit, so a bead that is written can always be read back."""


def _depth(value: Any, limit: int) -> int:
    """The nesting depth of ``value``, counting no further than ``limit + 1``."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(item, limit - 1) for item in items), default=0)


def _shallow(value: dict[str, Any]) -> dict[str, Any]:
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return value


BeadId = Annotated[str, AfterValidator(_check_id)]
Timestamp = Annotated[datetime, AfterValidator(_utc)]
"""A datetime, always zone-aware: naive input is taken as UTC."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_assignment=True)


class Usage(_Model):
    """Tokens as the Messages API names them, and what they cost."""

    input_tokens: int = 0
    """Uncached input tokens."""
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    """Input tokens read from the prompt cache (billed at the cache-read price)."""
    cache_creation_input_tokens: int = 0
    """Input tokens written to the prompt cache (billed at the cache-write price)."""
    cost_usd: float | None = 0.0
    """Dollars; ``None`` when some of the tokens were spent on a model with no known price."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            cost_usd=cost,
        )


class Criterion(_Model):
    """One acceptance criterion."""

    text: str
    """What must be true, in words."""
    check: str | None = None
    """A shell command the supervisor runs in the bead's worktree; exit 0 means met."""


class Link(_Model):
    """A non-blocking edge: kept for people, never used for scheduling."""

    type: str
    """The edge's kind as the source named it (``parent-child``, ``related``, ``blocks`` ...)."""
    id: str
    """The other end."""
    external: bool = False
    """True when ``id`` is not a bead of this store (an external reference that never blocks)."""


class Finding(_Model):
    """One finding of a report-only bead (a security review, for example)."""

    file: str
    line: int | None = None
    severity: Severity
    title: str
    description: str = ""
    recommendation: str = ""
    category: str | None = None


class Result(_Model):
    """What a bead produced."""

    summary: str = ""
    files: list[str] = Field(default_factory=list)
    """Files the bead's commits touched."""
    commit: str | None = None
    """The merge commit on the target branch (or the branch head for a report-only bead)."""
    findings: list[Finding] = Field(default_factory=list)


class Attempt(_Model):
    """One run of an agent on a bead."""

    n: int
    """1 for the first attempt."""
    agent: str | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    outcome: Outcome | None = None
    """None while running."""
    error: str | None = None
    """The last error, in words, when the attempt did not pass."""
    commit: str | None = None
    """The branch head when the attempt ended."""
    usage: Usage = Field(default_factory=Usage)


class Bead(_Model):
    """One unit of work."""

    id: BeadId = Field(pattern=ID_PATTERN)
    """Short and collision-safe, e.g. ``mr-4f2a``."""
    title: str = Field(min_length=1)
    description: str = ""
    acceptance: list[Criterion] = Field(default_factory=list)
    deps: list[str] = Field(default_factory=list)
    """Ids of the beads that must land before this one may start."""
    links: list[Link] = Field(default_factory=list)
    """Non-blocking edges and external references."""
    kind: str = Field(default="task", pattern=r"^[a-z][a-z0-9_-]*$")
    """``task``, ``bug``, ``feature``, ``design``, ``review`` (report-only) ..."""
    priority: int = Field(default=2, ge=0, le=4)
    """0 is the highest."""
    labels: list[str] = Field(default_factory=list)
    estimate_minutes: int | None = Field(default=None, ge=0)
    agent: str | None = None
    """Name of an ``[agents.NAME]`` entry of the config; None means the run's default."""
    model: str | None = None
    approval: Literal["auto", "human"] = "auto"
    """``human``: after its checks pass the bead waits in ``review`` for ``mayor approve``."""
    status: Status = "open"
    attempts: list[Attempt] = Field(default_factory=list)
    attempts_base: int = Field(default=0, ge=0)
    """Attempts before this index are history: ``mayor reopen`` sets it, so the attempt budget
    (``max_attempts``) starts again while the old attempts stay on record."""
    result: Result | None = None
    usage: Usage = Field(default_factory=Usage)
    """The sum over all attempts."""
    error: str | None = None
    """Why the bead is failed (the last attempt's error)."""
    source: Annotated[dict[str, Any], AfterValidator(_shallow)] = Field(default_factory=dict)
    """Where an imported bead came from (system, original id and status)."""
    created_at: Timestamp = Field(default_factory=now)
    updated_at: Timestamp = Field(default_factory=now)
    closed_at: Timestamp | None = None

    @property
    def landed(self) -> bool:
        return self.status in LANDED

    @property
    def report_only(self) -> bool:
        return self.kind in REPORT_ONLY_KINDS

    @property
    def estimate(self) -> int:
        return DEFAULT_ESTIMATE_MINUTES if self.estimate_minutes is None else self.estimate_minutes

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_defaults=False) + "\n"


@dataclass(slots=True)
class BeadSummary:
    """The fields of a bead that the graph and the plan's tables need, nothing else.

    Cheap to build and to keep: :meth:`beads.store.Store.summaries` caches one per bead file, so
    ``mayor ready`` need not parse every whole bead each time. Duck-compatible with :class:`Bead`
    for every function of :mod:`beads.graph`.
    """

    id: str
    title: str
    status: str
    priority: int
    estimate_minutes: int | None
    created_at: datetime
    deps: list[str]
    labels: list[str]
    """For ``mayor sling --label``: the scheduler works from summaries too."""

    @classmethod
    def of(cls, bead: Bead) -> BeadSummary:
        return cls(
            bead.id,
            bead.title,
            bead.status,
            bead.priority,
            bead.estimate_minutes,
            bead.created_at,
            list(bead.deps),
            list(bead.labels),
        )

    @property
    def landed(self) -> bool:
        return self.status in LANDED

    @property
    def estimate(self) -> int:
        return DEFAULT_ESTIMATE_MINUTES if self.estimate_minutes is None else self.estimate_minutes


def bead_schema() -> dict[str, Any]:
    """The JSON Schema of a bead file."""
    return Bead.model_json_schema()
