"""CycloneDX 1.6 ML-BOM: the release as a ``machine-learning-model`` component, its bases as
``pedigree.ancestors``, licenses as SPDX ids or ``LicenseRef-`` expressions (SPDX has ids only for the generic
licenses; model licenses use ScanCode LicenseDB keys)."""

from __future__ import annotations

import json
import re
from typing import Any

import licenses as kb
from provenance import __version__
from provenance.audit import AuditReport, BaseInfo

_SPDX_GENERIC = {"Apache-2.0", "MIT", "CC-BY-4.0", "CC-BY-NC-4.0"}


def _license_choice(ids: list[str], raw: str | None = None) -> list[dict[str, Any]]:
    spdx = [kb.BY_ID[i].spdx for i in ids if i in kb.BY_ID]
    if not spdx:
        return [{"license": {"name": raw}}] if raw else []
    if len(spdx) == 1 and spdx[0] in _SPDX_GENERIC:
        return [{"license": {"id": spdx[0]}}]
    return [{"expression": " AND ".join(sorted(set(spdx)))}]


def _ref(prefix: str, name: str) -> str:
    return f"{prefix}:{re.sub(r'[^A-Za-z0-9._/-]+', '-', name)}"


def _ancestor(b: BaseInfo) -> dict[str, Any]:
    comp: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": _ref("base", b.hub_id or b.name),
                            "name": b.hub_id or b.name}
    lic = _license_choice(b.licenses, b.license_raw)
    if lic:
        comp["licenses"] = lic
    if b.hub_id:
        comp["externalReferences"] = [{"type": "website", "url": f"https://huggingface.co/{b.hub_id}"}]
    props = [{"name": "provenance:established_by", "value": how} for how in sorted(set(b.established_by))]
    if b.comparison and b.comparison.get("verdict"):
        props.append({"name": "provenance:weights_verdict", "value": str(b.comparison["verdict"])})
        props.append({"name": "provenance:weights_p_value", "value": str(b.comparison.get("p_value"))})
    if props:
        comp["properties"] = props
    return comp


def bom(report: AuditReport) -> dict[str, Any]:
    r = report.release
    declared_ids = [d["license"] for d in report.declared if d["license"]]
    raw = next((d["raw"] for d in report.declared), None)
    model: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": _ref("model", r.model_name),
                             "name": r.model_name}
    lic = _license_choice(declared_ids[:1], raw)
    if lic:
        model["licenses"] = lic
    if report.bases:
        model["pedigree"] = {"ancestors": [_ancestor(b) for b in report.bases]}
    props = [{"name": f"provenance:finding:{f.id}", "value": f.message} for f in report.findings]
    props += [{"name": "provenance:inherited_license", "value": i["license"]} for i in report.inherited]
    model["modelCard"] = {"considerations": {"ethicalConsiderations": [
        {"name": d.text, "mitigationStrategy": f"{d.license} ({d.kind})"}
        for d in report.duties if d.kind in ("pass-through", "commercial-limit")]}}
    if props:
        model["properties"] = props
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"tools": {"components": [{"type": "application", "name": "provenance",
                                               "version": __version__}]},
                     "component": model},
        "components": [],
    }


def render(report: AuditReport) -> str:
    return json.dumps(bom(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
