"""The audit uses the license knowledge of issue 12: the Yi attribute-source duty, every license of a known base
for the period that applies (and the earlier terms), and the use policy found inside a shipped license. Real
license texts from ../shared/license-texts; the CLI runs in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import licenses as kb
from provenance.audit import AuditConfig, apply_writes, audit_release, load_config
from provenance.errors import UsageError

TEXTS = Path(__file__).resolve().parents[2] / "shared" / "license-texts"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "provenance", "audit", *map(str, args)], capture_output=True, text=True
    )


def card(body: str, **front) -> str:
    return "---\n" + yaml.safe_dump(front, sort_keys=True) + "---\n" + body


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture()
def texts() -> Path:
    if not (TEXTS / "yi" / "LICENSE").is_file():
        pytest.skip("shared license texts not present")
    return TEXTS


def by_id(findings) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in findings:
        out.setdefault(f["id"] if isinstance(f, dict) else f.id, []).append(f)
    return out


# ------------------------------------------------------------------------------------------ Yi §2(4)


def yi_release(root: Path, body: str, texts: Path, **front) -> Path:
    meta = {
        "license": "other",
        "license_name": "yi-license",
        "base_model": "01-ai/Yi-34B",
        "model_name": "tiny-yi-chat",
        "release_date": "2024-01-10",
        **front,
    }
    return write(root, {"README.md": card(body, **meta), "LICENSE": (texts / "yi" / "LICENSE").read_text()})


def test_attribute_source_duty_comes_from_the_record_with_its_clause():
    duties = [d for d in kb.duties.duties_of(kb.BY_ID["yi-license"], ("x",)) if d.kind == "attribute-source"]
    assert len(duties) == 1 and duties[0].source == "S11 §2(4)" and "01.AI" in duties[0].names
    assert not any(d.kind == "attribute-source" for d in kb.duties.duties_of(kb.BY_ID["llama2"], ("x",)))


@pytest.mark.parametrize(
    "body",
    [
        "# tiny-yi-chat\n\nFine-tuned from [Yi-34B](https://huggingface.co/01-ai/Yi-34B).\n",
        "# tiny-yi-chat\n\nThe base model is 01-ai/Yi-34B.\n",
        "# tiny-yi-chat\n\n- Original model: Yi Series Models by 01.AI\n",
    ],
)
def test_a_yi_derivative_that_credits_yi_is_clean(tmp_path, texts, body):
    report = audit_release(yi_release(tmp_path / "r", body, texts), [], [], AuditConfig(compare="off"))
    assert "source-attribution-missing" not in by_id(report.findings), [f.to_dict() for f in report.findings]
    assert [b.licenses for b in report.bases] == [["yi-license"]]  # dated January 2024: Yi License v2.1


@pytest.mark.parametrize(
    "body",
    [
        "# tiny-chat\n\nA helpful chat model.\n",
        # mentions that are not a display crediting the source
        "# tiny-chat\n\n```\nfrom_pretrained('01-ai/Yi-34B')\n```\n",
        "# tiny-chat\n\n> You must clearly attribute the source of the Yi Series Models to the Licensor\n",
        "# tiny-chat\n\nTrained with Yimmy-Tools.\n",
    ],
)
def test_a_yi_derivative_that_does_not_credit_yi_is_reported(tmp_path, texts, body):
    report = audit_release(yi_release(tmp_path / "r", body, texts), [], [], AuditConfig(compare="off"))
    got = by_id(report.findings)["source-attribution-missing"]
    assert got[0].severity == "error" and got[0].license == "yi-license" and got[0].file == "README.md"
    assert "§2(4)" in got[0].message and "attribute the source of the Yi Series Models" in got[0].message


def test_front_matter_naming_yi_does_not_credit_it(tmp_path, texts):
    # base_model (front matter) names the base, but the duty is a credit people see in the card.
    rel = yi_release(
        tmp_path / "r",
        "# tiny-chat\n\nA chat model.\n",
        texts,
        tags=["Yi", "01.AI"],
        extra_gated_prompt="Built on the Yi Series Models by 01.AI",
    )
    assert "source-attribution-missing" in by_id(audit_release(rel, [], [], AuditConfig(compare="off")).findings)


def test_write_adds_a_credit_that_the_audit_then_accepts(tmp_path, texts):
    rel = yi_release(tmp_path / "r", "# tiny-chat\n\nA chat model.\n", texts)
    report = audit_release(rel, [], [], AuditConfig(compare="off"))
    apply_writes(report)
    text = (rel / "README.md").read_text()
    assert "is based on the Yi Series Models by 01.AI." in text
    again = audit_release(rel, [], [], AuditConfig(compare="off"))
    assert "source-attribution-missing" not in by_id(again.findings)


# ---------------------------------------------------------------------- known bases, periods, several licenses


def id_only_base(root: Path, hub_id: str) -> Path:
    """A --base folder holding only config.json: the base is known by its Hub id, its license by the table."""
    return write(root, {"config.json": json.dumps({"_name_or_path": hub_id, "model_type": "llama"})})


def test_cli_r1_distill_llama_base_brings_llama31_and_mit(tmp_path, texts):
    base = id_only_base(tmp_path / "base", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B")
    rel = write(
        tmp_path / "rel",
        {
            "README.md": card(
                "# Llama-R1-tiny\n\nBuilt with Llama\n",
                license="llama3.1",
                model_name="Llama-R1-tiny",
                base_model="deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
            ),
            "LICENSE": (texts / "llama3_1" / "LICENSE").read_text(),
            "NOTICE": kb.BY_ID["llama3.1"].notice + "\n",
        },
    )
    proc = cli(rel, "--base", base, "--format", "json", "--compare", "off")
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    (b,) = out["lineage"]
    assert b["hub_id"] == "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
    assert b["licenses"] == ["llama3.1", "mit"] and b["license_source"] == "known Hub repo table (R1)"
    assert {i["license"] for i in out["licenses"]["inherited"]} == {"llama3.1", "mit"}
    assert {(d["kind"], d["license"]) for d in out["duties"]} >= {("license-text", "llama3.1"), ("license-text", "mit")}
    missing = by_id(out["findings"])["license-text-missing"]
    assert [f["license"] for f in missing] == ["mit"]  # the Llama 3.1 text is shipped, the MIT one is not
    # declaring MIT alone would drop the Llama terms: a conflict with the inherited Llama 3.1 license
    (rel / "README.md").write_text(card("# x\n", license="mit", base_model="deepseek-ai/DeepSeek-R1-Distill-Llama-8B"))
    out = json.loads(cli(rel, "--format", "json").stdout)
    assert [f["license"] for f in by_id(out["findings"])["license-conflict"]] == ["llama3.1"]


def test_write_credits_every_license_of_a_base(tmp_path, texts):
    rel = write(
        tmp_path / "rel",
        {
            "README.md": card(
                "# Llama-R1-tiny\n",
                license="llama3.1",
                model_name="Llama-R1-tiny",
                base_model="deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
            ),
            "LICENSE": (texts / "llama3_1" / "LICENSE").read_text(),
            "NOTICE": kb.BY_ID["llama3.1"].notice + "\n",
        },
    )
    apply_writes(audit_release(rel, [], [], AuditConfig(compare="off")))
    text = (rel / "README.md").read_text()
    assert "- deepseek-ai/DeepSeek-R1-Distill-Llama-8B (Llama 3.1 Community License and MIT" in text
    assert "attribution-missing" not in by_id(audit_release(rel, [], [], AuditConfig(compare="off")).findings)


def yi_derivative(root: Path, texts: Path, **front) -> Path:
    meta = {"license": "apache-2.0", "base_model": "01-ai/Yi-6B", "model_name": "yi-tiny", **front}
    return write(
        root,
        {
            "README.md": card("# yi-tiny\n\nFine-tuned from Yi-6B.\n", **meta),
            "LICENSE": (texts / "apache-2.0" / "LICENSE").read_text(),
        },
    )


def test_cli_yi_base_without_a_date_uses_current_terms_and_names_the_earlier_ones(tmp_path, texts):
    rel = yi_derivative(tmp_path / "rel", texts)
    out = json.loads(cli(rel, "--format", "json").stdout)
    (b,) = out["lineage"]
    assert b["licenses"] == ["apache-2.0"] and b["license_as_of"] is None
    assert any("Yi Series Models Community License" in h and "until 2024-05-30" in h for h in b["license_history"])
    assert "license-conflict" not in by_id(out["findings"])


def test_cli_yi_release_dated_before_the_relicensing_gets_the_yi_license(tmp_path, texts):
    rel = yi_derivative(tmp_path / "rel", texts, release_date="2024-02-01")
    out = json.loads(cli(rel, "--format", "json").stdout)
    (b,) = out["lineage"]
    assert b["licenses"] == ["yi-license"] and b["license_as_of"] == "2024-02-01"
    conflict = by_id(out["findings"])["license-conflict"]
    assert conflict[0]["license"] == "yi-license"
    # the finding says which period applied and that Apache-2.0 came later
    assert "as of 2024-02-01" in conflict[0]["message"] and "from 2024-05-30" in conflict[0]["message"]


def test_config_as_of_wins_over_the_card_date(tmp_path, texts):
    rel = yi_derivative(tmp_path / "rel", texts, release_date="2024-02-01")
    (rel / "provenance.toml").write_text('as_of = "2024-07-01"\n')
    out = json.loads(cli(rel, "--format", "json").stdout)
    assert out["lineage"][0]["licenses"] == ["apache-2.0"] and out["config"]["as_of"] == "2024-07-01"
    (rel / "provenance.toml").write_text('as_of = "last spring"\n')
    with pytest.raises(UsageError):
        load_config(rel)
    proc = cli(rel, "--format", "json")
    assert proc.returncode == 2 and proc.stdout == "" and "as_of" in proc.stderr


def test_falcon_before_its_relicensing_is_unknown_and_says_why(tmp_path):
    rel = write(
        tmp_path / "rel",
        {"README.md": card("# f\n", license="apache-2.0", base_model="tiiuae/falcon-7b", release_date="2023-05-20")},
    )
    report = audit_release(rel, [], [], AuditConfig(compare="off"))
    assert report.bases[0].licenses == []
    (f,) = by_id(report.findings)["base-license-unknown"]
    assert "TII Falcon LLM License 1.0" in f.message and "as of 2023-05-20" in f.message
    # the user settles it with --base-license: no note claiming the table's period was applied
    given = audit_release(rel, [], ["apache-2.0"], AuditConfig(compare="off"))
    assert given.bases[0].licenses == ["apache-2.0"] and given.bases[0].history_note() == ""
    later = write(
        tmp_path / "later",
        {"README.md": card("# f\n", license="apache-2.0", base_model="tiiuae/falcon-7b", release_date="2023-07-01")},
    )
    assert audit_release(later, [], [], AuditConfig(compare="off")).bases[0].licenses == ["apache-2.0"]


def test_an_unparsable_card_date_is_ignored_not_fatal(tmp_path, texts):
    rel = yi_derivative(tmp_path / "rel", texts, release_date="sometime in 2024")
    assert audit_release(rel, [], [], AuditConfig(compare="off")).bases[0].licenses == ["apache-2.0"]


# ------------------------------------------------------------------------------------------- use policy


def meta_release(root: Path, license_id: str, license_file: Path, body: str) -> Path:
    return write(
        root,
        {
            "README.md": card(body, license=license_id),
            "LICENSE": license_file.read_text(),
            "NOTICE": kb.BY_ID[license_id].notice + "\n",
        },
    )


def test_cli_llama3_license_with_the_policy_inside_raises_no_use_policy_finding(tmp_path, texts):
    for folder in ("llama3", "llama3_repo"):
        rel = meta_release(
            tmp_path / folder, "llama3", texts / folder / "LICENSE", "# Llama-3-tiny\n\nBuilt with Meta Llama 3\n"
        )
        out = json.loads(cli(rel, "--format", "json").stdout)
        assert "use-policy-missing" not in by_id(out["findings"]), folder
        assert out["findings"] == [], out["findings"]


def test_cli_llama2_release_with_only_the_license_gets_the_warning_with_its_clause(tmp_path, texts):
    rel = meta_release(tmp_path / "rel", "llama2", texts / "llama2" / "LICENSE", "# tiny-llama2\n")
    proc = cli(rel, "--format", "json")
    out = json.loads(proc.stdout)
    (f,) = by_id(out["findings"])["use-policy-missing"]
    clause = kb.BY_ID["llama2"].clause("use_policy_file")
    assert f["severity"] == "warning" and proc.returncode == 0
    assert clause.section in f["message"] and clause.quote in f["message"]


def test_a_license_that_only_mentions_the_policy_does_not_count(tmp_path, texts):
    # The Llama 3.1 LICENSE names the policy (§1.b.iv) without containing it.
    lic = (texts / "llama3_1" / "LICENSE").read_text()
    assert not kb.contains_use_policy(lic, kb.BY_ID["llama3.1"])
    rel = meta_release(
        tmp_path / "rel", "llama3.1", texts / "llama3_1" / "LICENSE", "# Llama-tiny\n\nBuilt with Llama\n"
    )
    assert "use-policy-missing" in by_id(audit_release(rel, [], [], AuditConfig(compare="off")).findings)
    (rel / "LICENSE").write_text(lic + "\n\n" + (texts / "llama3_1" / "USE_POLICY.md").read_text())
    assert "use-policy-missing" not in by_id(audit_release(rel, [], [], AuditConfig(compare="off")).findings)
