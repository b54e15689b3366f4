"""A self-contained HTML report: inline CSS and SVG, no scripts, nothing fetched from the network."""

from __future__ import annotations

import re
from html import escape

from provenance.audit import SEVERITIES, AuditReport
from provenance.reports.style import CSS

COLOR = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}


def inline(text: str) -> str:
    """Escaped text with Markdown-style `code` spans shown as code, not as raw backticks."""
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escape(text))


def severity_chart(counts: dict[str, int]) -> str:
    """Horizontal bars, one per severity."""
    width, bar_h, gap, label_w = 420, 22, 8, 80
    top = max(1, max(counts.values()))
    rows = []
    for i, sev in enumerate(reversed(SEVERITIES)):
        y = i * (bar_h + gap)
        w = int((width - label_w - 40) * counts[sev] / top)
        rows.append(
            f'<text x="0" y="{y + 16}" font-size="13">{sev}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{COLOR[sev]}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 16}" font-size="13">{counts[sev]}</text>'
        )
    h = len(SEVERITIES) * (bar_h + gap)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" class="chart" role="img" '
        f'aria-label="findings by severity">{"".join(rows)}</svg>'
    )


def lineage_chart(report: AuditReport) -> str:
    """Bases in a column on the left, arrows into the release on the right."""
    bases = report.bases or []
    box_w, box_h, gap = 260, 34, 12
    n = max(1, len(bases))
    h = n * (box_h + gap) + gap
    ry = h / 2 - box_h / 2
    parts = []
    for i, b in enumerate(bases):
        y = gap + i * (box_h + gap)
        label = f"{b.hub_id or b.name} [{', '.join(b.licenses) or 'license unknown'}]"
        fill = "#fff3e0" if not b.disclosed else "#e8f5e9"
        parts.append(
            f'<rect x="5" y="{y}" width="{box_w}" height="{box_h}" rx="5" fill="{fill}" stroke="#888"/>'
            f'<text x="12" y="{y + 21}" font-size="12">{escape(label[:40])}</text>'
            f'<line x1="{box_w + 5}" y1="{y + box_h / 2}" x2="{box_w + 85}" y2="{ry + box_h / 2}" '
            f'stroke="#555" marker-end="url(#arrow)"/>'
        )
    rel = escape(report.release.model_name[:34])
    parts.append(
        f'<rect x="{box_w + 90}" y="{ry}" width="{box_w}" height="{box_h}" rx="5" fill="#e3f2fd" '
        f'stroke="#1565c0"/><text x="{box_w + 98}" y="{ry + 21}" font-size="12">{rel}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {2 * box_w + 100} {h}" class="chart" role="img" '
        f'aria-label="lineage"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        f'markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        f"</defs>{''.join(parts)}</svg>"
    )


def render(report: AuditReport) -> str:
    r = report.release
    c = report.counts()
    status = "FAILS" if report.failing() else "PASSES"
    rows = (
        "".join(
            f'<tr><td class="{f.severity}">{f.severity}</td><td><code>{escape(f.id)}</code></td>'
            f"<td>{escape(f.file or '')}</td><td>{inline(f.message)}</td><td>{inline(f.fix)}</td></tr>"
            for f in report.findings
        )
        or '<tr><td colspan="5">No findings.</td></tr>'
    )
    writes = "".join(
        f"<li><code>{escape(w.path)}</code>: {escape(w.action)}, {inline(w.reason)}</li>" for w in report.files_to_write
    )
    declared = ", ".join(escape(f"{d['raw']} ({d['source']})") for d in report.declared) or "none"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Provenance audit: {escape(r.model_name)}</title>
<style>{CSS}</style></head><body>
<h1>Provenance audit: {escape(r.model_name)}</h1>
<p>The release <strong>{status}</strong> the gate (fail on <code>{escape(report.config.fail_on)}</code>):
{c["error"]} error(s), {c["warning"]} warning(s), {c["info"]} info. Declared license: {declared}.</p>
<h2>Findings by severity</h2>
{severity_chart(c)}
<h2>Lineage</h2>
{lineage_chart(report)}
<p class="legend">Green: a base the card names. Orange: a base the card does not name.</p>
<h2>Findings</h2>
<div class="scroll"><table class="stack"><tr><th>Severity</th><th>Id</th><th>File</th><th>Message</th><th>Fix</th></tr>{rows}</table></div>
<h2>Files --write would write</h2>
<ul>{writes or "<li>none</li>"}</ul>
</body></html>
"""
