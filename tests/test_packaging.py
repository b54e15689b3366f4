"""Packaging: the distribution name, torch as an extra, the TOML reader on 3.10, and a static check that the code
runs on the oldest Python the package declares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from provenance.configfiles import tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_distribution_name_and_command():
    project = PYPROJECT["project"]
    assert project["name"] == "llm-provenance"
    assert project["scripts"] == {"provenance": "provenance.cli.main:main"}


def test_torch_is_an_extra_not_a_dependency():
    project = PYPROJECT["project"]
    assert not [d for d in project["dependencies"] if re.match(r"torch\b", d)]
    assert project["optional-dependencies"]["torch"] == ["torch>=2.2,<3"]
    assert "llm-provenance[torch]" in project["optional-dependencies"]["test"]


def test_tomli_on_old_pythons():
    deps = PYPROJECT["project"]["dependencies"]
    assert any(d.startswith("tomli") and "python_version < '3.11'" in d for d in deps)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    commands = [ln for ln in lines if ln and not ln.startswith(("#", "set ", "cd ")) and not ln.endswith("# gates")]
    gates = [ln for ln in lines if ln.endswith("# gates")]
    assert len(gates) == 1 and "ruff check" in gates[0] and "mypy" in gates[0]
    assert lines.index(gates[0]) == len(lines) - 2  # after the install, before pytest
    assert f"```bash\n{' && '.join(commands)}\n```" in readme


def test_no_module_imports_torch_at_top_level():
    """Only reference_impl/ (the PyTorch model) and toy training code may import torch when loaded."""
    offenders = []
    for path in sorted((ROOT / "provenance").rglob("*.py")) + sorted((ROOT / "licenses").rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"(import torch\b|from torch\b)", line):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def vermin(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    pytest.importorskip("vermin")
    return subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_code_runs_on_the_declared_minimum_python():
    """vermin (static analysis of syntax and stdlib use) over every package, targeting requires-python."""
    minimum = re.fullmatch(r">=\s*(\d+\.\d+)", PYPROJECT["project"]["requires-python"]).group(1)
    proc = vermin(
        f"-t={minimum}-",
        "--no-tips",
        "--violations",
        "--eval-annotations",
        "--no-parse-comments",
        "provenance",
        "fingerprints",
        "licenses",
        "reference_impl",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Target versions not met" not in proc.stdout


def test_vermin_catches_a_311_only_import(tmp_path):
    """The check above can fail: an unconditional `import tomllib` is reported against 3.10."""
    (tmp_path / "mod.py").write_text("import tomllib\n")
    proc = vermin("-t=3.10-", "--no-tips", "--violations", str(tmp_path))
    assert proc.returncode != 0 and "tomllib" in proc.stdout
