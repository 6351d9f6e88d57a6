"""The throwaway project of ``mayor demo``: a small Python package, its tests, and its beads.

Everything runs on the standard library (``unittest``), so the demo needs nothing beyond mayor.
Each bead carries its plan for the offline demo model in ``source["demo"]``.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

PY = shlex.quote(sys.executable)
GATE = f"{PY} -m unittest discover -s tests -t . -q"

CHANGELOG = "# Changelog\n\n## Unreleased\n\n"

FILES: dict[str, str] = {
    "README.md": "# textkit\n\nSmall text helpers. This repository was made by `mayor demo`.\n",
    "CHANGELOG.md": CHANGELOG,
    "textkit/__init__.py": '"""textkit: small text helpers."""\n',
    "textkit/words.py": 'def count_words(text: str) -> int:\n    """How many words ``text`` holds."""\n    return len(text.split())\n',
    "tests/__init__.py": "",
    "tests/test_words.py": (
        "import unittest\n\nfrom textkit.words import count_words\n\n\n"
        "class CountWords(unittest.TestCase):\n    def test_counts(self):\n"
        "        self.assertEqual(count_words('a b  c'), 3)\n"
    ),
}


def _test(module: str, name: str, body: str) -> str:
    return f"import unittest\n\nfrom textkit.{module} import {name}\n\n\nclass Test(unittest.TestCase):\n{body}"


def _check(module: str) -> str:
    return f"{PY} -m unittest -q tests.test_{module}"


SLUG = '''import re


def slugify(text: str) -> str:
    """``Hello, World!`` -> ``hello-world``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
'''
TRUNCATE = '''def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "\\u2026"
'''
TITLE_BUGGY = '''def title_case(text: str) -> str:
    """Every word capitalised."""
    return text.capitalize()
'''
TITLE = '''def title_case(text: str) -> str:
    """Every word capitalised."""
    return " ".join(word[:1].upper() + word[1:].lower() for word in text.split(" "))
'''
WORDS_TOP = (
    FILES["textkit/words.py"]
    + '''

def top_words(text: str, n: int = 3) -> list[str]:
    """The ``n`` most frequent words, most frequent first (ties by first appearance)."""
    counts: dict[str, int] = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: -counts[w])[:n]
'''
)
MAIN = """import sys

from textkit.slug import slugify
from textkit.truncate import truncate


def main(argv: list[str]) -> int:
    command, text = argv[0], " ".join(argv[1:])
    if command == "slug":
        print(slugify(text))
    elif command == "truncate":
        print(truncate(text, 20))
    else:
        print("usage: python -m textkit slug|truncate TEXT", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


def _bead(
    key: str,
    title: str,
    priority: int,
    minutes: int,
    label: str,
    accept: tuple[str, str],
    files: dict[str, str],
    *,
    module: str | None = None,
    deps: tuple[str, ...] = (),
    first_try: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One demo bead in the mayor import format; ``source.demo`` is the offline model's plan for it."""
    plan: dict[str, Any] = {"files": files}
    if module:
        plan["check"] = _check(module)
    if first_try:
        plan["first_try"] = first_try
    bead: dict[str, Any] = {
        "key": key,
        "title": title,
        "priority": priority,
        "estimate_minutes": minutes,
        "labels": [label],
        "acceptance": [{"text": accept[0], "check": accept[1]}],
        "source": {"demo": plan},
    }
    if deps:
        bead["deps"] = list(deps)
    return bead


_CLI_TEST = (
    "import subprocess\nimport sys\nimport unittest\n\n\nclass Cli(unittest.TestCase):\n    def test_slug(self):\n"
    "        out = subprocess.run([sys.executable, '-m', 'textkit', 'slug', 'Hi There'], capture_output=True, text=True)\n"
    "        self.assertEqual(out.stdout.strip(), 'hi-there')\n"
)
_README_USE = (
    "\n## Use\n\n```\npython -m textkit slug 'Hello, World!'   # hello-world\n"
    "python -m textkit truncate 'a long sentence'\n```\n\n"
    "Functions: `slugify`, `truncate`, `title_case`, `top_words`, `count_words`.\n"
)
_VERSION_CHECK = f"{PY} -c 'import textkit; assert textkit.__version__ == \"0.1.0\"'"


_SLUG_TEST = "    def test_slug(self):\n        self.assertEqual(slugify('Hello, World!'), 'hello-world')\n"
_CUT_TEST = (
    "    def test_cut(self):\n        self.assertEqual(truncate('abcdef', 4), 'abc\\u2026')\n"
    "        self.assertEqual(truncate('ab', 4), 'ab')\n"
)
_TITLE_TEST = "    def test_words(self):\n        self.assertEqual(title_case('hello big world'), 'Hello Big World')\n"
_TOP_TEST = "    def test_rank(self):\n        self.assertEqual(top_words('b a b c b a', 2), ['b', 'a'])\n"


def beads() -> list[dict[str, Any]]:
    """The demo's beads in the mayor import format (``key`` names them for ``deps``)."""
    return _helper_beads() + _app_beads()


def _helper_beads() -> list[dict[str, Any]]:
    return [
        _bead(
            "slug",
            "Add slugify()",
            1,
            20,
            "text",
            ("slugify turns titles into URL slugs", _check("slug")),
            {
                "textkit/slug.py": SLUG,
                "tests/test_slug.py": _test("slug", "slugify", _SLUG_TEST),
                "CHANGELOG.md": CHANGELOG + "- slugify(): URL slugs from titles\n",
            },
            module="slug",
        ),
        _bead(
            "truncate",
            "Add truncate()",
            1,
            20,
            "text",
            ("truncate cuts long text with an ellipsis", _check("truncate")),
            {
                "textkit/truncate.py": TRUNCATE,
                "tests/test_truncate.py": _test("truncate", "truncate", _CUT_TEST),
                "CHANGELOG.md": CHANGELOG + "- truncate(): shorten text with an ellipsis\n",
            },
            module="truncate",
        ),
        _bead(
            "title",
            "Add title_case()",
            2,
            15,
            "text",
            ("title_case capitalises every word", _check("title")),
            {
                "textkit/title.py": TITLE,
                "tests/test_title.py": _test("title", "title_case", _TITLE_TEST),
            },
            module="title",
            first_try={"textkit/title.py": TITLE_BUGGY},
        ),
        _bead(
            "top",
            "Add top_words()",
            2,
            25,
            "words",
            ("top_words ranks words by frequency", _check("top")),
            {
                "textkit/words.py": WORDS_TOP,
                "tests/test_top.py": _test("words", "top_words", _TOP_TEST),
            },
            module="top",
        ),
    ]


def _app_beads() -> list[dict[str, Any]]:
    return [
        _bead(
            "version",
            "Expose textkit.__version__",
            3,
            5,
            "packaging",
            ("textkit.__version__ is 0.1.0", _VERSION_CHECK),
            {
                "textkit/__init__.py": '"""textkit: small text helpers."""\n\n__version__ = "0.1.0"\n',
            },
        ),
        _bead(
            "cli",
            "Add a command line: python -m textkit",
            2,
            20,
            "cli",
            ("python -m textkit slug prints a slug", _check("cli")),
            {
                "textkit/__main__.py": MAIN,
                "tests/test_cli.py": _CLI_TEST,
            },
            module="cli",
            deps=("slug", "truncate"),
        ),
        _bead(
            "docs",
            "Document the helpers in the README",
            3,
            10,
            "docs",
            ("the README shows the command line", "grep -q 'python -m textkit' README.md"),
            {
                "README.md": FILES["README.md"] + _README_USE,
            },
            deps=("cli", "title", "top"),
        ),
    ]
