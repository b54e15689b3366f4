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


TORCH_EXTRA = "pip install 'llm-provenance[torch]'"


def torch_available() -> bool:
    """Whether PyTorch can be imported (it is an optional extra)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def require_torch(what: str):
    """Import and return ``torch``, or stop with one line (exit 2) naming the extra that provides it.

    PyTorch is optional so that audits, safetensors/GGUF/llama2.c reading and lineage install in seconds; only
    pickled weights, Meta ``consolidated.*.pth`` files and ``verify`` need it.
    """
    try:
        import torch
    except ImportError as exc:
        raise UsageError(f"{what} needs PyTorch, which is not installed: {TORCH_EXTRA}") from exc
    return torch
