"""The REAL Claude Code and Codex CLIs under ``mayor sling``, offline, with nothing but ``mayor
init``: ``mayor sling --agent claude-code`` (or ``codex``) in a fresh repository, its agents
talking to the fake Messages API (tests/fake_anthropic.py) or the fake Responses API
(tests/fake_openai.py) on 127.0.0.1, each playing one script per bead (keyed by the bead id in
the prompt). One run per CLI, shared by the tests of this module; each has five beads at once:
a success, a denied tool, a bad key, a model that never stops, and a stream cut for good.

Claude Code finds the server through ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY`` (as a
user would set them); Codex through the user's own ``~/.codex/config.toml`` (a provider with
retries turned off), in the test's HOME. The CLIs come from ``.ci/install-clis`` or PATH;
without them the tests skip (and fail under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from beads.models import Bead, Usage
from beads.store import Store, bead_from
from tests import fake_anthropic as fa
from tests import fake_openai as fo
from tests.sling_helpers import MAYOR
from tests.tools import absent

SLING_TIMEOUT_S = 240.0
"""A hung run fails its test instead of the whole suite (never a bound on how fast it is)."""
TOKENS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
BEADS = ["ok", "deny", "badkey", "turns", "cut"]


def real_cli(name: str) -> Path:
    """``.ci/install-clis``'s copy (the real home's cache, not the test's), else PATH's."""
    cache = os.environ.get("MAYOR_CLI_CACHE") or str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "mayor-clis")
    installed = Path(cache) / "bin" / name
    found = str(installed) if os.access(installed, os.X_OK) else shutil.which(name)
    if found is None:
        absent(f"the real `{name}` CLI is not installed: run .ci/install-clis (or put `{name}` on PATH)")
    if name == "codex" and shutil.which("node") is None:
        absent("codex's wrapper needs `node` on PATH")
    return Path(found)


@dataclass
class Run:
    root: Path
    proc: subprocess.CompletedProcess[str]
    seconds: float
    env: dict[str, str]
    prefix: str

    def bead(self, name: str) -> Bead:
        return Store(self.root / ".mayor").get(f"{self.prefix}-{name}")

    def show(self, name: str) -> str:
        out = subprocess.run([str(MAYOR), "show", f"{self.prefix}-{name}"], cwd=self.root, env=self.env,
                             capture_output=True, text=True, check=True)  # fmt: skip
        return out.stdout

    def run_dir(self, name: str) -> Path:
        return self.root / ".mayor" / "runs" / f"{self.prefix}-{name}" / "1"

    def explain(self, name: str | None = None) -> str:
        log = (self.run_dir(name) / "agent.log").read_text()[-3000:] if name else ""
        return f"{self.proc.stdout}\n{self.proc.stderr}\n--- agent.log\n{log}"


def isolated_env(home: Path, cli: Path) -> dict[str, str]:
    """The conftest's isolation for ``mayor`` subprocesses, the CLI first on PATH."""
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    drop = ("MAYOR_", "ANTHROPIC_", "GIT_", "CLAUDE_", "CODEX_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        PATH=f"{cli.parent}{os.pathsep}{env.get('PATH', '')}",
    )
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "Mayor Test", "test@mayor.invalid"
    return env


def sling_run(base: Path, env: dict[str, str], prefix: str, agent: str, *flags: str) -> Run:
    """A repository with ``mayor init`` and the five beads, then one ``mayor sling --agent``."""
    root = base / "repo"
    root.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    subprocess.run([str(MAYOR), "init"], cwd=root, env=env, check=True, capture_output=True)
    with Store(root / ".mayor").edit() as tx:
        for name in BEADS:
            tx.put(bead_from({"id": f"{prefix}-{name}", "title": f"Bead {name}", "description": f"Do {name}."}))
    started = time.monotonic()
    proc = subprocess.run(
        [str(MAYOR), "sling", "--agent", agent, "-j", "5", "--max-attempts", "1", *flags],
        cwd=root, env=env, text=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=SLING_TIMEOUT_S,
    )  # fmt: skip
    return Run(root, proc, time.monotonic() - started, env, prefix)


def landed(run: Run, name: str) -> str:
    return subprocess.run(["git", "show", f"main:{name}"], cwd=run.root, env=run.env, capture_output=True,
                          text=True).stdout  # fmt: skip


# -- Claude Code ----------------------------------------------------------------------------------


def in_worktree(write: Callable[[str], fa.Step]) -> Callable[[fa.Call], fa.Step]:
    """A step that needs the worktree's path (the slot is known only once the bead runs): found
    in the request, where Claude Code names its working directory."""

    def step(call: fa.Call) -> fa.Step:
        found = re.search(r"(/[^\s\"'\\]*/worktrees/[^\s\"'\\/]+/slot-\d+)", json.dumps(call.body))
        assert found, "no worktree path in Claude Code's request"
        return write(found.group(1))

    return step


def claude_scripts(root: Path, outside: Path) -> dict[str, fa.Script]:
    report = root / ".mayor" / "runs" / "cc-ok" / "1" / "result.json"
    ok: list[Callable[[fa.Call], fa.Step]] = [
        in_worktree(lambda wt: fa.tool("Write", {"file_path": f"{wt}/cc-ok.txt", "content": "by claude\n"})),
        lambda call: fa.tool("Bash", {"command": "git add -A && git commit -qm 'cc-ok: add cc-ok.txt'"}),
        lambda call: fa.tool("Write", {"file_path": str(report), "content": '{"summary": "wrote it"}\n'}),
        lambda call: fa.final("Done: committed cc-ok.txt."),
    ]
    deny = [fa.tool("Write", {"file_path": str(outside / "escape.txt"), "content": "no\n"}), fa.final("Refused.")]
    return {
        "cc-ok": lambda call: ok[min(call.served, len(ok) - 1)](call),
        "cc-deny": deny,
        "cc-badkey": lambda call: fa.error(401, "invalid x-api-key"),
        "cc-turns": lambda call: fa.tool("Bash", {"command": "git status --short"}),
        "cc-cut": lambda call: fa.cut(fa.final("never whole " * 20), after=4),
    }


@pytest.fixture(scope="module")
def claude_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, fa.FakeAnthropic]]:
    cli = real_cli("claude")
    base = tmp_path_factory.mktemp("claude")
    home = base / "home"
    home.mkdir()
    env = isolated_env(home, cli)
    outside = base / "outside"
    outside.mkdir()
    with fa.FakeAnthropic() as fake:
        fake.scripts = claude_scripts(base / "repo", outside)
        env.update(fake.env())
        yield sling_run(base, env, "cc", "claude-code", "--max-steps", "5"), fake


def test_claude_code_lands_its_bead_and_books_what_the_server_sent(claude_run: tuple[Run, Any]) -> None:
    run, fake = claude_run
    ok = run.bead("ok")
    assert ok.status == "merged", run.explain("ok")
    assert landed(run, "cc-ok.txt") == "by claude\n"
    assert json.loads((run.run_dir("ok") / "result.json").read_text()) == {"summary": "wrote it"}  # --add-dir
    sent = fake.total_usage("cc-ok")
    assert ok.usage.model_dump(include=set(TOKENS)) == sent and sent["output_tokens"] > 0  # to the token
    assert ok.usage.cost_usd is not None and ok.usage.cost_usd > 0  # Claude Code's list price for its model
    assert "Bead ok" in fake.calls_for("cc-ok")[0].first_user_text  # the prompt, on stdin


def test_claude_code_denied_tool_is_the_attempts_error(claude_run: tuple[Run, Any], tmp_path: Path) -> None:
    run, _ = claude_run
    deny = run.bead("deny")
    assert deny.status == "failed", run.explain("deny")
    error = deny.attempts[-1].error or ""
    assert "claude-code was refused 1 tool call: Write `" in error and "escape.txt" in error, error
    assert "outside allowed working directories" in error
    assert "refused 1 tool call" in run.show("deny")
    assert not any(p.name == "escape.txt" for p in run.root.parent.rglob("escape.txt"))


def test_claude_code_bad_key_fails_in_seconds_with_the_reason(claude_run: tuple[Run, Any]) -> None:
    run, fake = claude_run
    bad = run.bead("badkey")
    assert bad.status == "failed", run.explain("badkey")
    error = bad.attempts[-1].error or ""
    assert "claude-code: API error 401 authentication_error" in error, error
    assert len(fake.calls_for("cc-badkey")) == 3  # CLAUDE_CODE_MAX_RETRIES=2, not 10 (three minutes)
    assert "API error 401" in run.show("badkey")


def test_claude_code_max_turns_is_the_error(claude_run: tuple[Run, Any]) -> None:
    run, fake = claude_run
    turns = run.bead("turns")
    assert turns.status == "failed"
    assert "claude-code stopped: error_max_turns" in (turns.attempts[-1].error or ""), run.explain("turns")
    assert len(fake.calls_for("cc-turns")) == 5  # --max-steps 5
    assert turns.usage.model_dump(include=set(TOKENS)) == fake.total_usage("cc-turns")


def test_claude_code_cut_stream_is_an_api_error(claude_run: tuple[Run, Any]) -> None:
    run, fake = claude_run
    cut = run.bead("cut")
    assert cut.status == "failed"
    error = cut.attempts[-1].error or ""
    assert "claude-code: API error after 1 turn: API Error: Connection dropped" in error, run.explain("cut")
    assert any(not c.streamed for c in fake.calls_for("cc-cut"))  # its unstreamed fallback was cut too
    # No answer was whole, but Claude Code may count a cut stream's message_start (its input
    # tokens, output 1): booked is the CLI's own account, the result event's usage.
    log = (run.run_dir("cut") / "agent.log").read_text().splitlines()
    result = next(json.loads(line) for line in reversed(log) if '"type":"result"' in line)
    assert cut.usage.model_dump(include=set(TOKENS)) == {k: result["usage"][k] for k in TOKENS}


# -- Codex ----------------------------------------------------------------------------------------

CODEX_USAGE = {"input_tokens": 1000, "cached_tokens": 800, "cache_write_tokens": 5, "output_tokens": 50,
               "reasoning_tokens": 10}  # fmt: skip


def codex_config(home: Path, fake: fo.FakeOpenAI) -> None:
    """The user's own ``~/.codex/config.toml``: a provider at the fake server, no retries, and no
    plugin sync (which would fetch from github.com)."""
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(
        'model = "gpt-fake-1"\nmodel_provider = "fake"\n\n[model_providers.fake]\nname = "fake"\n'
        f'base_url = "{fake.url}"\nenv_key = "{fo.KEY_ENV}"\nwire_api = "responses"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n\n[features]\nplugins = false\n"
    )


def codex_scripts(root: Path, outside: Path) -> dict[str, fo.Script]:
    report = root / ".mayor" / "runs" / "cx-ok" / "1" / "result.json"
    commit = "printf 'by codex\\n' > cx-ok.txt && git add -A && git commit -qm 'cx-ok: add cx-ok.txt'"
    escape = f"echo no > {outside}/escape.txt"
    return {
        "cx-ok": [
            fo.exec_command(commit, usage=CODEX_USAGE),
            fo.exec_command(f'printf \'{{"summary": "wrote it"}}\\n\' > {report}', usage=CODEX_USAGE),
            fo.say("Done: committed cx-ok.txt.", usage=CODEX_USAGE),
        ],
        "cx-deny": [fo.exec_command(escape, sandbox_permissions="require_escalated"), fo.say("Refused.")],
        "cx-badkey": lambda call: fo.error(401, "Incorrect API key provided: bad-key."),
        "cx-turns": lambda call: fo.exec_command("sleep 0.2; git status --short"),
        "cx-cut": lambda call: fo.cut(fo.say("never whole " * 20), after=4),
    }


@pytest.fixture(scope="module")
def codex_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, fo.FakeOpenAI]]:
    cli = real_cli("codex")
    base = tmp_path_factory.mktemp("codex")
    home = base / "home"
    home.mkdir()
    env = isolated_env(home, cli)
    outside = base / "outside"
    outside.mkdir()
    with fo.FakeOpenAI() as fake:
        fake.scripts = codex_scripts(base / "repo", outside)
        codex_config(home, fake)
        env.update(fake.env())
        yield sling_run(base, env, "cx", "codex", "--timeout", "30s"), fake


def anthropic_terms(usages: list[Mapping[str, Any]]) -> dict[str, int]:
    flat = [fo.flat_usage(u) for u in usages]
    return {
        "input_tokens": sum(u["input_tokens"] - u["cached_tokens"] - u["cache_write_tokens"] for u in flat),
        "cache_read_input_tokens": sum(u["cached_tokens"] for u in flat),
        "cache_creation_input_tokens": sum(u["cache_write_tokens"] for u in flat),
        "output_tokens": sum(u["output_tokens"] for u in flat),
    }


def test_codex_lands_its_bead_and_books_what_the_server_sent(codex_run: tuple[Run, Any]) -> None:
    run, fake = codex_run
    ok = run.bead("ok")
    assert ok.status == "merged", run.explain("ok")
    assert landed(run, "cx-ok.txt") == "by codex\n"  # the commit got through the sandbox
    assert json.loads((run.run_dir("ok") / "result.json").read_text()) == {"summary": "wrote it"}
    sent = anthropic_terms([c.usage for c in fake.calls_for("cx-ok") if c.usage])
    assert sent["cache_creation_input_tokens"] == 15 and sent["input_tokens"] == 3 * (1000 - 800 - 5)
    assert ok.usage == Usage(**sent, cost_usd=None)  # to the token; unpriced, never $0
    assert "Bead ok" in "\n".join(fake.calls_for("cx-ok")[0].user_texts())  # the prompt, on stdin


def test_codex_denied_escalation_writes_nothing_outside(codex_run: tuple[Run, Any]) -> None:
    run, fake = codex_run
    deny = run.bead("deny")
    assert deny.status == "failed", run.explain("deny")
    outputs = "\n".join(o["output"] for c in fake.calls_for("cx-deny") for o in c.outputs())
    assert "approval policy is Never" in outputs and not list(run.root.parent.rglob("escape.txt"))
    assert "no change" in (deny.attempts[-1].error or "")  # codex prints no event for a refusal


def test_codex_bad_key_fails_in_seconds_with_the_reason(codex_run: tuple[Run, Any]) -> None:
    run, fake = codex_run
    bad = run.bead("badkey")
    assert bad.status == "failed", run.explain("badkey")
    error = bad.attempts[-1].error or ""
    assert "codex turn failed: unexpected status 401 Unauthorized: Incorrect API key provided: bad-key." in error
    assert len(fake.calls_for("cx-badkey")) == 1 and "401 Unauthorized" in run.show("badkey")


def test_codex_that_never_stops_is_stopped_by_the_wall_timeout(codex_run: tuple[Run, Any]) -> None:
    """Codex has no turn limit: mayor's ``--timeout`` is the bound."""
    run, fake = codex_run
    turns = run.bead("turns")
    assert turns.status == "failed" and turns.attempts[-1].outcome == "timeout", run.explain("turns")
    assert len(fake.calls_for("cx-turns")) > 3


def test_codex_cut_stream_is_the_error(codex_run: tuple[Run, Any]) -> None:
    run, fake = codex_run
    cut = run.bead("cut")
    assert cut.status == "failed"
    error = cut.attempts[-1].error or ""
    assert "codex turn failed: stream disconnected before completion" in error, run.explain("cut")
    assert len(fake.calls_for("cx-cut")) == 1
