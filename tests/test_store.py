"""The bead store: atomic writes, broken files, graph errors that leave the store alone, and
several real processes writing at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beads.errors import BeadFileError
from beads.ids import hash_length
from beads.models import ID_PATTERN, Bead
from beads.store import Store, atomic_write
from supervisor.cli import app
from supervisor.repo import open_repo

MAYOR_SCRIPT = Path(sys.executable).with_name("mayor")
OLD_MTIME_NS = 1_000_000_000 * 1_000_000_000
"""Every file of a snapshot is dated back to 2001 first, so any rewrite shows in its mtime."""

Snapshot = dict[str, tuple[bytes, int]]


def snapshot(mayor_dir: Path) -> Snapshot:
    """Bytes and mtime of every file under ``.mayor`` (the lock folder aside)."""
    return {
        str(p.relative_to(mayor_dir)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(mayor_dir.rglob("*"))
        if p.is_file() and p.relative_to(mayor_dir).parts[0] != "locks"
    }


def age_files(mayor_dir: Path) -> None:
    for path in mayor_dir.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))


def add_beads(store: Store, *titles: str, deps: tuple[str, ...] = ()) -> list[str]:
    ids: list[str] = []
    with store.edit() as tx:
        for title in titles:
            ids.append(tx.put(Bead(id=tx.new_id(title), title=title, deps=list(deps))).id)
    return ids


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- atomic writes -----------------------------------------------------------------------------


def test_atomic_write_replaces_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write(target, "first\n")
    atomic_write(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_atomic_write_that_fails_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x.json"
    atomic_write(target, "old\n")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        atomic_write(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_store_writes_one_parsable_file_per_bead_and_nothing_else(tmp_path: Path) -> None:
    store = Store(tmp_path / ".mayor")
    ids = add_beads(store, *(f"bead {i}" for i in range(30)))
    names = sorted(p.name for p in store.dir.iterdir())
    assert names == sorted(f"{i}.json" for i in ids)
    assert set(store.load()) == set(ids)


def test_a_failing_edit_writes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / ".mayor")
    add_beads(store, "kept")
    age_files(store.dir)
    before = snapshot(store.mayor_dir)
    with pytest.raises(RuntimeError), store.edit() as tx:
        tx.put(Bead(id=tx.new_id("lost"), title="lost"))
        raise RuntimeError("the caller changed its mind")
    assert snapshot(store.mayor_dir) == before


# --- broken bead files -------------------------------------------------------------------------


def _break_json(path: Path) -> str:
    path.write_bytes(path.read_bytes()[:60])
    return "invalid JSON"


def _break_field(path: Path) -> str:
    data = json.loads(path.read_text())
    data["priority"] = 9
    path.write_text(json.dumps(data))
    return "priority"


def _break_unknown_field(path: Path) -> str:
    data = json.loads(path.read_text())
    data["colour"] = "red"
    path.write_text(json.dumps(data))
    return "colour"


def _break_id(path: Path) -> str:
    data = json.loads(path.read_text())
    data["id"] = "mr-other"
    path.write_text(json.dumps(data))
    return "mr-other"


def _break_shape(path: Path) -> str:
    path.write_text("[1, 2, 3]\n")
    return "object"


BREAKERS = {
    "bad-json": _break_json,
    "bad-field": _break_field,
    "unknown-field": _break_unknown_field,
    "id-mismatch": _break_id,
    "not-an-object": _break_shape,
}


@pytest.mark.parametrize("kind", sorted(BREAKERS))
def test_load_names_the_broken_file(tmp_path: Path, kind: str) -> None:
    store = Store(tmp_path / ".mayor")
    good, bad = add_beads(store, "good", "bad")
    problem = BREAKERS[kind](store.path(bad))
    with pytest.raises(BeadFileError) as caught:
        store.load()
    assert caught.value.path == store.path(bad)
    assert str(store.path(bad)) in str(caught.value)
    assert problem in str(caught.value)
    assert store.get(good).id == good


def _graph_commands(good: str, other: str) -> dict[str, list[str]]:
    return {
        "ready": ["ready"],
        "ready-json": ["ready", "--json"],
        "blocked": ["blocked", "--json"],
        "graph": ["graph"],
        "graph-dot": ["graph", "--format", "dot"],
        "add-dep": ["add", "new work", "--dep", good],
        "update": ["update", good, "--title", "renamed"],
        "dep-add": ["dep", "add", good, other],
    }


@pytest.mark.parametrize("kind", ["bad-json", "bad-field", "id-mismatch"])
@pytest.mark.parametrize("command", sorted(_graph_commands("a", "b")))
def test_commands_that_need_the_graph_refuse_a_broken_file(mayor_repo: Path, kind: str, command: str) -> None:
    store = open_repo(mayor_repo).store
    good, other, bad = add_beads(store, "good", "other", "bad")
    problem = BREAKERS[kind](store.path(bad))
    age_files(store.mayor_dir)
    before = snapshot(store.mayor_dir)

    code, out, err = run_cli(*_graph_commands(good, other)[command])

    assert code == 1, err
    assert out == ""
    [line] = err.splitlines()
    assert str(store.path(bad)) in line
    assert problem in line
    assert snapshot(store.mayor_dir) == before


# --- graph errors leave the store as it was ----------------------------------------------------


def _chain_store(mayor_repo: Path) -> tuple[Store, list[str]]:
    """Three beads, each depending on the one before: a <- b <- c."""
    store = open_repo(mayor_repo).store
    a = add_beads(store, "a")[0]
    b = add_beads(store, "b", deps=(a,))[0]
    c = add_beads(store, "c", deps=(b,))[0]
    age_files(store.mayor_dir)
    return store, [a, b, c]


def _refused(store: Store, *args: str, code: int = 1) -> str:
    """Run a command that must fail with exit ``code`` and leave every file alone; its one line
    (for a usage error, exit 2, the parser's ``Error:`` line)."""
    before = snapshot(store.mayor_dir)
    got, out, err = run_cli(*args)
    assert got == code, err
    assert out == ""
    assert snapshot(store.mayor_dir) == before
    [line] = err.splitlines() if code == 1 else [x for x in err.splitlines() if x.startswith("Error: ")]
    return line


def test_dep_add_that_closes_a_cycle_names_it_and_writes_nothing(mayor_repo: Path) -> None:
    store, (a, b, c) = _chain_store(mayor_repo)
    line = _refused(store, "dep", "add", a, c)
    assert "cycle" in line
    for bead_id in (a, b, c):
        assert bead_id in line


def test_dep_on_itself_is_a_cycle(mayor_repo: Path) -> None:
    store, (a, _, _) = _chain_store(mayor_repo)
    line = _refused(store, "dep", "add", a, a)
    assert f"{a} -> {a}" in line


def test_dep_add_of_an_unknown_bead_names_it(mayor_repo: Path) -> None:
    store, (a, _, _) = _chain_store(mayor_repo)
    line = _refused(store, "dep", "add", a, "mr-nope")
    assert a in line and "mr-nope" in line


def test_add_with_an_unknown_dep_names_it(mayor_repo: Path) -> None:
    store, (a, _, _) = _chain_store(mayor_repo)
    line = _refused(store, "add", "new", "--dep", a, "--dep", "mr-ghost")
    assert "mr-ghost" in line


def test_add_with_a_bad_field_is_a_user_error(mayor_repo: Path) -> None:
    store, _ = _chain_store(mayor_repo)
    assert "--approval" in _refused(store, "add", "new", "--approval", "sometimes", code=2)
    assert "--kind" in _refused(store, "add", "new", "--kind", "Not A Kind", code=2)
    assert "--estimate" in _refused(store, "add", "new", "--estimate", "-5", code=2)
    assert "title" in _refused(store, "add", "")


def test_update_with_a_bad_field_is_a_user_error(mayor_repo: Path) -> None:
    store, (a, _, _) = _chain_store(mayor_repo)
    assert "--approval" in _refused(store, "update", a, "--approval", "maybe", code=2)
    assert "title" in _refused(store, "update", a, "--title", "")


# --- several processes at once -----------------------------------------------------------------

_EDIT_WORKER = """
import random, sys, time
from pathlib import Path
from beads.models import Bead
from beads.store import Store

mayor_dir, prefix, worker, count, start, tally = sys.argv[1:7]
Path(start + f".ready-{worker}").touch()
while not Path(start).exists():
    time.sleep(0.001)
store = Store(Path(mayor_dir), prefix)
previous = []
for i in range(int(count)):
    title = f"edit-{worker}-{i}"
    with store.edit() as tx:
        bead = tx.put(Bead(id=tx.new_id(title), title=title, deps=previous))
        shared = tx.get(tally)
        shared.labels = [*shared.labels, bead.id]
        tx.put(shared)
    previous = [bead.id]
    time.sleep(random.random() / 50)  # spread the edits over the time the CLI workers run
"""

_CLI_WORKER = """
touch "$START.ready-$WORKER"
while [ ! -e "$START" ]; do sleep 0.002; done
for i in $(seq 0 $((COUNT - 1))); do
    id=$("$MAYOR" add "cli-$WORKER-$i" --label "$WORKER") || exit 1
    echo "$id"
    "$MAYOR" update "$TALLY" --label "$id" 2>/dev/null || exit 1
done
"""

_READER = """
import sys, time
from pathlib import Path
from beads.store import Store

mayor_dir, prefix, start, done = sys.argv[1:5]
Path(start + ".ready-reader").touch()
store = Store(Path(mayor_dir), prefix)
loads = 0
while not Path(done).exists() or loads == 0:
    store.load()  # no lock: a half-written file would raise BeadFileError here
    loads += 1
    time.sleep(0.002)  # leave the CPU to the writers
print(loads)
"""


def _popen(cmd: list[str], repo: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
    )


def _release_when_all_ready(start: Path, workers: int, procs: list[subprocess.Popen[str]]) -> None:
    """A start line: let everyone go at once, after every worker has said it is waiting."""
    while len(list(start.parent.glob(start.name + ".ready-*"))) < workers:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.005)
    start.touch()


def test_processes_adding_at_the_same_moment_lose_nothing(mayor_repo: Path, tmp_path: Path) -> None:
    """Real processes: some add through ``Store.edit``, some through the ``mayor`` console script.

    Every transaction also appends to one shared bead (read, modify, write), so a writer that
    did not hold the lock would lose another's label; a reader loads the store without the lock
    all along, so a half-written file would show.
    """
    # A console-script `mayor add` costs an interpreter start, so those workers add fewer.
    edit_workers, cli_workers, count, cli_count = 4, 2, 20, 5
    store = open_repo(mayor_repo).store
    [tally] = add_beads(store, "tally")
    start, done = tmp_path / "start", tmp_path / "done"
    where = [str(store.mayor_dir), store.prefix]
    procs = [
        _popen([sys.executable, "-c", _EDIT_WORKER, *where, f"e{k}", str(count), str(start), tally], mayor_repo)
        for k in range(edit_workers)
    ]
    procs += [
        _popen(
            ["bash", "-c", _CLI_WORKER],
            mayor_repo,
            START=str(start),
            WORKER=f"c{k}",
            COUNT=str(cli_count),
            MAYOR=str(MAYOR_SCRIPT),
            TALLY=tally,
        )
        for k in range(cli_workers)
    ]
    reader = _popen([sys.executable, "-c", _READER, *where, str(start), str(done)], mayor_repo)
    _release_when_all_ready(start, len(procs) + 1, [*procs, reader])
    outputs = [p.communicate(timeout=300) for p in procs]
    done.touch()
    read_out, read_err = reader.communicate(timeout=300)
    assert [p.returncode for p in procs] == [0] * len(procs), outputs
    assert reader.returncode == 0, read_err
    assert int(read_out) > 0

    files = sorted(store.dir.iterdir())
    assert len(files) == 1 + edit_workers * count + cli_workers * cli_count
    assert all(f.suffix == ".json" and not f.name.startswith(".") for f in files), "temporary files left"
    beads = store.load()  # every file parses, and its id matches its name
    assert len(beads) == len(files)
    titles = sorted(b.title for b in beads.values() if b.id != tally)
    want = [f"edit-e{k}-{i}" for k in range(edit_workers) for i in range(count)]
    want += [f"cli-c{k}-{i}" for k in range(cli_workers) for i in range(cli_count)]
    assert titles == sorted(want)
    printed = [line for out, _ in outputs[edit_workers:] for line in out.split()]
    assert sorted(printed) == sorted(b.id for b in beads.values() if b.title.startswith("cli-"))
    assert sorted(beads[tally].labels) == sorted(set(beads) - {tally}), "a concurrent update was lost"
    by_title = {b.title: b for b in beads.values()}
    for k in range(edit_workers):  # each worker's chain of deps survived the others' writes
        for i in range(1, count):
            assert by_title[f"edit-e{k}-{i}"].deps == [by_title[f"edit-e{k}-{i - 1}"].id]


# --- ids ---------------------------------------------------------------------------------------


def test_hash_length_grows_with_the_store_and_stays_collision_safe() -> None:
    sizes = [*range(0, 3000), 10_000, 100_000, 1_000_000]
    lengths = [hash_length(n) for n in sizes]
    assert lengths[0] == 4
    assert lengths == sorted(lengths)
    assert lengths[-1] > lengths[0]
    for n, length in zip(sizes, lengths, strict=False):
        assert 36**length >= 100 * n**2
        assert length == 4 or 36 ** (length - 1) < 100 * n**2, n


def test_new_ids_get_longer_as_the_store_grows(tmp_path: Path) -> None:
    import re

    store = Store(tmp_path / ".mayor", prefix="mr")
    with store.edit() as tx:
        for k in range(200):
            bead = tx.put(Bead(id=tx.new_id(f"bead {k}"), title=f"bead {k}"))
            assert re.match(ID_PATTERN, bead.id)
            assert bead.id.startswith("mr-")
            assert len(bead.id) - len("mr-") >= hash_length(k)
    lengths = {len(i) - len("mr-") for i in store.load()}
    assert min(lengths) == 4
    assert max(lengths) >= hash_length(199) > 4
