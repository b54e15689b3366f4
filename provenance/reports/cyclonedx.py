"""CycloneDX 1.6 ML-BOM: the release as a ``machine-learning-model`` component.

- Licenses carry ``acknowledgement``: ``declared`` (what the card or GGUF metadata says) and ``concluded`` (what
  the audit finds the release is actually under: the licenses inherited from its bases, plus the declared one
  unless it conflicts with them). A Llama 2 derivative declared apache-2.0 is concluded llama2.
- SPDX has ids only for generic licenses; model licenses are named, with their ScanCode LicenseDB ``LicenseRef-``
  (and the knowledge base's id) as license properties.
- Bases are ``pedigree.ancestors`` with their licenses, Hugging Face ids and package URLs
  (``pkg:huggingface/OWNER/NAME``, purl-spec's type for Hugging Face models; no version when the revision is not
  known), how each was established and the weight verdict.
- Weight files are ``file`` sub-components with their SHA-256 (streamed) and size.
- License duties (notice, attribution, use policy, pass-through, …) are properties ``provenance:duty:KIND``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import licenses as kb
from provenance import __version__
from provenance.audit import AuditReport, BaseInfo
from provenance.reports import DISTRIBUTION, PROJECT_URL

_SPDX_GENERIC = {"Apache-2.0", "MIT", "CC-BY-4.0", "CC-BY-NC-4.0"}
_CHUNK = 1 << 20


def _license(lid: str | None, raw: str | None, acknowledgement: str) -> dict[str, Any] | None:
    rec = kb.BY_ID.get(lid) if lid else None
    if rec is None:
        return {"license": {"name": raw, "acknowledgement": acknowledgement}} if raw else None
    if rec.spdx in _SPDX_GENERIC:
        return {"license": {"id": rec.spdx, "acknowledgement": acknowledgement}}
    lic: dict[str, Any] = {
        "name": rec.name,
        "acknowledgement": acknowledgement,
        "properties": [
            {"name": "provenance:license-ref", "value": rec.spdx},
            {"name": "provenance:license-id", "value": rec.id},
        ],
    }
    if getattr(rec, "url", None):
        lic["url"] = rec.url
    return {"license": lic}


def _licenses(entries: list[tuple[str | None, str | None, str]]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for lid, raw, ack in entries:
        key = (lid or raw, ack)
        lic = _license(lid, raw, ack)
        if lic is not None and key not in seen:
            seen.add(key)
            out.append(lic)
    return out


def concluded_ids(report: AuditReport) -> list[str]:
    """The licenses the release is under as the audit concludes: inherited ones, plus the declared one unless a
    ``license-conflict`` finding (reported or ignored) says the inherited license does not allow it."""
    inherited = [i["license"] for i in report.inherited if i.get("license")]
    declared = [d["license"] for d in report.declared if d.get("license")]
    conflict = any(f.id == "license-conflict" for f in [*report.findings, *report.ignored])
    ids = inherited + ([] if conflict and inherited else declared)
    return sorted(set(ids))


def purl(hub_id: str | None) -> str | None:
    """``pkg:huggingface/OWNER/NAME`` for a Hugging Face repository id (owner optional), else None."""
    if not hub_id or not re.fullmatch(r"(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*", hub_id):
        return None
    return "pkg:huggingface/" + "/".join(quote(part, safe="._-") for part in hub_id.split("/"))


def _ref(prefix: str, name: str) -> str:
    return f"{prefix}:{re.sub(r'[^A-Za-z0-9._/-]+', '-', name)}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _ancestor(b: BaseInfo) -> dict[str, Any]:
    comp: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": _ref("base", b.hub_id or b.name),
        "name": b.hub_id or b.name,
    }
    lic = _licenses([(lid, b.license_raw, "declared") for lid in b.licenses] or [(None, b.license_raw, "declared")])
    if lic:
        comp["licenses"] = lic
    if purl(b.hub_id):
        comp["purl"] = purl(b.hub_id)
    if b.hub_id:
        comp["externalReferences"] = [{"type": "website", "url": f"https://huggingface.co/{b.hub_id}"}]
    props = [{"name": "provenance:established_by", "value": how} for how in sorted(set(b.established_by))]
    if b.license_source:
        props.append({"name": "provenance:license_source", "value": b.license_source})
    if b.comparison and b.comparison.get("verdict"):
        props.append({"name": "provenance:weights_verdict", "value": str(b.comparison["verdict"])})
        props.append({"name": "provenance:weights_p_value", "value": str(b.comparison.get("p_value"))})
    if props:
        comp["properties"] = props
    return comp


def _weight_file(report: AuditReport, path: Path) -> dict[str, Any]:
    rel = report.release.rel(path)
    return {
        "type": "file",
        "bom-ref": _ref("file", rel),
        "name": rel,
        "hashes": [{"alg": "SHA-256", "content": sha256_file(path)}],
        "properties": [{"name": "provenance:size_bytes", "value": str(path.stat().st_size)}],
    }


def bom(report: AuditReport) -> dict[str, Any]:
    r = report.release
    model: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": _ref("model", r.model_name),
        "name": r.model_name,
    }
    declared: list[tuple[Any, Any, str]] = [(d.get("license"), d.get("raw"), "declared") for d in report.declared]
    concluded = [(lid, None, "concluded") for lid in concluded_ids(report)]
    lic = _licenses(declared + concluded)
    if lic:
        model["licenses"] = lic
    if report.bases:
        model["pedigree"] = {"ancestors": [_ancestor(b) for b in report.bases]}
    files = [_weight_file(report, p) for p in sorted(r.weight_files, key=lambda p: r.rel(p)) if p.is_file()]
    if files:
        model["components"] = files
    props = [{"name": f"provenance:finding:{f.id}", "value": f.message} for f in report.findings]
    props += [{"name": "provenance:inherited_license", "value": i["license"]} for i in report.inherited]
    props += [{"name": f"provenance:duty:{d.kind}", "value": f"{d.license}: {d.text}"} for d in report.duties]
    if props:
        model["properties"] = props
    tool = {
        "type": "application",
        "name": DISTRIBUTION,
        "version": __version__,
        "purl": f"pkg:pypi/{DISTRIBUTION}@{__version__}",
        "externalReferences": [{"type": "website", "url": PROJECT_URL}],
    }
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"tools": {"components": [tool]}, "component": model},
        "components": [],
    }


def render(report: AuditReport) -> str:
    return json.dumps(bom(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
