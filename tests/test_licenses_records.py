"""The license table: every record is complete, identifiable by its title/version line, and carries sources."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import licenses as kb

# The exact notice strings from ../shared/reference/licenses.md (quoted from the license texts).
EXPECTED_NOTICES = {
    "llama1": "LLaMA is licensed under the LLaMA License, Copyright (c) Meta Platforms, Inc. All Rights Reserved.",
    "llama2": "Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. "
    "All Rights Reserved.",
    "llama3": "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms, Inc. "
    "All Rights Reserved.",
    "llama3.1": "Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © Meta Platforms, Inc. "
    "All Rights Reserved.",
    "llama3.2": "Llama 3.2 is licensed under the Llama 3.2 Community License, Copyright © Meta Platforms, Inc. "
    "All Rights Reserved.",
    "llama3.3": "Llama 3.3 is licensed under the Llama 3.3 Community License, Copyright © Meta Platforms, Inc. "
    "All Rights Reserved.",
    "llama4": "Llama 4 is licensed under the Llama 4 Community License, Copyright © Meta Platforms, Inc. "
    "All Rights Reserved.",
    "gemma": "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms",
    "tongyi-qianwen": "Tongyi Qianwen is licensed under the Tongyi Qianwen LICENSE AGREEMENT, Copyright (c) "
    "Alibaba Cloud. All Rights Reserved.",
    "tongyi-qianwen-research": "Tongyi Qianwen is licensed under the Tongyi Qianwen RESEARCH LICENSE AGREEMENT, "
    "Copyright (c) Alibaba Cloud. All Rights Reserved.",
    "qwen": "Qwen is licensed under the Qwen LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. All Rights Reserved.",
    "qwen-research": "Qwen is licensed under the Qwen RESEARCH LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. "
    "All Rights Reserved.",
    "mrl": "Licensed by Mistral AI under the Mistral AI Research License",
    "mnpl": "Licensed by Mistral AI under the Mistral AI Non-Production License",
    # No fixed notice string: keep notices / attribute the source.
    "yi-license": None,
    "deepseek": None,
    "falcon-llm-license": None,
    "openrail-m": None,
    "apache-2.0": None,
    "mit": None,
    "cc-by-4.0": None,
    "cc-by-nc-4.0": None,
    "cc-by-nc-sa-4.0": None,
    "falcon-180b-tii-license": None,
    "bigscience-openrail-m": None,
    "bigscience-bloom-rail-1.0": None,
}

REQUIRED_COVERAGE = {
    "llama1",
    "llama2",
    "llama3",
    "llama3.1",
    "llama3.2",
    "llama3.3",
    "llama4",
    "gemma",
    "tongyi-qianwen",
    "qwen",
    "qwen-research",
    "mrl",
    "mnpl",
    "yi-license",
    "deepseek",
    "falcon-llm-license",
    "openrail-m",
    "apache-2.0",
    "mit",
    "cc-by-4.0",
    "cc-by-nc-4.0",
    "tongyi-qianwen-research",
    "falcon-180b-tii-license",
    "bigscience-openrail-m",
    "bigscience-bloom-rail-1.0",
    "cc-by-nc-sa-4.0",
}

IDS = [lic.id for lic in kb.LICENSES]


def test_table_covers_every_license_of_the_issue():
    assert REQUIRED_COVERAGE <= set(kb.BY_ID)
    assert set(EXPECTED_NOTICES) == set(kb.BY_ID), "a new record needs its expected notice here"
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("lic_id", IDS)
def test_notice_string_is_exact(lic_id):
    lic = kb.BY_ID[lic_id]
    assert lic.notice == EXPECTED_NOTICES[lic_id]
    assert (lic.notice_file is None) == (lic.notice is None)


@pytest.mark.parametrize("lic_id", IDS)
def test_sample_text_is_identified_by_its_title_and_version_line(lic_id):
    lic = kb.BY_ID[lic_id]
    sample = lic.signature.sample
    assert sample and len(sample) < 400, "samples are a title and version line, never a whole license"
    match = kb.identify_text("\n\n" + sample + "\nSome further terms of the agreement follow here.\n")
    assert match is not None and match.license.id == lic_id
    if lic.signature.version:
        assert match.version


@pytest.mark.parametrize("lic_id", [i for i in IDS if kb.BY_ID[i].signature.version])
def test_title_without_the_right_version_line_is_not_identified(lic_id):
    lic = kb.BY_ID[lic_id]
    title_only = "\n".join(
        ln for ln in lic.signature.sample.splitlines() if not re.search(lic.signature.version, ln, re.I)
    )
    m = kb.identify_text(title_only)
    assert m is None or m.license.id != lic_id


def test_near_identical_llama_texts_are_told_apart_by_the_version_line():
    for version, date, expected in (
        ("3.1", "July 23, 2024", "llama3.1"),
        ("3.2", "September 25, 2024", "llama3.2"),
        ("3.3", "December 6, 2024", "llama3.3"),
    ):
        text = f"LLAMA {version} COMMUNITY LICENSE AGREEMENT\nLlama {version} Version Release Date: {date}\n"
        assert kb.identify_text(text).license.id == expected
    # A 3.2 title with a 3.1 date is not taken for either version.
    assert (
        kb.identify_text("LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\nLlama 3.1 Version Release Date: July 23, 2024") is None
    )


def test_unknown_text_matches_nothing():
    assert kb.identify_text("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n") is None
    assert kb.identify_text("") is None


@pytest.mark.parametrize("lic_id", IDS)
def test_card_ids_and_aliases_resolve_to_the_record(lic_id):
    lic = kb.BY_ID[lic_id]
    rec, _ = kb.lookup_card(lic.hf_license, lic.hf_license_name)
    assert rec is lic
    for alias in lic.aliases:
        assert kb.lookup(alias) is lic, alias
    assert kb.lookup(lic.spdx) is lic


@pytest.mark.parametrize("lic_id", IDS)
def test_record_is_complete_with_sources(lic_id):
    lic = kb.BY_ID[lic_id]
    assert re.fullmatch(
        r"(Apache-2\.0|MIT|CC-BY-4\.0|CC-BY-NC-4\.0|CC-BY-NC-SA-4\.0|LicenseRef-[A-Za-z0-9.-]+)", lic.spdx
    )
    assert lic.source_of("notice") and lic.source_of("spdx") and lic.source_of("relicense")
    assert lic.commercial and lic.outputs_for_training and lic.name
    assert isinstance(lic.relicense, kb.Relicense)
    if lic.use_policy_file:
        assert lic.use_policy_url and lic.use_policy_url.startswith("https://")
    if lic.name_prefix:
        assert lic.display, "Meta's naming rule comes with a display line"


def test_spdx_expressions_parse_with_license_expression():
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    for lic in kb.LICENSES:
        parsed = licensing.parse(lic.spdx)
        assert str(parsed) == lic.spdx


def test_naming_and_display_rules_follow_the_reference():
    assert kb.BY_ID["llama3"].name_prefix == "Llama 3"
    assert kb.BY_ID["llama3"].display == ("Built with Meta Llama 3",)
    for v in ("llama3.1", "llama3.2", "llama3.3", "llama4"):
        assert kb.BY_ID[v].name_prefix == "Llama" and kb.BY_ID[v].display == ("Built with Llama",)
    assert kb.BY_ID["llama2"].name_prefix is None and kb.BY_ID["llama2"].display == ()
    assert "Built with Qwen" in kb.BY_ID["qwen"].display


def test_known_hub_models_map_to_records():
    for row in kb.known_models.KNOWN_MODELS:
        assert all(lic_id in kb.BY_ID for lic_id in row.licenses) and row.source, row.pattern
    assert kb.license_for_repo("meta-llama/Llama-2-7b-hf") == ("llama2", "S1")
    assert kb.license_for_repo("meta-llama/Meta-Llama-3.1-8B")[0] == "llama3.1"
    assert kb.license_for_repo("Qwen/Qwen2.5-3B-Instruct")[0] == "qwen-research"
    assert kb.license_for_repo("Qwen/Qwen2.5-7B")[0] == "apache-2.0"
    assert kb.license_for_repo("01-ai/Yi-34B", "2024-01-15")[0] == "yi-license"


def test_licenses_room_imports_neither_provenance_nor_numeric_libraries():
    code = (
        "import sys, licenses; bad = [m for m in ('provenance', 'torch', 'numpy') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


@pytest.mark.parametrize("lic", kb.LICENSES, ids=lambda lic: lic.id)
def test_a_record_is_found_by_its_own_name(lic):
    # GGUF general.license and hand-written cards often carry the license's name rather than an id
    assert kb.lookup(lic.name) is lic
    assert kb.lookup(lic.name.upper()) is lic
