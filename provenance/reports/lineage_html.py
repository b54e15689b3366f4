"""The `compare` report as one self-contained HTML page for reviewers: inline CSS and SVG, no scripts, no network.

Three charts, each drawn from fields of the JSON report (so the page shows nothing the JSON does not hold):
the p-value on the verdict scale (thresholds marked), per-layer evidence (token-space CKA and, in deep mode, the
neuron test's −log10 p), and the layer map (which reference layer each suspect layer matches).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from provenance.reports.style import CSS

VERDICT_COLOR = {"derived": "#c62828", "independent": "#2e7d32", "inconclusive": "#ef6c00"}
SVG = 'xmlns="http://www.w3.org/2000/svg" role="img"'


def _fmt(x: Any, spec: str) -> str:
    return format(x, spec) if isinstance(x, (int, float)) else "—"


def verdict_scale(r: dict) -> str:
    """A horizontal log10 p axis from 0 to the evidence (at least −10), with the two thresholds and the result.

    The axis is logarithmic in |log10 p| (position ∝ log(1 + |log10 p|)), so the thresholds at −2 and −6 stay
    readable beside the −100s that exact copies reach."""
    t = r.get("thresholds", {})
    derived_at, indep_above = t.get("derived_log10_p_at_most", -6.0), t.get("independent_log10_p_above", -2.0)
    lp = float(r["log10_p_value"])
    low = min(-10.0, lp)
    width, left, right = 640, 20, 60
    span = math.log1p(-low)

    def x(v: float) -> float:
        return left + (width - left - right) * math.log1p(max(0.0, -v)) / span

    parts = [f'<rect x="{x(0):.1f}" y="20" width="{x(indep_above) - x(0):.1f}" height="18" fill="#e8f5e9"/>',
             f'<rect x="{x(indep_above):.1f}" y="20" width="{x(derived_at) - x(indep_above):.1f}" height="18" '
             f'fill="#fff3e0"/>',
             f'<rect x="{x(derived_at):.1f}" y="20" width="{x(low) - x(derived_at):.1f}" height="18" fill="#ffebee"/>',
             f'<text x="{x(0):.1f}" y="14" font-size="11">independent</text>',
             f'<text x="{x(derived_at) + 3:.1f}" y="14" font-size="11">derived</text>']
    for v in sorted({0.0, indep_above, derived_at, float(math.floor(low))}, reverse=True):
        parts.append(f'<text x="{x(v):.1f}" y="54" font-size="11" text-anchor="middle">{v:g}</text>')
    color = VERDICT_COLOR.get(r["verdict"], "#333")
    anchor = "end" if x(lp) > width / 2 else "start"
    parts.append(f'<line x1="{x(lp):.1f}" y1="16" x2="{x(lp):.1f}" y2="42" stroke="{color}" stroke-width="3"/>')
    parts.append(f'<text x="{x(lp):.1f}" y="70" font-size="12" fill="{color}" text-anchor="{anchor}">'
                 f'this pair: log10 p = {lp:g}</text>')
    return (f'<svg {SVG} width="{width}" height="76" aria-label="p-value on the verdict scale">'
            f'{"".join(parts)}</svg>')


def layer_bars(layers: list[dict]) -> str:
    """Per suspect layer: token CKA (0..1, blue) and, when present, −log10 p of the neuron test (scaled, red)."""
    if not layers:
        return "<p>No layers.</p>"
    bar_w, gap, h, top = 14, 10, 140, 16
    max_lp = max([-(e.get("log10_p") or 0.0) for e in layers] + [1.0])
    width = 40 + len(layers) * (2 * bar_w + gap)
    parts = [f'<line x1="30" y1="{top + h}" x2="{width}" y2="{top + h}" stroke="#888"/>']
    for i, e in enumerate(layers):
        x0 = 36 + i * (2 * bar_w + gap)
        cka = max(0.0, min(1.0, float(e.get("token_cka") or 0.0)))
        hc = h * cka
        parts.append(f'<rect x="{x0}" y="{top + h - hc:.1f}" width="{bar_w}" height="{hc:.1f}" fill="#1565c0">'
                     f'<title>layer {e["suspect"]}: token CKA {cka:.3f}</title></rect>')
        if e.get("log10_p") is not None:
            lp = -float(e["log10_p"])
            hp = h * max(0.0, lp) / max_lp
            parts.append(f'<rect x="{x0 + bar_w}" y="{top + h - hp:.1f}" width="{bar_w}" height="{hp:.1f}" '
                         f'fill="#c62828"><title>layer {e["suspect"]}: log10 p {e["log10_p"]:.1f}</title></rect>')
        parts.append(f'<text x="{x0 + bar_w}" y="{top + h + 14}" font-size="10" text-anchor="middle">'
                     f'{e["suspect"]}</text>')
    parts.append(f'<text x="0" y="{top + 4}" font-size="10">1.0</text>'
                 f'<text x="0" y="{top + h}" font-size="10">0</text>')
    return (f'<svg {SVG} width="{width}" height="{top + h + 22}" aria-label="per-layer evidence">'
            f'{"".join(parts)}</svg>')


def layer_map(layers: list[dict], n_reference: Any) -> str:
    """A grid, suspect layers down, reference layers across; a filled cell where a suspect layer is mapped."""
    if not layers:
        return ""
    n_ref = max([int(e["reference"]) + 1 for e in layers] + [n_reference if isinstance(n_reference, int) else 0])
    cell, left, top = 14, 34, 18
    width, height = left + n_ref * cell + 4, top + len(layers) * cell + 4
    parts = []
    for j in range(n_ref):
        if n_ref <= 40 or j % 5 == 0:
            parts.append(f'<text x="{left + j * cell + cell / 2}" y="12" font-size="9" text-anchor="middle">'
                         f'{j}</text>')
    for i, e in enumerate(layers):
        y = top + i * cell
        parts.append(f'<text x="{left - 4}" y="{y + 11}" font-size="9" text-anchor="end">{e["suspect"]}</text>')
        for j in range(n_ref):
            mapped = int(e["reference"]) == j
            fill = "#1565c0" if mapped else "#f3f3f3"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}"/>')
    return (f'<svg {SVG} width="{width}" height="{height}" aria-label="layer map">{"".join(parts)}</svg>')


def render(r: dict) -> str:
    """The whole page for one `compare` report (the dict :func:`provenance.lineage.compare_paths` returns)."""
    color = VERDICT_COLOR.get(r["verdict"], "#333")
    layers = list(r.get("layers") or [])
    ref_layers = (r.get("models") or {}).get("reference", {}).get("layers")
    facts = [("mode", r["mode"]), ("score", _fmt(r.get("score"), ".3f")),
             ("p-value", f"{r['p_value']:.4g} (log10 {r['log10_p_value']})"),
             ("relation", ", ".join(r.get("relation") or []) or "—"),
             ("alignment", f"{r['alignment'].get('kind')} (vocabulary by {r['alignment'].get('vocab_match')})"),
             ("identical tensors", f"{r['hashes']['identical_tensors']} of {r['hashes']['tensors_suspect']}")]
    if r.get("fingerprint_log10_p_value") is not None and r["mode"] == "deep":
        facts.append(("fingerprint test", f"log10 p {r['fingerprint_log10_p_value']}, "
                                          f"score {_fmt(r.get('fingerprint_score'), '.3f')}"))
    fact_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    rows = "".join(
        f"<tr><td>{e['suspect']}</td><td>{e['reference']}</td><td>{_fmt(e.get('token_cka'), '.3f')}</td>"
        f"<td>{_fmt(e.get('weight_cka_qk'), '.3f')}</td><td>{_fmt(e.get('neuron_rho'), '.3f')}</td>"
        f"<td>{_fmt(e.get('neuron_agreement'), '.2f')}</td><td>{_fmt(e.get('log10_p'), '.1f')}</td></tr>"
        for e in layers)
    caveats = "".join(f"<li>{escape(c)}</li>" for c in r.get("caveats") or [])
    title = f"Lineage: {escape(str(r['suspect']))} vs {escape(str(r['reference']))}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{CSS}</style></head><body>
<h1>{title}</h1>
<p style="font-size:1.2em">Verdict: <strong style="color:{color}">{escape(r['verdict'].upper())}</strong>.
{escape(r['summary'])}</p>
<table>{fact_rows}</table>
<h2>Evidence on the verdict scale</h2>
{verdict_scale(r)}
<p class="legend">log10 of the p-value (logarithmic axis): the probability of similarity this strong between
independently trained models; inconclusive between the two thresholds. Derived at or below {r.get('thresholds', {}).get('derived_log10_p_at_most', -6)}, independent above
{r.get('thresholds', {}).get('independent_log10_p_above', -2)}.</p>
<h2>Per-layer evidence</h2>
{layer_bars(layers)}
<p class="legend">Blue: token-space CKA of each suspect layer with its mapped reference layer (0 to 1).
Red: −log10 p of that layer's neuron-matching test (deep mode), scaled to the largest.</p>
<h2>Layer map</h2>
{layer_map(layers, ref_layers)}
<p class="legend">Rows: suspect layers; columns: reference layers; a filled cell is the reference layer each
suspect layer matches best (a diagonal for an unchanged stack; gaps for pruning, repeats for depth up-scaling).</p>
<table><tr><th>suspect layer</th><th>reference layer</th><th>token CKA</th><th>weight CKA</th><th>neuron ρ</th>
<th>agreement</th><th>log10 p</th></tr>{rows}</table>
<h2>Caveats</h2>
<ul>{caveats}</ul>
</body></html>
"""
