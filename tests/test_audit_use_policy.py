"""Issue 12 defect 7 (audit side): use-policy-missing is a warning, met by a policy file or by the policy text
inside the shipped LICENSE (Meta's own Llama 3 LICENSE files append the whole policy), and names its clause."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.audit import RULES, AuditConfig, audit_release

TEXTS = Path(__file__).resolve().parents[2] / "shared" / "license-texts"


def llama_release(tmp_path: Path, version: str, license_text: str, policy: str | None = None) -> Path:
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text(f"---\nlicense: {version}\n---\n# Llama 3 tiny\n\n**Built with Meta Llama 3**\n")
    (rel / "LICENSE").write_text(license_text)
    if policy is not None:
        (rel / "USE_POLICY.md").write_text(policy)
    return rel


def findings(rel: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in audit_release(rel, [], [], AuditConfig(compare="off")).findings:
        out.setdefault(f.id, []).append(f)
    return out


@pytest.fixture()
def texts():
    if not (TEXTS / "llama3" / "LICENSE").is_file():
        pytest.skip("shared license texts not present")
    return TEXTS


def test_use_policy_missing_is_a_warning_with_its_clause(tmp_path, texts):
    assert RULES["use-policy-missing"].severity == "warning"
    rel = llama_release(tmp_path, "llama2", (texts / "llama2" / "LICENSE").read_text())
    got = findings(rel)["use-policy-missing"]
    assert got[0].severity == "warning"
    assert "§1.b.iv" in got[0].message and "incorporates the policy by reference" in got[0].message


def test_meta_llama3_license_file_with_the_policy_inside_satisfies_it(tmp_path, texts):
    for folder in ("llama3", "llama3_repo"):
        d = tmp_path / folder
        d.mkdir()
        rel = llama_release(d, "llama3", (texts / folder / "LICENSE").read_text())
        assert "use-policy-missing" not in findings(rel), folder


def test_a_policy_file_satisfies_it(tmp_path, texts):
    rel = llama_release(
        tmp_path, "llama2", (texts / "llama2" / "LICENSE").read_text(), (texts / "llama2" / "USE_POLICY.md").read_text()
    )
    assert "use-policy-missing" not in findings(rel)


def test_the_clause_that_names_the_policy_is_not_the_policy(tmp_path, texts):
    """Llama 2's LICENSE names the policy in §1.b.iv but does not contain it."""
    rel = llama_release(tmp_path, "llama2", (texts / "llama2" / "LICENSE").read_text())
    assert "use-policy-missing" in findings(rel)
