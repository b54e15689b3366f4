"""`provenance audit` through the real CLI in a subprocess: the required cases, exit codes, --write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import licenses as kb
from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, yi_style


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "provenance", "audit", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def card(body: str = "", **front) -> str:
    return "---\n" + yaml.safe_dump(front, sort_keys=True) + "---\n" + (body or "# model\n")


def finding_ids(proc) -> set[str]:
    return {f["id"] for f in json.loads(proc.stdout)["findings"]}


@pytest.fixture(scope="module")
def llama2_case(tmp_path_factory):
    """The Yi story in small: a Llama-2 base with its LICENSE, and a derivative that renamed two tensors per
    layer, declares apache-2.0, ships no NOTICE and names no base_model."""
    root = tmp_path_factory.mktemp("llama2-case")
    cfg = TinyLlamaConfig()
    sd = llama_state_dict(cfg, seed=0)
    base = write_hf_dir(root / "llama2-base", sd, cfg.hf_config(), card(license="llama2", model_name="tiny-llama2"))
    (base / "LICENSE").write_text(kb.BY_ID["llama2"].signature.sample)
    (base / "USE_POLICY.md").write_text("# Llama 2 Acceptable Use Policy\n")
    derived = write_hf_dir(
        root / "derived", yi_style(sd), cfg.hf_config(), card("# tiny-yi\n", license="apache-2.0", model_name="tiny-yi")
    )
    return base, derived


def test_llama2_derivative_declaring_apache_without_notice(llama2_case):
    base, derived = llama2_case
    proc = cli(derived, "--base-license", "llama2", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert {"notice-missing", "license-text-missing", "license-conflict"} <= finding_ids(proc)
    report = json.loads(proc.stdout)
    assert report["schema_version"] == 1
    assert {"schema_version", "release", "lineage", "licenses", "findings", "files_to_write"} <= set(report)
    assert report["licenses"]["inherited"][0]["license"] == "llama2"
    assert report["lineage"][0]["established_by"] == ["--base-license"]
    for f in report["findings"]:
        assert {"id", "severity", "message", "file", "fix"} <= set(f)


def test_llama3_derivative_without_the_prefix(tmp_path):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text(
        card("# tiny-chat\n", license="llama3", model_name="tiny-chat", base_model="meta-llama/Meta-Llama-3-8B")
    )
    proc = cli(rel, "--format", "json")
    ids = finding_ids(proc)
    assert {"name-prefix", "attribution-missing"} <= ids
    sev = {f["id"]: f["severity"] for f in json.loads(proc.stdout)["findings"]}
    assert sev["name-prefix"] == "warning"


def test_exit_codes(tmp_path):
    lic = kb.BY_ID["llama3"]
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text(
        card(
            "Built with Meta Llama 3\n",
            license="llama3",
            model_name="tiny-chat",
            base_model="meta-llama/Meta-Llama-3-8B",
        )
    )
    (rel / "LICENSE").write_text(lic.signature.sample)
    (rel / "NOTICE").write_text(lic.notice + "\n")
    (rel / "USE_POLICY.md").write_text("policy\n")
    # Only the naming warning remains.
    assert cli(rel).returncode == 0
    assert cli(rel, "--fail-on", "warning").returncode == 1
    assert cli(rel, "--fail-on", "never").returncode == 0
    (rel / "provenance.toml").write_text('[tool.provenance]\nname_prefix_severity = "error"\n')
    assert cli(rel).returncode == 1
    (rel / "provenance.toml").write_text('[tool.provenance]\nignore = ["name-prefix"]\nfail_on = "warning"\n')
    assert cli(rel).returncode == 0
    (rel / "provenance.toml").write_text('[tool.provenance]\nfail_on = "always"\n')
    bad = cli(rel)
    assert bad.returncode == 2 and "fail_on" in bad.stderr and bad.stdout == ""
    cfg = tmp_path / "other.toml"
    cfg.write_text('fail_on = "never"\n')
    assert cli(rel, "--config", cfg, "--fail-on", "warning").returncode == 1  # the flag wins over the file
    (rel / "provenance.toml").unlink()
    # Usage errors and unreadable input: exit 2, one line on stderr, nothing on stdout.
    for args in (
        (tmp_path / "missing",),
        (rel, "--base-license", "nope"),
        (rel, "--force"),
        (rel, "--format", "pdf"),
        (rel, "--base", tmp_path / "missing-base"),
        (rel, "--config", tmp_path / "missing.toml"),
    ):
        proc = cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stdout == ""
        assert "Traceback" not in proc.stderr


def test_write_twice_changes_nothing_the_second_time(tmp_path, llama2_case):
    import shutil

    base, derived = llama2_case
    rel = tmp_path / "rel"
    shutil.copytree(derived, rel)
    # The base's config names its Hub id: that, not the card's model name, becomes base_model (issue 12 defect 6).
    base = shutil.copytree(base, tmp_path / "base")
    config = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**config, "_name_or_path": "meta-llama/Llama-2-7b-hf"}))
    # Weights are not compared here (the library tests do that): the base counts as lineage the user claims.
    first = cli(rel, "--base", base, "--write", "--force", "--format", "json", "--compare", "off")
    assert first.returncode == 0, first.stdout + first.stderr
    written = {w["path"] for w in json.loads(first.stdout)["written"] if w["status"] == "written"}
    assert written == {"LICENSE", "NOTICE", "README.md", "USE_POLICY.md"}
    snapshot = {p.name: p.read_bytes() for p in rel.iterdir()}
    second = cli(rel, "--base", base, "--write", "--format", "json", "--compare", "off")
    assert second.returncode == 0
    assert json.loads(second.stdout)["written"] == []
    assert snapshot == {p.name: p.read_bytes() for p in rel.iterdir()}
    front = yaml.safe_load((rel / "README.md").read_text().split("---")[1])
    assert front["license"] == "llama2" and front["base_model"] == "meta-llama/Llama-2-7b-hf"


def test_without_write_nothing_is_written_and_the_plan_is_shown(tmp_path):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text(
        card(license="llama3.1", model_name="Llama-3.1-tiny", base_model="meta-llama/Llama-3.1-8B")
    )
    before = sorted(p.name for p in rel.iterdir())
    proc = cli(rel)
    assert proc.returncode == 1
    assert "files --write would write:" in proc.stdout and "NOTICE" in proc.stdout
    assert "license-text-unavailable" in proc.stdout  # no local copy of the Llama 3.1 text to copy
    assert sorted(p.name for p in rel.iterdir()) == before
    proc = cli(rel, "--write")
    notice = (rel / "NOTICE").read_text()
    assert kb.BY_ID["llama3.1"].notice in notice
    assert "Built with Llama" in (rel / "README.md").read_text()
    assert not (rel / "LICENSE").exists()  # never invented: the text must come from a base directory
    assert proc.returncode == 1  # the license text and use policy are still missing
