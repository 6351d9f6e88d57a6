"""State files of the agents' side, broken as a crash, a person or a hostile agent would break
them: the built-in agent's limiter ``pause.json`` and the run's ``state/context.md``.

A bad one (garbage, empty, binary, the wrong JSON type, a folder or a FIFO in its place) is set
aside with a message that names it, recorded as ``state_set_aside``, and the run goes on. Real
files and real processes: the agents are ``python -m supervisor.agents.builtin`` processes run by
``mayor sling`` against the fake Messages API (tests/fake_anthropic.py), or the limiter in a
process of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from supervisor.agents.builtin.limiter import MAX_PAUSE_S, SharedLimiter
from supervisor.agents.context import NO_CONTEXT, read_context, write_context
from tests.fake_anthropic import FakeAnthropic, bash, edit, final
from tests.sling_helpers import add_bead, bead, events, git, of, script, sling

Breaker = Callable[[Path], None]


def _bytes(data: bytes) -> Breaker:
    return lambda path: path.write_bytes(data)


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("x\n")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


BROKEN: dict[str, Breaker] = {
    "garbage": _bytes(b"{until: soon"),
    "empty": _bytes(b""),
    "binary": _bytes(os.urandom(512) + b"\xff\xfe"),
    "folder": _folder,
    "fifo": _fifo,
}
PAUSES: dict[str, Breaker] = {
    **BROKEN,
    "list": _bytes(b"[1, 2]"),
    "until-text": _bytes(b'{"until": "soon"}'),
    "until-true": _bytes(b'{"until": true}'),
    "forever": _bytes(json.dumps({"until": 1e300}).encode()),
    "infinity": _bytes(b'{"until": Infinity}'),
    "deep": _bytes(b"[" * 100_000),
}


def _aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.bad-*"))


def _state(tmp_path: Path) -> Path:
    """A ``.mayor`` folder with an event log, as a repository has one."""
    mayor_dir = tmp_path / ".mayor"
    (mayor_dir / "state").mkdir(parents=True)
    (mayor_dir / "events.jsonl").write_text("")
    return mayor_dir


_WAIT_FOR_A_SLOT = """
import sys, time
from pathlib import Path
from supervisor.agents.builtin.limiter import SharedLimiter
limiter = SharedLimiter(Path(sys.argv[1]))
with limiter.slot():
    print("got a slot")
limiter.pause(0.01)
"""


@pytest.mark.parametrize("how", list(PAUSES))
def test_a_broken_pause_file_is_set_aside_and_no_agent_waits_on_it(tmp_path: Path, how: str) -> None:
    mayor_dir = _state(tmp_path)
    folder = mayor_dir / "state" / "limiter"
    folder.mkdir()
    PAUSES[how](folder / "pause.json")

    agent = subprocess.run(
        [sys.executable, "-c", _WAIT_FOR_A_SLOT, str(folder)], capture_output=True, text=True, timeout=60
    )

    assert agent.returncode == 0, agent.stderr
    assert agent.stdout == "got a slot\n"
    assert f"{folder / 'pause.json'}" in agent.stderr and "moved it to" in agent.stderr, agent.stderr
    assert len(_aside(folder / "pause.json")) == 1
    recorded = of(events(tmp_path), "state_set_aside")
    assert [e["data"]["path"] for e in recorded] == [str(folder / "pause.json")]
    pause = json.loads((folder / "pause.json").read_text())  # the next pause is written whole
    assert 0 < pause["until"] <= time.time() + MAX_PAUSE_S


def test_a_good_pause_is_kept_and_only_pushed_out(tmp_path: Path) -> None:
    folder = _state(tmp_path) / "state" / "limiter"
    limiter = SharedLimiter(folder)
    limiter.pause(30.0)
    first = limiter.paused_until()
    limiter.pause(0.01)  # a shorter pause never shortens one already asked for

    assert limiter.paused_until() == first > time.time() + 20
    assert _aside(folder / "pause.json") == []


@pytest.mark.parametrize("how", [*BROKEN, "too-big", "not-ours", "symlink"])
def test_a_broken_context_file_is_set_aside_and_the_agent_gets_none(tmp_path: Path, how: str) -> None:
    path = _state(tmp_path) / "state" / "context.md"
    if how == "too-big":
        path.write_text("# Repository context\n" + "x" * (5 << 20))
    elif how == "not-ours":
        path.write_text("rm -rf / # some other file in its place\n")
    elif how == "symlink":
        (tmp_path / "elsewhere.md").write_text("# Repository context\nbut not the one mayor wrote\n")
        path.symlink_to(tmp_path / "elsewhere.md")
    else:
        BROKEN[how](path)

    assert read_context(path) == NO_CONTEXT

    assert len(_aside(path)) == 1 and not os.path.lexists(path)
    assert [e["data"]["path"] for e in of(events(tmp_path), "state_set_aside")] == [str(path)]


def test_a_folder_in_place_of_the_context_is_set_aside_when_a_run_writes_it(git_repo: Path, tmp_path: Path) -> None:
    state = _state(tmp_path) / "state"
    _folder(state / "context.md")

    written = write_context(git_repo, "main", None, state)

    assert read_context(written).startswith("# Repository context (shared by every bead of this run)")
    assert len(_aside(written)) == 1


CORRUPT = """
printf '\\377\\376 not the context' > "$MAYOR_ROOT/.mayor/state/context.md"
mkdir -p "$MAYOR_ROOT/.mayor/state/limiter" && echo '{"until": 1e300}' > "$MAYOR_ROOT/.mayor/state/limiter/pause.json"
echo corrupt > corrupt.txt && git add -A && git commit -q -m corrupt
"""


def test_a_run_goes_on_after_an_agent_corrupts_the_shared_state(
    mayor_repo: Path, tmp_path: Path, fake_anthropic: FakeAnthropic
) -> None:
    """One bead's agent breaks ``context.md`` and ``pause.json``; the next bead's built-in agent
    sets both aside (saying so in its log), works without the context, and lands."""
    corrupt = script(tmp_path / "corrupt.sh", CORRUPT)
    config = mayor_repo / ".mayor" / "config.toml"
    config.write_text(config.read_text() + f'\n[agents.corrupt]\ncommand = "bash {corrupt}"\n')
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "config")
    add_bead(mayor_repo, "c1", agent="corrupt")
    add_bead(mayor_repo, "c2", deps=["c1"])
    fake_anthropic.scripts["c2"] = [
        edit("create", "c2.txt", file_text="c2\n"),
        bash("git add c2.txt && git commit -q -m c2"),
        final("Wrote c2.txt."),
    ]

    out = sling(mayor_repo)

    assert out.returncode == 0, out.stderr
    assert bead(mayor_repo, "c1").status == "merged" and bead(mayor_repo, "c2").status == "merged"
    state = mayor_repo / ".mayor" / "state"
    log = (mayor_repo / ".mayor" / "runs" / "c2" / "1" / "agent.log").read_text()
    for path in (state / "context.md", state / "limiter" / "pause.json"):
        assert f"{path}" in log and len(_aside(path)) == 1, log
    assert {e["data"]["path"] for e in of(events(mayor_repo), "state_set_aside")} == {
        str(state / "context.md"),
        str(state / "limiter" / "pause.json"),
    }
    system = json.dumps(fake_anthropic.calls[0].body["system"])
    assert "(none)" in system and "shared by every bead" not in system
