"""The built-in agent's tools, on real files in a temporary worktree and real bash processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from supervisor.agents.builtin.tools import EDITOR, TOOL_DEFINITIONS, ToolOutcome, Workspace, clip

SECRET = "top secret, outside the worktree"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A worktree with one file, next to an ``outside`` folder holding a secret."""
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / "a.txt").write_text("alpha\nbeta\ngamma\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text(SECRET)
    (tmp_path / "secret").write_text(SECRET)
    return worktree


@pytest.fixture
def ws(root: Path, tmp_path: Path) -> Workspace:
    return Workspace(root, home=tmp_path / "home", env=dict(os.environ), timeout=10)


def edit(ws: Workspace, command: str, path: str, **fields: Any) -> ToolOutcome:
    return ws.run(EDITOR, {"command": command, "path": path, **fields})


def bash(ws: Workspace, command: str) -> ToolOutcome:
    return ws.run("bash", {"command": command})


def refused(outcome: ToolOutcome) -> bool:
    return outcome.is_error and "outside the worktree" in outcome.content and SECRET not in outcome.content


def gone(pid: int, within: float = 3.0) -> bool:
    """The process ``pid`` has exited (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


# -- definitions ----------------------------------------------------------------------------------


def test_tool_definitions_are_anthropics_schema_less_tools() -> None:
    assert TOOL_DEFINITIONS == [
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool", "max_characters": 30_000},
    ]


def test_tool_definitions_are_byte_identical_across_processes_and_need_no_anthropic() -> None:
    code = (
        "import sys, json; sys.modules['anthropic'] = None\n"
        "from supervisor.agents.builtin.tools import TOOL_DEFINITIONS\n"
        "print(json.dumps(TOOL_DEFINITIONS))"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True) for _ in "ab"]
    assert runs[0].stdout == runs[1].stdout == json.dumps(TOOL_DEFINITIONS) + "\n"


# -- escapes through the editor -------------------------------------------------------------------


def test_dotdot_is_refused(ws: Workspace) -> None:
    assert refused(edit(ws, "view", "../secret"))
    assert refused(edit(ws, "view", "sub/../../secret"))
    assert refused(edit(ws, "create", "../escape.txt", file_text="x"))
    assert not (Path(ws.root).parent / "escape.txt").exists()


def test_absolute_path_outside_is_refused(ws: Workspace, tmp_path: Path) -> None:
    assert refused(edit(ws, "view", str(tmp_path / "outside" / "secret")))
    assert refused(edit(ws, "view", "/etc/passwd"))
    assert refused(edit(ws, "create", str(tmp_path / "outside" / "new.txt"), file_text="x"))
    assert not (tmp_path / "outside" / "new.txt").exists()


def test_absolute_path_inside_is_accepted(ws: Workspace, root: Path) -> None:
    outcome = edit(ws, "view", str(root / "a.txt"))
    assert not outcome.is_error and "alpha" in outcome.content
    assert not edit(ws, "create", str(root / "b.txt"), file_text="b\n").is_error
    assert (root / "b.txt").read_text() == "b\n"


def test_symlinked_file_pointing_out_is_refused(ws: Workspace, root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret"
    (root / "link").symlink_to(secret)
    outcome = edit(ws, "view", "link")
    assert refused(outcome) and "symlink" in outcome.content
    assert refused(edit(ws, "create", "link", file_text="overwritten"))
    assert refused(edit(ws, "str_replace", "link", old_str="top", new_str="bottom"))
    assert refused(edit(ws, "insert", "link", insert_line=0, insert_text="x"))
    assert secret.read_text() == SECRET


def test_symlinked_folder_pointing_out_is_refused_at_any_depth(ws: Workspace, root: Path, tmp_path: Path) -> None:
    (root / "deep" / "er").mkdir(parents=True)
    (root / "deep" / "er" / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert refused(edit(ws, "view", "deep/er/out"))
    assert refused(edit(ws, "view", "deep/er/out/secret"))


def test_create_under_a_symlinked_folder_is_refused(ws: Workspace, root: Path, tmp_path: Path) -> None:
    (root / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert refused(edit(ws, "create", "out/new.txt", file_text="x"))
    assert refused(edit(ws, "create", "out/sub/dir/new.txt", file_text="x"))
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret"]


def test_dangling_symlink_pointing_out_is_refused(ws: Workspace, root: Path, tmp_path: Path) -> None:
    (root / "dangling").symlink_to(tmp_path / "outside" / "not-yet")
    assert refused(edit(ws, "create", "dangling", file_text="x"))
    assert not (tmp_path / "outside" / "not-yet").exists()


def test_symlink_inside_the_worktree_is_followed(ws: Workspace, root: Path) -> None:
    (root / "alias").symlink_to(root / "a.txt")
    assert "gamma" in edit(ws, "view", "alias").content


# -- escapes through bash -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "cat /etc/hostname",
        "cat ../secret",
        "cd .. && ls",
        "ls; cd /",
        "echo x > /tmp/mayor-tools-test-file",
        "echo x >/tmp/mayor-tools-test-file",
        "curl --output=/tmp/mayor-tools-test-file https://example.invalid",
        "VAR=/etc/passwd; cat $VAR",
        "cat sub/../../secret",
        "cat ~/.bashrc",
        "echo $(cat /etc/hostname)",
        "cat 'unbalanced /etc/passwd",
        "ls /",
    ],
)
def test_bash_commands_reaching_outside_are_refused(ws: Workspace, command: str) -> None:
    outcome = bash(ws, command)
    assert refused(outcome), outcome.content
    assert "Refused before running" in outcome.content
    assert not Path("/tmp/mayor-tools-test-file").exists()


def test_bash_refusal_says_cd_and_carries_nothing_out(ws: Workspace, tmp_path: Path) -> None:
    outcome = bash(ws, f"echo x > {tmp_path}/outside/written; cd ..")
    assert outcome.is_error and not (tmp_path / "outside" / "written").exists()
    assert "`cd ..` goes outside the worktree" in bash(ws, "cd .. && ls").content


def test_bash_word_through_a_symlink_pointing_out_is_refused(ws: Workspace, root: Path, tmp_path: Path) -> None:
    (root / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert refused(bash(ws, "cat out/secret"))


def test_bash_checks_relative_words_from_the_root_without_following_cd(ws: Workspace, root: Path) -> None:
    (root / "sub").mkdir()
    assert refused(bash(ws, "cd sub && cat ../a.txt"))  # conservative: stays inside, but is refused
    assert bash(ws, "cat sub/../a.txt") == ToolOutcome("alpha\nbeta\ngamma\n", False)


def test_bash_runs_a_worktree_program_that_links_to_the_interpreter(ws: Workspace, root: Path) -> None:
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    assert bash(ws, ".venv/bin/python -c 'print(5)'") == ToolOutcome("5\n", False)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("echo quiet > /dev/null; echo loud 2>/dev/null", "loud\n"),
        ("/usr/bin/env python3 -c 'print(6 * 7)'", "42\n"),
        ("PYTHONDONTWRITEBYTECODE=1 /usr/bin/env python3 -c 'print(1)' >/dev/stderr", "1\n"),
        ("cat {root}/a.txt | head -1", "alpha\n"),
        ("mkdir -p sub && cd sub && echo in > f.txt && cat f.txt", "in\n"),
        ("git --version > /dev/null && echo ok", "ok\n"),
    ],
)
def test_bash_allowed_cases_run(ws: Workspace, root: Path, command: str, expected: str) -> None:
    outcome = bash(ws, command.format(root=root))
    assert outcome == ToolOutcome(expected, False)


def test_bash_runs_in_the_worktree_with_the_given_home_and_no_stdin(ws: Workspace, root: Path) -> None:
    outcome = bash(ws, 'pwd; echo "$HOME"; read line; echo "read=$?"')
    assert outcome.content.splitlines() == [str(root.resolve()), ws.home, "read=1"]


def test_bash_restart(ws: Workspace) -> None:
    outcome = ws.run("bash", {"restart": True})
    assert not outcome.is_error and "restarted" in outcome.content


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tool_input", "says"),
    [
        ("python", {"code": "1"}, "Unknown tool 'python'"),
        ("bash", {}, "`command` must be a string"),
        ("bash", {"command": ["ls"]}, "`command` must be a string"),
        ("bash", {"command": "   "}, "non-empty `command`"),
        ("bash", {"restart": "yes"}, "`restart` must be true or false"),
        (EDITOR, {"command": "undo_edit", "path": "a.txt"}, "undo_edit does not exist"),
        (EDITOR, {"command": "view"}, "`path` must be a string"),
        (EDITOR, {"command": "view", "path": ""}, "`path` is required"),
        (EDITOR, {"command": "view", "path": "a.txt", "view_range": [1]}, "two integers"),
        (EDITOR, {"command": "view", "path": "a.txt", "view_range": [0, 2]}, "out of bounds: a.txt has 3 lines"),
        (EDITOR, {"command": "view", "path": "a.txt", "view_range": [2, 9]}, "out of bounds"),
        (EDITOR, {"command": "view", "path": "a.txt", "view_range": [3, 2]}, "out of bounds"),
        (EDITOR, {"command": "view", "path": "missing.txt"}, "missing.txt does not exist"),
        (EDITOR, {"command": "str_replace", "path": "missing.txt", "old_str": "a"}, "does not exist"),
        (EDITOR, {"command": "create", "path": "new.txt"}, "`file_text` must be a string"),
        (EDITOR, {"command": "create", "path": ".", "file_text": "x"}, "is a folder"),
        (EDITOR, {"command": "str_replace", "path": "a.txt", "old_str": "delta"}, "old_str was not found in a.txt"),
        (EDITOR, {"command": "str_replace", "path": "a.txt", "old_str": ""}, "must not be empty"),
        (EDITOR, {"command": "insert", "path": "a.txt", "insert_line": 4, "insert_text": "x"}, "from 0 (the top) to 3"),
        (EDITOR, {"command": "insert", "path": "a.txt", "insert_line": "1", "insert_text": "x"}, "insert_line"),
        (EDITOR, {"command": "insert", "path": "a.txt", "insert_line": 1}, "`insert_text` must be a string"),
    ],
)
def test_errors_come_back_as_tool_errors(ws: Workspace, name: str, tool_input: dict[str, Any], says: str) -> None:
    outcome = ws.run(name, tool_input)
    assert outcome.is_error, outcome
    assert says in outcome.content


def test_str_replace_not_unique_says_how_many_times(ws: Workspace, root: Path) -> None:
    (root / "dup.txt").write_text("x = 1\ny = 2\nx = 1\nx = 1\n")
    outcome = edit(ws, "str_replace", "dup.txt", old_str="x = 1", new_str="x = 3")
    assert outcome.is_error and "occurs 3 times" in outcome.content and "lines 1, 3, 4" in outcome.content
    assert (root / "dup.txt").read_text() == "x = 1\ny = 2\nx = 1\nx = 1\n"


def test_binary_file_is_not_text(ws: Workspace, root: Path) -> None:
    (root / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    for path in ("blob.bin", "latin1.txt"):
        outcome = edit(ws, "view", path)
        assert outcome.is_error and "is not a text file" in outcome.content


def test_failing_command_reports_exit_code_and_output(ws: Workspace) -> None:
    outcome = bash(ws, "echo to-stdout; echo to-stderr >&2; exit 3")
    assert outcome.is_error
    assert "exit code 3" in outcome.content
    assert "to-stdout\nto-stderr" in outcome.content


def test_timeout_kills_the_whole_process_group(root: Path, tmp_path: Path) -> None:
    ws = Workspace(root, home=tmp_path / "home", env=dict(os.environ), timeout=1)
    outcome = bash(ws, "bash -c 'sleep 100000 & echo $! > grandchild.pid; wait'; echo never")
    assert (
        outcome.is_error and "timed out after 1 s" in outcome.content and "process group was killed" in outcome.content
    )
    assert "never" not in outcome.content
    assert gone(int((root / "grandchild.pid").read_text()))


def test_background_processes_are_stopped_when_the_shell_exits(ws: Workspace, root: Path) -> None:
    # a sleeper that never ends alone: had the shell waited for it, the tool's own timeout would
    # have made this an error; it is gone because it was stopped, not because it finished
    outcome = bash(ws, "sleep 100000 & echo $! > bg.pid; echo started")
    assert not outcome.is_error and outcome.content.startswith("started\n") and "were stopped" in outcome.content
    assert gone(int((root / "bg.pid").read_text()))


# -- long outputs ---------------------------------------------------------------------------------


def test_clip_keeps_head_and_tail_and_counts_the_cut() -> None:
    text = "h" * 60 + "m" * 880 + "t" * 60
    out = clip(text, 120, "try grep")
    assert out.startswith("h" * 60 + "\n") and out.endswith("\n" + "t" * 60)
    assert "880 characters cut" in out and "try grep" in out
    assert clip("short", 120) == "short"


def test_long_command_output_is_cut_in_the_middle(root: Path, tmp_path: Path) -> None:
    ws = Workspace(root, home=tmp_path / "home", env=dict(os.environ), limit=1000)
    outcome = bash(ws, "seq 1 20000")
    total = len("".join(f"{n}\n" for n in range(1, 20001)))
    assert not outcome.is_error
    assert outcome.content.startswith("1\n2\n3\n") and outcome.content.endswith("19999\n20000\n")
    assert f"{total - 1000:,} characters cut" in outcome.content and "head, tail or grep" in outcome.content
    assert len(outcome.content) < 1300


def test_long_file_view_is_cut_with_a_view_range_hint(root: Path, tmp_path: Path) -> None:
    ws = Workspace(root, home=tmp_path / "home", limit=1000)
    (root / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 5001)))
    outcome = edit(ws, "view", "long.txt")
    assert not outcome.is_error and "characters cut" in outcome.content and "view_range" in outcome.content
    assert "     1\tline 1\n" in outcome.content and outcome.content.endswith("  5000\tline 5000\n")
    assert len(outcome.content) < 1300


# -- the editor -----------------------------------------------------------------------------------


def test_view_numbers_lines_like_cat_n(ws: Workspace) -> None:
    assert edit(ws, "view", "a.txt").content == "a.txt (3 lines):\n     1\talpha\n     2\tbeta\n     3\tgamma\n"
    ranged = edit(ws, "view", "a.txt", view_range=[2, -1])
    assert ranged.content == "a.txt, lines 2-3 of 3:\n     2\tbeta\n     3\tgamma\n"
    assert edit(ws, "view", "a.txt", view_range=[2, 2]).content.endswith("     2\tbeta\n")


def test_view_of_a_folder_lists_two_levels_without_hidden_entries(ws: Workspace, root: Path) -> None:
    (root / "src" / "pkg" / "deeper").mkdir(parents=True)
    (root / "src" / "main.py").write_text("")
    (root / "src" / "pkg" / "mod.py").write_text("")
    (root / "src" / "pkg" / "deeper" / "hidden-by-depth.py").write_text("")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("")
    (root / ".env").write_text("")
    whole = edit(ws, "view", ".").content.splitlines()
    assert whole[1:] == ["a.txt", "src/", "src/main.py", "src/pkg/"]
    assert edit(ws, "view", "src").content.splitlines()[1:] == [
        "src/main.py",
        "src/pkg/",
        "src/pkg/deeper/",
        "src/pkg/mod.py",
    ]


def test_create_makes_folders_and_says_created_or_overwrote(ws: Workspace, root: Path) -> None:
    first = edit(ws, "create", "new/dir/file.py", file_text="print(1)\n")
    assert first == ToolOutcome("Created new/dir/file.py (1 line).", False)
    second = edit(ws, "create", "new/dir/file.py", file_text="print(2)\nprint(3)\n")
    assert second.content.startswith("Overwrote new/dir/file.py (2 lines)")
    assert (root / "new" / "dir" / "file.py").read_text() == "print(2)\nprint(3)\n"


def test_str_replace_replaces_the_one_occurrence(ws: Workspace, root: Path) -> None:
    outcome = edit(ws, "str_replace", "a.txt", old_str="beta\n", new_str="BETA\nbeta2\n")
    assert not outcome.is_error and "     2\tBETA\n     3\tbeta2\n" in outcome.content
    assert (root / "a.txt").read_text() == "alpha\nBETA\nbeta2\ngamma\n"
    assert not edit(ws, "str_replace", "a.txt", old_str="beta2\n").is_error  # new_str may be left out
    assert (root / "a.txt").read_text() == "alpha\nBETA\ngamma\n"


def test_str_replace_keeps_crlf_line_endings(ws: Workspace, root: Path) -> None:
    (root / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    assert not edit(ws, "str_replace", "dos.txt", old_str="two", new_str="2").is_error
    assert (root / "dos.txt").read_bytes() == b"one\r\n2\r\n"


def test_insert_at_the_top_and_at_the_end(ws: Workspace, root: Path) -> None:
    top = edit(ws, "insert", "a.txt", insert_line=0, insert_text="first\n")
    assert not top.is_error and "Inserted 1 line after line 0" in top.content
    end = edit(ws, "insert", "a.txt", insert_line=4, insert_text="last")
    assert not end.is_error
    assert (root / "a.txt").read_text() == "first\nalpha\nbeta\ngamma\nlast\n"


def test_insert_after_a_last_line_without_newline_and_with_new_str(ws: Workspace, root: Path) -> None:
    (root / "bare.txt").write_text("one\ntwo")
    assert not edit(ws, "insert", "bare.txt", insert_line=2, new_str="three\nfour\n").is_error
    assert (root / "bare.txt").read_text() == "one\ntwo\nthree\nfour\n"
    assert not edit(ws, "insert", "bare.txt", insert_line=1, insert_text="1.5").is_error
    assert (root / "bare.txt").read_text() == "one\n1.5\ntwo\nthree\nfour\n"
