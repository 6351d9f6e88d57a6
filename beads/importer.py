"""Many beads at once: mayor's own JSON or JSONL, and a beads (``bd``) database.

No git, no processes, no printing. :func:`read` turns a file (or a beads backup folder) into beads
ready to be put in one store transaction, and counts what it did with the edges so that the
command can report it. Anything it cannot use raises :class:`ImportFormatError` naming the file
and line; a dependency cycle raises :class:`CycleError` naming the cycle. Nothing here writes.

The ``mayor`` format is a JSON array, or one JSON object a line, of bead records. Every field of
:class:`beads.models.Bead` is optional except ``title``; ``key`` names a record so that the
``deps`` of the others can name it; ``deps`` may also name ids of the same file or of the store.

The ``beads`` format is what beads writes: a ``bd export`` JSONL file (``labels`` and
``dependencies`` embedded in each issue) or a backup folder (``issues.jsonl``,
``dependencies.jsonl``, ``labels.jsonl``). The import keeps beads' own idea of ready work
(:mod:`beads.bd`), so that ``mayor ready`` offers exactly what ``bd ready`` would:

* An edge ``{issue_id: A, depends_on_id: B, type: blocks}`` makes B a dep of A (unless B is
  ``pinned``: a pinned issue never blocks, so the edge is a link). Every other edge type becomes a
  link; an edge to an id that is neither in the input nor in the store becomes an external link
  that never blocks.
* What blocks A in beads without a ``blocks`` edge (a ``conditional-blocks`` target, the
  unfinished children of a ``waits-for`` target, the blockers of a blocked parent) is added to
  A's deps too, and named in ``source.derived_deps`` (id -> how), so that the bead waits for the
  same work and an export writes only the original edges.
* ``closed`` becomes ``done``. An issue that ``bd ready`` would not offer for another reason than
  its blockers (its status is not ``open``; its type is one of beads' never-ready types; it is
  pinned, ephemeral or deferred) is imported as ``cancelled`` with the reason in ``source.held``:
  mayor will not start it, it still blocks what depends on it, and ``mayor reopen`` offers it.
  The beads status and type stay in ``source.status`` and ``source.issue_type``.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic

from beads import bd, graph, readiness
from beads.bd import Edge
from beads.errors import CycleError, ImportFormatError, MayorError
from beads.ids import new_id
from beads.models import Bead, Criterion, Link

SOURCES: tuple[str, ...] = ("mayor", "beads")
MAYOR_FIELDS: frozenset[str] = frozenset(Bead.model_fields) | {"key"}
EXAMPLES = 3
"""How many external references the report names."""

BEADS_STATUS: dict[str, str] = {"closed": "done", "tombstone": "cancelled"}
"""beads status -> bead status; ``open`` is open, and every other one (in_progress, pinned ...)
is ``cancelled`` with the reason in ``source.held`` (:mod:`beads.readiness`)."""
BEADS_KEPT: tuple[str, ...] = (
    "close_reason",
    "owner",
    "assignee",
    "created_by",
    "external_ref",
    "due_at",
    "defer_until",
    "pinned",
    "ephemeral",
    "is_template",
    "hook_bead",
    "agent_state",
    "mol_type",
    "wisp_type",
    "source_repo",
    "spec_id",
    "metadata",
    "comments",
)
"""Fields of a beads issue kept in the bead's ``source`` when they are not empty."""
_EMPTY: tuple[Any, ...] = (None, "", 0, [], {}, "{}")
_BULLET = re.compile(r"^\s*(?:(?:[-*+\u2022]|\d+[.)])\s+)?(?:\[[ xX]?\]\s*)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass
class Record:
    """One JSON object of the input and where it starts."""

    data: dict[str, Any]
    source: str
    line: int | None
    index: int
    """1-based position among the records of its file."""

    def fail(self, problem: str) -> ImportFormatError:
        if self.line is None:
            return ImportFormatError(self.source, None, f"record {self.index}: {problem}")
        return ImportFormatError(self.source, self.line, problem)


@dataclass
class Imported:
    """The beads to add, and what became of the edges, for the report."""

    beads: list[Bead] = field(default_factory=list)
    deps: int = 0
    links: int = 0
    """Non-blocking links between beads of the input or the store."""
    external: list[tuple[str, str, str]] = field(default_factory=list)
    """``(bead id, edge type, other id)`` for each edge to an id in neither the input nor the store."""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        line = (
            f"imported {len(self.beads)} bead(s): {self.deps} dep(s), {self.links} link(s), "
            f"{len(self.external)} external reference(s) kept as links that never block"
        )
        if self.external:
            shown = ", ".join(f"{a} -> {b} ({edge_type})" for a, edge_type, b in self.external[:EXAMPLES])
            line += f" (e.g. {shown})"
        return "; ".join([line, *self.notes])


def read(
    path: Path, source: str, existing: Mapping[str, Bead], prefix: str = "mr", now: datetime | None = None
) -> Imported:
    """Parse ``path`` as ``source`` (``mayor`` or ``beads``) against the beads already stored.

    ``now``: the time that beads' ``defer_until`` dates are compared with (default, the clock).
    """
    try:
        if source == "mayor":
            return read_mayor(path, existing, prefix)
        if source == "beads":
            return read_beads(path, existing, now)
    except RecursionError:
        raise ImportFormatError(str(path), None, "JSON nested too deeply") from None
    raise MayorError(f"unknown import format {source!r}; use one of: {', '.join(SOURCES)}")


# -- reading JSON -------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ImportFormatError(str(path), None, f"cannot read it ({problem})") from None


def jsonl_records(path: Path) -> Iterator[Record]:
    """One record a non-blank line."""
    name, index = str(path), 0
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(name, number, f"bad JSON: {exc.msg} (column {exc.colno})") from None
        index += 1
        yield _record(name, data, number, index)


def _record(name: str, data: Any, line: int | None, index: int) -> Record:
    if not isinstance(data, dict):
        raise Record({}, name, line, index).fail(f"expected a JSON object, not {type(data).__name__}")
    return Record(data, name, line, index)


def array_records(path: Path, text: str) -> Iterator[Record]:
    """The elements of a JSON array, each with the line where it starts."""
    name, decoder = str(path), json.JSONDecoder()
    newlines = [m.start() for m in re.finditer("\n", text)]
    pos = _skip(text, _skip(text, 0) + 1)
    index, empty = 0, text.startswith("]", pos)
    while not empty:
        index += 1
        try:
            data, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(name, exc.lineno, f"bad JSON: {exc.msg} (column {exc.colno})") from None
        yield _record(name, data, bisect.bisect_left(newlines, pos) + 1, index)
        pos = _skip(text, end)
        if text.startswith("]", pos):
            break
        if not text.startswith(",", pos):
            line = bisect.bisect_left(newlines, pos) + 1
            raise ImportFormatError(name, line, "bad JSON: expected ',' or ']' after a record")
        pos = _skip(text, pos + 1)
    if _skip(text, pos + 1) != len(text):
        raise ImportFormatError(name, bisect.bisect_left(newlines, pos) + 1, "bad JSON: extra data after the array")


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _problem(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the record"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _check_cycle(beads: Sequence[Bead], existing: Mapping[str, Bead], labels: Mapping[str, str]) -> None:
    """Raise :class:`CycleError` if the new beads close a cycle; ids are shown with their key."""
    cycle = graph.find_cycle({**existing, **{bead.id: bead for bead in beads}})
    if cycle:
        raise CycleError([f"{i} (key {labels[i]})" if i in labels else i for i in cycle])


# -- the mayor format ---------------------------------------------------------------------------


def mayor_records(path: Path) -> list[Record]:
    if path.is_dir():
        raise ImportFormatError(
            str(path),
            None,
            "is a folder; --from mayor reads one JSON or JSONL file (a beads backup folder needs --from beads)",
        )
    text = _read_text(path)
    records = array_records(path, text) if text.lstrip().startswith("[") else jsonl_records(path)
    return list(records)


def read_mayor(path: Path, existing: Mapping[str, Bead], prefix: str = "mr") -> Imported:
    """Beads from a JSON array or JSONL of bead records; ``key`` and ids resolve ``deps``."""
    records = mayor_records(path)
    for record in records:
        _check_fields(record)
    ids = _assign_ids(records, existing, prefix)
    keys = _keys(records, ids, set(existing) | set(ids))
    names = {key: ids[i] for key, i in keys.items()}
    known = set(ids) | set(existing)
    beads = [_mayor_bead(r, ids[n], names, known) for n, r in enumerate(records)]
    _check_cycle(beads, existing, {ids[i]: key for key, i in keys.items()})
    return Imported(beads=beads, deps=sum(len(b.deps) for b in beads), links=sum(len(b.links) for b in beads))


def _check_fields(record: Record) -> None:
    unknown = sorted(set(record.data) - MAYOR_FIELDS)
    if unknown:
        raise record.fail(f"unknown field(s) {', '.join(unknown)}; see `mayor schema` for the fields of a bead")


def _assign_ids(records: Sequence[Record], existing: Mapping[str, Bead], prefix: str) -> list[str]:
    """The id of each record: its own (checked against the file and the store), or a new one."""
    given: dict[str, Record] = {}
    for record in records:
        bead_id = record.data.get("id")
        if bead_id is None:
            continue
        if not isinstance(bead_id, str):
            raise record.fail("id must be a string")
        if bead_id in existing:
            raise record.fail(f"id {bead_id} already exists in the store; drop the id to get a new one")
        if bead_id in given:
            raise record.fail(f"id {bead_id} is given twice (first at line {given[bead_id].line})")
        given[bead_id] = record
    taken = set(existing) | set(given)
    return [_own_or_new(record, taken, prefix) for record in records]


def _own_or_new(record: Record, taken: set[str], prefix: str) -> str:
    if record.data.get("id") is not None:
        return str(record.data["id"])
    title = record.data.get("title")
    bead_id = new_id(prefix, title if isinstance(title, str) else "", taken, len(taken))
    taken.add(bead_id)
    return bead_id


def _keys(records: Sequence[Record], ids: Sequence[str], taken: set[str]) -> dict[str, int]:
    """Each ``key`` and the position of its record; a key may not also be another bead's id."""
    keys: dict[str, int] = {}
    for n, record in enumerate(records):
        key = record.data.get("key")
        if key is None:
            continue
        if not isinstance(key, str) or not key:
            raise record.fail("key must be a non-empty string")
        if key in keys:
            raise record.fail(f"key {key!r} is used twice (first at line {records[keys[key]].line})")
        if key in taken and key != ids[n]:
            raise record.fail(f"key {key!r} is also the id of another bead; pick another key")
        keys[key] = n
    return keys


def _mayor_bead(record: Record, bead_id: str, names: Mapping[str, str], known: set[str]) -> Bead:
    data = {name: value for name, value in record.data.items() if name != "key"}
    data["id"] = bead_id
    if data.get("status") == "running" and not data.get("attempts"):
        data["status"] = "open"  # no attempt to adopt or end: nothing is running it here
    data["deps"] = _resolve_deps(record, names, known)
    if isinstance(data.get("links"), list):
        data["links"] = [_resolve_link(link, names) for link in data["links"]]
    try:
        return Bead.model_validate(data)
    except pydantic.ValidationError as exc:
        raise record.fail(_problem(exc)) from None


def _resolve_deps(record: Record, names: Mapping[str, str], known: set[str]) -> list[str]:
    deps = record.data.get("deps", [])
    if not isinstance(deps, list) or not all(isinstance(dep, str) for dep in deps):
        raise record.fail("deps must be a list of keys or ids")
    out: list[str] = []
    for dep in deps:
        if dep not in names and dep not in known:
            raise record.fail(f"dep {dep!r} names no key or id of this file and no bead of the store")
        out.append(names.get(dep, dep))
    return list(dict.fromkeys(out))


def _resolve_link(link: Any, names: Mapping[str, str]) -> Any:
    if isinstance(link, dict) and isinstance(link.get("id"), str) and link["id"] in names:
        return {**link, "id": names[link["id"]]}
    return link


# -- the beads format ---------------------------------------------------------------------------


def read_beads(path: Path, existing: Mapping[str, Bead], now: datetime | None = None) -> Imported:
    """Beads from a ``bd export`` JSONL file, or from a beads backup folder."""
    issues, edges, labels = _backup_folder(path) if path.is_dir() else _export_file(path)
    records = _index_issues(issues, existing)
    beads = {bead_id: _beads_bead(record, labels.get(bead_id, [])) for bead_id, record in records.items()}
    out = Imported(beads=list(beads.values()))
    pinned = {bead_id for bead_id, record in records.items() if bd.status(record.data) == "pinned"}
    edges = list(dict.fromkeys(edges))
    skipped = [edge for edge in edges if not _attach(edge, beads, existing, pinned, out)]
    if skipped:
        shown = ", ".join(f"{e.issue} -> {e.target}" for e in skipped[:EXAMPLES])
        out.notes.append(f"{len(skipped)} edge(s) skipped: from an id not in the input, or to itself (e.g. {shown})")
    verdicts = bd.verdicts({i: r.data for i, r in records.items()}, edges, now or datetime.now(UTC))
    for bead in out.beads:
        readiness.apply(bead, verdicts[bead.id])
    readiness.break_derived_cycles(beads, existing)
    out.notes += readiness.notes(out.beads)
    if path.is_file() and not edges and (path.parent / "dependencies.jsonl").is_file():
        out.notes.append(f"{path.name} holds no edges: give the folder {path.parent} to import its dependencies.jsonl")
    _check_cycle(out.beads, existing, {})
    return out


def _export_file(path: Path) -> tuple[list[Record], list[Edge], dict[str, list[str]]]:
    issues = list(jsonl_records(path))
    edges = [edge for record in issues for edge in _embedded_edges(record)]
    labels: dict[str, list[str]] = {}
    for record in issues:
        _add_labels(labels, record, record.data.get("id"), record.data.get("labels") or [])
    return issues, edges, labels


def _backup_folder(path: Path) -> tuple[list[Record], list[Edge], dict[str, list[str]]]:
    issues_path = path / "issues.jsonl"
    if not issues_path.is_file():
        raise ImportFormatError(
            str(path),
            None,
            "holds no issues.jsonl; give a beads backup folder (issues.jsonl, dependencies.jsonl, "
            "labels.jsonl) or a `bd export` JSONL file",
        )
    issues, edges, labels = _export_file(issues_path)
    edges += [_edge(record, None) for record in _optional_jsonl(path / "dependencies.jsonl")]
    for record in _optional_jsonl(path / "labels.jsonl"):
        _add_labels(labels, record, record.data.get("issue_id"), [record.data.get("label")])
    return issues, edges, labels


def _optional_jsonl(path: Path) -> Iterator[Record]:
    return jsonl_records(path) if path.exists() else iter(())


def _embedded_edges(record: Record) -> list[Edge]:
    deps = record.data.get("dependencies") or []
    if not isinstance(deps, list):
        raise record.fail("dependencies must be a list")
    return [_edge(record, dep) for dep in deps]


def _edge(record: Record, embedded: Any) -> Edge:
    """An edge from a line of dependencies.jsonl (``embedded`` None) or from an issue's list."""
    data = record.data if embedded is None else embedded
    if not isinstance(data, dict):
        raise record.fail("a dependency must be a JSON object")
    issue = data.get("issue_id") or (record.data.get("id") if embedded is not None else None)
    target = data.get("depends_on_id")
    edge_type = data.get("type") or data.get("dep_type") or "blocks"
    if not all(isinstance(value, str) and value for value in (issue, target, edge_type)):
        raise record.fail("a dependency needs issue_id, depends_on_id and type as strings")
    metadata = data.get("metadata")
    if metadata in _EMPTY:
        metadata = None
    elif not isinstance(metadata, str):
        metadata = json.dumps(metadata, sort_keys=True)
    return Edge(str(issue), str(target), str(edge_type), metadata)


def _add_labels(labels: dict[str, list[str]], record: Record, issue: Any, names: Any) -> None:
    if not isinstance(issue, str) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise record.fail("labels must be strings that belong to an issue id")
    labels.setdefault(issue, []).extend(names)


def _index_issues(issues: Sequence[Record], existing: Mapping[str, Bead]) -> dict[str, Record]:
    """Issues by id; a repeated id, or ids already in the store, are errors."""
    by_id: dict[str, Record] = {}
    for record in issues:
        bead_id = record.data.get("id")
        if not isinstance(bead_id, str) or not bead_id:
            raise record.fail("an issue needs an id")
        if bead_id in by_id:
            raise record.fail(f"issue {bead_id} appears twice (first at line {by_id[bead_id].line})")
        by_id[bead_id] = record
    clash = [bead_id for bead_id in by_id if bead_id in existing]
    if clash:
        raise ImportFormatError(str(issues[0].source), None, _clash_message(clash))
    return by_id


def _clash_message(clash: Sequence[str]) -> str:
    shown = ", ".join(clash[:10]) + (f" and {len(clash) - 10} more" if len(clash) > 10 else "")
    return (
        f"{len(clash)} id(s) are already in the store: {shown}; remove those beads first or import into a fresh store"
    )


def _beads_bead(record: Record, labels: Sequence[str]) -> Bead:
    d = record.data
    data: dict[str, Any] = {
        "id": d["id"],
        "title": _text(d.get("title")).strip() or d["id"],
        "description": _description(d),
        "acceptance": [Criterion(text=text) for text in criteria(d.get("acceptance_criteria"))],
        "kind": _mayor_kind(d) or kind(d.get("issue_type")),
        "priority": priority(d.get("priority")),
        "labels": list(dict.fromkeys(labels)),
        "estimate_minutes": _minutes(d.get("estimated_minutes")),
        "status": BEADS_STATUS.get(_text(d.get("status")), "open"),
        "source": _source(d),
    }
    data.update({name: d[name] for name in ("created_at", "updated_at", "closed_at") if d.get(name)})
    try:
        return Bead.model_validate(data)
    except pydantic.ValidationError as exc:
        raise record.fail(_problem(exc)) from None


def _attach(
    edge: Edge, beads: Mapping[str, Bead], existing: Mapping[str, Bead], pinned: set[str], out: Imported
) -> bool:
    """Put one edge on its bead: a dep, a link or an external link. False if it has no place."""
    bead = beads.get(edge.issue)
    if bead is None or edge.target == edge.issue:
        return False
    known = edge.target in beads or edge.target in existing
    if edge.metadata is not None:
        bead.source.setdefault("edge_metadata", {})[f"{edge.type} {edge.target}"] = edge.metadata
    if edge.type == "blocks" and known and edge.target not in pinned:
        bead.deps.append(edge.target)
        out.deps += 1
    else:
        bead.links.append(Link(type=edge.type, id=edge.target, external=not known))
        if known:
            out.links += 1
        else:
            out.external.append((bead.id, edge.type, edge.target))
    return True


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _description(d: Mapping[str, Any]) -> str:
    parts = [_text(d.get("description")).strip()]
    for heading, name in (("Design", "design"), ("Notes", "notes")):
        text = _text(d.get(name)).strip()
        if text:
            parts.append(f"## {heading}\n\n{text}")
    return "\n\n".join(part for part in parts if part)


def criteria(text: Any) -> list[str]:
    """One criterion a non-empty line, without its bullet, number or checkbox."""
    items = (_BULLET.sub("", line, count=1).strip() for line in _text(text).splitlines())
    return [item for item in items if item]


def kind(issue_type: Any) -> str:
    """A beads issue type as a bead kind: lowercase letters, digits, ``-`` and ``_``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", _text(issue_type).strip().lower()).strip("-_")
    if not name:
        return "task"
    return name if name[0].isalpha() else f"type-{name}"


def priority(value: Any) -> int:
    """0..4; a number out of range is clamped, anything else is the default 2."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = int(value)
        else:
            number = int(_text(value).strip().lstrip("pP"))
    except (ValueError, OverflowError):
        return 2
    return min(max(number, 0), 4)


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        return None
    return round(value)


def _source(d: Mapping[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = {"system": "beads", "id": d["id"], "status": _text(d.get("status")) or "open"}
    source["issue_type"] = _text(d.get("issue_type")) or "task"
    source.update({name: d[name] for name in BEADS_KEPT if d.get(name) not in _EMPTY})
    for name in ("pinned", "ephemeral", "is_template"):  # 1 in a backup folder, true in an export
        if name in source:
            source[name] = bd.flag(source[name])
    if isinstance(source.get("metadata"), str):
        source["metadata"] = _json_object(source["metadata"]) or source["metadata"]
    return source


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _mayor_kind(d: Mapping[str, Any]) -> str | None:
    """The kind that ``mayor export --to beads`` keeps in ``metadata.mayor_kind`` (beads knows no such type)."""
    metadata = d.get("metadata")
    if isinstance(metadata, str):
        metadata = _json_object(metadata)
    value = metadata.get("mayor_kind") if isinstance(metadata, dict) else None
    return kind(value) if isinstance(value, str) and value.strip() else None
