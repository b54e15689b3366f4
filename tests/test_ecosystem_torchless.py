"""PyTorch is optional: with every import of torch (and of the libraries built on it) refused, the core commands
work on safetensors and GGUF, the demo passes with its torch-only parts named, and the commands that do need torch
stop with one line naming the extra (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provenance.errors import TORCH_EXTRA
from provenance.examples import TinyLlamaConfig, llama_state_dict, write_gguf, write_hf_dir, write_torch_dir, yi_style

BLOCKER = '''
import sys

class _NoTorch:
    """Refuses torch and the libraries that need it, as if they were not installed."""
    BLOCKED = {"torch", "transformers", "peft", "accelerate", "torchvision"}

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoTorch())
'''

CARD = "---\nlicense: apache-2.0\nmodel_name: tiny-yi\n---\n# tiny-yi\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("torchless")
    cfg = TinyLlamaConfig()
    base = llama_state_dict(cfg, seed=0)
    write_hf_dir(root / "base", base, cfg.hf_config(), "---\nlicense: llama2\n---\n# tiny-base\n")
    write_hf_dir(root / "yi", yi_style(base), cfg.hf_config(), CARD)
    write_gguf(root / "base.gguf", base, cfg, qtype="Q8_0")
    write_torch_dir(root / "pickled", base, cfg.hf_config())
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(BLOCKER)
    return root


def run(models: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(models / "site"), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "provenance", *args], cwd=models, env=env, capture_output=True, text=True, timeout=600
    )


def test_blocker_really_blocks(models):
    proc = run(models, "-V")
    assert proc.returncode == 0
    env = dict(os.environ, PYTHONPATH=str(models / "site"))
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr


@pytest.mark.parametrize("target, fmt", [("base", "safetensors"), ("base.gguf", "gguf")])
def test_inspect_without_torch(models, target, fmt):
    proc = run(models, "inspect", target, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["format"] == fmt and rep["num_tensors"] == 39


def test_compare_and_fingerprint_without_torch(models):
    proc = run(models, "compare", "yi", "base.gguf", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "derived"
    proc = run(models, "fingerprint", "base.gguf", "-o", "base.fp")
    assert proc.returncode == 0, proc.stderr
    proc = run(models, "compare", "yi", "base.fp", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "derived"


def test_audit_without_torch(models):
    proc = run(models, "audit", "yi", "--base", "base", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    ids = {f["id"] for f in json.loads(proc.stdout)["findings"]}
    assert {"license-conflict", "undisclosed-base"} <= ids


@pytest.mark.parametrize("args", [("verify", "base"), ("inspect", "pickled")])
def test_torch_commands_name_the_extra(models, args):
    proc = run(models, *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("provenance: error: ") and TORCH_EXTRA in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_without_torch_names_what_it_skipped(models):
    proc = run(models, "demo", "demo-out")
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = proc.stdout
    assert "DEMO PASSED" in out.splitlines()[-1]
    skipped = next(ln for ln in out.splitlines() if ln.startswith("Skipped without PyTorch"))
    assert "verify" in skipped and "consolidated.00.pth" in skipped and TORCH_EXTRA in skipped
    assert "verdict: derived (renamed)" in out and "verdict: independent" in out
    assert not (models / "demo-out" / "base-meta").exists()
