"""The `compare` report as one self-contained evidence page for reviewers: inline CSS and SVG, no scripts, no
network, readable from a 400 px phone to print.

Charts use absolute scales, never scaled to the largest value, so an independent pair cannot look derived at a
glance: −log10 p on a fixed axis with both verdict thresholds drawn (values beyond the axis are clipped and
marked), token-space CKA on 0–1. Every chart is a ``viewBox`` SVG that scales with the page, with one row per
layer, so 100+ layers stay legible. Below 1e-12 the page says the p-value in words rather than quoting a number
no calibration supports. A "reproduce" block records the tool and fingerprint versions, the exact command and
every input file with its size and SHA-256, so anyone can check what was compared.
"""

from __future__ import annotations

import hashlib
import math
import re
from html import escape
from pathlib import Path
from typing import Any

from provenance.reports.style import CSS

VERDICT_COLOR = {"derived": "#c62828", "independent": "#2e7d32", "inconclusive": "#ef6c00"}
SVG = 'xmlns="http://www.w3.org/2000/svg" role="img" class="chart"'
P_AXIS = 20.0  # −log10 p axis, fixed: 0 … 20 (p = 1 … 1e-20); larger values are clipped and marked
PLAIN_WORDS_BELOW = 1e-12
CANNOT_PROVE = (
    "Which model came first or who copied whom: a derived verdict says the two share weight lineage (one comes "
    "from the other, or both from a common ancestor), not the direction.",
    "That no knowledge was transferred: distillation into a freshly initialised model, or training on the "
    "other model's outputs, leaves no trace in the weights, so 'independent' means no shared weight lineage "
    "was found.",
    "What the license requires: that is the audit's question (provenance audit), answered from the release's "
    "files and the licenses in its lineage.",
    "Anything about training data, or that the files are the ones a publisher actually released: the page "
    "only describes the files listed under 'Reproduce'.",
)
# Files beside the weights that the comparison reads (configuration and tokenizer), listed under "Reproduce".
SIDE_FILES = ("config.json", "params.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def _fmt(x: Any, spec: str) -> str:
    return format(x, spec) if isinstance(x, (int, float)) else "—"


def chance_words(p: float, log10_p: float) -> str:
    """How likely similarity this strong is between independently trained models, in words below 1e-12."""
    if p < PLAIN_WORDS_BELOW or log10_p < math.log10(PLAIN_WORDS_BELOW):
        return (
            f"Similarity this strong between independently trained models is far below anything chance "
            f"produces (p below 1e-12; the test gives log10 p = {log10_p:g}, a measure of strength, not a "
            f"probability to read literally)."
        )
    return (
        f"Similarity at least this strong arises between independently trained models of this shape with "
        f"probability about {p:.2g}."
    )


def _summary(r: dict) -> str:
    """The report's summary without its literal probability (said in words by :func:`chance_words`)."""
    sentences = re.split(r"(?<=\.)\s+", str(r.get("summary", "")).strip())
    kept = [s for s in sentences if s and not re.search(r"probabilit|\bp\s*=", s)]
    return " ".join(kept)


def _x(v: float, x0: float, x1: float, vmax: float) -> float:
    return x0 + (x1 - x0) * max(0.0, min(v, vmax)) / vmax


def verdict_scale(r: dict) -> str:
    """−log10 p of the whole comparison on the fixed 0–20 axis, the three verdict zones and both thresholds."""
    t = r.get("thresholds", {})
    derived_at = -float(t.get("derived_log10_p_at_most", -6.0))
    indep_above = -float(t.get("independent_log10_p_above", -2.0))
    lp = -float(r["log10_p_value"])
    vmax = max(P_AXIS, derived_at * 2)
    x0, x1 = 12.0, 336.0

    def x(v: float) -> float:
        return _x(v, x0, x1, vmax)

    parts = [
        f'<rect x="{x(0):.1f}" y="22" width="{x(indep_above) - x(0):.1f}" height="16" fill="#e8f5e9"/>',
        f'<rect x="{x(indep_above):.1f}" y="22" width="{x(derived_at) - x(indep_above):.1f}" height="16" '
        f'fill="#fff3e0"/>',
        f'<rect x="{x(derived_at):.1f}" y="22" width="{x(vmax) - x(derived_at):.1f}" height="16" fill="#ffebee"/>',
        f'<text x="{x(0):.1f}" y="16" font-size="10">independent</text>',
        f'<text x="{x(derived_at) + 2:.1f}" y="16" font-size="10">derived</text>',
    ]
    for v, label in ((indep_above, "independent above"), (derived_at, "derived at or beyond")):
        parts.append(
            f'<line x1="{x(v):.1f}" y1="20" x2="{x(v):.1f}" y2="40" stroke="#555" stroke-dasharray="3,2">'
            f"<title>{label}: −log10 p = {v:g}</title></line>"
        )
    for v in sorted({0.0, indep_above, derived_at, vmax / 2, vmax}):
        parts.append(f'<text x="{x(v):.1f}" y="52" font-size="9" text-anchor="middle">{v:g}</text>')
    color = VERDICT_COLOR.get(r["verdict"], "#333")
    clipped = lp > vmax
    xm = x(lp)
    parts.append(f'<line x1="{xm:.1f}" y1="18" x2="{xm:.1f}" y2="42" stroke="{color}" stroke-width="3"/>')
    if clipped:
        parts.append(f'<path d="M{xm + 2:.1f},24 l8,6 l-8,6 z" fill="{color}"/>')
    label = f"this pair: −log10 p = {lp:g}" + (" (beyond the axis)" if clipped else "")
    anchor = "end" if xm > (x0 + x1) / 2 else "start"
    parts.append(
        f'<text x="{xm:.1f}" y="68" font-size="11" fill="{color}" text-anchor="{anchor}">{escape(label)}</text>'
    )
    return (
        f'<svg {SVG} viewBox="0 0 360 76" aria-label="−log10 p on a fixed axis with the verdict thresholds">'
        f"{''.join(parts)}</svg>"
    )


def layer_bars(layers: list[dict], r: dict) -> str:
    """One row per suspect layer: token CKA on 0–1 (left panel) and −log10 p of the layer's neuron test on the
    fixed 0–20 axis (right panel, thresholds dashed, clipped bars marked)."""
    if not layers:
        return "<p>No layers.</p>"
    t = r.get("thresholds", {})
    thresholds = (-float(t.get("independent_log10_p_above", -2.0)), -float(t.get("derived_log10_p_at_most", -6.0)))
    n = len(layers)
    row = 12 if n <= 48 else 8
    every = 1 if n <= 48 else (5 if n <= 160 else 10)
    top, lx0, lx1, px0, px1 = 24, 30.0, 170.0, 190.0, 348.0
    height = top + n * row + 18
    parts = [
        f'<text x="{lx0}" y="10" font-size="11">token CKA (0–1)</text>',
        f'<text x="{px0}" y="10" font-size="11">neuron test −log10 p (0–{P_AXIS:g})</text>',
    ]
    for v in (0.0, 0.5, 1.0):
        xv = _x(v, lx0, lx1, 1.0)
        parts.append(
            f'<line x1="{xv:.1f}" y1="{top - 4}" x2="{xv:.1f}" y2="{top + n * row}" stroke="#ddd"/>'
            f'<text x="{xv:.1f}" y="{top + n * row + 12}" font-size="9" text-anchor="middle">{v:g}</text>'
        )
    for v in sorted({0.0, *thresholds, P_AXIS}):
        xv = _x(v, px0, px1, P_AXIS)
        dash = ' stroke-dasharray="3,2" stroke="#555"' if v in thresholds else ' stroke="#ddd"'
        parts.append(
            f'<line x1="{xv:.1f}" y1="{top - 4}" x2="{xv:.1f}" y2="{top + n * row}"{dash}/>'
            f'<text x="{xv:.1f}" y="{top + n * row + 12}" font-size="9" text-anchor="middle">{v:g}</text>'
        )
    bar = row - 3
    for i, e in enumerate(layers):
        y = top + i * row
        if i % every == 0:
            parts.append(
                f'<text x="{lx0 - 4}" y="{y + bar}" font-size="{min(10, row)}" text-anchor="end">{e["suspect"]}</text>'
            )
        cka = max(0.0, min(1.0, float(e.get("token_cka") or 0.0)))
        parts.append(
            f'<rect x="{lx0}" y="{y}" width="{_x(cka, lx0, lx1, 1.0) - lx0:.1f}" height="{bar}" '
            f'fill="#1565c0"><title>layer {e["suspect"]} → reference {e.get("reference")}: token CKA '
            f"{cka:.3f}</title></rect>"
        )
        if e.get("log10_p") is not None:
            lp = -float(e["log10_p"])
            w = _x(lp, px0, px1, P_AXIS) - px0
            parts.append(
                f'<rect x="{px0}" y="{y}" width="{w:.1f}" height="{bar}" fill="#c62828">'
                f"<title>layer {e['suspect']}: −log10 p {lp:.1f}</title></rect>"
            )
            if lp > P_AXIS:
                parts.append(
                    f'<path d="M{px1 + 1:.1f},{y} l{bar * 0.8:.1f},{bar / 2:.1f} l{-bar * 0.8:.1f},'
                    f'{bar / 2:.1f} z" fill="#c62828"/>'
                )
    return (
        f'<svg {SVG} viewBox="0 0 360 {height}" aria-label="per-layer evidence on absolute scales">'
        f"{''.join(parts)}</svg>"
    )


def layer_map(layers: list[dict], n_reference: Any) -> str:
    """Suspect layers down, reference layers across: one dot where each suspect layer matches best (a diagonal
    for an unchanged stack, gaps for pruning, repeats for depth up-scaling)."""
    if not layers:
        return ""
    n_ref = max([int(e["reference"]) + 1 for e in layers] + [n_reference if isinstance(n_reference, int) else 0])
    n_sus = max(int(e["suspect"]) for e in layers) + 1
    left, top, size = 30.0, 16.0, 300.0
    sx, sy = size / max(n_ref, 1), size / max(n_sus, 1)
    rad = max(1.2, min(5.0, min(sx, sy) / 2.5))
    step_r = max(1, math.ceil(n_ref / 10))
    step_s = max(1, math.ceil(n_sus / 10))
    parts = [
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="#fafafa" stroke="#ccc"/>',
        f'<line x1="{left}" y1="{top}" x2="{left + size}" y2="{top + size}" stroke="#ddd"/>',
        f'<text x="{left}" y="10" font-size="9">reference layer →</text>',
    ]
    for j in range(0, n_ref, step_r):
        parts.append(
            f'<text x="{left + (j + 0.5) * sx:.1f}" y="{top + size + 11}" font-size="9" text-anchor="middle">{j}</text>'
        )
    for i in range(0, n_sus, step_s):
        parts.append(
            f'<text x="{left - 3}" y="{top + (i + 0.5) * sy + 3:.1f}" font-size="9" text-anchor="end">{i}</text>'
        )
    for e in layers:
        cx, cy = left + (int(e["reference"]) + 0.5) * sx, top + (int(e["suspect"]) + 0.5) * sy
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{rad:.1f}" fill="#1565c0">'
            f"<title>suspect layer {e['suspect']} → reference layer {e['reference']}</title></circle>"
        )
    return f'<svg {SVG} viewBox="0 0 340 {top + size + 16}" aria-label="layer map">{"".join(parts)}</svg>'


# --- reproduce ---------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(path: Path) -> tuple[str, list[Path]]:
    """What one side of the comparison was read from: ("fingerprint", [file]) or (format, weight files and the
    configuration/tokenizer files beside them)."""
    from fingerprints.fingerprint import is_fingerprint_file

    if is_fingerprint_file(path):
        return "fingerprint", [path]
    from provenance.checkpoint import open_checkpoint

    ckpt = open_checkpoint(path)
    folder = path if path.is_dir() else path.parent
    extra = [folder / n for n in SIDE_FILES if (folder / n).is_file()] if path.is_dir() else []
    files = sorted({*map(Path, ckpt.files), *extra}, key=lambda p: str(p))
    return ckpt.format, files


def reproduce_info(paths: dict[str, Path], argv: list[str]) -> dict[str, Any]:
    """Tool and fingerprint versions, the command, and every input file with size and SHA-256 (streamed)."""
    import shlex

    from fingerprints.fingerprint import VERSION as FP_VERSION
    from provenance import __version__

    sides = []
    for role, path in paths.items():
        kind, files = input_files(Path(path))
        entry: dict[str, Any] = {
            "role": role,
            "path": str(path),
            "kind": kind,
            "files": [{"path": str(f), "bytes": f.stat().st_size, "sha256": _sha256(f)} for f in files],
        }
        if kind == "fingerprint":
            from fingerprints.fingerprint import Fingerprint

            with open(path, "rb") as fh:
                meta = Fingerprint.meta_from_bytes(fh.read(1 << 22))
            entry["fingerprint_version"] = meta.get("version")
        sides.append(entry)
    return {
        "tool": f"llm-provenance {__version__}",
        "fingerprint_version": FP_VERSION,
        "command": shlex.join(["provenance", *argv]),
        "inputs": sides,
    }


def reproduce_block(info: dict[str, Any] | None) -> str:
    if not info:
        return (
            '<p class="legend">No reproduce record (the page was rendered from a report without one; '
            "`provenance compare … --format html` adds it).</p>"
        )
    rows = []
    for side in info["inputs"]:
        fpv = f", fingerprint version {side['fingerprint_version']}" if side.get("fingerprint_version") else ""
        rows.append(
            f'<tr><th colspan="3">{escape(side["role"])}: <code>{escape(side["path"])}</code> '
            f"({escape(side['kind'])}{fpv})</th></tr>"
        )
        rows += [
            f'<tr><td><code>{escape(Path(f["path"]).name)}</code></td><td class="num">{f["bytes"]:,}</td>'
            f'<td><code class="hash">{f["sha256"]}</code></td></tr>'
            for f in side["files"]
        ]
    return (
        f"<p>{escape(info['tool'])}, fingerprint format version {info['fingerprint_version']}. Command:</p>"
        f"<pre>{escape(info['command'])}</pre>"
        f'<div class="scroll"><table><tr><th>file</th><th>bytes</th><th>SHA-256</th></tr>{"".join(rows)}'
        f"</table></div>"
    )


def render(r: dict, reproduce: dict[str, Any] | None = None) -> str:
    """The whole page for one `compare` report (the dict :func:`provenance.lineage.compare_paths` returns)."""
    color = VERDICT_COLOR.get(r["verdict"], "#333")
    layers = list(r.get("layers") or [])
    ref_layers = (r.get("models") or {}).get("reference", {}).get("layers")
    p, lp = float(r["p_value"]), float(r["log10_p_value"])
    p_text = f"below 1e-12 (log10 {lp:g})" if p < PLAIN_WORDS_BELOW else f"{p:.4g} (log10 {lp:g})"
    facts = [
        ("mode", r["mode"]),
        ("score", _fmt(r.get("score"), ".3f")),
        ("p-value", p_text),
        ("relation", ", ".join(r.get("relation") or []) or "—"),
        ("alignment", f"{r['alignment'].get('kind')} (vocabulary by {r['alignment'].get('vocab_match')})"),
        ("identical tensors", f"{r['hashes']['identical_tensors']} of {r['hashes']['tensors_suspect']}"),
    ]
    if r.get("fingerprint_log10_p_value") is not None and r["mode"] == "deep":
        facts.append(
            (
                "fingerprint test",
                f"log10 p {r['fingerprint_log10_p_value']}, score {_fmt(r.get('fingerprint_score'), '.3f')}",
            )
        )
    fact_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    rows = "".join(
        f"<tr><td>{e['suspect']}</td><td>{e['reference']}</td><td>{_fmt(e.get('token_cka'), '.3f')}</td>"
        f"<td>{_fmt(e.get('weight_cka_qk'), '.3f')}</td><td>{_fmt(e.get('neuron_rho'), '.3f')}</td>"
        f"<td>{_fmt(e.get('neuron_agreement'), '.2f')}</td><td>{_fmt(e.get('log10_p'), '.1f')}</td></tr>"
        for e in layers
    )
    caveats = "".join(f"<li>{escape(c)}</li>" for c in r.get("caveats") or [])
    cannot = "".join(f"<li>{escape(c)}</li>" for c in CANNOT_PROVE)
    t = r.get("thresholds", {})
    title = f"Lineage: {escape(str(r['suspect']))} vs {escape(str(r['reference']))}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{CSS}</style></head><body>
<h1>{title}</h1>
<p class="verdict">Verdict: <strong style="color:{color}">{escape(r["verdict"].upper())}</strong>.
{escape(_summary(r))} {escape(chance_words(p, lp))}</p>
<div class="scroll"><table>{fact_rows}</table></div>
<h2>Evidence on the verdict scale</h2>
{verdict_scale(r)}
<p class="legend">−log10 of the p-value on a fixed axis from 0 to {P_AXIS:g} (p = 1 to 1e-{P_AXIS:g}); larger values
are clipped and marked with an arrowhead. Dashed: the thresholds. Independent below
{-float(t.get("independent_log10_p_above", -2)):g}, derived at {-float(t.get("derived_log10_p_at_most", -6)):g} or more,
inconclusive in between.</p>
<h2>Per-layer evidence</h2>
{layer_bars(layers, r)}
<p class="legend">Each row is a suspect layer. Blue: token-space CKA with its mapped reference layer, on 0–1.
Red: −log10 p of that layer's neuron-matching test (deep mode) on the same fixed 0–{P_AXIS:g} axis as above,
thresholds dashed. Independent models show short red bars and CKA well below 1.</p>
<h2>Layer map</h2>
{layer_map(layers, ref_layers)}
<p class="legend">Rows: suspect layers; columns: reference layers; a dot marks the reference layer each suspect
layer matches best (a diagonal for an unchanged stack; gaps for pruning, repeats for depth up-scaling).</p>
<div class="scroll"><table><tr><th>suspect layer</th><th>reference layer</th><th>token CKA</th><th>weight CKA</th>
<th>neuron ρ</th><th>agreement</th><th>log10 p</th></tr>{rows}</table></div>
<div class="box"><h2>What this verdict cannot prove</h2><ul>{cannot}</ul></div>
<h2>Caveats</h2>
<ul>{caveats}</ul>
<h2>Reproduce</h2>
{reproduce_block(reproduce)}
</body></html>
"""
