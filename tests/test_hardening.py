"""Hardening: non-LLM checkpoints, usage errors, and confinement of reads to the checkpoint folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from test_formats_cli import assert_one_line_error, run_cli

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError
from provenance.inspect import inspect_report


def _cnn(path):
    rng = np.random.default_rng(0)
    save_file(
        {
            "conv1.weight": rng.standard_normal((16, 3, 3, 3), dtype=np.float32),
            "conv1.bias": rng.standard_normal(16, dtype=np.float32),
            "bn1.weight": rng.standard_normal(16, dtype=np.float32),
            "bn1.bias": rng.standard_normal(16, dtype=np.float32),
            "conv2.weight": rng.standard_normal((32, 16, 3, 3), dtype=np.float32),
            "fc.weight": rng.standard_normal((10, 32), dtype=np.float32),
            "fc.bias": rng.standard_normal(10, dtype=np.float32),
        },
        str(path),
    )
    return path


def test_inspect_of_a_cnn_is_family_unknown_with_every_tensor_unmatched(tmp_path):
    ck = open_checkpoint(_cnn(tmp_path / "cnn.safetensors"))
    rep = inspect_report(ck)
    assert rep["family"] == "unknown"
    assert rep["renames"] == []
    assert rep["unmatched"] == sorted(ck.tensors)  # fc.bias is not a final norm


@pytest.mark.parametrize("size", ["-5GB", "0", "0MB", "infGB"])
def test_normalize_refuses_a_non_positive_shard_size(tmp_path, size):
    src = _cnn(tmp_path / "cnn.safetensors")
    proc = run_cli("normalize", src, "-o", tmp_path / "out", f"--max-shard-size={size}")
    assert_one_line_error(proc, "--max-shard-size")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ shard paths stay inside the checkpoint folder
def _sharded_safetensors(directory):
    rng = np.random.default_rng(1)
    directory.mkdir(parents=True)
    save_file({"a.weight": rng.standard_normal((4, 4), dtype=np.float32)}, str(directory / "s1.safetensors"))
    save_file({"b.weight": rng.standard_normal((4, 4), dtype=np.float32)}, str(directory / "s2.safetensors"))
    return directory


def _sharded_torch(directory):
    import torch

    directory.mkdir(parents=True)
    torch.save({"a.weight": torch.randn(4, 4)}, directory / "s1.bin")
    torch.save({"b.weight": torch.randn(4, 4)}, directory / "s2.bin")
    return directory


FORMATS = {
    "safetensors": (_sharded_safetensors, "model.safetensors.index.json", ".safetensors"),
    "torch": (_sharded_torch, "pytorch_model.bin.index.json", ".bin"),
}


def _index(directory, index_name, second):
    import json

    ext = ".safetensors" if "safetensors" in index_name else ".bin"
    (directory / index_name).write_text(
        json.dumps({"metadata": {}, "weight_map": {"a.weight": f"s1{ext}", "b.weight": second}})
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink-out", "symlinked-dir-out"])
def test_index_entries_leading_out_of_the_folder_are_refused(tmp_path, fmt, how):
    write, index_name, ext = FORMATS[fmt]
    outside = write(tmp_path / "outside")  # a real checkpoint elsewhere: its tensors must not be reported
    ck = write(tmp_path / "ck")
    (ck / f"s2{ext}").unlink()
    second = {
        "dotdot": f"../outside/s2{ext}",
        "absolute": str(outside / f"s2{ext}"),
        "symlink-out": f"s2{ext}",
        "symlinked-dir-out": f"sub/s2{ext}",
    }[how]
    if how == "symlink-out":
        (ck / f"s2{ext}").symlink_to(outside / f"s2{ext}")
    if how == "symlinked-dir-out":
        (ck / "sub").symlink_to(outside, target_is_directory=True)
    _index(ck, index_name, second)
    with pytest.raises(InputError, match="outside the checkpoint folder"):
        open_checkpoint(ck)
    assert_one_line_error(run_cli("inspect", ck), index_name, "outside the checkpoint folder")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_symlinked_shard_inside_the_folder_is_fine(tmp_path, fmt):
    write, index_name, ext = FORMATS[fmt]
    ck = write(tmp_path / "ck")
    (ck / "store").mkdir()
    (ck / f"s2{ext}").rename(ck / "store" / f"s2{ext}")
    (ck / f"s2{ext}").symlink_to(ck / "store" / f"s2{ext}")
    _index(ck, index_name, f"s2{ext}")
    assert sorted(open_checkpoint(ck).tensors) == ["a.weight", "b.weight"]


def test_hub_cache_snapshot_symlinks_into_its_blobs_are_fine(tmp_path):
    """huggingface_hub's cache layout: snapshots/<rev>/<file> -> ../../blobs/<hash>."""
    repo = tmp_path / "models--x--y"
    src = _sharded_safetensors(tmp_path / "src")
    (repo / "blobs").mkdir(parents=True)
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    for i, name in enumerate(["s1.safetensors", "s2.safetensors"]):
        (src / name).rename(repo / "blobs" / f"hash{i}")
        (snap / name).symlink_to(Path("../../blobs") / f"hash{i}")
    _index(snap, "model.safetensors.index.json", "s2.safetensors")
    assert sorted(open_checkpoint(snap).tensors) == ["a.weight", "b.weight"]
