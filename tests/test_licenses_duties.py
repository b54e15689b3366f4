"""Duties over a lineage graph, conflicts, and rendering of NOTICE and the attribution section."""

from __future__ import annotations

import licenses as kb


def graph(root_licenses=(), **parents):
    g = kb.LineageGraph()
    g.add(kb.Node("release", tuple(root_licenses), tuple(parents)))
    for name, lic in parents.items():
        g.add(kb.Node(name, (lic,) if lic else ()))
    return g


def test_duties_combine_across_every_ancestor():
    g = kb.LineageGraph()
    g.add(kb.Node("merge", ("llama3.1",), ("a", "b")))
    g.add(kb.Node("a", ("llama3.1",), ("grand",)))
    g.add(kb.Node("b", ("qwen",)))
    g.add(kb.Node("grand", ("llama3.1",)))
    notices = {d.text for d in kb.resolve_duties(g, "merge") if d.kind == "notice"}
    assert notices == {kb.BY_ID["llama3.1"].notice, kb.BY_ID["qwen"].notice}
    via = {d.license: d.via for d in kb.resolve_duties(g, "merge") if d.kind == "notice"}
    assert via["llama3.1"] == ("a", "grand", "merge")
    assert g.ancestors("merge") == ["a", "b", "grand"]


def test_cycles_do_not_loop():
    g = kb.LineageGraph()
    g.add(kb.Node("x", ("mit",), ("y",)))
    g.add(kb.Node("y", ("llama2",), ("x",)))
    assert g.ancestors("x") == ["y"]


def test_each_license_yields_its_duties():
    for lic in kb.LICENSES:
        kinds = {d.kind for d in kb.duties.duties_of(lic, ("base",))}
        assert ("notice" in kinds) == bool(lic.notice)
        assert ("license-text" in kinds) == lic.copy_required
        assert ("name-prefix" in kinds) == bool(lic.name_prefix)
        assert ("use-policy" in kinds) == bool(lic.use_policy_file)
        assert ("attribution" in kinds) == bool(lic.display)


def test_conflicts():
    assert [c.inherited for c in kb.conflicts(graph(["apache-2.0"], base="llama2"), "release")] == ["llama2"]
    assert kb.conflicts(graph(["llama2"], base="llama2"), "release") == []
    assert kb.conflicts(graph(["mit"], base="apache-2.0"), "release") == []
    # RAIL-style: terms without use restrictions conflict, restricted terms do not.
    assert kb.conflicts(graph(["mit"], base="openrail-m"), "release")
    assert not kb.conflicts(graph(["gemma"], base="openrail-m"), "release")
    # Non-commercial terms cannot become commercial.
    assert kb.conflicts(graph(["apache-2.0"], base="cc-by-nc-4.0"), "release")
    # R1-Distill pattern: MIT declared on a Llama 3.1 derivative.
    assert kb.conflicts(graph(["mit"], base="llama3.1"), "release")


def test_render_notice_keeps_existing_text_and_is_idempotent():
    n = [kb.BY_ID["llama2"].notice, kb.BY_ID["qwen"].notice]
    first = kb.render_notice(n, "Copyright 2025 Example Corp.\n")
    assert first.startswith("Copyright 2025 Example Corp.")
    assert all(x in first for x in n)
    assert kb.render_notice(n, first) == first
    assert kb.missing_notices(n, first) == []


def test_attribution_section_replaces_its_earlier_version():
    sec1 = kb.render_attribution_section(
        "Llama-3-x",
        [kb.BaseCredit("meta-llama/Meta-Llama-3-8B", "llama3")],
        ["Built with Meta Llama 3"],
        [kb.BY_ID["llama3"].notice],
    )
    assert "**Built with Meta Llama 3**" in sec1 and "Meta Llama 3 Community License" in sec1
    body = kb.replace_or_append_section("# Llama-3-x\n\nIntro.\n", sec1)
    assert body.count(kb.ATTRIBUTION_START) == 1
    assert kb.replace_or_append_section(body, sec1) == body
    sec2 = sec1.replace("Built with", "Made with")
    assert kb.replace_or_append_section(body, sec2).count(kb.ATTRIBUTION_START) == 1
