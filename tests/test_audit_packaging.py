"""CI packaging: the pre-commit hook definition and the composite GitHub Action's audit step, run for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import licenses as kb

ROOT = Path(__file__).resolve().parents[1]


def test_pre_commit_hook():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "provenance-audit")
    assert hook["entry"] == "provenance audit" and hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    for name in ("README.md", "NOTICE", "LICENSE", "models/x/USE_POLICY.md", "provenance.toml", "model.gguf"):
        assert pattern.search(name), name
    assert not pattern.search("train.py")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_action_writes_summary_and_sarif_and_fails_the_step(tmp_path):
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "audit")
    rel = tmp_path / "release"
    rel.mkdir()
    (rel / "README.md").write_text("---\nlicense: llama2\nmodel_name: tiny\n---\n# tiny\n")
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    env = dict(
        os.environ,
        INPUT_PATH=str(rel),
        INPUT_BASE="",
        INPUT_BASE_LICENSE="llama2\n",
        INPUT_FAIL_ON="",
        INPUT_COMPARE="off",
        INPUT_SARIF=str(tmp_path / "out.sarif"),
        INPUT_CONFIG="",
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(outputs),
    )
    # `provenance` on PATH may be another install: run this checkout's CLI under that name.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "provenance"
    shim.write_text(f'#!/usr/bin/env bash\nexec "{os.sys.executable}" -m provenance "$@"\n')
    shim.chmod(0o755)
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert summary.read_text().startswith("# Provenance audit: tiny")
    assert kb.BY_ID["llama2"].notice in summary.read_text()
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"notice-missing", "license-text-missing"}
    assert "exit-code=1" in outputs.read_text()


def test_readme_lists_every_finding_id_and_flag():
    from provenance.audit import RULES

    doc = (ROOT / "README.md").read_text()
    for rid, rule in RULES.items():
        assert f"| `{rid}` | {rule.severity} |" in doc, rid
    for flag in (
        "--base",
        "--base-license",
        "--fail-on",
        "--format",
        "--output",
        "--report",
        "--write",
        "--force",
        "--config",
        "--compare",
    ):
        assert f"`{flag}" in doc, flag
