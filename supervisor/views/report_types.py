"""The shape of the mayor summary's facts, which is also the JSON of ``mayor summary --json``.

Each part is a ``TypedDict``: the facts stay plain dicts (so ``json.dumps`` writes them as they
are, keys in the order written here) that mypy checks where they are built and where they are read.
A change of shape bumps :data:`FORMAT`.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

FORMAT = 3
"""The version of the facts' shape (2: ``overlaps`` by file; ``findings.rejected``; 3: ``queue``)."""

Outcome = Literal[
    "landed",
    "done",
    "failed",
    "waiting for approval",
    "queued",
    "running",
    "cancelled",
    "blocked",
    "to retry",
    "not started",
]
"""A bead's standing in words: its status, or for an open bead whether it is blocked, to be retried or new."""
TokenKind = Literal["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"]
TOKEN_KINDS: tuple[TokenKind, ...] = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


class Tokens(TypedDict):
    """Tokens by kind, as the Messages API names them, and their sum."""

    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    total_tokens: int


class Blocker(TypedDict):
    """One dependency that holds a bead."""

    dep: str
    status: str
    stuck: bool
    """The dependency failed or was cancelled: it will not land by itself."""
    reason: str


class BeadFacts(TypedDict):
    """One bead."""

    id: str
    title: str
    kind: str
    labels: list[str]
    status: str
    outcome: Outcome
    approval: str
    attempts: int
    attempt_outcomes: list[str]
    """Each attempt's outcome, ``running`` for one not ended."""
    started_at: str | None
    """Its first ``slung`` (ISO 8601)."""
    ended_at: str | None
    """Its last ending (merged, failed, done, cancelled); None while it has none."""
    duration_s: float | None
    files: list[str]
    commit: str | None
    usage: Tokens
    cost_usd: float | None
    """None when some of its tokens have no known price."""
    error: str | None
    blocked_by: list[Blocker]
    stuck_on: list[str]
    """The failed or cancelled beads up its dependency chain that hold it for good."""
    findings: int
    deps: list[str]


class Counts(TypedDict):
    """How many beads have each outcome, and how many findings there are."""

    beads: int
    landed: int
    done: int
    failed: int
    blocked: int
    waiting_for_approval: int
    queued: int
    running: int
    to_retry: int
    not_started: int
    cancelled: int
    findings: int
    urgent_findings: int
    """Findings of an :data:`~supervisor.views.report.URGENT` severity."""


CountKey = Literal[
    "beads",
    "landed",
    "done",
    "failed",
    "blocked",
    "waiting_for_approval",
    "queued",
    "running",
    "to_retry",
    "not_started",
    "cancelled",
    "findings",
    "urgent_findings",
]


class Group(TypedDict):
    """The beads of one first label (a feature or a category)."""

    label: str
    beads: list[str]
    outcomes: dict[str, int]
    """How many of its beads have each :data:`Outcome`."""
    tokens: int
    cost_usd: float | None


class Landed(TypedDict):
    id: str
    title: str
    commit: str | None
    """The merge commit on the target."""
    files: list[str]
    attempts: int
    duration_s: float | None


class AttemptFacts(TypedDict):
    n: int
    outcome: str | None
    error: str | None


class Failed(TypedDict):
    """A failed bead: why (each attempt's outcome and error), and the beads it holds for good."""

    id: str
    title: str
    error: str | None
    attempts: int
    history: list[AttemptFacts]
    blocks: list[str]


class Blocked(TypedDict):
    id: str
    title: str
    on: list[Blocker]
    stuck_on: list[str]


QueueConflict = TypedDict(
    "QueueConflict",
    {
        "bead": str,
        "attempt": int | None,
        "files": list[str],
        "at": str,
        "with": list[str],  # the beads that had just landed the same files
        "resolved": bool,
        "landed_on_attempt": int | None,
    },
)
"""A conflict the merge queue met (``with`` is a keyword, hence this form)."""


class Overlap(TypedDict):
    """A file that the work of more than one bead touched."""

    file: str
    beads: list[str]


class Conflicts(TypedDict):
    queue: list[QueueConflict]
    overlaps: list[Overlap]


NeedKind = Literal["failed", "finding", "approval", "landing_blocked"]


class NeedsHuman(TypedDict):
    """Something a person must act on."""

    kind: NeedKind
    bead: str
    title: str
    severity: NotRequired[str]
    """Only for a finding."""
    detail: str
    action: str


class FindingFacts(TypedDict):
    """One finding, de-duplicated as ``mayor review`` does."""

    severity: str
    file: str
    line: int | None
    location: str
    """``file:line``, or the file alone."""
    title: str
    category: str | None
    bead: str
    """The bead whose copy (the most severe) was kept."""
    beads: list[str]
    """Every bead that reported it."""
    description: str
    recommendation: str


class RejectedFinding(TypedDict):
    """A finding ``mayor review`` could not place (no such file at the reviewed commit, a path
    outside the repository, no title, an unknown severity ...): reported, never in the SARIF."""

    bead: str
    file: str
    line: int | None
    title: str
    reason: str


class Findings(TypedDict):
    counts: dict[str, int]
    """By severity, most severe first, zeros included."""
    items: list[FindingFacts]
    rejected: list[RejectedFinding]


class Totals(TypedDict):
    """Tokens by kind; dollars of the priced usage, and the beads whose usage has no price."""

    tokens: Tokens
    cost_usd: float | None
    """None when no usage at all has a price."""
    unpriced: list[str]


class Run(TypedDict):
    """One ``mayor sling``."""

    started: str | None
    ended: str | None
    wall_s: float
    ended_by: str | None
    """The reason of its ``sling_stopped``, or that it was cut short (killed)."""


class Timeline(TypedDict):
    """Wall time of the runs, the sum of agent time, their ratio and the most agents at once."""

    first_event: str | None
    last_event: str | None
    runs: list[Run]
    wall_s: float
    agent_s: float
    speedup: float | None
    agents: int
    """Agent lives (one alive across runs counts once in each)."""
    peak_agents: int


class QueueShape(TypedDict):
    """The merge queue's shape, as its last ``queue_shape`` event gave it."""

    batch: int
    """Most beads in one candidate."""
    depth: int
    """Most candidates gated at once (1: no speculation)."""
    p: float
    """The failure rate the queue measured, from which it chose the shape."""


class QueueFacts(TypedDict):
    """The merge queue over the runs: how the beads landed and what the gate runs cost."""

    landed: int
    """Beads landed (``merged`` events)."""
    landings: int
    """Commits that moved the target (a batch lands as one commit carrying several beads)."""
    batches: int
    """Landings that carried more than one bead."""
    gate_runs: int
    """Gate runs on candidates (a retry of a run counts again)."""
    runs_per_landed: float | None
    """Gate runs per landed bead; None while none landed."""
    culprits: int
    """Beads that failed the gate alone (sent back to their agent)."""
    bisections: int
    """Failed batches split in two to find the culprit."""
    discarded: int
    """Speculative runs discarded (a candidate they were built on failed, or the target moved)."""
    flaky: int
    """Candidates whose gate failed, then passed on the same tree."""
    peak: int
    """Most candidates in the window at once (more than one: speculation)."""
    shape: QueueShape | None
    """The last shape the queue chose."""


class Facts(TypedDict):
    """Everything the summary says, from the beads and the events on disk."""

    format: int
    targets: list[str]
    """The branches the runs landed on."""
    counts: Counts
    beads: list[BeadFacts]
    groups: list[Group]
    landed: list[Landed]
    failed: list[Failed]
    blocked: list[Blocked]
    conflicts: Conflicts
    needs_human: list[NeedsHuman]
    findings: Findings
    totals: Totals
    timeline: Timeline
    queue: QueueFacts | None
    """None when no gate ran."""
