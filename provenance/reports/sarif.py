"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One rule per finding id, each with a ``helpUri`` (its section in docs/ecosystem.md) and Markdown help. Results
point at files that exist (see :mod:`provenance.reports.locations`): the card's line and column for findings about
card content, the card for a missing file, else the release folder. ``partialFingerprints`` key on what the
finding is about (id, file relative to the release, license, base), never on the model's name, so renaming a
model keeps its alerts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from provenance import __version__
from provenance.audit import RULES, AuditReport, Finding
from provenance.reports import DISTRIBUTION, PROJECT_URL, rule_help_uri
from provenance.reports.locations import locate, prefix

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
RULE_IDS = sorted(RULES)
FINGERPRINT_KEY = "provenanceFinding/v1"  # the key name is public; its inputs no longer include the model name


def fingerprint(f: Finding, occurrence: int = 0) -> str:
    """Stable across runs, message rewording and renames of the model: rule, file relative to the release folder,
    license and base (plus the occurrence number when several findings share all of these)."""
    key = "\x1f".join([f.id, f.file or "", f.license or "", f.base or "", str(occurrence) if occurrence else ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def rule_markdown(rid: str, level: str) -> str:
    r = RULES[rid]
    return (
        f"**{r.title}** (`{rid}`, default level {r.severity}; this run: {level})\n\n{r.help}\n\n"
        f"Change the level or silence it in `[tool.provenance]` (pyproject.toml or provenance.toml): "
        f'`severity = {{ "{rid}" = "warning" }}` or `ignore = ["{rid}"]`. '
        f"`provenance audit --write` creates missing files and card metadata where it can.\n\n"
        f"[Documentation]({rule_help_uri(rid)})"
    )


def _rule(report: AuditReport, rid: str) -> dict[str, Any]:
    level = report.config.severity_of(rid)
    return {
        "id": rid,
        "name": "".join(w.capitalize() for w in rid.split("-")),
        "shortDescription": {"text": RULES[rid].title},
        "fullDescription": {"text": RULES[rid].help},
        "defaultConfiguration": {"level": LEVEL[level]},
        "helpUri": rule_help_uri(rid),
        "help": {"text": f"{RULES[rid].help} See {rule_help_uri(rid)}", "markdown": rule_markdown(rid, level)},
        "properties": {"tags": ["license", "provenance"]},
    }


def _location(report: AuditReport, f: Finding) -> dict[str, Any]:
    loc = locate(report, f)
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": loc.uri + ("/" if loc.is_dir and loc.uri != "." else ""), "uriBaseId": "%SRCROOT%"}
    }
    if not loc.is_dir:
        region: dict[str, Any] = {"startLine": loc.line or 1}
        if loc.column:
            region["startColumn"] = loc.column
        physical["region"] = region
    out: dict[str, Any] = {"physicalLocation": physical}
    if loc.stand_in:
        out["message"] = {"text": f"{f.file} does not exist in the release; add it there."}
    return out


def render(report: AuditReport) -> str:
    results = []
    seen: dict[str, int] = {}
    for f in report.findings:
        base_fp = fingerprint(f)
        seen[base_fp] = seen.get(base_fp, -1) + 1
        text = f.message + (f" Fix: {f.fix}" if f.fix else "")
        results.append(
            {
                "ruleId": f.id,
                "ruleIndex": RULE_IDS.index(f.id),
                "level": LEVEL[f.severity],
                "message": {"text": text},
                "locations": [_location(report, f)],
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f, seen[base_fp])},
            }
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "provenance",
                        "fullName": f"{DISTRIBUTION} audit",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": PROJECT_URL,
                        "rules": [_rule(report, rid) for rid in RULE_IDS],
                    }
                },
                # The category keys on the release folder's path, not the model's name (a rename keeps the alerts).
                "automationDetails": {"id": f"provenance-audit/{prefix(report).rstrip('/') or '.'}/"},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
