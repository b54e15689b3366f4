"""Progress with stages and ETA for long commands, drawn on stderr only when stderr is a terminal.

Library code reports with one call, ``progress(stage, done, total)``, and never needs to know whether anything is
shown: without an active display (a library user, a pipe, CI logs, tests) the call does nothing. The CLI opens
one :func:`display` around every command; the first report starts a rich progress view with one row per stage
(bar, done/total, rate, elapsed and remaining time), cleared when the command ends. Nothing ever goes to stdout,
which carries the report alone.

Stages with unknown length report ``total=0`` (an indeterminate bar). Functions that take a callback
``(stage, done, total)`` can be given :func:`progress` itself.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Callback = Callable[[str, int, int], None]

_lock = threading.Lock()
_sink: _Display | None = None  # module-level, not a ContextVar: worker threads report too


def progress(stage: str, done: int, total: int) -> None:
    """Report ``done`` of ``total`` units of ``stage`` (a no-op unless a display is active)."""
    sink = _sink
    if sink is not None:
        sink.update(stage, done, total)


def counter(stage: str, total: int) -> Callable[..., None]:
    """A callback that advances ``stage`` by one per call, whatever its arguments (e.g. one per tensor written)."""
    state = {"n": 0}
    progress(stage, 0, total)

    def tick(*_: Any) -> None:
        state["n"] += 1
        progress(stage, state["n"], total)

    return tick


class _Display:
    """A rich Progress on stderr, started on the first report."""

    def __init__(self) -> None:
        self._bars = None
        self._tasks: dict[str, int] = {}
        self._file = sys.stderr  # the terminal as it is now, even if a caller later redirects sys.stderr

    def _start(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=self._file, highlight=False),
            transient=True,
            # stdout carries the report: never let the live display capture or move it
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._bars.start()
        return self._bars

    def update(self, stage: str, done: int, total: int) -> None:
        with _lock:
            bars = self._bars or self._start()
            if stage not in self._tasks:
                for other in self._tasks.values():  # a new stage: earlier ones are finished
                    t = bars.tasks[other]
                    if t.total:
                        bars.update(other, completed=t.total)
                self._tasks[stage] = bars.add_task(stage, total=total or None, rate="")
            task_id = self._tasks[stage]
            task = bars.tasks[task_id]
            speed = task.speed
            rate = f"{_compact(speed)}/s" if speed and total else ""
            bars.update(task_id, completed=done, total=total or None, rate=rate)

    def stop(self) -> None:
        if self._bars is not None:
            self._bars.stop()


@contextmanager
def display(enabled: bool | None = None) -> Iterator[Callback | None]:
    """Show progress for the duration of the block; ``enabled`` defaults to "stderr is a terminal".

    Yields the callback to pass to functions that take one (None when nothing is shown)."""
    global _sink
    if enabled is None:
        enabled = _stderr_is_tty()
    if not enabled or _sink is not None:
        yield progress if _sink is not None else None
        return
    sink = _Display()
    _sink = sink
    try:
        yield progress
    finally:
        _sink = None
        sink.stop()


@contextmanager
def suppressed() -> Iterator[None]:
    """No progress inside the block (e.g. commands the demo runs in-process, whose output it captures)."""
    global _sink
    saved, _sink = _sink, None
    try:
        yield
    finally:
        _sink = saved


def _compact(x: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if x >= size:
            return f"{x / size:.1f}{unit}"
    return f"{x:.1f}"


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
