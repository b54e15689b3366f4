"""The checkpoint value types (``Checkpoint``, ``TensorRef``, ...), apart from the opener so that the format readers
and ``provenance.checkpoint`` both import them without importing each other. Public names stay importable from
``provenance.checkpoint``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Reads rows [start, stop) along dim 0 and returns them as float32 with shape (stop - start, *shape[1:]).
RowReader = Callable[[int, int], np.ndarray]

DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class TensorRef:
    """A tensor in a checkpoint, not yet read.

    ``shape`` is in numpy/PyTorch order (GGUF's reversed ggml order is already undone). ``dtype`` is the storage
    type (``F32``, ``BF16``, ``Q4_K`` …). ``reader`` fetches rows as float32; formats build it.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    file: Path
    reader: RowReader = field(repr=False)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    def read(self) -> np.ndarray:
        """The whole tensor as a float32 array of ``shape``."""
        out = self.reader(0, self.rows)
        return out.reshape(self.shape)

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` along the first dimension, as float32."""
        if not self.shape:
            raise ValueError(f"{self.name} is a scalar; it has no rows")
        start, stop = max(0, start), min(self.rows, stop)
        return self.reader(start, stop).reshape((stop - start,) + tuple(self.shape[1:]))

    def iter_rows(self, max_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_row, block)`` pairs covering the tensor, each block at most about ``max_bytes`` of float32."""
        if not self.shape:
            yield 0, self.read().reshape(1)
            return
        row_bytes = 4 * max(1, self.numel // max(1, self.rows))
        step = max(1, max_bytes // row_bytes)
        for start in range(0, self.rows, step):
            yield start, self.read_rows(start, start + step)


@dataclass
class ModelCard:
    """A Hugging Face model card: YAML front matter (as a dict) and the Markdown body."""

    path: Path | None = None
    front_matter: dict[str, Any] = field(default_factory=dict)
    body: str = ""


@dataclass
class AdapterInfo:
    """A PEFT adapter's declaration: which base it modifies and how."""

    base_model: str | None
    rank: int | None
    alpha: float | None
    peft_type: str | None
    target_modules: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """A checkpoint as found on disk: format, files, metadata and lazily read tensors."""

    path: Path
    format: str
    files: list[Path]
    tensors: dict[str, TensorRef]
    # Everything that came with the weights, by source: "config", "generation_config", "params",
    # "safetensors", "gguf", "adapter_config", "llama2c", "index" … Only sources that exist are present.
    metadata: dict[str, Any] = field(default_factory=dict)
    card: ModelCard | None = None
    # Companion legal files found beside the weights: {"license": [...], "notice": [...], "use_policy": [...]}.
    companions: dict[str, list[Path]] = field(default_factory=dict)
    adapter: AdapterInfo | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def num_parameters(self) -> int:
        return sum(t.numel for t in self.tensors.values())

    def dtype_counts(self) -> dict[str, int]:
        """Number of parameters stored in each dtype."""
        counts: Counter[str] = Counter()
        for t in self.tensors.values():
            counts[t.dtype] += t.numel
        return dict(sorted(counts.items()))

    def __getitem__(self, name: str) -> TensorRef:
        return self.tensors[name]
