"""What the dashboard's JSON routes answer: plain functions of a repository, read afresh each time.

Kept apart from the HTTP server (:mod:`supervisor.views.dashboard`) so they are tested without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beads.errors import MayorError
from supervisor.events import EventLog

if TYPE_CHECKING:
    from supervisor.repo import Repo


class BadRequest(MayorError):
    """A request whose parameters make no sense (the server answers 400)."""


def number(query: dict[str, str], key: str) -> int | None:
    """The whole number ``key`` of a query string, if given."""
    value = query.get(key)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{key} must be a whole number, not {value!r}") from None


def status(repo: Repo) -> dict[str, Any]:
    """The JSON of ``mayor status --json``."""
    from supervisor.views.status import snapshot

    return snapshot(repo).to_json()


def last_seq(repo: Repo) -> int:
    """The ``seq`` of the log's last event (0 for none): the page streams events after it."""
    events = EventLog(repo.events_path).read()
    return int(events[-1].get("seq") or 0) if events else 0


def overview(repo: Repo, *, actions: bool = False) -> dict[str, Any]:
    """Everything the main page draws: the status, the summary's facts and the config it needs."""
    from supervisor.views import report

    return {
        "repo": str(repo.root),
        "target": repo.config.target,
        "actions": actions,
        "last_seq": last_seq(repo),
        "status": status(repo),
        "facts": report.facts(repo),
    }


def bead(repo: Repo, bead_id: str) -> dict[str, Any]:
    """One bead whole, each attempt with its outcome, feedback and log paths."""
    from supervisor.views.beadfiles import attempt_record

    found = repo.store.get(bead_id)
    return {
        "bead": found.model_dump(mode="json"),
        "attempts": [attempt_record(repo, found, a) for a in found.attempts],
        "target": repo.config.target,
    }


def log(repo: Repo, bead_id: str, query: dict[str, str]) -> dict[str, Any]:
    """One log of one attempt from byte ``offset`` (its tail on the first read)."""
    from supervisor.views.beadfiles import LOG_FILES, attempt_number, log_path, read_from

    kind = query.get("kind") or "agent"
    if kind not in LOG_FILES:
        raise MayorError(f"no log {kind!r}; one of {', '.join(LOG_FILES)}")
    found = repo.store.get(bead_id)
    attempt = attempt_number(found, number(query, "attempt"))
    path = log_path(repo, found, kind, attempt)  # type: ignore[arg-type]
    text, offset = read_from(path, max(0, number(query, "offset") or 0))
    return {"path": str(path), "exists": path.exists(), "attempt": attempt, "text": text, "offset": offset}


def diff(repo: Repo, bead_id: str) -> str:
    from supervisor.views.beadfiles import diff as bead_diff

    return bead_diff(repo, repo.store.get(bead_id))


def act(repo: Repo, bead_id: str, action: str, note: str) -> dict[str, Any]:
    """Approve, reject, cancel or retry one bead, through the library functions the CLI calls."""
    if action == "approve":
        from supervisor.approvals import approve

        return {"ok": True, "status": approve(repo, bead_id).status}
    if action == "reject":
        from supervisor.approvals import reject

        return {"ok": True, "status": reject(repo, bead_id, note or "rejected from the dashboard").status}
    if action == "cancel":
        from supervisor.editing import cancel

        cancel(repo.store, bead_id, landing_on=(repo.root, repo.config.target))
        return {"ok": True, "status": "cancelled"}
    if action == "retry":
        return _retry(repo, bead_id, note)
    raise MayorError(f"no action {action!r}")


def _retry(repo: Repo, bead_id: str, note: str) -> dict[str, Any]:
    from supervisor.run.control import retry

    retry(repo, bead_id, note)
    return {"ok": True, "status": repo.store.get(bead_id).status}
