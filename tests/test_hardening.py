"""Hardening: non-LLM checkpoints, usage errors, and confinement of reads to the checkpoint folder."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from provenance.checkpoint import open_checkpoint
from provenance.inspect import inspect_report
from test_formats_cli import assert_one_line_error, run_cli


def _cnn(path):
    rng = np.random.default_rng(0)
    save_file({"conv1.weight": rng.standard_normal((16, 3, 3, 3), dtype=np.float32),
               "conv1.bias": rng.standard_normal(16, dtype=np.float32),
               "bn1.weight": rng.standard_normal(16, dtype=np.float32),
               "bn1.bias": rng.standard_normal(16, dtype=np.float32),
               "conv2.weight": rng.standard_normal((32, 16, 3, 3), dtype=np.float32),
               "fc.weight": rng.standard_normal((10, 32), dtype=np.float32),
               "fc.bias": rng.standard_normal(10, dtype=np.float32)}, str(path))
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
