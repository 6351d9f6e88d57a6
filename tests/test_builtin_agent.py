"""The built-in Claude agent, end to end, without network.

``mayor sling --agent builtin`` runs as a subprocess on a real git repository; its agents are
real ``python -m supervisor.agents.builtin`` processes whose real ``anthropic`` SDK talks to the
fake Messages API of tests/fake_anthropic.py (``ANTHROPIC_BASE_URL``), which plays one script per
bead (keyed by the bead id in the task prompt). Three runs, shared by the tests of this module:

- ``main_run``: four beads at once: one done end to end (create, test, commit, land), one that
  tries every escape, one that meets every kind of tool error, one answered first by a 429.
- ``limits_run`` (``--max-steps 3 --model some-unknown-model --max-attempts 1``): a bead that
  never finishes and one whose API calls fail for good (529).
- ``budget_run`` (``--budget-usd 0.0001 -j 1``): two beads; the first one's calls spend it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from beads.models import Usage
from beads.store import Store, bead_from
from supervisor.pricing import WORKER_MODEL, cost
from tests.fake_anthropic import Call, FakeAnthropic, Step, bash, edit, final, overloaded, rate_limited
from tests.sling_helpers import MAYOR, wait_for

RETRIES = 1
"""MAYOR_API_RETRIES for every agent: a call is tried twice, then fails for good."""
TOKENS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
WAIT_S = 120.0
"""How long a test waits for a condition before giving up (never a bound on how fast the code is)."""
SECRET = "top-secret-4f1c9a"
OUTSIDE_SECRET = "outside-secret-77d2e0"

HELLO = "def hello():\n    return 'hello'\n"
TEST_HELLO = "from hello import hello\n\nassert hello() == 'hello'\nprint('test_hello: ok')\n"


@dataclass
class Run:
    root: Path
    proc: subprocess.CompletedProcess[str]
    fake: FakeAnthropic
    scripts: dict[str, list[Step]]
    pool: Path | None = None
    """The worktree pool, where it matters to the test."""

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def bead(self, bead_id: str) -> Any:
        return Store(self.root / ".mayor").get(bead_id)

    def run_dir(self, bead_id: str, n: int = 1) -> Path:
        return self.root / ".mayor" / "runs" / bead_id / str(n)

    def calls(self, bead_id: str) -> list[Call]:
        return self.fake.calls_for(bead_id)

    def exchanges(self, bead_id: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """Each tool call the model made and the result the agent sent back, in order."""
        messages = self.calls(bead_id)[-1].body["messages"]
        results = {
            b["tool_use_id"]: b
            for m in messages
            if m["role"] == "user"
            for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        }
        uses = [b for m in messages if m["role"] == "assistant" for b in m["content"] if b["type"] == "tool_use"]
        return [(use, results.get(use["id"])) for use in uses]


# -- the world: an isolated environment and the fake API, for the whole module ---------------------


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeAnthropic, dict[str, str]]]:
    """The fake API and the environment every ``mayor`` subprocess of this module gets (the
    conftest's isolation, made once per module so the runs can be shared)."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAYOR_", "ANTHROPIC_", "GIT_"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        MAYOR_API_RETRIES=str(RETRIES),
    )
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "Mayor Test", "test@mayor.invalid"
    with FakeAnthropic() as fake:
        env.update(fake.env())
        yield fake, env


def pool_of(root: Path, env: Mapping[str, str]) -> Path:
    """The worktree pool of ``root`` as the ``mayor`` subprocesses with ``env`` find it."""
    from unittest import mock

    from supervisor.run.worktrees import pool_dir

    with mock.patch.dict(os.environ, {"XDG_DATA_HOME": env["XDG_DATA_HOME"]}):
        return pool_dir(root)


def make_repo(root: Path, env: dict[str, str], beads: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True)
    git(root, env, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# a small project\n")
    git(root, env, "add", "-A")
    git(root, env, "commit", "-q", "-m", "initial")
    subprocess.run([str(MAYOR), "init"], cwd=root, env=env, check=True, capture_output=True)
    with Store(root / ".mayor").edit() as tx:
        for fields in beads:
            tx.put(bead_from(fields))
    return root


def sling(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAYOR), "sling", "--agent", "builtin", *args],
        cwd=root,
        env=env,
        text=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def escape_script(outside: Path) -> list[Step]:
    return [
        edit("view", "../secret"),  # the worktree's parent folder
        edit("create", str(outside / "x"), file_text="escaped\n"),  # an absolute path elsewhere
        edit("view", "link-out/secret.txt"),  # through a committed symlink to a folder outside
        edit("create", "link-out/planted.txt", file_text="escaped\n"),
        edit("view", "secret-link"),  # a symlink to a file outside
        edit("str_replace", "secret-link", old_str="secret", new_str="overwritten"),
        bash("cat /etc/hostname"),
        edit("create", "note.txt", file_text="stayed inside\n"),
        bash("git add note.txt && git commit -q -m 'Add a note'"),
        final("Wrote note.txt; everything outside the worktree was refused."),
    ]


TOOL_ERRORS = [
    edit("create", "data.txt", file_text="alpha\n"),
    edit("str_replace", "data.txt", old_str="not in the file", new_str="x"),
    edit("view", "missing.txt"),
    bash("echo to stderr >&2; exit 3"),
    edit("str_replace", "data.txt", old_str="alpha", new_str="beta"),
    bash("git add data.txt && git commit -q -m 'Add data'"),
    final("data.txt says beta."),
]
"""A bead whose agent meets a str_replace miss, a missing file and a failing command, and goes on."""


@pytest.fixture(scope="module")
def main_run(world: tuple[FakeAnthropic, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Run:
    fake, env = world
    base = tmp_path_factory.mktemp("main")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE_SECRET + "\n")
    check = {"text": "the test passes", "check": "python test_hello.py"}
    root = make_repo(
        base / "repo",
        env,
        [
            {
                "id": "bd-e2e",
                "title": "Add hello()",
                "description": "A hello() function and its test.",
                "acceptance": [check],
            },
            {"id": "bd-escape", "title": "Write a note", "description": "Add note.txt."},
            {"id": "bd-toolerr", "title": "Write data", "description": "Add data.txt saying beta."},
            {"id": "bd-ratelimit", "title": "Write rl.txt", "description": "Add rl.txt."},
        ],
    )
    (root / "link-out").symlink_to(outside, target_is_directory=True)
    (root / "secret-link").symlink_to(outside / "secret.txt")
    git(root, env, "add", "link-out", "secret-link")
    git(root, env, "commit", "-q", "-m", "symlinks that point out")
    worktrees = pool_of(root, env)
    worktrees.mkdir(parents=True)
    (worktrees / "secret").write_text(SECRET + "\n")  # what ../secret is, seen from a slot's worktree
    scripts = {
        "bd-e2e": [
            edit("create", "hello.py", file_text=HELLO),
            edit("create", "test_hello.py", file_text=TEST_HELLO),
            bash("python test_hello.py"),
            bash("git add hello.py test_hello.py && git commit -q -m 'Add hello() and its test'"),
            final("Added hello() with a test; `python test_hello.py` passes."),
        ],
        "bd-escape": escape_script(outside),
        "bd-toolerr": TOOL_ERRORS,
        "bd-ratelimit": [
            rate_limited(0.05),
            edit("create", "rl.txt", file_text="after a 429\n"),
            bash("git add rl.txt && git commit -q -m 'Add rl.txt'"),
            final("Added rl.txt."),
        ],
    }
    fake.scripts.update(scripts)
    return Run(root, sling(root, env, "-j", "4"), fake, scripts, worktrees)


@pytest.fixture(scope="module")
def limits_run(world: tuple[FakeAnthropic, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Run:
    fake, env = world
    root = make_repo(
        tmp_path_factory.mktemp("limits") / "repo",
        env,
        [
            {"id": "bd-loop", "title": "Never done", "description": "The model never stops calling tools."},
            {"id": "bd-down", "title": "API down", "description": "Every call is answered 529."},
        ],
    )
    scripts = {"bd-loop": [bash(f"echo turn {i}") for i in range(50)], "bd-down": [overloaded(0.01)] * 20}
    fake.scripts.update(scripts)
    args = ("-j", "2", "--max-steps", "3", "--model", "some-unknown-model", "--max-attempts", "1")
    return Run(root, sling(root, env, *args), fake, scripts)


@pytest.fixture(scope="module")
def budget_run(world: tuple[FakeAnthropic, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Run:
    fake, env = world
    root = make_repo(
        tmp_path_factory.mktemp("budget") / "repo",
        env,
        [
            {"id": "bd-spend1", "title": "First", "description": "Add one.txt.", "priority": 0},
            {"id": "bd-spend2", "title": "Second", "description": "Add two.txt.", "priority": 1},
        ],
    )
    scripts = {
        key: [edit("create", f"{key}.txt", file_text="x\n"), bash(f"git add -A && git commit -qm {key}"), final()]
        for key in ("bd-spend1", "bd-spend2")
    }
    fake.scripts.update(scripts)
    return Run(root, sling(root, env, "-j", "1", "--budget-usd", "0.0001"), fake, scripts)


# -- (a) done end to end ---------------------------------------------------------------------------


def test_a_bead_done_end_to_end_and_landed(main_run: Run) -> None:
    assert main_run.proc.returncode == 0, main_run.output
    bead = main_run.bead("bd-e2e")
    assert bead.status == "merged" and len(bead.attempts) == 1
    assert git(main_run.root, {**os.environ}, "show", "main:hello.py") == HELLO
    assert git(main_run.root, {**os.environ}, "show", "main:test_hello.py") == TEST_HELLO
    steps = main_run.exchanges("bd-e2e")
    assert [use["name"] for use, _ in steps] == ["str_replace_based_edit_tool"] * 2 + ["bash"] * 2
    assert all(result is not None and not result.get("is_error") for _, result in steps)
    assert "test_hello: ok" in _text(steps[2][1])
    assert bead.result.summary.startswith("Added hello()")
    assert main_run.calls("bd-e2e")[-1].turn == len(main_run.scripts["bd-e2e"]) - 1  # the final step was played


# -- (b) escapes -----------------------------------------------------------------------------------


def test_every_escape_is_refused_and_the_loop_goes_on(main_run: Run) -> None:
    steps = main_run.exchanges("bd-escape")
    escapes, rest = steps[:7], steps[7:]
    for use, result in escapes:
        assert result is not None and result.get("is_error") is True, f"not refused: {use['input']}: {result}"
        assert "Refused" in _text(result), f"an error, but not a refusal: {use['input']}: {result}"
    assert all(result is not None and not result.get("is_error") for _, result in rest)
    everything_sent = b"".join(call.raw for call in main_run.fake.calls)
    assert SECRET.encode() not in everything_sent and OUTSIDE_SECRET.encode() not in everything_sent
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    if len(hostname) >= 6:
        assert hostname.encode() not in everything_sent
    outside = main_run.root.parent / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == OUTSIDE_SECRET + "\n"
    assert main_run.pool is not None and (main_run.pool / "secret").read_text() == SECRET + "\n"
    assert main_run.bead("bd-escape").status == "merged"
    assert git(main_run.root, {**os.environ}, "show", "main:note.txt") == "stayed inside\n"


# -- (i) tool errors -------------------------------------------------------------------------------


def test_tool_errors_go_back_to_the_model_and_the_loop_goes_on(main_run: Run) -> None:
    steps = main_run.exchanges("bd-toolerr")
    flags = [bool(result and result.get("is_error")) for _, result in steps]
    assert flags == [False, True, True, True, False, False]
    assert "exit code 3" in _text(steps[3][1]) and "to stderr" in _text(steps[3][1])  # the status and stderr are shown
    assert main_run.bead("bd-toolerr").status == "merged"
    assert git(main_run.root, {**os.environ}, "show", "main:data.txt") == "beta\n"


# -- (d) usage and cost ----------------------------------------------------------------------------


def test_usage_is_summed_exactly_and_priced_from_the_table(main_run: Run) -> None:
    for bead_id in main_run.scripts:
        bead = main_run.bead(bead_id)
        served = main_run.fake.total_usage(bead_id)
        assert {name: getattr(bead.usage, name) for name in TOKENS} == served, bead_id
        assert {c.body["model"] for c in main_run.calls(bead_id)} == {WORKER_MODEL}
        expected = sum(
            cost(WORKER_MODEL, Usage(**{n: c.usage[n] for n in TOKENS})) or 0.0
            for c in main_run.calls(bead_id)
            if c.usage
        )
        assert bead.usage.cost_usd == pytest.approx(expected, rel=1e-9) and expected > 0


def test_an_unknown_model_is_unpriced_never_free(limits_run: Run) -> None:
    bead = limits_run.bead("bd-loop")
    assert {c.body["model"] for c in limits_run.calls("bd-loop")} == {"some-unknown-model"}
    assert {name: getattr(bead.usage, name) for name in TOKENS} == limits_run.fake.total_usage("bd-loop")
    assert bead.usage.total_tokens > 0 and bead.usage.cost_usd is None
    result = json.loads((limits_run.run_dir("bd-loop") / "result.json").read_text())
    assert result["usage"]["cost_usd"] is None
    assert "unpriced" in limits_run.output


# -- (e) the cached prefix -------------------------------------------------------------------------


def test_the_cached_prefix_is_shared_byte_for_byte(main_run: Run) -> None:
    firsts = sorted((main_run.calls(b)[0] for b in main_run.scripts), key=lambda c: c.index)
    prefixes = {call.shared_prefix() for call in firsts}
    assert len(prefixes) == 1
    for call in firsts:
        assert call.body["tools"][-1].get("cache_control") == {"type": "ephemeral"}
        assert call.body["system"][-1].get("cache_control") == {"type": "ephemeral"}
        assert call.key is not None and call.key.encode() not in call.shared_prefix()
        last = call.body["messages"][-1]["content"][-1]
        assert last.get("cache_control") == {"type": "ephemeral"}  # the moving breakpoint
    served = [call for call in firsts if call.usage]
    assert served[0].usage and served[0].usage["cache_creation_input_tokens"] > 0
    for call in served[1:]:  # every later bead reads the shared prefix from the cache
        assert call.usage and call.usage["cache_read_input_tokens"] > 0
        assert call.usage["cache_read_input_tokens"] >= len(call.shared_prefix()) // 4


# -- (f) the API's failures ------------------------------------------------------------------------


def test_a_429_is_retried_and_pauses_every_agent(main_run: Run) -> None:
    calls = main_run.calls("bd-ratelimit")
    assert [c.status for c in calls[:2]] == [429, 200]
    assert calls[1].raw == calls[0].raw and calls[1].headers.get("x-stainless-retry-count") == "1"
    pause = json.loads((main_run.root / ".mayor" / "state" / "limiter" / "pause.json").read_text())
    assert pause["until"] > 0
    assert main_run.bead("bd-ratelimit").status == "merged"


def test_a_529_past_the_retries_fails_the_attempt_with_the_reason(limits_run: Run) -> None:
    assert [c.status for c in limits_run.calls("bd-down")] == [529] * (RETRIES + 1)
    bead = limits_run.bead("bd-down")
    assert bead.status == "failed"
    assert "529" in bead.error and "Anthropic API" in bead.error
    assert "529" in (limits_run.run_dir("bd-down") / "feedback_out.md").read_text()


# -- (c) the step limit ----------------------------------------------------------------------------


def test_the_step_limit_fails_the_attempt(limits_run: Run) -> None:
    assert limits_run.proc.returncode == 1
    assert len(limits_run.calls("bd-loop")) == 3
    bead = limits_run.bead("bd-loop")
    assert bead.status == "failed" and "step limit reached" in bead.error
    assert "step limit reached" in (limits_run.run_dir("bd-loop") / "feedback_out.md").read_text()


# -- (h) the run folder ----------------------------------------------------------------------------


def test_transcript_and_result_are_saved_even_when_the_attempt_failed(limits_run: Run) -> None:
    for bead_id, reason in (("bd-loop", "step limit"), ("bd-down", "529")):
        run_dir = limits_run.run_dir(bead_id)
        result = json.loads((run_dir / "result.json").read_text())
        transcript = json.loads((run_dir / "transcript.json").read_text())
        assert reason in result["error"] and reason in transcript["error"]
        assert transcript["messages"][0]["role"] == "user" and transcript["tools"] and transcript["system"]
    loop = json.loads((limits_run.run_dir("bd-loop") / "transcript.json").read_text())
    assert len(loop["calls"]) == 3 and loop["messages"][-1]["content"][0]["type"] == "tool_result"


def hang_after(steps: list[Step], release: threading.Event) -> Callable[[Call], Step]:
    """A script that plays ``steps``, then holds the next call open until ``release`` is set:
    a model call that is in flight for as long as the test needs, with no duration to guess."""

    def play(call: Call) -> Step:
        if call.served < len(steps):
            return steps[call.served]
        release.wait()
        return final()

    return play


def start_agent(env: dict[str, str], tmp_path: Path, bead_id: str) -> tuple[subprocess.Popen[str], Path]:
    """A built-in agent process on its own (no supervisor), working on ``bead_id``; and its run folder."""
    run_dir, work = tmp_path / "run", tmp_path / "work"
    work.mkdir()
    (tmp_path / "prompt.md").write_text(f"Work on bead {bead_id}.\n")
    agent_env = {
        **env,
        "MAYOR_RUN_DIR": str(run_dir),
        "MAYOR_PROMPT_FILE": str(tmp_path / "prompt.md"),
        "MAYOR_MODEL": WORKER_MODEL,
        "MAYOR_LIMITER_DIR": str(tmp_path / "limiter"),
    }
    agent = subprocess.Popen(
        [sys.executable, "-m", "supervisor.agents.builtin"],
        cwd=work,
        env=agent_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return agent, run_dir


def test_an_agent_stopped_by_sigterm_still_saves_its_transcript(
    world: tuple[FakeAnthropic, dict[str, str]], tmp_path: Path
) -> None:
    """What the supervisor does on a timeout, the budget or a cancel: the loop ends through ``finally``."""
    fake, env = world
    release = threading.Event()
    fake.scripts["bd-sigterm"] = hang_after([bash("echo one")], release)
    agent, run_dir = start_agent(env, tmp_path, "bd-sigterm")
    try:
        wait_for(lambda: len(fake.calls_for("bd-sigterm")) == 2, "the agent's second model call", limit_s=WAIT_S)
        agent.terminate()
        _, stderr = agent.communicate(timeout=WAIT_S)
    finally:
        agent.kill()
        release.set()
    assert agent.returncode == 1, stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert "SIGTERM" in result["error"] and result["usage"]["output_tokens"] > 0
    transcript = json.loads((run_dir / "transcript.json").read_text())
    assert transcript["messages"][-1]["content"][0]["type"] == "tool_result"


def test_an_agent_killed_by_sigkill_keeps_the_transcript_of_its_last_step(
    world: tuple[FakeAnthropic, dict[str, str]], tmp_path: Path
) -> None:
    """What a SIGKILL after the supervisor's grace period leaves: no ``finally`` runs, but the
    transcript written after each step is there, whole, with every step done before the kill."""
    fake, env = world
    release = threading.Event()
    fake.scripts["bd-sigkill"] = hang_after([bash("echo one"), bash("echo two")], release)
    agent, run_dir = start_agent(env, tmp_path, "bd-sigkill")
    try:
        wait_for(lambda: len(fake.calls_for("bd-sigkill")) == 3, "the agent's third model call", limit_s=WAIT_S)
        agent.kill()
        agent.communicate(timeout=WAIT_S)
    finally:
        agent.kill()
        release.set()
    assert agent.returncode == -signal.SIGKILL
    assert not (run_dir / "result.json").exists()  # written in finally, which a SIGKILL skips
    transcript = json.loads((run_dir / "transcript.json").read_text())
    assert transcript["error"] is None and len(transcript["calls"]) == 2
    assert [m["role"] for m in transcript["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    last = transcript["messages"][-1]["content"][0]
    assert last["type"] == "tool_result" and "two" in _text(last)
    assert not list(run_dir.glob("*.tmp"))
    served = [call.usage for call in fake.calls_for("bd-sigkill")[:2]]
    spent = json.loads((run_dir / "usage.json").read_text())
    assert all(served) and {n: spent[n] for n in TOKENS} == {n: sum(u[n] for u in served if u) for n in TOKENS}


def test_an_agent_killed_by_the_supervisor_keeps_its_transcript_and_its_spend(
    world: tuple[FakeAnthropic, dict[str, str]], tmp_path: Path
) -> None:
    """The supervisor stops an agent in the middle of a model call (here: its bead is cancelled
    while the second call is in flight); the agent saves through ``finally`` and its spend is booked."""
    fake, env = world
    release = threading.Event()
    fake.scripts["bd-slow"] = hang_after([bash("echo one")], release)
    root = make_repo(tmp_path / "repo", env, [{"id": "bd-slow", "title": "Slow", "description": "The model hangs."}])
    sling_proc = subprocess.Popen(
        [str(MAYOR), "sling", "--agent", "builtin", "--max-attempts", "1"],
        cwd=root,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(fake.calls_for("bd-slow")) == 2, "the agent's second model call", limit_s=WAIT_S)
        subprocess.run([str(MAYOR), "cancel", "bd-slow"], cwd=root, env=env, check=True, capture_output=True)
        out, err = sling_proc.communicate(timeout=WAIT_S)
    finally:
        sling_proc.kill()
        release.set()
    run = Run(root, subprocess.CompletedProcess(sling_proc.args, sling_proc.returncode, out, err), fake, {})
    bead = run.bead("bd-slow")
    assert bead.status == "cancelled" and bead.attempts[-1].outcome == "cancelled", run.output
    first = run.calls("bd-slow")[0].usage
    assert first is not None and len(run.calls("bd-slow")) == 2
    assert {name: getattr(bead.usage, name) for name in TOKENS} == {name: first[name] for name in TOKENS}
    result = json.loads((run.run_dir("bd-slow") / "result.json").read_text())
    assert "SIGTERM" in result["error"]
    assert json.loads((run.run_dir("bd-slow") / "transcript.json").read_text())["calls"]


# -- (g) the budget --------------------------------------------------------------------------------


def test_the_budget_stops_the_run(budget_run: Run) -> None:
    assert budget_run.proc.returncode == 1, budget_run.output
    assert "the budget stopped this run" in budget_run.output
    assert "the budget of $0.0001 is spent" in budget_run.output  # small budgets are not shown as $0.00
    slung = [b for b in ("bd-spend1", "bd-spend2") if budget_run.calls(b)]
    assert slung == ["bd-spend1"], "a bead was slung after the budget was spent"
    assert budget_run.bead("bd-spend2").status == "open" and not budget_run.bead("bd-spend2").attempts
    spent = budget_run.bead("bd-spend1").usage
    assert spent.cost_usd is not None and spent.cost_usd >= 0.0001
    first = budget_run.bead("bd-spend1")  # the budget stopped it: not a failure of the bead
    assert first.status == "open" and [a.outcome for a in first.attempts] == ["interrupted"]
    assert "failed:" not in budget_run.output
    assert len([line for line in budget_run.output.splitlines() if "no new bead is slung" in line]) == 1


def _text(result: dict[str, Any] | None) -> str:
    if result is None:
        return ""
    content = result.get("content")
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return str(content)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
