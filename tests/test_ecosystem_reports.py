"""CI-native audit outputs: GitHub workflow-command annotations (escaping, file/line/col), SARIF rule help and
real regions, artifact locations that exist, fingerprints that survive renaming the model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from provenance.audit import RULES, AuditConfig, Finding, audit_release
from provenance.reports import PROJECT_URL, ReportFormat, render, rule_help_uri
from provenance.reports.github import annotation, escape_data, escape_property

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
CARD = "---\nlicense: apache-2.0\nmodel_name: {name}\nbase_model: meta-llama/Llama-2-7b-hf\n---\n# {name}\n"


@dataclasses.dataclass(frozen=True)
class Located(Finding):
    """A finding with contract 1's location fields (the audit fills them for card content)."""

    line: int | None = None
    column: int | None = None


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A repository checkout with a release in `models/rel` (the current directory is the checkout, as on CI)."""
    rel = tmp_path / "models" / "rel"
    rel.mkdir(parents=True)
    (rel / "README.md").write_text(CARD.format(name="tiny-one"))
    monkeypatch.chdir(tmp_path)
    return rel


def _sarif(release: Path) -> dict:
    return json.loads(render(audit_release(release, [], [], AuditConfig()), ReportFormat.sarif))


def test_escaping_follows_the_runner_rules():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert (
        annotation("error", "x: y, z", file="dir,1/README.md", line=3, col=None, title="t: u")
        == "::error file=dir%2C1/README.md,line=3,title=t%3A u::x: y, z"
    )


def test_github_annotations_point_at_files_that_exist(workspace):
    report = audit_release(workspace, [], [], AuditConfig())
    out = render(report, ReportFormat.github).splitlines()
    notes = [ln for ln in out if ln.startswith("::")]
    assert len(notes) == len(report.findings) and notes
    for ln, f in zip(notes, report.findings):
        head, _, message = ln[2:].partition("::")
        level, _, props = head.partition(" ")
        assert level == {"error": "error", "warning": "warning", "info": "notice"}[f.severity]
        fields = dict(p.split("=", 1) for p in props.split(","))
        assert (Path.cwd() / fields["file"]).is_file(), fields["file"]
        assert fields["title"].startswith(f.id + "%3A ")
        assert "\n" not in message and message.startswith(escape_data(f.message)[:40])
    assert out[-1].startswith("provenance audit: FAIL:")


def test_card_findings_carry_line_and_column(workspace):
    """Contract 1: findings about card content carry file/line/column; every consumer places them there."""
    report = audit_release(workspace, [], [], AuditConfig())
    i, f = next((i, f) for i, f in enumerate(report.findings) if f.file == "README.md")
    # as the audit sets them for the `license:` key (third line of this card)
    fields = {k: getattr(f, k) for k in f.__dataclass_fields__ if k not in ("line", "column")}
    f = report.findings[i] = Located(**fields, line=3, column=1)
    notes = render(report, ReportFormat.github)
    assert f"::{'error' if f.severity == 'error' else 'warning'} file=models/rel/README.md,line=3,col=1," in notes
    doc = json.loads(render(report, ReportFormat.sarif))
    regions = [
        r["locations"][0]["physicalLocation"]["region"] for r in doc["runs"][0]["results"] if r["ruleId"] == f.id
    ]
    assert {"startLine": 3, "startColumn": 1} in regions


def test_sarif_rules_have_help_and_uri(workspace):
    import jsonschema

    doc = _sarif(workspace)
    jsonschema.Draft4Validator(json.loads((DATA / "sarif-schema-2.1.0.json").read_text())).validate(doc)
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == PROJECT_URL and "pypi.org/project/provenance" not in json.dumps(doc)
    for rule in driver["rules"]:
        assert rule["helpUri"] == rule_help_uri(rule["id"]) and rule["helpUri"].endswith("#" + rule["id"])
        md = rule["help"]["markdown"]
        assert RULES[rule["id"]].help in md and f"`{rule['id']}`" in md and "[tool.provenance]" in md


def test_docs_have_an_anchor_per_rule():
    doc = (ROOT / "docs" / "ecosystem.md").read_text()
    for rid in RULES:
        assert f"\n### `{rid}`\n" in doc, rid  # GitHub's anchor for this heading is #rid


def test_sarif_locations_exist_and_missing_files_point_at_the_card(workspace):
    doc = _sarif(workspace)
    results = doc["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    for r in results:
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert (Path.cwd() / uri).exists(), uri
    missing = by_rule["notice-missing"]["locations"][0]
    assert missing["physicalLocation"]["artifactLocation"]["uri"] == "models/rel/README.md"
    assert "NOTICE does not exist" in missing["message"]["text"]


def test_sarif_without_a_card_points_at_the_release_folder(tmp_path, monkeypatch):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    doc = _sarif(rel)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]}
    assert uris and all((tmp_path / u).exists() for u in uris)
    assert "rel/" in uris


def test_fingerprints_survive_renaming_the_model(workspace):
    def fps(release: Path) -> dict[str, str]:
        runs = _sarif(release)["runs"][0]
        return {r["ruleId"]: r["partialFingerprints"]["provenanceFinding/v1"] for r in runs["results"]}, runs[
            "automationDetails"
        ]["id"]

    before, cat_before = fps(workspace)
    (workspace / "README.md").write_text(CARD.format(name="renamed-model-v2"))
    after, cat_after = fps(workspace)
    assert before == after and cat_before == cat_after


# --- CycloneDX ---------------------------------------------------------------------------------------------------


def _validate_cdx(text: str) -> dict:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    return json.loads(text)


def test_cyclonedx_weights_hashes_and_concluded_license(tmp_path):
    import hashlib

    from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir

    cfg = TinyLlamaConfig()
    base = write_hf_dir(
        tmp_path / "base", llama_state_dict(cfg, seed=0), cfg.hf_config(), "---\nlicense: llama2\n---\n# base\n"
    )
    rel = write_hf_dir(
        tmp_path / "rel",
        llama_state_dict(cfg, seed=0),
        cfg.hf_config(),
        "---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-2-7b-hf\n---\n# rel\n",
    )
    report = audit_release(rel, [base], [], AuditConfig(compare="off"))
    bom = _validate_cdx(render(report, ReportFormat.cyclonedx))
    model = bom["metadata"]["component"]
    files = {c["name"]: c for c in model["components"]}
    digest = hashlib.sha256((rel / "model.safetensors").read_bytes()).hexdigest()
    assert files["model.safetensors"]["hashes"] == [{"alg": "SHA-256", "content": digest}]
    assert files["model.safetensors"]["type"] == "file"
    acks = {
        (x["license"].get("id") or x["license"]["name"], x["license"]["acknowledgement"]) for x in model["licenses"]
    }
    assert acks == {("Apache-2.0", "declared"), ("Llama 2 Community License", "concluded")}
    purls = {a.get("purl") for a in model["pedigree"]["ancestors"]}
    assert "pkg:huggingface/meta-llama/Llama-2-7b-hf" in purls


def test_cyclonedx_concluded_keeps_a_compatible_declared_license(tmp_path):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text("---\nlicense: llama2\nbase_model: meta-llama/Llama-2-7b-hf\n---\n# rel\n")
    bom = _validate_cdx(render(audit_release(rel, [], [], AuditConfig()), ReportFormat.cyclonedx))
    acks = sorted(x["license"]["acknowledgement"] for x in bom["metadata"]["component"]["licenses"])
    assert acks == ["concluded", "declared"]


def test_huggingface_purls():
    from provenance.reports.cyclonedx import purl

    assert purl("meta-llama/Llama-2-7b-hf") == "pkg:huggingface/meta-llama/Llama-2-7b-hf"
    assert purl("gpt2") == "pkg:huggingface/gpt2"
    assert purl("../etc/passwd") is None and purl("a/b/c") is None and purl(None) is None


def test_finding_reference_is_generated_from_the_rules():
    from provenance.reports.finding_reference import DOC, current_document

    text = DOC.read_text(encoding="utf-8")
    assert text == current_document(text), "run: python -m provenance.reports.finding_reference --write"
