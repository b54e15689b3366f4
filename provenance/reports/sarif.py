"""SARIF 2.1.0 for GitHub code scanning: one rule per finding id, results located in README.md / NOTICE /
config.json (relative to the repository when the release sits inside the working directory)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from provenance import __version__
from provenance.audit import RULES, AuditReport, Finding

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
RULE_IDS = sorted(RULES)


def _prefix(release_path: Path) -> str:
    """The release directory relative to the current directory, when it is inside it ("" otherwise)."""
    try:
        rel = release_path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel + "/"


def fingerprint(report: AuditReport, f: Finding, occurrence: int = 0) -> str:
    """Stable across runs and message rewording: rule, file, license, base and the model's name (plus the
    occurrence number when several findings share all of these)."""
    key = "\x1f".join([f.id, f.file or "", f.license or "", f.base or "", report.release.model_name,
                       str(occurrence) if occurrence else ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def render(report: AuditReport) -> str:
    prefix = _prefix(report.release.path)
    card = report.release.rel(report.release.card_path) if report.release.card_path else "README.md"
    rules = [{
        "id": rid,
        "name": "".join(w.capitalize() for w in rid.split("-")),
        "shortDescription": {"text": RULES[rid].title},
        "fullDescription": {"text": RULES[rid].help},
        "defaultConfiguration": {"level": LEVEL[report.config.severity_of(rid)]},
        "help": {"text": RULES[rid].help},
    } for rid in RULE_IDS]
    results = []
    seen: dict[str, int] = {}
    for f in report.findings:
        base_fp = fingerprint(report, f)
        seen[base_fp] = seen.get(base_fp, -1) + 1
        text = f.message + (f" Fix: {f.fix}" if f.fix else "")
        results.append({
            "ruleId": f.id,
            "ruleIndex": RULE_IDS.index(f.id),
            "level": LEVEL[f.severity],
            "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": prefix + (f.file or card), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1}}}],
            "partialFingerprints": {"provenanceFinding/v1": fingerprint(report, f, seen[base_fp])},
        })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "provenance", "version": __version__, "semanticVersion": __version__,
                                "informationUri": "https://pypi.org/project/provenance/", "rules": rules}},
            "automationDetails": {"id": f"provenance-audit/{report.release.model_name}/"},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
