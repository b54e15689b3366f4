"""Issue 12 defects 2-4 end to end: card-only releases written the way real uploads are, audited with the records
and the known-model table (the audit logic itself is tested in test_audit_*)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import licenses as kb
from provenance.audit import AuditConfig, audit_release

TEXTS = Path(__file__).resolve().parents[1].parent / "shared" / "license-texts"


def _text(rel: str) -> str:
    path = TEXTS / rel
    if not path.is_file():
        pytest.skip(f"../shared/license-texts/{rel} is not present")
    return path.read_text(encoding="utf-8")


def _release(tmp: Path, front: dict, body: str, files: dict[str, str]) -> Path:
    root = tmp / "release"
    root.mkdir(parents=True)
    (root / "README.md").write_text("---\n" + yaml.safe_dump(front, sort_keys=True) + "---\n" + body, "utf-8")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _findings(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in report.findings:
        out.setdefault(f.id, []).append(f)
    return out


def test_compliant_tongyi_research_release_gets_no_wrong_notice(tmp_path):
    """Defect 3: a Qwen-1.8B fine-tune shipping the RESEARCH text and its Notice is compliant."""
    lic = kb.BY_ID["tongyi-qianwen-research"]
    root = _release(
        tmp_path,
        {
            "license": "other",
            "license_name": "tongyi-qianwen-research",
            "license_link": "LICENSE",
            "base_model": "Qwen/Qwen-1_8B-Chat",
        },
        "# qwen-1.8b-tuned\n\nFine-tuned from Qwen-1.8B-Chat.\n",
        {"LICENSE": _text("qwen_research/LICENSE"), "NOTICE": lic.notice + "\n"},
    )
    report = audit_release(root, [], [], AuditConfig())
    found = _findings(report)
    assert "notice-incorrect" not in found and "notice-missing" not in found
    assert "license-text-mismatch" not in found and "license-conflict" not in found
    assert {d.license for d in report.duties} == {"tongyi-qianwen-research"}


def test_commercial_tongyi_notice_on_a_research_release_is_reported(tmp_path):
    root = _release(
        tmp_path,
        {"license": "other", "license_name": "tongyi-qianwen-research", "base_model": "Qwen/Qwen-1_8B"},
        "# tuned\n",
        {"LICENSE": _text("qwen_research/LICENSE"), "NOTICE": kb.BY_ID["tongyi-qianwen"].notice + "\n"},
    )
    found = _findings(audit_release(root, [], [], AuditConfig()))
    assert [f.license for f in found["notice-incorrect"]] == ["tongyi-qianwen-research"]


def test_qwen25_3b_derivative_owes_built_with_qwen(tmp_path):
    """Defect 2: a Qwen2.5-3B fine-tune (known-model table -> Qwen RESEARCH) must display the line."""
    lic = kb.BY_ID["qwen-research"]
    files = {"LICENSE": _text("qwen_research_2_5/LICENSE"), "NOTICE": lic.notice + "\n"}
    front = {"license": "other", "license_name": "qwen-research", "base_model": "Qwen/Qwen2.5-3B-Instruct"}
    missing = _findings(audit_release(_release(tmp_path / "a", front, "# tuned-3b\n", files), [], [], AuditConfig()))
    assert [f.license for f in missing["attribution-missing"]] == ["qwen-research"]
    shown = _findings(
        audit_release(_release(tmp_path / "b", front, "# tuned-3b\n\nBuilt with Qwen\n", files), [], [], AuditConfig())
    )
    assert "attribution-missing" not in shown


def test_r1_distill_llama_base_brings_llama_duties_despite_its_mit_card(tmp_path):
    """Defect 4: a fine-tune of DeepSeek-R1-Distill-Llama-8B, declared MIT like the R1 card, owes Llama 3.1."""
    root = _release(
        tmp_path,
        {"license": "mit", "base_model": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"},
        "# r1-distill-tuned\n",
        {"LICENSE": _text("mit/LICENSE-deepseek-r1")},
    )
    report = audit_release(root, [], [], AuditConfig())
    found = _findings(report)
    assert any(f.license == "llama3.1" for f in found.get("license-conflict", []))
    assert report.bases[0].licenses[0] == "llama3.1"
