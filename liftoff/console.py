"""One way for every command to make its rich Console: as wide as the terminal (or $COLUMNS), so tables fit
an 80-column window instead of wrapping; piped output (CI logs, files) gets a fixed readable width."""

from __future__ import annotations

import os
import shutil
import sys

from rich.console import Console

PIPED_WIDTH = 120  # a CI log or a file has no terminal to measure


def terminal_width(stream=None) -> int:
    """$COLUMNS when set (as `COLUMNS=80 liftoff ...`), else the terminal's width, else PIPED_WIDTH."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    if hasattr(stream, "isatty") and stream.isatty():
        return shutil.get_terminal_size((PIPED_WIDTH, 24)).columns
    return PIPED_WIDTH


def make_console(*, stderr: bool = False, **kwargs) -> Console:
    """A Console on stdout (or stderr) of terminal_width() columns."""
    return Console(width=terminal_width(sys.stderr if stderr else sys.stdout), stderr=stderr, **kwargs)


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 request`, `3 requests` (`words` for an irregular plural)."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def shorten(text: str, width: int) -> str:
    """`text` on one line, at most `width` characters, cut at a word boundary with an ellipsis (never mid-word)."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"
