"""Issue 12 defect 8: what --write says and keeps — the license file the attribution points to, template
headings that are not names, and stale wrong-version notice lines."""

from __future__ import annotations

from pathlib import Path

import licenses as kb
from provenance.audit import AuditConfig, apply_writes, audit_release
from provenance.release import heading_name, read_release

CFG = AuditConfig(compare="off")


def base_dir(root: Path, lic: str) -> Path:
    base = root / "base"
    base.mkdir()
    (base / "README.md").write_text(f"---\nlicense: {lic}\n---\n# Base\n")
    (base / "LICENSE").write_text(kb.BY_ID[lic].signature.sample)
    (base / "USE_POLICY.md").write_text("# Acceptable Use Policy\n")
    return base


def test_attribution_points_to_license_id_file_when_license_was_taken(tmp_path):
    base = base_dir(tmp_path, "llama3")
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text("---\nlicense: llama3\n---\n# Llama 3 tiny\n")
    (rel / "LICENSE").write_text("Code in this repository: see the project's own terms.\n")
    report = audit_release(rel, [base], [], CFG)
    apply_writes(report, force=False)
    assert (rel / "LICENSE-llama3").read_text() == kb.BY_ID["llama3"].signature.sample
    card = (rel / "README.md").read_text()
    assert "See LICENSE-llama3 and NOTICE in this repository" in card
    assert "See LICENSE and" not in card


def test_attribution_says_license_when_license_is_the_text(tmp_path):
    base = base_dir(tmp_path, "llama3")
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text("---\nlicense: llama3\n---\n# Llama 3 tiny\n")
    apply_writes(audit_release(rel, [base], [], CFG), force=False)
    assert "See LICENSE and NOTICE in this repository" in (rel / "README.md").read_text()


def test_template_heading_is_not_a_model_name(tmp_path):
    for heading in (
        "Model Card for Model ID",
        "Model Card",
        "model card for model id",
        'Model Card for {{ model_id | default("Model ID", true) }}',
    ):
        assert heading_name(heading) is None, heading
    assert heading_name("Model Card for Llama-3-tiny") == "Llama-3-tiny"
    assert heading_name("Vicuna Model Card") == "Vicuna"
    rel = tmp_path / "llama-3-tiny"
    rel.mkdir()
    (rel / "README.md").write_text("---\nlicense: llama3\n---\n# Model Card for Model ID\n")
    info = read_release(rel)
    assert (info.model_name, info.model_name_source) == ("llama-3-tiny", "directory name")


def test_stale_wrong_version_notice_is_reported_and_replaced_with_force(tmp_path):
    base = base_dir(tmp_path, "llama3.1")
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text(
        "---\nlicense: llama3.1\nbase_model: meta-llama/Llama-3.1-8B\n---\n# Llama tiny\n\n**Built with Llama**\n"
    )
    (rel / "LICENSE").write_text(kb.BY_ID["llama3.1"].signature.sample)
    (rel / "USE_POLICY.md").write_text("policy\n")
    stale = kb.BY_ID["llama3"].notice
    (rel / "NOTICE").write_text("Our project notice.\n\n" + stale + "\n")
    report = audit_release(rel, [base], [], CFG)
    incorrect = [f for f in report.findings if f.id == "notice-incorrect"]
    assert any(f.line == 3 and "another license or version" in f.message for f in incorrect), incorrect
    done = apply_writes(report, force=False)
    assert any(d["path"] == "NOTICE" and d["status"] == "skipped" for d in done)
    assert (rel / "NOTICE").read_text() == "Our project notice.\n\n" + stale + "\n"
    apply_writes(audit_release(rel, [base], [], CFG), force=True)
    text = (rel / "NOTICE").read_text()
    assert stale not in text and kb.BY_ID["llama3.1"].notice in text and "Our project notice." in text
    after = audit_release(rel, [base], [], CFG)
    assert "notice-incorrect" not in {f.id for f in after.findings}


def test_version_variant_notice_typed_by_hand_is_stale():
    from licenses.render import stale_notices

    required = [kb.BY_ID["llama3.1"].notice]
    typed = required[0].replace("3.1", "3.0")
    assert stale_notices(typed + "\n" + required[0] + "\n", required, []) == [(1, typed)]
    assert stale_notices(required[0] + "\n", required, [kb.BY_ID["llama3"].notice]) == []
