"""Shared output helpers: stdout carries the report only; everything else goes to stderr."""

from __future__ import annotations

import enum
import json
import sys
from typing import Any

SCHEMA_VERSION = 1


class TextOrJson(str, enum.Enum):
    text = "text"
    json = "json"


def dumps(data: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8 kept readable."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_default) + "\n"


def _default(obj: Any) -> Any:
    import dataclasses
    from pathlib import Path

    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


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
