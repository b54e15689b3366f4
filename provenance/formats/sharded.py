"""Sharded checkpoints: an index file (``weight_map``: tensor name → shard file) and the shards it names.

Used by safetensors (``model.safetensors.index.json``) and torch (``pytorch_model.bin.index.json``), the layout
transformers' ``save_pretrained`` writes. Index and shards must agree exactly: every shard exists, every tensor is
in the shard the index names and in no other, and every indexed tensor is found. Shards are confined to the index's
folder: an entry that leads out of it (``../``, an absolute path, a symlink resolving elsewhere) is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.checkpoint_types import TensorRef
from provenance.errors import InputError

ShardOpener = Callable[[Path], "tuple[dict[str, TensorRef], dict[str, Any]]"]


@dataclass
class Shards:
    index: dict[str, Any]  # the whole index JSON
    tensors: dict[str, TensorRef] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # the index first, then the shards in name order
    shard_meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # shard name → its own metadata


def confined(index: Path, shard: str) -> Path:
    """The shard's path, refused when it leaves the checkpoint folder: an absolute path, a ``..`` component, or a
    symlink (of the shard or of a folder on the way) that resolves outside. Symlinks that stay inside are fine."""
    folder = index.parent
    rel = Path(shard)
    if not shard or rel.is_absolute() or ".." in rel.parts or "\0" in shard:
        raise InputError(index, f"index names shard {shard!r}, which is outside the checkpoint folder")
    try:
        target = (folder / rel).resolve()
        inside = target.is_relative_to(folder.resolve()) or _in_hub_cache_blobs(folder, target)
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise InputError(index, f"index names shard {shard!r}, which cannot be resolved ({exc})") from exc
    if not inside:
        raise InputError(
            index, f"index names shard {shard!r}, which resolves outside the checkpoint folder (a symlink out of it)"
        )
    return folder / rel


def _in_hub_cache_blobs(folder: Path, target: Path) -> bool:
    """The Hugging Face hub cache keeps a snapshot's files as symlinks ``snapshots/<rev>/f -> ../../blobs/<hash>``;
    a target in the same repository's ``blobs`` folder belongs to the checkpoint."""
    snapshots = folder.absolute().parent
    return snapshots.name == "snapshots" and target.is_relative_to((snapshots.parent / "blobs").resolve())


def read_shards(index: Path, open_shard: ShardOpener) -> Shards:
    """Open every shard an index names with ``open_shard(path) -> (tensors, metadata)`` and check they agree."""
    from provenance.companions import read_json

    idx = read_json(index)
    weight_map = idx.get("weight_map") if isinstance(idx, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise InputError(index, "index has no weight_map")
    bad = next((v for v in weight_map.values() if not isinstance(v, str)), None)
    if bad is not None:
        raise InputError(index, f"index weight_map names a shard {str(bad)[:60]!r} that is not a file name")
    out = Shards(index=idx, files=[index])
    for shard in sorted(set(weight_map.values())):
        sp = confined(index, shard)
        if not sp.is_file():
            raise InputError(index, f"index points at shard {shard!r}, which is missing")
        refs, meta = open_shard(sp)
        out.files.append(sp)
        if meta:
            out.shard_meta[shard] = meta
        for name, ref in refs.items():
            if name in out.tensors:
                raise InputError(sp, f"tensor {name!r} appears in more than one shard")
            if weight_map.get(name) != shard:
                where = weight_map.get(name)
                raise InputError(
                    sp,
                    f"tensor {name!r} is in this shard but the index "
                    + (f"puts it in {where!r}" if where else "does not list it"),
                )
            out.tensors[name] = ref
    missing = sorted(set(weight_map) - set(out.tensors))
    if missing:
        raise InputError(index, f"index lists {len(missing)} tensor(s) not found in their shards, e.g. {missing[0]!r}")
    return out
