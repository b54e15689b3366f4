"""Identification of the records added for issue 12, by card id and by text; use-policy recognition; and the
per-record facts the issue asks for (Qwen display and mark-modified duties, Tongyi relicensing, Yi credit)."""

from __future__ import annotations

from pathlib import Path

import pytest

import licenses as kb

TEXTS = Path(__file__).resolve().parents[1].parent / "shared" / "license-texts"


def _read(rel: str) -> str:
    path = TEXTS / rel
    if not path.is_file():
        pytest.skip(f"../shared/license-texts/{rel} is not present")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "license_value,license_name,expected",
    [
        ("other", "tongyi-qianwen-research", "tongyi-qianwen-research"),
        ("other", "tongyi-qianwen", "tongyi-qianwen"),
        ("other", "tongyi-qianwen-license-agreement", "tongyi-qianwen"),
        ("other", "qwen-research", "qwen-research"),
        ("other", "qwen", "qwen"),
        ("bigscience-openrail-m", None, "bigscience-openrail-m"),
        ("bigscience-bloom-rail-1.0", None, "bigscience-bloom-rail-1.0"),
        ("creativeml-openrail-m", None, "openrail-m"),
        ("cc-by-nc-sa-4.0", None, "cc-by-nc-sa-4.0"),
        ("CC-BY-NC-SA-4.0", None, "cc-by-nc-sa-4.0"),
        ("other", "falcon-180b-tii-license", "falcon-180b-tii-license"),
        ("llama4", None, "llama4"),
        ("gemma", None, "gemma"),
        ("other", "deepseek", "deepseek"),
        ("mit", None, "mit"),
    ],
)
def test_card_ids(license_value, license_name, expected):
    rec, _ = kb.lookup_card(license_value, license_name)
    assert rec is not None and rec.id == expected


def test_tongyi_research_text_is_not_the_commercial_license():
    research, commercial = _read("qwen_research/LICENSE"), _read("qwen/LICENSE")
    assert kb.identify_text(research).license.id == "tongyi-qianwen-research"
    assert kb.identify_text(commercial).license.id == "tongyi-qianwen"
    # The commercial title with the research date is neither (the date line decides, like Llama 3.x).
    forged = commercial.replace("August 3, 2023", "November 30, 2023")
    m = kb.identify_text(forged)
    assert m is None or m.license.id != "tongyi-qianwen"
    r, c = kb.BY_ID["tongyi-qianwen-research"], kb.BY_ID["tongyi-qianwen"]
    assert r.notice != c.notice and "RESEARCH" in r.notice
    assert r.non_commercial and not c.non_commercial


def test_texts_without_a_shared_copy_are_identified_from_their_title_and_date_lines():
    cases = {
        "BigScience Open RAIL-M License\ndated August 18, 2022\n\nSection I: PREAMBLE\n": "bigscience-openrail-m",
        "BigScience RAIL License v1.0\ndated May 19, 2022\n\nThis is a license": "bigscience-bloom-rail-1.0",
        "CreativeML Open RAIL-M\ndated August 22, 2022\n": "openrail-m",
        "FALCON 180B TII LICENSE VERSION 1.0\nSeptember 2023\nfalconllm.tii.ae\n": "falcon-180b-tii-license",
        "Falcon 2 11B TII License Version 1.0\nMay 2024\n": "falcon-llm-license",
        "Attribution-NonCommercial-ShareAlike 4.0 International\n\nCreative Commons Corporation": "cc-by-nc-sa-4.0",
        "Attribution-NonCommercial 4.0 International\n\nCreative Commons Corporation": "cc-by-nc-4.0",
        "Attribution 4.0 International\n\nCreative Commons Corporation": "cc-by-4.0",
    }
    for text, expected in cases.items():
        m = kb.identify_text(text)
        assert m is not None and m.license.id == expected, (text, m)


def test_qwen_research_owes_display_and_marked_modifications():
    lic = kb.BY_ID["qwen-research"]
    kinds = {d.kind: d for d in kb.duties.duties_of(lic, ("Qwen/Qwen2.5-3B",))}
    assert lic.display == ("Built with Qwen", "Improved using Qwen")
    assert "attribution" in kinds and kinds["attribution"].source.endswith("§4.b")
    assert "mark-modifications" in kinds and kinds["mark-modifications"].source.endswith("§3.b")


@pytest.mark.parametrize("lic_id", ["tongyi-qianwen", "tongyi-qianwen-research", "qwen", "qwen-research"])
def test_alibaba_licenses_mark_modified_files_and_allow_other_terms_for_the_whole(lic_id):
    lic = kb.BY_ID[lic_id]
    assert lic.mark_modifications and lic.clause("mark_modifications").section == "§3.b"
    assert lic.relicense is kb.Relicense.YES and lic.clause("relicense").section == "§3.d"


def test_tongyi_relicensing_is_not_a_conflict_but_its_duties_remain():
    g = kb.LineageGraph()
    g.add(kb.Node("release", ("apache-2.0",), ("Qwen/Qwen-7B",)))
    g.add(kb.Node("Qwen/Qwen-7B", ("tongyi-qianwen",)))
    assert kb.conflicts(g, "release") == []
    notices = {d.text for d in kb.resolve_duties(g, "release") if d.kind == "notice"}
    assert kb.BY_ID["tongyi-qianwen"].notice in notices
    # The research licenses stay non-commercial: a commercial license on top is still a conflict.
    g.add(kb.Node("Qwen/Qwen-7B", ("tongyi-qianwen-research",)))
    assert [c.inherited for c in kb.conflicts(g, "release")] == ["tongyi-qianwen-research"]


def test_yi_owes_credit_to_its_source():
    lic = kb.BY_ID["yi-license"]
    assert lic.attribute_source and "Licensor" in lic.attribute_source
    assert lic.clause("attribute_source").section == "§2(4)"
    assert lic.source_of("attribute_source") == "S11 §2(4)"


@pytest.mark.parametrize(
    "lic_id,rel,in_license",
    [
        ("llama2", "llama2", False),
        ("llama3", "llama3", True),
        ("llama3", "llama3_repo", True),
        ("llama3.1", "llama3_1", False),
        ("llama3.2", "llama3_2", False),
        ("llama3.3", "llama3_3", False),
        ("llama4", "llama4", False),
        ("llama2", "llama2_repo", False),
    ],
)
def test_use_policy_is_recognised_in_a_policy_file_and_inside_a_license(lic_id, rel, in_license):
    lic = kb.BY_ID[lic_id]
    assert kb.contains_use_policy(_read(f"{rel}/USE_POLICY.md"), lic)
    # Meta's Llama 3 LICENSE files embed the whole policy; the others only incorporate it by reference.
    assert kb.contains_use_policy(_read(f"{rel}/LICENSE"), lic) is in_license
    assert "incorporated by reference" in lic.clause("use_policy_file").quote
    assert lic.clause("use_policy_file").section == "§1.b.iv"


def test_a_policy_of_another_version_does_not_count():
    policy_31 = _read("llama3_1/USE_POLICY.md")
    assert kb.find_use_policy(policy_31).id == "llama3.1"
    assert not kb.contains_use_policy(policy_31, kb.BY_ID["llama3.3"])
    assert not kb.contains_use_policy(_read("llama3_1/LICENSE"), kb.BY_ID["llama3.1"])
    assert kb.find_use_policy("Please adhere to the Acceptable Use Policy.") is None


@pytest.mark.parametrize("lic", kb.LICENSES, ids=lambda lic: lic.id)
def test_every_record_has_a_source_and_a_version_line(lic):
    assert lic.source_of("*"), "every record names its source"
    assert lic.version.strip(), "every record names the version or date line it was written from"
    for fact, clause in lic.clauses:
        assert clause.section and clause.quote and len(clause.quote) < 300, (fact, "short quotes only")
        assert lic.source_of(fact).endswith(clause.section)
