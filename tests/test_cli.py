"""The bead CLI: every command through Typer's runner, a few through the installed console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from beads.models import Bead
from supervisor import __version__
from supervisor.cli import app
from supervisor.repo import open_repo
from supervisor.views.plan import render_graph

MAYOR_SCRIPT = Path(sys.executable).with_name("mayor")
ID_LINE = re.compile(r"^mr-[0-9a-z]{4,}\n$")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def fails(*args: str, code: int = 1) -> str:
    """Run a command that must exit ``code`` with one line on stderr; that line."""
    result = invoke(*args)
    assert result.exit_code == code, (args, result.output, result.exception)
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    return line


def define_agent(root: Path, name: str, command: str = "true") -> None:
    with open(root / ".mayor" / "config.toml", "a") as config:
        config.write(f'\n[agents.{name}]\ncommand = "{command}"\n')


def add(title: str, *options: str) -> str:
    out = ok("add", title, *options).stdout
    assert ID_LINE.match(out), out
    return out.strip()


def shown(bead_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok("show", bead_id, "--json").stdout)
    return data


def set_status(bead_id: str, status: str) -> None:
    """What the supervisor does when a bead lands or fails (no CLI command does this)."""
    from supervisor.run.beadstate import modify

    modify(open_repo().store, bead_id, lambda bead: setattr(bead, "status", status))


def console(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``mayor`` script, as a user runs it."""
    return subprocess.run(
        [str(MAYOR_SCRIPT), *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


# --- init, --version ---------------------------------------------------------------------------


def test_version() -> None:
    assert ok("--version").stdout == f"mayor {__version__}\n"


def test_init_writes_a_commented_config_and_a_gitignore(git_repo: Path) -> None:
    ok("init", "--target", "trunk")
    mayor = git_repo / ".mayor"
    config = (mayor / "config.toml").read_text()
    assert tomllib.loads(config)["target"] == "trunk"
    assert "# gate = " in config
    ignored = (mayor / ".gitignore").read_text().split()
    assert {"runs/", "events.jsonl", "locks/"} <= set(ignored)
    assert (mayor / "beads").is_dir()
    assert open_repo().config.target == "trunk"


def test_init_twice_leaves_the_config_alone(git_repo: Path) -> None:
    ok("init")
    config = git_repo / ".mayor" / "config.toml"
    config.write_text(config.read_text() + "# mine\n")
    result = ok("init")
    assert "already initialised" in result.stderr
    assert config.read_text().endswith("# mine\n")


def test_init_from_a_subfolder_uses_the_repository_root(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = git_repo / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    ok("init")
    assert (git_repo / ".mayor" / "config.toml").is_file()
    assert not (sub / ".mayor").exists()


def test_init_in_a_repository_with_no_commit_says_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "trunk"], cwd=empty, check=True)
    monkeypatch.chdir(empty)
    result = ok("init")
    assert "no commit yet: make a first commit" in result.stderr
    assert open_repo().config.target == "trunk"
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "first"], cwd=empty, check=True)
    assert "no commit" not in ok("init").stderr


def test_init_in_a_python_project_gives_each_worktree_its_own_venv(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (git_repo / "pyproject.toml").write_text(
        '[project]\nname = "p"\n[project.optional-dependencies]\ntest = ["pytest"]\n'
    )
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no uv here
    result = ok("init")
    text = (git_repo / ".mayor" / "config.toml").read_text()
    setup = "python -m venv .venv && .venv/bin/pip install -q -e '.[test]'"
    assert tomllib.loads(text)["setup"] == setup and setup in result.stderr
    assert "never your own editable install" in text
    assert open_repo().config.agents == {}


def test_init_outside_a_git_repository_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    line = fails("init")
    assert "not inside a git repository" in line and "git init" in line
    assert list(plain.iterdir()) == []


@pytest.mark.parametrize(
    "args", [["ready"], ["list"], ["blocked"], ["graph"], ["add", "x"], ["show", "mr-0000"], ["dep", "add", "a", "b"]]
)
def test_commands_outside_an_initialised_repo_say_to_run_init(git_repo: Path, args: list[str]) -> None:
    line = fails(*args)
    assert "mayor init" in line
    assert not (git_repo / ".mayor").exists()


# --- add, show, list ---------------------------------------------------------------------------


def test_add_with_every_option(mayor_repo: Path) -> None:
    define_agent(mayor_repo, "script")
    dep = add("The groundwork")
    bead_id = add(
        "Parse the config",
        "-d",
        "Read .mayor/config.toml with tomllib.",
        "--accept",
        "parses the sample",
        "--accept",
        "rejects junk",
        "--check",
        "pytest -q tests/test_config.py",
        "--check",
        "true",
        "--check",
        "ruff check .",
        "--dep",
        dep,
        "--dep",
        dep,
        "-p",
        "1",
        "--label",
        "config",
        "--label",
        "core",
        "--label",
        "config",
        "--kind",
        "feature",
        "--estimate",
        "45",
        "--agent",
        "script",
        "--model",
        "claude-x",
        "--approval",
        "human",
    )
    data = shown(bead_id)
    assert data["id"] == bead_id
    assert data["title"] == "Parse the config"
    assert data["description"] == "Read .mayor/config.toml with tomllib."
    assert data["acceptance"] == [
        {"text": "parses the sample", "check": "pytest -q tests/test_config.py"},
        {"text": "rejects junk", "check": "true"},
        {"text": "`ruff check .` exits 0", "check": "ruff check ."},
    ]
    assert data["deps"] == [dep]
    assert data["labels"] == ["config", "core"]
    assert (data["priority"], data["kind"], data["estimate_minutes"]) == (1, "feature", 45)
    assert (data["agent"], data["model"], data["approval"], data["status"]) == ("script", "claude-x", "human", "open")
    on_disk = json.loads((mayor_repo / ".mayor" / "beads" / f"{bead_id}.json").read_text())
    assert on_disk == data


def test_add_json_prints_the_record(mayor_repo: Path) -> None:
    record = json.loads(ok("add", "With json", "--json").stdout)
    assert record["title"] == "With json"
    assert record == shown(record["id"])


def test_add_refuses_an_out_of_range_priority_as_usage(mayor_repo: Path) -> None:
    result = invoke("add", "x", "-p", "9")
    assert result.exit_code == 2
    assert list((mayor_repo / ".mayor" / "beads").iterdir()) == []


def test_show_prints_the_bead_for_people(mayor_repo: Path) -> None:
    dep = add("First")
    bead_id = add(
        "Second",
        "-d",
        "The long story.",
        "--dep",
        dep,
        "--accept",
        "works",
        "--check",
        "true",
        "--label",
        "x",
        "--estimate",
        "12",
    )
    text = ok("show", bead_id).stdout
    assert text.splitlines()[0] == f"{bead_id}  Second"
    for part in (
        "status: open",
        f"deps: {dep}",
        "labels: x",
        "estimate: 12 min",
        "The long story.",
        "  - works  [check: true]",
    ):
        assert part in text


def test_show_of_an_unknown_id_is_a_user_error(mayor_repo: Path) -> None:
    line = fails("show", "mr-zzzz")
    assert "mr-zzzz" in line and "mayor list" in line


def test_list_filters_by_status_and_label(mayor_repo: Path) -> None:
    low = add("Low", "-p", "3", "--label", "docs")
    high = add("High", "-p", "0")
    gone = add("Gone", "--label", "docs")
    ok("cancel", gone)

    def listed(*options: str) -> list[str]:
        return [b["id"] for b in json.loads(ok("list", "--json", *options).stdout)]

    assert listed() == [high, gone, low]
    assert listed("--status", "open") == [high, low]
    assert listed("--status", "open", "--status", "cancelled") == [high, gone, low]
    assert listed("--label", "docs") == [gone, low]
    assert listed("--label", "docs", "--status", "open") == [low]
    table = ok("list").stdout.splitlines()
    assert table[0].split("\t") == ["id", "status", "pri", "kind", "title", "labels"]
    assert [row.split("\t")[0] for row in table[1:]] == [high, gone, low]
    assert "merged, done" in fails("list", "--status", "finished", code=2)


# --- ready and blocked -------------------------------------------------------------------------


def _plan() -> dict[str, str]:
    """e (p1); a <- b <- c (p2, a long chain); d (p2, alone); f (p3)."""
    ids = {"e": add("E", "-p", "1", "--estimate", "5")}
    ids["a"] = add("A", "--estimate", "10")
    ids["b"] = add("B", "--estimate", "20", "--dep", ids["a"])
    ids["c"] = add("C", "--estimate", "30", "--dep", ids["b"])
    ids["d"] = add("D", "--estimate", "50")
    ids["f"] = add("F", "-p", "3", "--estimate", "1")
    return ids


def _ready() -> list[tuple[str, int]]:
    return [(b["id"], b["critical_path_minutes"]) for b in json.loads(ok("ready", "--json").stdout)]


def _blocked() -> dict[str, dict[str, Any]]:
    return {b["id"]: b for b in json.loads(ok("blocked", "--json").stdout)}


def test_ready_orders_by_priority_then_longest_critical_path(mayor_repo: Path) -> None:
    ids = _plan()
    assert _ready() == [(ids["e"], 5), (ids["a"], 60), (ids["d"], 50), (ids["f"], 1)]
    table = ok("ready").stdout.splitlines()
    assert [row.split("\t")[0] for row in table[1:]] == [ids[k] for k in "eadf"]
    set_status(ids["a"], "merged")
    after = _ready()
    assert (after[0], after[-1]) == ((ids["e"], 5), (ids["f"], 1))
    assert sorted(after[1:3]) == sorted([(ids["b"], 50), (ids["d"], 50)])  # a tie: either order


def test_blocked_gives_each_bead_its_reason(mayor_repo: Path) -> None:
    ids = _plan()
    found = _blocked()
    assert set(found) == {ids["b"], ids["c"]}
    assert found[ids["b"]]["blocked_by"] == [{"id": ids["a"], "status": "open", "stuck": False}]
    assert found[ids["b"]]["reason"] == f"waits on {ids['a']} (open)"
    ok("cancel", ids["a"])
    hold = _blocked()[ids["b"]]
    assert hold["blocked_by"] == [{"id": ids["a"], "status": "cancelled", "stuck": True}]
    assert "cancelled" in hold["reason"] and f"mayor reopen {ids['a']}" in hold["reason"]
    set_status(ids["a"], "merged")
    set_status(ids["b"], "failed")
    found = _blocked()
    assert set(found) == {ids["c"]}
    assert found[ids["c"]]["blocked_by"] == [{"id": ids["b"], "status": "failed", "stuck": True}]
    assert "failed" in found[ids["c"]]["reason"]
    table = ok("blocked").stdout.splitlines()
    assert table[0].split("\t") == ["id", "title", "reason"]
    assert table[1].startswith(f"{ids['c']}\tC\t")


# --- dep, update, cancel, reopen ---------------------------------------------------------------


def test_dep_add_and_rm(mayor_repo: Path) -> None:
    first, second = add("First"), add("Second")
    assert "now depends" in ok("dep", "add", second, first).stderr
    assert shown(second)["deps"] == [first]
    assert [i for i, _ in _ready()] == [first]
    assert "already depends" in ok("dep", "add", second, first).stderr
    assert shown(second)["deps"] == [first]
    assert "no longer depends" in ok("dep", "rm", second, first).stderr
    assert shown(second)["deps"] == []
    line = fails("dep", "rm", second, first)
    assert second in line and first in line
    assert "mr-nope" in fails("dep", "add", "mr-nope", first)


def test_update_changes_every_field_it_is_given(mayor_repo: Path) -> None:
    define_agent(mayor_repo, "script")
    bead_id = add("Old", "--label", "stale", "--label", "keep")
    result = ok(
        "update",
        bead_id,
        "--title",
        "New",
        "-d",
        "More words.",
        "-p",
        "0",
        "--label",
        "fresh",
        "--remove-label",
        "stale",
        "--kind",
        "bug",
        "--estimate",
        "7",
        "--agent",
        "script",
        "--model",
        "m2",
        "--approval",
        "human",
        "--accept",
        "it works",
        "--check",
        "true",
    )
    assert result.stderr.startswith(f"updated {bead_id}: ")
    data = shown(bead_id)
    assert (data["title"], data["description"], data["priority"], data["kind"]) == ("New", "More words.", 0, "bug")
    assert data["labels"] == ["keep", "fresh"]
    assert (data["estimate_minutes"], data["agent"], data["model"], data["approval"]) == (7, "script", "m2", "human")
    assert data["acceptance"] == [{"text": "it works", "check": "true"}]


def test_update_refuses_nothing_and_unknown(mayor_repo: Path) -> None:
    bead_id = add("Same")
    assert "nothing to change" in fails("update", bead_id, code=2)
    assert "mr-zzzz" in fails("update", "mr-zzzz", "--title", "x")


def test_cancel_and_reopen(mayor_repo: Path) -> None:
    bead_id = add("Maybe")
    assert f"cancelled {bead_id}" in ok("cancel", bead_id).stderr
    assert shown(bead_id)["status"] == "cancelled"
    assert "already cancelled" in ok("cancel", bead_id).stderr
    assert f"reopened {bead_id}" in ok("reopen", bead_id).stderr
    assert shown(bead_id)["status"] == "open"
    assert "already open" in ok("reopen", bead_id).stderr
    set_status(bead_id, "running")
    assert "running" in fails("reopen", bead_id)
    set_status(bead_id, "merged")
    assert "already landed" in fails("cancel", bead_id)
    ok("reopen", bead_id)
    assert shown(bead_id)["status"] == "open"


# --- graph, schema -----------------------------------------------------------------------------


def _diamond() -> dict[str, str]:
    """top <- left, right <- bottom (bottom depends on both)."""
    ids = {"top": add("Top")}
    ids["left"] = add("Left", "--dep", ids["top"])
    ids["right"] = add("Right", "--dep", ids["top"])
    ids["bottom"] = add("Bottom", "--dep", ids["left"], "--dep", ids["right"])
    return ids


def test_graph_tree(mayor_repo: Path) -> None:
    ids = _diamond()
    lines = ok("graph").stdout.splitlines()
    assert lines[0] == f"{ids['top']} [open] Top"
    assert len(lines) == 5
    assert sum("(above)" in line for line in lines) == 1
    assert all(line.lstrip("│ ").startswith(("├── ", "└── ")) for line in lines[1:])
    assert ok("graph", "--format", "tree").stdout == ok("graph").stdout


def test_graph_dot(mayor_repo: Path) -> None:
    ids = _diamond()
    dot = ok("graph", "--format", "dot").stdout
    assert dot.startswith("digraph beads {") and dot.rstrip().endswith("}")
    edges = set(re.findall(r'"([^"]+)" -> "([^"]+)";', dot))
    assert edges == {
        (ids["top"], ids["left"]),
        (ids["top"], ids["right"]),
        (ids["left"], ids["bottom"]),
        (ids["right"], ids["bottom"]),
    }


def test_graph_mermaid(mayor_repo: Path) -> None:
    ids = _diamond()
    text = ok("graph", "--format", "mermaid").stdout
    assert text.splitlines()[0] == "graph TD"
    edges = re.findall(r"^\s+(n_\w+) --> (n_\w+)$", text, re.M)
    assert len(edges) == 4
    node = {k: "n_" + v.replace("-", "_") for k, v in ids.items()}
    assert (node["left"], node["bottom"]) in edges
    assert f'{node["top"]}["{ids["top"]}: Top (open)"]' in text


def test_graph_unknown_format(mayor_repo: Path) -> None:
    result = invoke("graph", "--format", "png")
    assert result.exit_code == 2 and "'png' is not one of tree, dot, mermaid" in result.stderr


def test_tree_of_a_long_chain_does_not_hit_the_recursion_limit() -> None:
    n = 1500
    beads = {f"c{i:04d}": Bead(id=f"c{i:04d}", title="t", deps=[f"c{i - 1:04d}"] if i else []) for i in range(n)}
    lines = render_graph(beads, "tree").splitlines()
    assert len(lines) == n
    assert lines[-1] == " " * 4 * (n - 2) + f"└── c{n - 1:04d} [open] t"


def test_schema_is_a_json_schema_of_a_bead(mayor_repo: Path) -> None:
    schema = json.loads(ok("schema").stdout)
    assert schema["type"] == "object"
    assert "id" in schema["properties"] and "title" in schema["required"]
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    bead_id = add("Checked", "--accept", "yes", "--label", "l")
    validator(schema).validate(shown(bead_id))
    assert not validator(schema).is_valid({**shown(bead_id), "priority": 9})


# --- the command tree --------------------------------------------------------------------------


def _walk(command: Any, path: str) -> list[tuple[str, Any]]:
    """Every command under ``command`` (Typer ships its own click, so groups are found by shape)."""
    found = [(path, command)]
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        found += _walk(sub, f"{path} {name}")
    return found


def test_every_command_and_option_has_help() -> None:
    commands = _walk(typer.main.get_command(app), "mayor")
    assert {"mayor add", "mayor dep add", "mayor dep rm", "mayor graph"} <= {path for path, _ in commands}
    missing = [path for path, cmd in commands if not (cmd.help or cmd.short_help or "").strip()]
    assert missing == []
    bare = [
        f"{path} {param.opts[0]}"
        for path, cmd in commands
        for param in cmd.params
        if param.param_type_name == "option" and not param.hidden and not (param.help or "").strip()
    ]
    assert bare == []


# --- the installed console script --------------------------------------------------------------


def test_console_script_exit_codes(mayor_repo: Path) -> None:
    added = console("add", "From the shell", cwd=mayor_repo)
    assert added.returncode == 0, added.stderr
    assert ID_LINE.match(added.stdout)
    assert added.stderr == ""
    listed = console("list", "--json", cwd=mayor_repo)
    assert [b["id"] for b in json.loads(listed.stdout)] == [added.stdout.strip()]
    missing = console("show", "mr-zzzz", cwd=mayor_repo)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert len(missing.stderr.splitlines()) == 1 and missing.stderr.startswith("mayor: ")
    for usage in (["add"], ["no-such-command"], ["ready", "--bogus"]):
        result = console(*usage, cwd=mayor_repo)
        assert result.returncode == 2, (usage, result.stderr)
    assert console("--version", cwd=mayor_repo).stdout == f"mayor {__version__}\n"


_HEAVY_PROBE = """
import sys
from supervisor.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("anthropic", "git"))
sys.stderr.write(f"\\nEXIT={code} HEAVY={','.join(heavy)}\\n")
"""


@pytest.mark.parametrize("args", [["--help"], ["add", "--help"], ["ready", "--json"], ["list"]])
def test_bead_commands_do_not_import_anthropic_or_git(mayor_repo: Path, args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", _HEAVY_PROBE, *args], cwd=mayor_repo, capture_output=True, text=True)
    last = proc.stderr.splitlines()[-1]
    assert last == "EXIT=0 HEAVY=", proc.stderr


def _inject(tmp_path: Path, error: str) -> dict[str, str]:
    """An environment whose Python fails at the file-system boundary: ``os.replace`` raises."""
    folder = tmp_path / "inject"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""
            import os

            def replace(src, dst):
                raise {error}

            os.replace = replace
            """
        )
    )
    return {"PYTHONPATH": str(folder)}


def test_unexpected_error_exits_3_with_a_crash_log(mayor_repo: Path, tmp_path: Path) -> None:
    result = console("add", "doomed", cwd=mayor_repo, env=_inject(tmp_path, "RuntimeError('injected fault')"))
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    match = re.search(r"A crash log is at (\S+); please report it", result.stderr)
    assert match, result.stderr
    log = Path(match.group(1))
    assert log.is_file() and log.parent == mayor_repo / ".mayor"
    body = log.read_text()
    for part in (f"mayor {__version__}", "argv:", "Traceback", "RuntimeError: injected fault", "atomic_write"):
        assert part in body
    assert list((mayor_repo / ".mayor" / "beads").iterdir()) == []


def test_interrupt_exits_130_without_a_crash_log(mayor_repo: Path, tmp_path: Path) -> None:
    result = console("add", "stopped", cwd=mayor_repo, env=_inject(tmp_path, "KeyboardInterrupt"))
    assert result.returncode == 130, result.stderr
    assert result.stderr == "mayor: interrupted\n"
    assert list((mayor_repo / ".mayor").glob("crash-*")) == []
    assert list((mayor_repo / ".mayor" / "beads").iterdir()) == []
