"""Meta's original release layout: ``consolidated.NN.pth`` (one file per model-parallel rank) + ``params.json``.

Each rank holds a slice of every parallel tensor (Meta ``llama/model.py``: ``ColumnParallelLinear`` splits the output
dimension, ``RowParallelLinear`` the input dimension, ``ParallelEmbedding`` / ``VocabParallelEmbedding`` the embedding
dimension in Llama 1/2 and the vocabulary in Llama 3). The reader merges the ranks lazily, per tensor:

- dim 0: ``wq``, ``wk``, ``wv``, ``w1``, ``w3``, ``output`` (column parallel);
- dim 1: ``wo``, ``w2`` (row parallel);
- ``tok_embeddings``: dim 1 or dim 0, whichever makes the merged shape agree with params.json (``dim``, and
  ``vocab_size`` when it is given); see the same rule in transformers ``convert_llama_weights_to_hf.py``;
- norms and ``rope.freqs``: replicated; rank 0 is used after checking that every rank holds the same values.

Nothing is concatenated at open time. A read asks each rank for its part of the requested rows only, so memory
stays bounded by the output, and the rank files are memory-mapped (``torch.load(mmap=True)``). Names stay Meta
names; normalization maps them to Hugging Face names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from provenance.checkpoint_types import Checkpoint, TensorRef
from provenance.dtypes import from_torch_dtype
from provenance.errors import InputError, require_torch
from provenance.formats.torch_format import find_state_dict, load_pickle, tensor_reader

SHARD_NAME = re.compile(r"^consolidated\.(\d+)\.pth$")
DIM0 = ("wq", "wk", "wv", "w1", "w3", "output")
DIM1 = ("wo", "w2")


def _role(name: str) -> str:
    parts = name.split(".")
    return parts[-2] if parts[-1] in ("weight", "bias") and len(parts) > 1 else parts[-1]


def _embedding_dim(name: str, shapes: list[tuple[int, ...]], params: dict[str, Any], path: Path) -> int:
    """Which dimension the ranks split the embedding along, judged by params.json."""
    dim = params.get("dim")
    vocab = params.get("vocab_size")
    vocab = vocab if isinstance(vocab, int) and vocab > 0 else None
    along1 = sum(s[1] for s in shapes)
    along0 = sum(s[0] for s in shapes)
    if dim is not None:
        if along1 == dim and shapes[0][0] == (vocab or shapes[0][0]):
            return 1
        if shapes[0][1] == dim and along0 == (vocab or along0):
            return 0
        raise InputError(
            path, f"{name}: rank shapes {shapes} fit neither dim {dim} nor vocab_size {vocab} from params.json"
        )
    # No params.json: Llama 1/2 split the embedding dimension (vocab rows equal across ranks, as are these).
    return 1


def _merged_reader(parts: list, axis: int):
    """A RowReader over several rank tensors concatenated along ``axis`` (0 or 1), reading only what is asked."""
    readers = [tensor_reader(t) for t in parts]
    if axis == 1:

        def reader(r0: int, r1: int) -> np.ndarray:
            return np.concatenate([rd(r0, r1) for rd in readers], axis=1)

        return reader
    starts = np.cumsum([0] + [int(t.shape[0]) for t in parts])

    def reader0(r0: int, r1: int) -> np.ndarray:
        blocks = []
        for i, rd in enumerate(readers):
            a, b = max(r0, starts[i]), min(r1, starts[i + 1])
            if a < b:
                blocks.append(rd(a - starts[i], b - starts[i]))
        if not blocks:
            return np.zeros((0,) + tuple(parts[0].shape[1:]), np.float32)
        return np.concatenate(blocks, axis=0)

    return reader0


def shard_files(directory: Path) -> list[Path]:
    found = sorted((int(m.group(1)), p) for p in directory.iterdir() if p.is_file() and (m := SHARD_NAME.match(p.name)))
    ranks = [r for r, _ in found]
    if ranks and ranks != list(range(len(ranks))):
        raise InputError(
            directory, f"consolidated.*.pth ranks are {ranks}; expected 0..{len(ranks) - 1} with none missing"
        )
    if not found and (directory / "consolidated.pth").is_file():
        return [directory / "consolidated.pth"]  # an unnumbered single-file release
    return [p for _, p in found]


def open_path(path: Path) -> Checkpoint:
    """A directory of ``consolidated.NN.pth`` files (merged), or one consolidated file (read as is)."""
    from provenance.companions import check_companion, read_json

    directory = path if path.is_dir() else path.parent
    files = shard_files(directory) if path.is_dir() else [path]
    if not files:
        raise InputError(path, "no consolidated.NN.pth files in this directory")
    params_path = directory / "params.json"
    params = check_companion("params", params_path, read_json(params_path)) if params_path.is_file() else {}
    warnings: list[str] = []
    if not params:
        warnings.append("no params.json beside the consolidated files; architecture comes from shapes only")

    torch = require_torch("reading Meta consolidated.*.pth files")

    if path.is_file():
        siblings = shard_files(directory)
        if len(siblings) > 1 and path in siblings:
            warnings.append(
                f"{path.name} is one of {len(siblings)} model-parallel ranks; open the directory to merge them"
            )
    from provenance.formats.torch_format import check_tensor

    states = []
    for f in files:
        sd, _ = find_state_dict(load_pickle(f), f)
        states.append({str(k): v for k, v in sd.items() if isinstance(v, torch.Tensor)})
        for k, v in states[-1].items():
            check_tensor(k, v, f)
    names = list(states[0])
    for f, st in zip(files[1:], states[1:]):
        if set(st) != set(names):
            diff = sorted(set(st) ^ set(names))
            raise InputError(f, f"holds different tensors from {files[0].name}, e.g. {diff[0]!r}")

    tensors: dict[str, TensorRef] = {}
    for name in names:
        parts = [st[name] for st in states]
        shapes = [tuple(int(d) for d in t.shape) for t in parts]
        dtypes = {from_torch_dtype(t.dtype) for t in parts}
        if len(dtypes) != 1:
            raise InputError(files[1], f"{name}: dtype differs between ranks ({sorted(dtypes)})")
        dtype = dtypes.pop()
        if len(parts) == 1:
            tensors[name] = TensorRef(name, shapes[0], dtype, files[0], tensor_reader(parts[0]))
            continue
        role = _role(name)
        if len(shapes[0]) <= 1:
            axis = None  # replicated
        elif role in DIM0:
            axis = 0
        elif role in DIM1:
            axis = 1
        elif role == "tok_embeddings":
            axis = _embedding_dim(name, shapes, params, files[0])
        elif all(s == shapes[0] for s in shapes) and all(bool((p == parts[0]).all()) for p in parts[1:]):
            axis = None
        else:
            axis = 0
            warnings.append(f"{name}: unknown tensor differs between ranks; merged along dim 0 (a guess)")
        if axis is None:
            for f, p, s in zip(files[1:], parts[1:], shapes[1:]):
                if s != shapes[0] or not bool((p == parts[0]).all()):
                    raise InputError(f, f"{name} should be replicated on every rank but differs from {files[0].name}")
            tensors[name] = TensorRef(name, shapes[0], dtype, files[0], tensor_reader(parts[0]))
            continue
        other = [s[:axis] + s[axis + 1 :] for s in shapes]
        if any(o != other[0] for o in other):
            raise InputError(files[0], f"{name}: rank shapes {shapes} cannot be joined along dim {axis}")
        merged = list(shapes[0])
        merged[axis] = sum(s[axis] for s in shapes)
        tensors[name] = TensorRef(name, tuple(merged), dtype, files[0], _merged_reader(parts, axis))

    metadata: dict[str, Any] = {}
    if params:
        metadata["params"] = params
    out_files = files + ([params_path] if params_path.is_file() else [])
    ckpt = Checkpoint(path=path, format="meta", files=out_files, tensors=tensors, metadata=metadata, warnings=warnings)
    _check_params(ckpt, params, files[0])
    return ckpt


def _check_params(ckpt: Checkpoint, params: dict[str, Any], path: Path) -> None:
    """Warn when the merged shapes contradict params.json (a wrong merge or a mismatched params file)."""
    dim = params.get("dim")
    emb = ckpt.tensors.get("tok_embeddings.weight")
    if isinstance(dim, int) and emb is not None and len(emb.shape) == 2 and emb.shape[1] != dim:
        ckpt.warnings.append(f"tok_embeddings.weight is {list(emb.shape)} but params.json dim is {dim}")
    n_layers = params.get("n_layers")
    if isinstance(n_layers, int):
        layers = {int(m.group(1)) for n in ckpt.tensors if (m := re.match(r"layers\.(\d+)\.", n))}
        if layers and max(layers) + 1 != n_layers:
            ckpt.warnings.append(f"params.json n_layers is {n_layers} but the files hold {max(layers) + 1} layers")
