"""Duties over a lineage graph: what a release owes to every model it came from, and license conflicts.

A lineage graph maps each model to its licenses and its parents (bases). Duties combine across every ancestor:
a merge of a Llama 3.1 model and a Qwen model owes both notices. The release's own declared license adds its
duties too (a release that says it is under Llama 3.1 must ship that text and notice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from licenses.records import BY_ID, License, Relicense


@dataclass(frozen=True)
class Node:
    """One model in the lineage: its licenses (our ids; empty when unknown) and its parents' node ids."""

    id: str
    licenses: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Duty:
    """One thing a release must do, because of ``license``, which reaches it through the models in ``via``.

    kinds: license-text, notice, attribution, attribute-source, name-prefix, use-policy, pass-through,
    mark-modifications, commercial-limit, outputs-for-training. ``names``: for attribute-source, the names that
    credit the source when a card displays one of them (the licensor, its models).
    """

    kind: str
    license: str
    text: str
    file: str | None = None
    via: tuple[str, ...] = ()
    source: str = ""
    names: tuple[str, ...] = ()
    credit: str = ""  # for attribute-source: how a written card credits the source ("the Yi Series Models by 01.AI")


# Who "the source" is, for licenses whose attribute-source duty has no fixed wording: a card line that names any of
# these (or the base model itself, by its Hub id or name) credits it. Yi License v2.1 §2(4): "You must clearly
# attribute the source of the Yi Series Models to the Licensor"; its definitions name the models ("named “Yi”
# provided by the Licensor, including Yi-6B, Yi-34B") and the Licensor (Beijing Lingyiwanwu Information
# Technology Co., Ltd., which publishes as 01.AI, Hub owner ``01-ai``) [S11, license-texts/yi/LICENSE].
@dataclass(frozen=True)
class SourceCredit:
    credit: str  # the credit ``--write`` displays
    names: tuple[str, ...]  # a card that displays any of these credits the source


SOURCE_CREDITS: dict[str, SourceCredit] = {
    "yi-license": SourceCredit(
        "the Yi Series Models by 01.AI", ("Yi", "Yi Series Models", "01.AI", "01-ai/Yi", "01-ai", "Lingyiwanwu")
    ),
}


@dataclass(frozen=True)
class Conflict:
    declared: str
    inherited: str
    reason: str
    via: tuple[str, ...] = ()


@dataclass
class LineageGraph:
    nodes: dict[str, Node] = field(default_factory=dict)

    def add(self, node: Node) -> None:
        self.nodes[node.id] = node

    def ancestors(self, root: str) -> list[str]:
        """Every ancestor of ``root`` (not ``root`` itself), breadth first, each once, cycles ignored."""
        seen: list[str] = []
        queue = list(self.nodes[root].parents) if root in self.nodes else []
        while queue:
            nid = queue.pop(0)
            if nid in seen or nid == root:
                continue
            seen.append(nid)
            if nid in self.nodes:
                queue.extend(self.nodes[nid].parents)
        return seen

    def inherited(self, root: str) -> dict[str, tuple[str, ...]]:
        """license id -> the ancestors that bring it, over the whole graph above ``root``."""
        out: dict[str, list[str]] = {}
        for nid in self.ancestors(root):
            node = self.nodes.get(nid)
            for lic in node.licenses if node else ():
                out.setdefault(lic, []).append(nid)
        return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


def _credit(lic: License) -> tuple[tuple[str, ...], str]:
    c = SOURCE_CREDITS.get(lic.id)
    return (c.names, c.credit) if c else ((), f"the models of the {lic.name}")


def duties_of(lic: License, via: tuple[str, ...]) -> list[Duty]:
    """The duties one license puts on a derivative."""
    d: list[Duty] = []
    if lic.copy_required:
        d.append(
            Duty(
                "license-text", lic.id, f"ship a copy of the {lic.name}", "LICENSE", via, lic.source_of("copy_required")
            )
        )
    if lic.notice:
        d.append(Duty("notice", lic.id, lic.notice, lic.notice_file, via, lic.source_of("notice")))
    if lic.display:
        d.append(Duty("attribution", lic.id, " | ".join(lic.display), "README.md", via, lic.source_of("display")))
    if lic.attribute_source:
        d.append(
            Duty(
                "attribute-source",
                lic.id,
                lic.attribute_source,
                "README.md",
                via,
                lic.source_of("attribute_source"),
                *_credit(lic),
            )
        )
    if lic.name_prefix:
        d.append(Duty("name-prefix", lic.id, lic.name_prefix, "README.md", via, lic.source_of("name_prefix")))
    if lic.use_policy_file:
        d.append(
            Duty(
                "use-policy",
                lic.id,
                lic.use_policy_url or lic.use_policy_file,
                lic.use_policy_file,
                via,
                lic.source_of("use_policy_file"),
            )
        )
    if lic.pass_through:
        d.append(Duty("pass-through", lic.id, lic.pass_through, None, via, lic.source_of("pass_through")))
    if lic.mark_modifications:
        d.append(
            Duty(
                "mark-modifications",
                lic.id,
                "mark modified files with a prominent notice",
                None,
                via,
                lic.source_of("mark_modifications"),
            )
        )
    if lic.commercial != "allowed":
        d.append(Duty("commercial-limit", lic.id, lic.commercial, None, via, lic.source_of("commercial")))
    d.append(
        Duty("outputs-for-training", lic.id, lic.outputs_for_training, None, via, lic.source_of("outputs_for_training"))
    )
    return d


def resolve_duties(graph: LineageGraph, root: str) -> list[Duty]:
    """All duties of ``root``: from its own declared licenses and from every ancestor's, deduplicated by
    (kind, license), in a stable order."""
    sources: dict[str, tuple[str, ...]] = dict(graph.inherited(root))
    own = graph.nodes[root].licenses if root in graph.nodes else ()
    for lic in own:
        sources[lic] = tuple(sorted(set(sources.get(lic, ())) | {root}))
    duties: list[Duty] = []
    for lic_id in sorted(sources):
        if lic_id in BY_ID:
            duties.extend(duties_of(BY_ID[lic_id], sources[lic_id]))
    return duties


def conflict_reason(declared: License, inherited: License) -> str | None:
    """Why declaring ``declared`` on a derivative of an ``inherited``-licensed model is not allowed, or None."""
    if declared.id == inherited.id:
        return None
    if inherited.non_commercial and declared.permits_commercial:
        return f"{inherited.name} is non-commercial, but {declared.name} permits commercial use"
    if inherited.relicense is Relicense.NO:
        return f"{inherited.name} does not allow relicensing derivatives; they stay under {inherited.name}"
    if inherited.relicense is Relicense.WITH_RESTRICTIONS and not declared.pass_through:
        return (
            f"{inherited.name} requires its use restrictions to bind downstream users, and {declared.name} "
            "carries no such restrictions"
        )
    return None


def conflicts(graph: LineageGraph, root: str) -> list[Conflict]:
    """Declared licenses of ``root`` that are incompatible with a license inherited from an ancestor."""
    out: list[Conflict] = []
    node = graph.nodes.get(root)
    for declared_id in node.licenses if node else ():
        declared = BY_ID.get(declared_id)
        if declared is None:
            continue
        for inherited_id, via in graph.inherited(root).items():
            inherited = BY_ID.get(inherited_id)
            if inherited is None:
                continue
            reason = conflict_reason(declared, inherited)
            if reason:
                out.append(Conflict(declared_id, inherited_id, reason, via))
    return out
