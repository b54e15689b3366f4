"""License knowledge base for model releases: declarative records, text identification, duties over a lineage
graph, and rendering of the files a release owes. Pure Python; never imports provenance, torch or numpy.

Not legal advice: the records summarise public license texts and cite where each fact comes from.
"""

from licenses.duties import Conflict, Duty, LineageGraph, Node, conflict_reason, conflicts, resolve_duties
from licenses.identify import TextMatch, get, identify_text, lookup, lookup_card
from licenses.known_models import license_for_repo
from licenses.records import BY_ID, LICENSES, License, Relicense, TextSignature
from licenses.render import (ATTRIBUTION_END, ATTRIBUTION_START, BaseCredit, missing_notices,
                             render_attribution_section, render_notice, replace_or_append_section)

__all__ = [
    "ATTRIBUTION_END", "ATTRIBUTION_START", "BY_ID", "BaseCredit", "Conflict", "Duty", "LICENSES", "License",
    "LineageGraph", "Node", "Relicense", "TextMatch", "TextSignature", "conflict_reason", "conflicts", "get",
    "identify_text", "license_for_repo", "lookup", "lookup_card", "missing_notices", "render_attribution_section",
    "render_notice", "replace_or_append_section", "resolve_duties",
]
