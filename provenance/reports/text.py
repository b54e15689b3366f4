"""Plain-text audit report for terminals and logs."""

from __future__ import annotations

from provenance.audit import AuditReport


def render(report: AuditReport) -> str:
    r = report.release
    out: list[str] = []
    declared = ", ".join(f"{d['raw']} ({d['source']})" for d in report.declared) or "none"
    out.append(f"release: {r.path}  model: {r.model_name} ({r.model_name_source})")
    out.append(f"declared license: {declared}")
    out.append("weights: " + (", ".join(r.rel(p) for p in r.weight_files) if r.weight_files else "none"))
    if report.bases:
        out.append("lineage:")
        for b in report.bases:
            lic = ", ".join(b.licenses) or "unknown"
            cmp = ""
            if b.comparison:
                c = b.comparison
                cmp = (
                    f"; weights: {c['verdict']} (p={c.get('p_value')})" if c.get("verdict") else f"; {c.get('skipped')}"
                )
            out.append(
                f"  - {b.name}: license {lic}"
                + (f" from {b.license_source}" if b.license_source else "")
                + f"; established by {', '.join(sorted(set(b.established_by))) or '-'}{cmp}"
            )
    else:
        out.append("lineage: no base model claimed or given")
    if report.inherited:
        out.append(
            "inherited licenses: " + ", ".join(f"{i['license']} (via {', '.join(i['via'])})" for i in report.inherited)
        )
    out.append("")
    if report.findings:
        out.append(f"findings ({len(report.findings)}):")
        for f in report.findings:
            where = f" [{f.file}]" if f.file else ""
            out.append(f"  {f.severity.upper():7} {f.id}{where}: {f.message}")
            if f.fix:
                out.append(f"          fix: {f.fix}")
    else:
        out.append("findings: none")
    if report.ignored:
        out.append(f"ignored by config: {', '.join(sorted({f.id for f in report.ignored}))}")
    if report.files_to_write:
        out.append("")
        out.append("files --write would write:" if not report.written else "files still to write:")
        for w in report.files_to_write:
            force = " (needs --force)" if w.needs_force else ""
            out.append(f"  {w.action:11} {w.path}: {w.reason}{force}")
    if report.written:
        out.append("")
        out.append("written by --write:")
        for done in report.written:
            out.append(f"  {done['status']:8} {done['path']}: {done['reason']}")
    c = report.counts()
    failed = "FAIL" if report.failing() else "PASS"
    out.append("")
    out.append(
        f"{failed}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} info; fail-on {report.config.fail_on}"
    )
    return "\n".join(out) + "\n"
