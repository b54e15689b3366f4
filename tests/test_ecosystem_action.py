"""The composite GitHub Action, run for real in bash: text report in the log, annotations, Markdown summary,
files only under $RUNNER_TEMP, and PyTorch installed only when pickled weights will be compared."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _step(step_id_or_name: str) -> dict:
    return next(s for s in ACTION["runs"]["steps"] if step_id_or_name in (s.get("id"), s.get("name")))


def _env(tmp_path: Path, **inputs: str) -> dict:
    defaults = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    defaults.update({k.replace("_", "-"): v for k, v in inputs.items()})
    env = dict(os.environ)
    for name, value in defaults.items():
        env["INPUT_" + name.upper().replace("-", "_")] = value
    env["INPUT_SARIF"] = defaults["sarif-file"]
    env.update(
        RUNNER_TEMP=str(tmp_path / "runner-temp"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_OUTPUT=str(tmp_path / "outputs.txt"),
    )
    (tmp_path / "runner-temp").mkdir(exist_ok=True)
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "provenance"
    shim.write_text(f'#!/usr/bin/env bash\nexec "{sys.executable}" -m provenance "$@"\n')
    shim.chmod(0o755)
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_action_log_annotations_summary_and_temp_files(tmp_path):
    work = tmp_path / "workspace"
    rel = work / "release"
    rel.mkdir(parents=True)
    (rel / "README.md").write_text("---\nlicense: llama2\nmodel_name: tiny\n---\n# tiny\n")
    env = _env(tmp_path, path="release", base_license="llama2", compare="off")
    before = sorted(p.name for p in work.rglob("*"))
    proc = subprocess.run(
        ["bash", "-e", "-c", _step("audit")["run"]], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr
    log = proc.stdout
    assert "FAIL:" in log and "notice-missing [NOTICE]" in log  # the text report, in the job log
    notes = [ln for ln in log.splitlines() if ln.startswith("::")]
    assert any(ln.startswith("::error file=release/README.md") and "title=notice-missing%3A" in ln for ln in notes)
    assert sorted(p.name for p in work.rglob("*")) == before  # nothing written into the workspace
    outputs = dict(ln.split("=", 1) for ln in (tmp_path / "outputs.txt").read_text().splitlines())
    assert outputs["exit-code"] == "1"
    sarif = Path(outputs["sarif-file"])
    assert sarif.parent.parent == tmp_path / "runner-temp" and json.loads(sarif.read_text())["version"] == "2.1.0"
    assert (tmp_path / "summary.md").read_text().startswith("# Provenance audit: tiny")


@pytest.mark.parametrize(
    "files, compare, torch_input, wants_torch",
    [
        ([], "deep", "auto", False),
        (["model.safetensors"], "deep", "auto", False),
        (["pytorch_model.bin"], "deep", "auto", True),
        (["pytorch_model.bin"], "off", "auto", False),
        (["pytorch_model.bin"], "deep", "false", False),
        ([], "deep", "true", True),
    ],
)
def test_install_step_takes_torch_only_when_needed(tmp_path, files, compare, torch_input, wants_torch):
    rel = tmp_path / "release"
    rel.mkdir()
    for name in files:
        (rel / name).write_bytes(b"x")
    env = _env(tmp_path, path=str(rel), compare=compare, torch=torch_input)
    log = tmp_path / "pip.log"
    fake = tmp_path / "bin" / "python"  # records pip calls instead of installing
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> "{log}"\n')
    fake.chmod(0o755)
    script = _step("Install llm-provenance")["run"].replace("${{ github.action_path }}", str(ROOT))
    proc = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert any(c.endswith(f"{ROOT}[torch]") for c in calls) is wants_torch
    assert any("torch --index-url https://download.pytorch.org/whl/cpu" in c for c in calls) is wants_torch
    assert any(c.endswith(str(ROOT)) for c in calls) is not wants_torch
