"""Every record against the real license texts in ../shared/license-texts: each text is identified as its own
record, and every clause a record quotes is found, word for word, in that text."""

from __future__ import annotations

from pathlib import Path

import pytest

import licenses as kb
from licenses.identify import plain

TEXTS = Path(__file__).resolve().parents[1].parent / "shared" / "license-texts"

# record id -> the real text(s) it was written from (paths relative to ../shared/license-texts)
REAL_TEXTS = {
    "llama2": ("llama2/LICENSE", "llama2_repo/LICENSE"),
    "llama3": ("llama3/LICENSE", "llama3_repo/LICENSE"),
    "llama3.1": ("llama3_1/LICENSE",),
    "llama3.2": ("llama3_2/LICENSE",),
    "llama3.3": ("llama3_3/LICENSE",),
    "llama4": ("llama4/LICENSE",),
    "gemma": ("gemma/LICENSE",),
    "tongyi-qianwen": ("qwen/LICENSE",),
    "tongyi-qianwen-research": ("qwen_research/LICENSE",),
    "qwen-research": ("qwen_research_2_5/LICENSE",),
    "yi-license": ("yi/LICENSE",),
    "deepseek": ("deepseek/LICENSE",),
    "apache-2.0": ("apache-2.0/LICENSE",),
    "mit": ("mit/LICENSE-deepseek-r1", "mit/LICENSE-microsoft-phi-2"),
}
CASES = [(lid, rel) for lid, rels in REAL_TEXTS.items() for rel in rels]


def _read(rel: str) -> str:
    path = TEXTS / rel
    if not path.is_file():
        pytest.skip(f"../shared/license-texts/{rel} is not present")
    return path.read_text(encoding="utf-8")


def _quote_found(quote: str, text: str) -> bool:
    """The quote's pieces (split at "…") occur in the text in order, compared as plain text."""
    flat, pos = plain(text).lower(), 0
    for piece in quote.split("…"):
        piece = plain(piece).lower().strip(" ,.;")
        if not piece:
            continue
        i = flat.find(piece, pos)
        if i < 0:
            return False
        pos = i + len(piece)
    return True


@pytest.mark.parametrize("lic_id,rel", CASES)
def test_real_text_is_identified_as_its_record(lic_id, rel):
    match = kb.identify_text(_read(rel))
    assert match is not None and match.license.id == lic_id
    lic = kb.BY_ID[lic_id]
    if lic.signature.version:
        assert match.version
    assert lic.version, "the record names the version or date line of the text it was written from"


@pytest.mark.parametrize("lic_id,rel", CASES)
def test_every_quoted_clause_is_in_the_real_text(lic_id, rel):
    text = _read(rel)
    lic = kb.BY_ID[lic_id]
    assert lic.clauses, f"{lic_id}: a record written from a real text quotes its clauses"
    missing = [(fact, c.section, c.quote) for fact, c in lic.clauses if not _quote_found(c.quote, text)]
    assert missing == []


@pytest.mark.parametrize("lic_id,rel", CASES)
def test_required_notice_string_is_the_texts_own(lic_id, rel):
    lic = kb.BY_ID[lic_id]
    if lic.notice:
        assert _quote_found(lic.notice, _read(rel))


def test_quote_check_is_not_vacuous():
    text = _read("qwen/LICENSE")
    assert _quote_found("You shall cause any modified files to carry prominent notices", text)
    assert not _quote_found("You shall display Built with Qwen", text)
    assert not _quote_found("cause any modified files … Release Date: August 3, 2023", text)  # order matters


@pytest.mark.parametrize("lic_id,rel", CASES)
def test_every_duty_of_a_record_written_from_a_real_text_has_its_clause(lic_id, rel):
    """The duties the audit derives (duties.duties_of) each rest on a quoted clause."""
    lic = kb.BY_ID[lic_id]
    field_of = {
        "license-text": "copy_required",
        "notice": "notice",
        "attribution": "display",
        "name-prefix": "name_prefix",
        "use-policy": "use_policy_file",
        "pass-through": "pass_through",
        "mark-modifications": "mark_modifications",
        "commercial-limit": "commercial",
    }
    for duty in kb.duties.duties_of(lic, ("base",)):
        fact = field_of.get(duty.kind)
        if fact is None:  # outputs-for-training is stated for every record, restricting or not
            continue
        assert lic.clause(fact) is not None, (lic_id, duty.kind)
        assert "§" in duty.source or "¶" in duty.source, duty.source
    if lic.attribute_source:
        assert lic.clause("attribute_source") is not None
