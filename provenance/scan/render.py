"""Scan reports other than JSON: text, CSV (one row per model and match), GraphML (for graph tools) and one
self-contained HTML page with an inline SVG graph of the families. All are deterministic for the same report."""

from __future__ import annotations

import csv
import html
import io
import math
from xml.sax.saxutils import quoteattr


def render_text(r: dict) -> str:
    c = r["stats"]["counts"]
    lines = [
        f"{c['models']} models scanned ({c['error']} unreadable) against {c['registry_entries']} registry "
        f"entries and each other: {c['families']} families, {c['undisclosed']} undisclosed derivatives, "
        f"{c['unmatched']} matching nothing",
        "",
    ]
    for f in r["families"]:
        root = f["root"] + (" (registry)" if f["root_kind"] == "registry" else "")
        lines.append(f"family {f['id']}: root {root}")
        for m in f["members"]:
            lines.append(f"  - {m}")
        for e in f["edges"]:
            lines.append(
                f"    {e['a']} ~ {e['b']}: derived ({e['mode']}; log10 p {e['log10_p_value']})"
                + (f" — {', '.join(e['relation'])}" if e["relation"] else "")
            )
    if r["undisclosed"]:
        lines += ["", "undisclosed derivatives:"]
        for u in r["undisclosed"]:
            said = ", ".join(u["declared_bases"]) or "no base"
            lines.append(f"  - {u['path']}: derived from {', '.join(u['bases'])}; the card declares {said}")
    if r["unmatched"]:
        lines += ["", "matching nothing:"] + [f"  - {p}" for p in r["unmatched"]]
    errors = [m for m in r["models"] if m["status"] == "error"]
    if errors:
        lines += ["", "errors:"] + [f"  - {m['error']}" for m in errors]
    t = r["stats"].get("timings")
    if t:
        lines += ["", "time: " + ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in sorted(t.items()))]
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "path",
    "status",
    "error",
    "family",
    "disclosure",
    "match",
    "match_kind",
    "verdict",
    "p_value",
    "log10_p_value",
    "relation",
    "mode",
    "screen_score",
]


def render_csv(r: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for m in r["models"]:
        base = {
            "path": m["path"],
            "status": m["status"],
            "error": m["error"] or "",
            "family": m["family"] or "",
            "disclosure": m["disclosure"] or "",
        }
        if not m["matches"]:
            w.writerow(base)
        for c in m["matches"]:
            w.writerow(
                dict(
                    base,
                    match=c["name"],
                    match_kind=c["kind"],
                    verdict=c["verdict"],
                    p_value=c["p_value"],
                    log10_p_value=c["log10_p_value"],
                    relation=";".join(c["relation"]),
                    mode=c["mode"],
                    screen_score=c["screen_score"],
                )
            )
    return buf.getvalue()


def _nodes(r: dict) -> list[tuple[str, str, dict]]:
    """(node id, label, attributes): every input, and every registry entry some input is derived from."""
    nodes = []
    for m in r["models"]:
        nodes.append(
            (
                "col:" + m["path"],
                m["path"],
                {
                    "kind": "collection",
                    "status": m["status"],
                    "family": m["family"] or 0,
                    "disclosure": m["disclosure"] or "",
                },
            )
        )
    regs = sorted({n for f in r["families"] for n in f["bases"]})
    nodes += [
        ("reg:" + n, n, {"kind": "registry", "status": "ok", "family": _family_of_base(r, n), "disclosure": ""})
        for n in regs
    ]
    return nodes


def _family_of_base(r: dict, name: str) -> int:
    return next((f["id"] for f in r["families"] if name in f["bases"]), 0)


def _edges(r: dict) -> list[dict]:
    out = []
    for f in r["families"]:
        for e in f["edges"]:
            out.append(
                dict(
                    e,
                    source=("reg:" if e["a_kind"] == "registry" else "col:") + e["a"],
                    target=("reg:" if e["b_kind"] == "registry" else "col:") + e["b"],
                )
            )
    return out


def render_graphml(r: dict) -> str:
    keys = [
        ("kind", "node", "string"),
        ("status", "node", "string"),
        ("family", "node", "int"),
        ("disclosure", "node", "string"),
        ("label", "node", "string"),
        ("log10_p_value", "edge", "double"),
        ("relation", "edge", "string"),
        ("mode", "edge", "string"),
    ]
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">']
    out += [f'  <key id="{k}" for="{f}" attr.name="{k}" attr.type="{t}"/>' for k, f, t in keys]
    out.append('  <graph id="provenance-scan" edgedefault="undirected">')
    for nid, label, a in _nodes(r):
        out.append(f"    <node id={quoteattr(nid)}>")
        for k, v in sorted(dict(a, label=label).items()):
            out.append(f'      <data key="{k}">{html.escape(str(v), quote=False)}</data>')
        out.append("    </node>")
    for i, e in enumerate(_edges(r)):
        out.append(f'    <edge id="e{i}" source={quoteattr(e["source"])} target={quoteattr(e["target"])}>')
        out.append(f'      <data key="log10_p_value">{e["log10_p_value"]}</data>')
        out.append(f'      <data key="relation">{html.escape(";".join(e["relation"]), quote=False)}</data>')
        out.append(f'      <data key="mode">{e["mode"]}</data>')
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>"]
    return "\n".join(out) + "\n"


def _svg(r: dict) -> str:
    """Families side by side: the root at the centre of a circle of its members. Inputs in no family are left out
    (they are listed in the tables)."""
    fams = r["families"]
    if not fams:
        return "<p>No family: no input is derived from another input or a registered model.</p>"
    cell, cols = 320, min(3, len(fams))
    rows = math.ceil(len(fams) / cols)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * cell}" height="{rows * cell}" '
        f'viewBox="0 0 {cols * cell} {rows * cell}" font-family="sans-serif" font-size="10">'
    ]
    for i, f in enumerate(fams):
        cx, cy = (i % cols) * cell + cell / 2, (i // cols) * cell + cell / 2
        root = ("reg:" if f["root_kind"] == "registry" else "col:") + f["root"]
        others = [("reg:" + b) for b in f["bases"] if "reg:" + b != root] + [
            ("col:" + m) for m in f["members"] if "col:" + m != root
        ]
        pos = {root: (cx, cy)}
        for j, n in enumerate(others):
            a = 2 * math.pi * j / max(len(others), 1) - math.pi / 2
            pos[n] = (cx + 110 * math.cos(a), cy + 110 * math.sin(a))
        for e in f["edges"]:
            s = ("reg:" if e["a_kind"] == "registry" else "col:") + e["a"]
            t = ("reg:" if e["b_kind"] == "registry" else "col:") + e["b"]
            (x1, y1), (x2, y2) = pos[s], pos[t]
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#888">'
                f"<title>{html.escape(e['a'])} ~ {html.escape(e['b'])}: log10 p {e['log10_p_value']}"
                f"</title></line>"
            )
        for n, (x, y) in pos.items():
            reg = n.startswith("reg:")
            label = n.split(":", 1)[1]
            short = label if len(label) <= 28 else "…" + label[-27:]
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{9 if reg else 6}" '
                f'fill="{"#c0392b" if reg else "#2c7fb8"}"><title>{html.escape(label)}</title></circle>'
            )
            parts.append(f'<text x="{x:.1f}" y="{y + 18:.1f}" text-anchor="middle">{html.escape(short)}</text>')
        parts.append(
            f'<text x="{cx - cell / 2 + 6:.1f}" y="{cy - cell / 2 + 14:.1f}" font-weight="bold">family {f["id"]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(r: dict) -> str:
    esc = html.escape
    c = r["stats"]["counts"]
    rows = []
    for m in r["models"]:
        best = m["matches"][0] if m["matches"] else None
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{esc(str(v))}</td>"
                for v in (
                    m["path"],
                    m["status"] if m["status"] == "ok" else m["error"],
                    m["family"] or "—",
                    (f"{best['name']}: {best['verdict']} (log10 p {best['log10_p_value']})" if best else "—"),
                    m["disclosure"] or "—",
                )
            )
            + "</tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>provenance scan</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:72em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left;font-size:.9em}}</style></head><body>
<h1>Collection lineage</h1>
<p>{c["models"]} models ({c["error"]} unreadable), {c["registry_entries"]} registry entries: {c["families"]} families,
{c["undisclosed"]} undisclosed derivatives, {c["unmatched"]} matching nothing. Red: registered bases; blue: inputs;
a line: shared weight lineage (derived).</p>
{_svg(r)}
<h2>Models</h2>
<table><tr><th>path</th><th>status</th><th>family</th><th>best match</th><th>disclosure</th></tr>
{"".join(rows)}
</table></body></html>
"""
