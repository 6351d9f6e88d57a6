"""The built-in agent's tools: Anthropic's ``bash`` and text editor, run inside one worktree.

:data:`TOOL_DEFINITIONS` is what the Messages API gets: the two schema-less tools the models are
trained on (``bash_20250124``; ``text_editor_20250728``, named ``str_replace_based_edit_tool``,
commands view, create, str_replace and insert; this version has no ``undo_edit``). It is a
constant so that it is byte-identical in every agent process: it is part of the cached prefix.

:class:`Workspace` carries the calls out. ``run(name, input)`` never raises for a tool problem:
an unknown tool, bad input, a path outside the worktree, a missing or binary file, an
``old_str`` found zero or several times, a failed or timed-out command all come back as a
:class:`ToolOutcome` with ``is_error=True`` and a message the model can act on. Long outputs
are cut in the middle, keeping head and tail, with a note saying how much was cut.

Paths are relative to the worktree (absolute ones only if inside it) and are resolved with
``os.path.realpath`` before use, which follows every symlink of the deepest existing ancestor.
Anything that resolves outside (``..``, another absolute path, a symlinked file or folder
pointing out, even for a file that ``create`` would make) is refused and never carried out;
the resolved path is the one used afterwards.

Each bash command runs in a fresh ``bash -c`` (so ``restart`` has nothing to reset) with the
worktree as working directory, stdin closed, HOME set to a folder the caller chose, in its own
process group: on timeout the whole group is killed, and so are background processes still
running when the shell exits. Before it runs, the command is split with :mod:`shlex` and
refused if a word (or the value after ``=`` in ``--opt=value`` / ``VAR=value``, or a
redirection target) names a place outside the worktree; ``/dev/null`` and friends are allowed,
and so are programs in the system and PATH folders (``/usr/bin/env``) as the command itself.
Relative words are checked from the worktree root, as ``cd`` is not followed: ``cd sub && cat
../a.txt`` is refused although it would stay inside (the message tells the model how to redo it).

This guard catches an agent's *mistakes*; it is not a security boundary. It does not expand
variables, globs or command substitutions and cannot see paths built inside a script
(``python -c "open('/etc/passwd')"``): a determined process escapes it easily. Run untrusted
models in a container or VM.
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BASH = "bash"
EDITOR = "str_replace_based_edit_tool"
DEFAULT_TIMEOUT = 120.0
DEFAULT_OUTPUT_LIMIT = 30_000

TOOL_DEFINITIONS: list[dict[str, Any]] = [
    {"type": "bash_20250124", "name": BASH},
    {"type": "text_editor_20250728", "name": EDITOR, "max_characters": DEFAULT_OUTPUT_LIMIT},
]

EDIT_COMMANDS = ("view", "create", "str_replace", "insert")
ALLOWED_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin"})
SYSTEM_BIN_DIRS = ("/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin")
MAX_FILE_BYTES = 10_000_000
READ_GRACE_SECONDS = 2.0
"""How long to wait for the output pipe to close once the command's process group is gone."""

_VIEW_HINT = "to see them, view a narrower view_range or find the lines with `grep -n PATTERN FILE`"
_BASH_HINT = "to see them, narrow the command or pipe it through head, tail or grep"
_DIR_HINT = "to see them, view a subfolder"


@dataclass(frozen=True)
class ToolOutcome:
    """What goes back to the model as a ``tool_result`` block."""

    content: str
    is_error: bool = False


class ToolError(Exception):
    """A tool problem to report to the model; :meth:`Workspace.run` turns it into a result."""


# -- output ---------------------------------------------------------------------------------------


def _clip_parts(head: str, tail: str, total: int, limit: int, hint: str) -> str:
    """The text whose first ``limit`` chars are ``head`` and last ``limit`` are ``tail``, cut
    to ``limit`` characters in the middle if it is longer (``total`` characters)."""
    if total <= limit:
        return head
    front = limit // 2
    back = limit - front
    cut = total - front - back
    return f"{head[:front]}\n\n[... {cut:,} characters cut from the middle; {hint} ...]\n\n{tail[-back:]}"


def clip(text: str, limit: int, hint: str = _BASH_HINT) -> str:
    """``text``, or its head and tail with a note in the middle if it is over ``limit``."""
    return _clip_parts(text[:limit], text[-limit:], len(text), limit, hint)


class _Capture:
    """Reads a byte stream to its end on a thread, keeping its first and last ``keep`` characters."""

    def __init__(self, stream: IO[bytes], keep: int) -> None:
        self.keep = keep
        self.head = ""
        self.tail = ""
        self.total = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, args=(stream.fileno(),), daemon=True)
        self._thread.start()

    def _pump(self, fd: int) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := os.read(fd, 65536):
            self._add(decoder.decode(chunk))
        self._add(decoder.decode(b"", final=True))

    def _add(self, text: str) -> None:
        with self._lock:
            self.total += len(text)
            if len(self.head) < self.keep:
                self.head += text[: self.keep - len(self.head)]
            self.tail = (self.tail + text)[-self.keep :]

    def join(self, timeout: float) -> bool:
        """Wait for the end of the stream; False if it is still open after ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def render(self, hint: str) -> str:
        with self._lock:
            return _clip_parts(self.head, self.tail, self.total, self.keep, hint)


# -- text files -----------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """The lines of ``text``, each with its ``\\n`` (the last one may lack it)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _numbered(lines: list[str], first: int) -> str:
    """``cat -n`` style: 6-wide line numbers, a tab, the line."""
    return "".join(f"{n:6}\t{line.removesuffix(chr(10))}\n" for n, line in enumerate(lines, first))


def _snippet(text: str, start: int, end: int, context: int = 3) -> str:
    """Lines ``start``..``end`` of ``text`` (1-based) and ``context`` lines around, numbered."""
    lines = _lines(text)
    first = max(1, start - context)
    last = min(len(lines), end + context)
    return _numbered(lines[first - 1 : last], first) or "(the file is now empty)\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(tool_input: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = tool_input.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ToolError(f"`{key}` must be a string" + ("" if value is not None else " and is required here"))
    return value


# -- the command guard ----------------------------------------------------------------------------

_OPERATOR_CHARS = frozenset("();<>|&")
_PREFIX_WORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "do",
        "while",
        "until",
        "!",
        "{",
        "}",
        "time",
        "exec",
        "command",
        "nohup",
        "env",
        "xargs",
        "sudo",
    }
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECTED = re.compile(r"^\d*(?:&>>|&>|>>|>&|>\||>|<<<|<<|<&|<>|<)(.+)$")


def _words(command: str) -> list[str]:
    """``command`` split like a shell would (operators apart); on a quoting error, on spaces."""
    text = command.replace("\\\n", " ").replace("\n", " ; ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return text.split()


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def check_command(command: str, root: str, command_dirs: Collection[str]) -> str | None:
    """Why ``command`` may not run in the worktree ``root`` (a real path), or None if it may."""
    if "\x00" in command:
        return "Refused: the command contains a NUL character."
    at_command = True
    after_cd = False
    for word in _words(command):
        if set(word) <= _OPERATOR_CHARS:
            at_command = not any(c in word for c in "<>")
            after_cd = False
            continue
        bad = _outside_word(word, at_command, root, command_dirs)
        if bad is not None:
            return _refusal(word, bad, root, after_cd)
        after_cd = at_command and word == "cd"
        at_command = (at_command and bool(_ASSIGNMENT.match(word))) or word in _PREFIX_WORDS
    return None


def _outside_word(word: str, at_command: bool, root: str, command_dirs: Collection[str]) -> str | None:
    """The part of ``word`` that names a place outside ``root``, if any."""
    candidates = [word]
    if "=" in word:
        candidates.append(word.split("=", 1)[1])
    if redirected := _REDIRECTED.match(word):
        candidates.append(redirected.group(1))
    for i, candidate in enumerate(candidates):
        if not candidate or candidate in ALLOWED_DEVICES:
            continue
        if candidate.startswith("~"):
            return candidate
        real = os.path.realpath(os.path.join(root, candidate))
        if _inside(real, root):
            continue
        if i == 0 and at_command and _is_program(candidate, real, command_dirs):
            continue
        return candidate
    return None


def _is_program(word: str, real: str, command_dirs: Collection[str]) -> bool:
    """``word`` names a program in one of ``command_dirs`` (directly, or through a symlink)."""
    shown = os.path.normpath(word)
    named = os.path.isabs(shown) and os.path.dirname(shown) in command_dirs
    return named or os.path.dirname(real) in command_dirs


def _refusal(word: str, part: str, root: str, after_cd: bool) -> str:
    what = f"`cd {word}` goes outside the worktree" if after_cd else f"`{part}` points outside the worktree"
    return (
        f"Refused before running: {what} ({root}). Every command starts in the worktree root; use "
        "relative paths inside it. Outside it only /dev/null, /dev/stdout, /dev/stderr and "
        "/dev/stdin are allowed, and programs such as /usr/bin/env as the command itself."
    )


def command_dirs_for(env: Mapping[str, str]) -> frozenset[str]:
    """Folders whose programs may be named by absolute path as the command: system ones, the
    interpreter's, and those on ``env``'s PATH."""
    dirs = {*SYSTEM_BIN_DIRS, os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))}
    dirs.update(os.path.normpath(d) for d in env.get("PATH", "").split(os.pathsep) if os.path.isabs(d))
    return frozenset(dirs - {"/"})


def _kill_group(pgid: int) -> bool:
    """SIGKILL the process group ``pgid``; True if any process was still in it."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# -- the workspace --------------------------------------------------------------------------------


class Workspace:
    """Runs the tools of :data:`TOOL_DEFINITIONS` inside the worktree ``root``.

    ``env`` is the environment of bash commands (default: this process's, read at each run),
    with ``HOME`` replaced by ``home``. ``timeout`` is in seconds per command; ``limit`` is the
    number of characters of output or file view a result may carry.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        home: Path | str,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise ValueError(f"the worktree {root} is not a folder")
        if limit < 100:
            raise ValueError(f"limit must be at least 100 characters, not {limit}")
        self.home = str(home)
        self.env = dict(env) if env is not None else None
        self.timeout = timeout
        self.limit = limit

    def run(self, name: str, tool_input: Mapping[str, Any]) -> ToolOutcome:
        """Carry out one ``tool_use``; every tool problem comes back with ``is_error=True``."""
        tools: dict[str, Callable[[Mapping[str, Any]], ToolOutcome]] = {BASH: self._bash, EDITOR: self._edit}
        tool = tools.get(name)
        if tool is None:
            return ToolOutcome(f"Unknown tool {name!r}; the tools are {BASH!r} and {EDITOR!r}.", True)
        if not isinstance(tool_input, Mapping):
            return ToolOutcome(f"The input of {name} must be a JSON object.", True)
        try:
            return tool(tool_input)
        except ToolError as e:
            return ToolOutcome(str(e), True)
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            return ToolOutcome(f"{name} failed: {e.strerror or e}{where}.", True)

    # -- bash -------------------------------------------------------------------------------------

    def _bash(self, tool_input: Mapping[str, Any]) -> ToolOutcome:
        restart = tool_input.get("restart")
        if restart not in (None, False, True):
            raise ToolError("`restart` must be true or false.")
        if restart:
            note = " The command sent with it was not run; send it again." if tool_input.get("command") else ""
            return ToolOutcome(
                "The shell was restarted. (Each command runs in a fresh shell whose working directory "
                f"is the worktree root, so no state carries over between commands anyway.){note}"
            )
        command = _string(tool_input, "command")
        if not command or not command.strip():
            raise ToolError("bash needs a non-empty `command` (or `restart: true`).")
        refusal = check_command(command, self.root, command_dirs_for(self._env()))
        if refusal is not None:
            raise ToolError(refusal)
        return self._execute(command)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ if self.env is None else self.env)
        env.update(HOME=self.home, PWD=self.root)
        return env

    def _execute(self, command: str) -> ToolOutcome:
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=self.root,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            bufsize=0,
        )
        assert proc.stdout is not None
        capture = _Capture(proc.stdout, self.limit)
        timed_out = False
        try:
            try:
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
        finally:
            strays = _kill_group(proc.pid)
            code = proc.wait()
            closed = capture.join(READ_GRACE_SECONDS)
            if closed:
                proc.stdout.close()
        output = capture.render(_BASH_HINT) or "(no output)"
        if not closed:
            output += "\n[stopped reading: a process that left the command's process group holds its output open]"
        if timed_out:
            return ToolOutcome(
                f"The command timed out after {self.timeout:g} s and was stopped: its whole process group "
                f"was killed. Make it faster (a narrower test selection, a smaller input) or bound it "
                f"with `timeout`. Output before the timeout:\n{output}",
                True,
            )
        if strays and code == 0:
            output = output.rstrip("\n") + "\n(background processes still running when the shell exited were stopped)"
        if code != 0:
            how = f"failed with exit code {code}" if code > 0 else f"was killed by signal {signal.Signals(-code).name}"
            return ToolOutcome(f"The command {how}. Output:\n{output}", True)
        return ToolOutcome(output)

    # -- the text editor --------------------------------------------------------------------------

    def _edit(self, tool_input: Mapping[str, Any]) -> ToolOutcome:
        command = tool_input.get("command")
        handlers: dict[str, Callable[[Path, str, Mapping[str, Any]], str]] = {
            "view": self._view,
            "create": self._create,
            "str_replace": self._str_replace,
            "insert": self._insert,
        }
        handler = handlers.get(command) if isinstance(command, str) else None
        if handler is None:
            extra = " (undo_edit does not exist in this version of the tool)" if command == "undo_edit" else ""
            raise ToolError(f"Unknown command {command!r}{extra}; the commands are {', '.join(EDIT_COMMANDS)}.")
        path, shown = self.resolve(_string(tool_input, "path") or "")
        return ToolOutcome(handler(path, shown, tool_input))

    def resolve(self, raw: str) -> tuple[Path, str]:
        """The real path of ``raw`` and how to show it (relative to the worktree); a
        :class:`ToolError` if it is empty or resolves outside the worktree."""
        if not raw.strip():
            raise ToolError("`path` is required: a file or folder relative to the worktree root.")
        if "\x00" in raw:
            raise ToolError("`path` contains a NUL character.")
        real = os.path.realpath(os.path.join(self.root, raw))
        if not _inside(real, self.root):
            plain = os.path.normpath(os.path.join(self.root, raw))
            via = f" (through a symlink it resolves to {real})" if _inside(plain, self.root) else ""
            raise ToolError(
                f"Refused: {raw} is outside the worktree{via}. Paths must stay inside the worktree "
                f"({self.root}); give them relative to its root."
            )
        return Path(real), os.path.relpath(real, self.root)

    def _read(self, path: Path, shown: str) -> str:
        """The text of the file at ``path``; a :class:`ToolError` if it is not a text file."""
        if not os.path.lexists(path):
            raise ToolError(f"{shown} does not exist. View its folder to see what is there, or `create` it.")
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"{shown} is a folder; this command needs a file (view lists a folder).")
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"{shown} is not a regular file.")
        if info.st_size > MAX_FILE_BYTES:
            raise ToolError(f"{shown} is {info.st_size:,} bytes, too large for the editor; use head, sed or grep.")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or "\x00" in text:
            raise ToolError(f"{shown} is not a text file (binary, or not UTF-8); inspect it with `file` or `xxd`.")
        return text

    def _write(self, path: Path, text: str) -> None:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    def _view(self, path: Path, shown: str, tool_input: Mapping[str, Any]) -> str:
        if path.is_dir():
            return clip(self._listing(path, shown), self.limit, _DIR_HINT)
        lines = _lines(self._read(path, shown))
        view_range = tool_input.get("view_range")
        if view_range is None:
            start, end = 1, len(lines)
            title = f"{shown} ({_count(len(lines), 'line')}):\n"
        else:
            start, end = _checked_range(view_range, len(lines), shown)
            title = f"{shown}, lines {start}-{end} of {len(lines)}:\n"
        body = _numbered(lines[start - 1 : end], start) or "(the file is empty)\n"
        return title + clip(body, self.limit, _VIEW_HINT)

    def _listing(self, path: Path, shown: str) -> str:
        entries: list[str] = []
        self._walk(str(path), 1, entries)
        title = f"Files and folders in {shown} up to 2 levels deep (hidden entries and .git skipped):\n"
        return title + ("\n".join(entries) if entries else "(empty folder)") + "\n"

    def _walk(self, folder: str, depth: int, out: list[str]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            out.append(f"{os.path.relpath(folder, self.root)}/ (cannot be listed: {e.strerror})")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = os.path.relpath(entry.path, self.root)
            if entry.is_symlink():
                out.append(f"{rel} -> {os.readlink(entry.path)}")
            elif entry.is_dir():
                out.append(rel + "/")
                if depth < 2:
                    self._walk(entry.path, depth + 1, out)
            else:
                out.append(rel)

    def _create(self, path: Path, shown: str, tool_input: Mapping[str, Any]) -> str:
        text = _string(tool_input, "file_text")
        assert text is not None
        if path.is_dir():
            raise ToolError(f"{shown} is a folder; `create` needs a file path.")
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write(path, text)
        verb = "Overwrote" if existed else "Created"
        return f"{verb} {shown} ({_count(len(_lines(text)), 'line')})."

    def _str_replace(self, path: Path, shown: str, tool_input: Mapping[str, Any]) -> str:
        old = _string(tool_input, "old_str")
        new = _string(tool_input, "new_str", required=False) or ""
        if not old:
            raise ToolError("`old_str` must not be empty: give the exact text to replace.")
        text = self._read(path, shown)
        count = text.count(old)
        if count == 0:
            raise ToolError(
                f"old_str was not found in {shown}. It must match exactly, whitespace and indentation "
                "included; view the file and copy the text."
            )
        if count > 1:
            at = _occurrence_lines(text, old)
            raise ToolError(
                f"old_str occurs {count} times in {shown} (at lines {', '.join(map(str, at))}); it must "
                "occur exactly once. Include more of the surrounding lines to make it unique."
            )
        index = text.index(old)
        updated = text[:index] + new + text[index + len(old) :]
        self._write(path, updated)
        start = text.count("\n", 0, index) + 1
        snippet = _snippet(updated, start, start + new.count("\n"))
        shown_lines = clip(snippet, self.limit, _VIEW_HINT)
        return f"Replaced 1 occurrence in {shown}. The lines around it now read:\n{shown_lines}"

    def _insert(self, path: Path, shown: str, tool_input: Mapping[str, Any]) -> str:
        at = tool_input.get("insert_line")
        # The model sends ``insert_text``; some documentation says ``new_str``: take either.
        key = "insert_text" if "insert_text" in tool_input or "new_str" not in tool_input else "new_str"
        new = _string(tool_input, key)
        assert new is not None
        lines = _lines(self._read(path, shown))
        if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at <= len(lines):
            raise ToolError(
                f"insert_line must be a line number from 0 (the top) to {len(lines)} (the end of {shown}); "
                f"got {at!r}. The text is inserted after that line."
            )
        if at == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        added = _lines(new if new.endswith("\n") or not new else new + "\n")
        updated = "".join(lines[:at] + added + lines[at:])
        self._write(path, updated)
        snippet = _snippet(updated, at + 1, at + len(added))
        return (
            f"Inserted {_count(len(added), 'line')} after line {at} of {shown}. The lines around them now read:\n"
            + clip(snippet, self.limit, _VIEW_HINT)
        )


def _checked_range(view_range: object, count: int, shown: str) -> tuple[int, int]:
    """``view_range`` as 1-based inclusive (start, end) in a file of ``count`` lines."""
    if not isinstance(view_range, list | tuple) or len(view_range) != 2 or not all(map(_is_int, view_range)):
        raise ToolError("view_range must be two integers [start, end]; end -1 means the end of the file.")
    start, end = view_range
    last = count if end == -1 else end
    if not (1 <= start <= count and start <= last <= count):
        raise ToolError(
            f"view_range {list(view_range)} is out of bounds: {shown} has {count} lines. start must be "
            f"from 1 to {count}, end from start to {count}, or -1 for the end of the file."
        )
    return start, last


def _occurrence_lines(text: str, needle: str) -> list[int]:
    """The 1-based line numbers where ``needle`` starts in ``text`` (overlaps not counted)."""
    lines: list[int] = []
    index = text.find(needle)
    while index != -1:
        lines.append(text.count("\n", 0, index) + 1)
        index = text.find(needle, index + len(needle))
    return lines
