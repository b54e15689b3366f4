"""Markdown audit report, e.g. for a GitHub job summary."""

from __future__ import annotations

from provenance.audit import AuditReport

ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def render(report: AuditReport) -> str:
    r = report.release
    c = report.counts()
    verdict = "fails" if report.failing() else "passes"
    out = [
        f"# Provenance audit: {_cell(r.model_name)}",
        "",
        f"The release **{verdict}** the gate (fail on `{report.config.fail_on}`): "
        f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} info.",
        "",
    ]
    declared = ", ".join(f"`{d['raw']}` ({d['source']})" for d in report.declared) or "none"
    out += [
        f"- Declared license: {declared}",
        "- Inherited licenses: "
        + (", ".join(f"`{i['license']}` via {', '.join(i['via'])}" for i in report.inherited) or "none"),
        f"- Weights: {len(r.weight_files)} file(s)",
        "",
    ]
    out += ["## Lineage", ""]
    if report.bases:
        out += ["| Base | License | Established by | Weights |", "|---|---|---|---|"]
        for b in report.bases:
            cmp = b.comparison or {}
            w = f"{cmp['verdict']} (p={cmp.get('p_value')})" if cmp.get("verdict") else cmp.get("skipped", "")
            out.append(
                f"| {_cell(b.name)} | {_cell(', '.join(b.licenses) or 'unknown')} | "
                f"{_cell(', '.join(sorted(set(b.established_by))))} | {_cell(w)} |"
            )
    else:
        out.append("No base model claimed or given.")
    out += ["", "## Findings", ""]
    if report.findings:
        out += ["| | Id | File | Message | Fix |", "|---|---|---|---|---|"]
        for f in report.findings:
            out.append(
                f"| {ICON[f.severity]} {f.severity} | `{f.id}` | {_cell(f.file)} | {_cell(f.message)} | "
                f"{_cell(f.fix)} |"
            )
    else:
        out.append("No findings.")
    if report.files_to_write:
        out += ["", "## Files `--write` would write", "", "| Path | Action | Reason |", "|---|---|---|"]
        for w in report.files_to_write:
            out.append(
                f"| `{_cell(w.path)}` | {w.action}{' (needs --force)' if w.needs_force else ''} | {_cell(w.reason)} |"
            )
    if report.written:
        out += ["", "## Written", ""] + [f"- `{w['path']}`: {w['status']} ({w['reason']})" for w in report.written]
    return "\n".join(out) + "\n"
