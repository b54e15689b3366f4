"""`provenance inspect` on every format, and bad input through the real CLI: one line naming the file and the
problem on stderr, exit code 2, no traceback (unless --debug), nothing executed."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file
from test_formats_gguf import _source as gguf_source
from test_formats_gguf import write_gguf, write_with_unknown_type
from test_formats_llama2c import _weights as llama2c_weights
from test_formats_llama2c import write_v0
from test_formats_meta import _meta_state_dict, _write_ranks

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    env.pop("PROVENANCE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "provenance", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert proc.stdout == ""
    return lines[0]


def _tiny_state_dict():
    g = torch.Generator().manual_seed(0)
    return {
        "model.embed_tokens.weight": torch.randn(16, 8, generator=g),
        "model.layers.0.self_attn.q_proj.weight": torch.randn(8, 8, generator=g),
        "model.norm.weight": torch.ones(8),
    }


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """One small checkpoint of every format: name -> (path, expected format, expected tensor count)."""
    root = tmp_path_factory.mktemp("samples")
    out = {}
    sd = _tiny_state_dict()
    (root / "st").mkdir()
    save_file({k: v.numpy() for k, v in sd.items()}, str(root / "st" / "model.safetensors"), metadata={"format": "pt"})
    out["safetensors"] = (root / "st", 3)
    (root / "bin").mkdir()
    torch.save(sd, root / "bin" / "pytorch_model.bin")
    (root / "bin" / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    )
    out["torch"] = (root / "bin", 3)
    (root / "meta").mkdir()
    meta_sd = _meta_state_dict()
    _write_ranks(root / "meta", meta_sd, 2)
    out["meta"] = (root / "meta", len(meta_sd))
    (root / "gguf").mkdir()
    write_gguf(root / "gguf" / "m.gguf", gguf_source())
    out["gguf"] = (root / "gguf" / "m.gguf", 7)
    (root / "peft").mkdir()
    save_file(
        {
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.ones((2, 8), np.float32),
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": np.zeros((8, 2), np.float32),
        },
        str(root / "peft" / "adapter_model.safetensors"),
    )
    (root / "peft" / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "r": 2,
                "lora_alpha": 4,
                "base_model_name_or_path": "org/base",
                "target_modules": ["q_proj"],
            }
        )
    )
    out["peft"] = (root / "peft", 2)
    (root / "l2c").mkdir()
    write_v0(root / "l2c" / "model.bin", llama2c_weights(), shared=True)
    out["llama2c"] = (root / "l2c" / "model.bin", 2 * 9 + 4)
    return out


@pytest.mark.parametrize("fmt", ["safetensors", "torch", "meta", "gguf", "peft", "llama2c"])
def test_inspect_every_format_text_and_json(samples, fmt, capsys):
    from provenance.cli.main import main

    path, n = samples[fmt]
    with pytest.raises(SystemExit) as ex:
        main(["inspect", str(path), "--format", "json"])
    assert ex.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == fmt and report["num_tensors"] == n and report["schema_version"] == 1
    assert report["num_parameters"] > 0 and report["tensors"][0]["shape"]
    json.dumps(report["metadata"], allow_nan=False)  # strictly serialisable
    if fmt == "gguf":
        assert report["declared_architecture"]["model_type"] == "llama"
        assert report["card"]["license"] == "apache-2.0"
    if fmt == "peft":
        assert report["adapter"]["base_model"] == "org/base"
    if fmt == "meta":
        assert report["metadata"]["params"]["dim"] == 32
    with pytest.raises(SystemExit) as ex:
        main(["inspect", str(path)])
    assert ex.value.code in (0, None)
    text = capsys.readouterr().out
    assert f"format: {fmt}" in text


def _truncate(path: Path, keep: float | int = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])


@pytest.mark.parametrize("fmt", ["safetensors", "torch", "meta", "gguf", "peft", "llama2c"])
def test_truncated_file_of_every_format(samples, fmt, tmp_path):
    import shutil

    src, _ = samples[fmt]
    dst = tmp_path / src.name
    (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    victim = {
        "safetensors": dst / "model.safetensors",
        "torch": dst / "pytorch_model.bin",
        "meta": dst / "consolidated.01.pth",
        "gguf": dst,
        "peft": dst / "adapter_model.safetensors",
        "llama2c": dst,
    }[fmt]
    _truncate(victim)
    line = assert_one_line_error(run_cli("inspect", dst), victim.name)
    assert "truncated" in line


def test_corrupt_safetensors_header(tmp_path):
    p = tmp_path / "model.safetensors"
    p.write_bytes((20).to_bytes(8, "little") + b'{"a": [not json]}   ' + b"\0" * 32)
    assert_one_line_error(run_cli("inspect", p), "model.safetensors", "corrupt safetensors header")


def test_safetensors_index_with_missing_shard(tmp_path):
    save_file({"a": np.zeros(2, np.float32)}, str(tmp_path / "model-00001-of-00002.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})
    )
    assert_one_line_error(
        run_cli("inspect", tmp_path), "model.safetensors.index.json", "model-00002-of-00002.safetensors", "missing"
    )


def test_torch_index_with_missing_shard(tmp_path):
    torch.save({"a": torch.zeros(2)}, tmp_path / "pytorch_model-00001-of-00002.bin")
    (tmp_path / "pytorch_model.bin.index.json").write_text(
        json.dumps({"weight_map": {"a": "pytorch_model-00001-of-00002.bin", "b": "pytorch_model-00002-of-00002.bin"}})
    )
    assert_one_line_error(
        run_cli("inspect", tmp_path), "pytorch_model.bin.index.json", "pytorch_model-00002-of-00002.bin", "missing"
    )


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "EXECUTED"
    torch.save({"w": torch.ones(2), "payload": _Payload(marker)}, tmp_path / "pytorch_model.bin")
    line = assert_one_line_error(run_cli("inspect", tmp_path), "pytorch_model.bin", "refused to unpickle")
    assert "nothing from the file was executed" in line
    with open(tmp_path / "raw.pt", "wb") as fh:  # a legacy raw pickle takes the non-mmap path
        pickle.dump({"payload": _Payload(marker)}, fh, protocol=2)
    assert_one_line_error(run_cli("inspect", tmp_path / "raw.pt"), "raw.pt", "refused to unpickle")
    assert not marker.exists()


def test_directory_with_no_weights(tmp_path):
    (tmp_path / "README.md").write_text("hello")
    (tmp_path / "config.json").write_text("{}")
    assert_one_line_error(run_cli("inspect", tmp_path), str(tmp_path), "no model weights found")


def test_missing_path(tmp_path):
    assert_one_line_error(run_cli("inspect", tmp_path / "nope"), "nope", "no such file")


def test_unknown_gguf_type(tmp_path):
    write_with_unknown_type(tmp_path / "m.gguf")
    assert_one_line_error(run_cli("inspect", tmp_path / "m.gguf"), "m.gguf", "unknown GGML tensor type id 99")


def test_unrecognised_file(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\x01" * 100)
    assert_one_line_error(run_cli("inspect", tmp_path / "weights.bin"), "weights.bin", "not a recognised")


def test_debug_shows_traceback(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"GGUF" + b"\0" * 10)
    proc = run_cli("--debug", "inspect", tmp_path / "m.gguf")
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "m.gguf" in proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_subprocess(tmp_path):
    p = tmp_path / "model.safetensors"
    save_file({"a": np.zeros(2, np.float32)}, str(p))
    p.chmod(0)
    try:
        assert_one_line_error(run_cli("inspect", p), "model.safetensors", "permission denied")
    finally:
        p.chmod(0o644)


def test_unreadable_file_in_process(tmp_path, monkeypatch, capsys):
    """Root ignores file modes, so simulate EACCES at open() for this one file and go through the real CLI entry."""
    import builtins

    from provenance.cli.main import main

    p = tmp_path / "model.safetensors"
    save_file({"a": np.zeros(2, np.float32)}, str(p))
    real_open = builtins.open

    def guarded(file, *a, **k):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", guarded)
    with pytest.raises(SystemExit) as ex:
        main(["inspect", str(p)])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.safetensors" in err and "permission denied" in err
