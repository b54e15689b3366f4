"""CLI ergonomics: one-line usage errors, -V, completion, help text with brackets, no hard wrap when piped, and
``[tool.provenance]`` discovered upward to the repository root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from provenance import __version__
from provenance.configfiles import config_candidates, repository_root


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "provenance", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (("audit",), "Missing argument"),
        (("audit", ".", "--bogus"), "No such option: --bogus"),
        (("nosuchcommand",), "No such command 'nosuchcommand'"),
        (("compare", "a", "b", "--format", "xml"), "'xml'"),
        (("fingerprint", "x", "-o", "y", "--anchors", "3"), "--anchors"),
    ],
)
def test_usage_errors_are_one_line(args, needle):
    proc = cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("provenance: error: ") and needle in lines[0]
    assert "--help" in lines[0]
    assert not any(ch in proc.stderr for ch in "╭│╰"), proc.stderr
    assert proc.stdout == ""


def test_version_short_and_long():
    for flag in ("-V", "--version"):
        proc = cli(flag)
        assert proc.returncode == 0 and proc.stdout.startswith(f"provenance {__version__}")
        assert "llm-provenance" in proc.stdout


def test_completion_is_enabled():
    proc = cli("--help")
    assert "--install-completion" in proc.stdout and "--show-completion" in proc.stdout


def test_help_keeps_bracketed_text():
    proc = cli("audit", "--help")
    assert proc.returncode == 0
    assert "[tool.provenance]" in proc.stdout


def test_piped_text_is_not_hard_wrapped(tmp_path):
    from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir

    cfg = TinyLlamaConfig()
    deep = tmp_path / ("a-rather-long-directory-name-" * 4) / "model[v2]"
    write_hf_dir(deep, llama_state_dict(cfg, seed=0), cfg.hf_config())
    proc = cli("inspect", str(deep))
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith(str(deep)) and "format: safetensors" in first  # whole path, brackets kept, one line
    assert len(first) > 120


# --- config discovery --------------------------------------------------------------------------------------------

FAILING_CARD = "---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-2-7b-hf\n---\n# sub-model\n"


def _audit(release: Path, cwd: Path) -> dict:
    proc = cli("audit", str(release), "--base-license", "llama2", "--format", "json", cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_config_found_at_repository_root(tmp_path):
    repo = tmp_path / "repo"
    release = repo / "models" / "sub"
    release.mkdir(parents=True)
    (repo / ".git").mkdir()
    (release / "README.md").write_text(FAILING_CARD)
    baseline = _audit(release, cwd=tmp_path)
    assert baseline["summary"]["failed"] and baseline["config"]["fail_on"] == "error"
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.provenance]\nfail_on = "never"\n')
    rep = _audit(release, cwd=tmp_path)
    assert not rep["summary"]["failed"] and rep["config"]["fail_on"] == "never"
    assert Path(rep["config"]["file"]).resolve() == (repo / "pyproject.toml").resolve()
    # a nearer provenance.toml wins over the root's pyproject.toml
    (repo / "models" / "provenance.toml").write_text('fail_on = "warning"\n')
    assert _audit(release, cwd=tmp_path)["config"]["fail_on"] == "warning"


def test_no_config_read_above_the_repository_or_outside_one(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.provenance]\nfail_on = "never"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "README.md").write_text(FAILING_CARD)
    assert _audit(repo, cwd=tmp_path)["summary"]["failed"]  # the file above the repository root is not read
    loose = tmp_path / "loose" / "release"
    loose.mkdir(parents=True)
    (loose / "README.md").write_text(FAILING_CARD)
    (tmp_path / "loose" / "pyproject.toml").write_text('[tool.provenance]\nfail_on = "never"\n')
    if repository_root(loose) is not None:
        pytest.skip("the temporary directory lies inside a repository")
    assert config_candidates(loose) == [loose.resolve() / "provenance.toml", loose.resolve() / "pyproject.toml"]
    assert _audit(loose, cwd=tmp_path)["summary"]["failed"]  # outside a repository only the release is searched


def test_git_worktree_file_marks_the_root(tmp_path):
    repo = tmp_path / "wt"
    (repo / "a" / "b").mkdir(parents=True)
    (repo / ".git").write_text("gitdir: /elsewhere\n")
    assert repository_root(repo / "a" / "b") == repo.resolve()
    names = [p.relative_to(repo.resolve()).as_posix() for p in config_candidates(repo / "a" / "b")]
    assert names == [
        "a/b/provenance.toml",
        "a/b/pyproject.toml",
        "a/provenance.toml",
        "a/pyproject.toml",
        "provenance.toml",
        "pyproject.toml",
    ]
