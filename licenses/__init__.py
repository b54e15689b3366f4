"""License knowledge base for model releases: declarative records, text identification, duties over a lineage
graph, and rendering of the files a release owes. Pure Python; never imports provenance, torch or numpy.

Not legal advice: the records summarise public license texts and cite where each fact comes from.
"""

from licenses.duties import Conflict, Duty, LineageGraph, Node, conflict_reason, conflicts, resolve_duties
from licenses.identify import (
    TextMatch,
    contains_use_policy,
    find_use_policy,
    get,
    identify_text,
    lookup,
    lookup_card,
    plain,
)
from licenses.known_models import KnownModel, license_for_repo, licenses_for_repo, repo_history
from licenses.records import BY_ID, LICENSES, Clause, License, Relicense, TextSignature
from licenses.render import (
    ATTRIBUTION_END,
    ATTRIBUTION_START,
    BaseCredit,
    missing_notices,
    render_attribution_section,
    render_notice,
    replace_or_append_section,
)

__all__ = [
    "ATTRIBUTION_END",
    "ATTRIBUTION_START",
    "BY_ID",
    "BaseCredit",
    "Clause",
    "Conflict",
    "Duty",
    "KnownModel",
    "LICENSES",
    "License",
    "LineageGraph",
    "Node",
    "Relicense",
    "TextMatch",
    "TextSignature",
    "conflict_reason",
    "conflicts",
    "contains_use_policy",
    "find_use_policy",
    "get",
    "identify_text",
    "license_for_repo",
    "licenses_for_repo",
    "lookup",
    "lookup_card",
    "missing_notices",
    "plain",
    "render_attribution_section",
    "render_notice",
    "repo_history",
    "replace_or_append_section",
    "resolve_duties",
]
