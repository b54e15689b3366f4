"""Report formats: one formatter per enum value; SARIF valid against the official 2.1.0 schema (vendored in
tests/data, see tests/data/README.md); CycloneDX 1.6 valid per cyclonedx-python-lib's strict JSON validator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import licenses as kb
from provenance.audit import RULES, AuditConfig, audit_release
from provenance.reports import FORMATTERS, ReportFormat, render

DATA = Path(__file__).parent / "data"


def card(body: str = "", **front) -> str:
    return "---\n" + yaml.safe_dump(front, sort_keys=True) + "---\n" + (body or "# model\n")


@pytest.fixture
def report(tmp_path):
    """A Llama-2 derivative declaring MIT with a Gemma text and config.json: findings in README, NOTICE, LICENSE
    and config.json."""
    rel = tmp_path / "release"
    rel.mkdir()
    (rel / "README.md").write_text(
        card(
            license="mit",
            model_name="tiny <b>html</b> & co",
            base_model=["meta-llama/Llama-2-7b-hf", "someone/unknown"],
        )
    )
    (rel / "NOTICE").write_text("Copyright nobody.\n")
    (rel / "LICENSE").write_text(kb.BY_ID["gemma"].signature.sample)
    (rel / "config.json").write_text(json.dumps({"_name_or_path": "org/hidden-base"}))
    return audit_release(rel, [], ["qwen"], AuditConfig())


def test_every_format_has_a_formatter(report):
    assert set(FORMATTERS) == set(ReportFormat)
    for fmt in ReportFormat:
        out = render(report, fmt)
        assert out.strip(), fmt
        assert render(report, fmt) == out, f"{fmt} output is not deterministic"


def test_sarif_is_valid_against_the_official_schema(report):
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    doc = json.loads(render(report, ReportFormat.sarif))
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(RULES)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1] for r in run["results"]}
    assert {"README.md", "NOTICE", "config.json", "LICENSE"} <= uris
    for r in run["results"]:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        assert len(r["partialFingerprints"]["provenanceFinding/v1"]) == 32
    fps = [r["partialFingerprints"]["provenanceFinding/v1"] for r in run["results"]]
    assert len(set(fps)) == len(fps)
    # The schema check is real: a result without a message is rejected.
    broken = json.loads(json.dumps(doc))
    del broken["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(broken)


def test_cyclonedx_ml_bom_is_valid(report):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = render(report, ReportFormat.cyclonedx)
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(text) is None
    bom = json.loads(text)
    model = bom["metadata"]["component"]
    assert bom["specVersion"] == "1.6" and model["type"] == "machine-learning-model"
    declared = [x["license"] for x in model["licenses"] if x["license"]["acknowledgement"] == "declared"]
    concluded = [x["license"] for x in model["licenses"] if x["license"]["acknowledgement"] == "concluded"]
    assert declared == [{"id": "MIT", "acknowledgement": "declared"}]
    # MIT conflicts with the Llama 2 base: the release is concluded to be under the Llama 2 license
    assert {p["value"] for c in concluded for p in c.get("properties", [])} >= {
        "LicenseRef-scancode-llama-2-license-2023",
        "llama2",
    }
    assert "MIT" not in {c.get("id") for c in concluded}
    ancestors = {a["name"]: a for a in model["pedigree"]["ancestors"]}
    llama = ancestors["meta-llama/Llama-2-7b-hf"]
    assert llama["purl"] == "pkg:huggingface/meta-llama/Llama-2-7b-hf"
    assert llama["licenses"][0]["license"]["name"] == "Llama 2 Community License"
    assert llama["licenses"][0]["license"]["acknowledgement"] == "declared"
    assert all(a["type"] == "machine-learning-model" for a in ancestors.values())
    duties = [p for p in model["properties"] if p["name"].startswith("provenance:duty:")]
    assert duties and "modelCard" not in model  # duties are properties, not ethical considerations
    assert {p["name"] for p in duties} >= {"provenance:duty:notice", "provenance:duty:license-text"}
    assert bom["metadata"]["tools"]["components"][0]["name"] == "llm-provenance"
    broken = dict(bom, specVersion="1.6", bomFormat="NotCycloneDX")
    assert validator.validate_str(json.dumps(broken)) is not None


def test_html_is_self_contained(report):
    html = render(report, ReportFormat.html)
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert "<script" not in html and "src=" not in html and "<link" not in html and "url(http" not in html
    assert "tiny &lt;b&gt;html&lt;/b&gt; &amp; co" in html and "<b>html</b>" not in html


def test_markdown_and_text_list_every_finding(report):
    md = render(report, ReportFormat.markdown)
    text = render(report, ReportFormat.text)
    for f in report.findings:
        assert f"`{f.id}`" in md and f.id in text
    assert md.startswith("# Provenance audit:")


def test_json_keys(report):
    data = json.loads(render(report, ReportFormat.json))
    assert {"schema_version", "release", "lineage", "licenses", "findings", "files_to_write"} <= set(data)
    assert {"declared", "inherited"} == set(data["licenses"])
    assert all({"name", "established_by", "licenses", "evidence"} <= set(b) for b in data["lineage"])


def test_html_shows_code_not_backticks(report):
    html = render(report, ReportFormat.html)
    assert "`" not in html
    assert any("`" in f.message or "`" in f.fix for f in report.findings)  # the check above is not vacuous
    assert "<code>license:</code>" in html or "<code>base_model" in html
