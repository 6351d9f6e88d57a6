"""The bead store: ``.mayor/beads/<id>.json``, one bead a file.

Every write goes to a temporary file that is then ``os.replace``d, under one file lock, so
readers never see half a file and writers never lose each other's beads. Every change goes
through :meth:`Store.edit`, which validates the whole graph before it writes anything.
Reading the plan goes through :meth:`Store.summaries`, which keeps what the graph needs of each
file in a cache (:mod:`beads.summary_cache`) and reads again only the files that changed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydantic

from beads import graph, txn
from beads.errors import BadField, BeadFileError, NotFound
from beads.ids import new_id
from beads.models import Bead, BeadSummary, now
from beads.summary_cache import Entry, SummaryCache, settled, signature

LOCK_TIMEOUT_S = 60.0


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_bead(path: Path) -> Bead:
    """Parse one bead file; a broken file raises :class:`BeadFileError` naming it."""
    return _read_bead(os.fspath(path), path.name)


def _read_bytes(path: str) -> bytes:
    """The whole file, through the file descriptor (an ``open()`` costs twice as much)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_bead(path: str, name: str) -> Bead:
    """:func:`read_bead` of the file ``path`` named ``name``, without building a ``Path``."""
    try:
        data = _read_bytes(path)
    except OSError as exc:
        raise BeadFileError(Path(path), exc.strerror or str(exc)) from exc
    try:
        bead = Bead.model_validate_json(data)
    except pydantic.ValidationError as exc:
        raise BeadFileError(Path(path), _describe(exc)) from exc
    if bead.id != _stem(name):
        raise BeadFileError(Path(path), f"its id is {bead.id!r} but the file is named {name}")
    return bead


def _stem(name: str) -> str:
    """``Path(name).stem``, without building a path."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _describe(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return f"invalid JSON ({first['ctx']['error']})" if "ctx" in first else "invalid JSON"
    where = ".".join(str(part) for part in first["loc"]) or "the record"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def bead_from(fields: Mapping[str, Any]) -> Bead:
    """A bead built from user input; a value the model refuses raises :class:`BadField` naming it."""
    try:
        return Bead.model_validate(dict(fields))
    except pydantic.ValidationError as exc:
        raise BadField(_describe(exc)) from None


class Transaction:
    """The beads as loaded under the lock, and the ones to write back."""

    def __init__(self, store: Store, beads: dict[str, Bead]) -> None:
        self.store = store
        self.beads = beads
        self.changed: dict[str, Bead] = {}

    def get(self, bead_id: str) -> Bead:
        try:
            return self.beads[bead_id]
        except KeyError:
            raise NotFound(bead_id) from None

    def put(self, bead: Bead) -> Bead:
        bead.updated_at = now()
        self.beads[bead.id] = bead
        self.changed[bead.id] = bead
        return bead

    def new_id(self, title: str) -> str:
        return new_id(self.store.prefix, title, self.beads, len(self.beads))


class Store:
    """The beads of one repository, under ``<mayor_dir>/beads``."""

    def __init__(self, mayor_dir: Path, prefix: str = "mr") -> None:
        self.mayor_dir = mayor_dir
        self.dir = mayor_dir / "beads"
        self.prefix = prefix

    def path(self, bead_id: str) -> Path:
        return self.dir / f"{bead_id}.json"

    @contextmanager
    def lock(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        from beads.errors import MayorError

        lock_dir = self.mayor_dir / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(lock_dir / "beads.lock"), timeout=LOCK_TIMEOUT_S):
                txn.recover(self.dir)  # a transaction a killed writer left: finished or undone first
                yield
        except Timeout:
            raise MayorError(
                f"the bead store is locked by another mayor process ({lock_dir / 'beads.lock'}); "
                "wait for it, or remove the lock file if no mayor is running"
            ) from None

    def _files(self) -> list[os.DirEntry[str]]:
        """The bead files (``<id>.json``; temporary files start with a dot)."""
        try:
            with os.scandir(self.dir) as entries:
                return [e for e in entries if e.name.endswith(".json") and not e.name.startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def settle(self) -> None:
        """Wait for (or finish) a multi-bead transaction in progress, so what is read next is whole.

        Cheap when there is none (one ``stat``). A reader without the lock can still, rarely, see a
        live writer's transaction half renamed into place; never one a crash left."""
        if txn.pending(self.dir):
            with self.lock():
                pass

    def load(self) -> dict[str, Bead]:
        """Every bead, by id. A broken file raises :class:`BeadFileError`."""
        self.settle()
        beads: dict[str, Bead] = {}
        for entry in self._files():
            bead = _read_bead(entry.path, entry.name)
            beads[bead.id] = bead
        return beads

    def summaries(self) -> dict[str, BeadSummary]:
        """Every bead's :class:`BeadSummary`, by id, checked as a graph: what ``mayor ready``,
        ``blocked`` and ``graph`` need, without parsing every whole bead of a large store.

        Every file passes the checks of :meth:`load` (a broken one raises :class:`BeadFileError`),
        but a file unchanged since an earlier call is not read again: its summary comes from the
        cache in ``state/`` (see :mod:`beads.summary_cache`). An unknown dependency or a cycle
        raises as in :func:`beads.graph.validate`. Nothing is written unless every check passed.
        """
        self.settle()
        cache = SummaryCache(self.mayor_dir / "state" / "bead-summaries.json")
        started = time.time_ns()
        known = cache.load()
        entries: dict[str, Entry] = {}
        dirty = False
        for entry in self._files():
            try:
                sig = signature(entry.stat())
            except OSError as exc:
                raise BeadFileError(Path(entry.path), exc.strerror or str(exc)) from exc
            hit = known.get(entry.name[:-5])  # a cached summary's id is its file's name
            if hit is not None and hit[0] == sig:
                summary = hit[1]
            else:  # new or changed: read it whole, as load() does
                summary = BeadSummary.of(_read_bead(entry.path, entry.name))
                dirty = dirty or settled(sig, started)
            entries[summary.id] = (sig, summary)
        summaries = {bead_id: summary for bead_id, (_, summary) in entries.items()}
        graph.validate(summaries)
        if dirty or not known.keys() <= entries.keys():
            cache.save(entries, started)
        return summaries

    def get(self, bead_id: str) -> Bead:
        self.settle()
        path = self.path(bead_id)
        if not path.exists():
            raise NotFound(bead_id)
        return read_bead(path)

    @contextmanager
    def edit(self) -> Iterator[Transaction]:
        """Load every bead under the lock; on a clean exit validate the graph, then write.

        If the block raises, or validation fails, nothing is written.
        """
        with self.lock():
            tx = Transaction(self, self.load())
            yield tx
            if tx.changed:
                graph.validate(tx.beads)
                self.dir.mkdir(parents=True, exist_ok=True)
                texts = {f"{bead.id}.json": _text(bead) for bead in tx.changed.values()}
                if len(texts) == 1:
                    [(name, text)] = texts.items()
                    atomic_write(self.dir / name, text)
                else:  # all or nothing, whatever happens meanwhile
                    txn.write_all(self.dir, texts)


def _text(bead: Bead) -> str:
    """The file of ``bead``; a value JSON cannot hold raises :class:`BadField` before anything is written."""
    try:
        return bead.to_json()
    except ValueError as exc:  # pydantic_core.PydanticSerializationError included
        raise BadField(f"{bead.id}: {exc}") from None


def dump_json(beads: list[Bead]) -> str:
    return json.dumps([b.model_dump(mode="json") for b in beads], indent=2)
