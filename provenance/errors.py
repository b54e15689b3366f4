"""Errors the tool reports to users.

Every problem with the input (a truncated file, a corrupt header, a refused pickle, a missing shard) is raised
as :class:`InputError`, which carries the file it concerns. The CLI prints it as one line on stderr and exits 2.
"""

from __future__ import annotations

from pathlib import Path


class ProvenanceError(Exception):
    """Base class for errors the tool expects and explains."""

    exit_code = 2


class InputError(ProvenanceError):
    """The input cannot be read or is not what it claims to be."""

    def __init__(self, file: str | Path | None, problem: str):
        self.file = str(file) if file is not None else None
        self.problem = problem
        super().__init__(f"{self.file}: {problem}" if self.file else problem)


class UsageError(ProvenanceError):
    """The command was asked for something it cannot do with these arguments."""
