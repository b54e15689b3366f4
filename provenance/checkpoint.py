"""The one interface every checkpoint format is read through.

``open_checkpoint(path)`` detects the format from the files' content and returns a :class:`Checkpoint`: the list
of files, the metadata that came with them, and a lazy ``name → TensorRef`` map. Nothing is read until a tensor
is asked for, and a read returns that one tensor (or a block of its rows) as float32, so memory stays bounded by
the largest tensor rather than the model.

Untrusted input: for any byte sequence, ``open_checkpoint`` and the reads of the tensors it returns either succeed
or raise :class:`InputError` (one line: the file and the problem). Every length, count, offset and shape is checked
against the file and fixed caps before anything is allocated (limits: ``docs/formats.md``).
"""

from __future__ import annotations

from pathlib import Path

from provenance.checkpoint_types import (
    DEFAULT_CHUNK_BYTES,
    AdapterInfo,
    Checkpoint,
    ModelCard,
    RowReader,
    TensorRef,
)
from provenance.errors import InputError
from provenance.formats import open_path

__all__ = [
    "AdapterInfo",
    "RowReader",
    "Checkpoint",
    "DEFAULT_CHUNK_BYTES",
    "ModelCard",
    "TensorRef",
    "open_checkpoint",
]


def open_checkpoint(path: str | Path) -> Checkpoint:
    """Open a checkpoint file or directory, detecting its format from content.

    Raises :class:`InputError` (naming the file and the problem) for anything unreadable, and nothing else for any
    byte sequence: a corrupt, truncated, oversized or hostile file is always an InputError.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file or directory")
    try:
        return open_path(p)
    except PermissionError as exc:
        raise InputError(exc.filename or p, "permission denied") from exc
    except IsADirectoryError as exc:
        raise InputError(exc.filename or p, "expected a file, found a directory") from exc
