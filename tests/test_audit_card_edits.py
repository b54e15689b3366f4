"""Defect 5: every front-matter edit --write makes produces a card that parses back to exactly the old keys plus
the new ones, whatever style the front matter was written in (property test over generated cards)."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import licenses as kb
from provenance.cards import check_card_text, parse_card, set_front_matter_keys

KEYS = st.sampled_from(
    [
        "license",
        "base_model",
        "tags",
        "language",
        "library_name",
        "pipeline_tag",
        "model_name",
        "datasets",
        "extra_gated_prompt",
        "widget",
    ]
)
SCALARS = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
)
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.sampled_from(["a", "b", "c"]), SCALARS, max_size=3)
)
UPDATES = st.dictionaries(
    st.sampled_from(["base_model", "license", "license_name", "license_link"]),
    st.one_of(
        st.sampled_from(["meta-llama/Meta-Llama-3-8B", "other", "LICENSE"]),
        st.lists(st.sampled_from(["a/b", "c/d"]), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def cards(draw):
    data = draw(st.dictionaries(KEYS, VALUES, max_size=5))
    style = draw(st.sampled_from(["block", "flow", "empty", "braces", "none"]))
    if style == "block":
        fm = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False) if data else ""
    elif style == "flow":
        fm = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=True)
    elif style == "braces":
        fm = "{}\n"
    else:
        fm = ""
    if draw(st.booleans()) and style in ("block", "empty"):
        lines = fm.split("\n")
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, "# a comment: with a colon")
        fm = "\n".join(lines)
        if not fm.endswith("\n"):
            fm += "\n"
    body = draw(
        st.sampled_from(
            [
                "# Model Card for Model ID\n",
                "",
                "text\n---\nsecond: block\n---\nmore\n",
                "---\nnot: front matter\n---\n",
            ]
        )
    )
    text = body if style == "none" else "---\n" + fm + "---\n" + body
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


@settings(max_examples=300, deadline=None)
@given(cards(), UPDATES)
def test_front_matter_edits_round_trip(text, updates):
    before = parse_card(text)
    new = set_front_matter_keys(text, updates)
    after = check_card_text(new)
    assert after.front_matter == {**before.front_matter, **updates}
    assert after.body.replace("\r\n", "\n") == before.body.replace("\r\n", "\n")
    # PyYAML itself reads the new front matter back.
    ys, ye = after.front_matter_span
    assert (yaml.safe_load(new[ys:ye]) or {}) == after.front_matter
    # The attribution section lands in the body and leaves the front matter as it is.
    section = kb.render_attribution_section("M", [], ["Built with Llama"], [])
    final = check_card_text(kb.replace_or_append_section(new, section))
    assert final.front_matter == after.front_matter


def test_edit_keeps_comments_and_order_when_a_line_edit_is_safe():
    text = "---\n# comment\nlicense: mit # trailing\ntags:\n- a\n---\n# M\n"
    new = set_front_matter_keys(text, {"base_model": "a/b"})
    assert new == "---\n# comment\nlicense: mit # trailing\ntags:\n- a\nbase_model: a/b\n---\n# M\n"


def test_crlf_and_bom_are_kept():
    text = "\ufeff---\r\nlicense: mit\r\n---\r\n# M\r\n"
    new = set_front_matter_keys(text, {"base_model": "a/b"})
    assert new == "\ufeff---\r\nlicense: mit\r\nbase_model: a/b\r\n---\r\n# M\r\n"
