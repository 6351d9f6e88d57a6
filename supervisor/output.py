"""Printing data: JSON for programs, rich tables on a terminal, plain columns otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def print_json(data: Any) -> None:
    """``data`` as indented JSON with non-ASCII escaped; a value JSON has no type for is written as
    pydantic writes it (ISO 8601 for a datetime), or else as its ``str()``.

    pydantic-core encodes ten times faster than :func:`json.dumps` with an indent (pure Python),
    which counts for ``mayor list --json`` on a large store. A number may be spelt differently
    (``0.00001`` for ``1e-05``) but reads back the same.
    """
    import pydantic_core

    try:
        text = pydantic_core.to_json(data, indent=2, ensure_ascii=True, fallback=str).decode()
    except ValueError:  # a lone surrogate, which only json.dumps escapes
        text = json.dumps(data, indent=2, default=str)
    sys.stdout.write(text + "\n")


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A rich table when stdout is a terminal; tab-separated lines (with a header) when not."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(*columns, title=title, header_style="bold")
        for row in rows:  # Text: a title such as "[/bold]" is shown as written, never read as markup
            table.add_row(*(Text("" if v is None else str(v)) for v in row))
        Console().print(table)
        return
    lines = ["\t".join(columns)]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def say(message: str) -> None:
    """A line for people, on stderr, so stdout stays data."""
    sys.stderr.write(message.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
