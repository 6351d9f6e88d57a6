"""Printing data: JSON for programs, rich tables on a terminal, plain columns otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A rich table when stdout is a terminal; tab-separated lines (with a header) when not."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, title=title, header_style="bold")
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)
        return
    lines = ["\t".join(columns)]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def say(message: str) -> None:
    """A line for people, on stderr, so stdout stays data."""
    sys.stderr.write(message + "\n")
