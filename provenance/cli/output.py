"""Shared output helpers: stdout carries the report only; everything else goes to stderr."""

from __future__ import annotations

import enum
import sys

from provenance.reports.jsonout import dumps as dumps  # re-exported: commands import it from here

SCHEMA_VERSION = 1


class TextOrJson(str, enum.Enum):
    text = "text"
    json = "json"


def write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# Width given to rich when stdout is a pipe or file: lines are never hard-wrapped there (rich's default is 80).
UNWRAPPED_WIDTH = 10_000


def stdout_console():
    """The report console: wraps to the terminal on a TTY, never wraps when piped (grep and diff see whole lines)."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False, soft_wrap=False)
    return Console(highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def human_count(n: int) -> str:
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
