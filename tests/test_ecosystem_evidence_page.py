"""The compare evidence page: absolute scales, the reproduce block (versions, command, every input file with size
and SHA-256), plain words below 1e-12, the box of what the verdict cannot prove, 100+ layers, and a real render
in headless Chromium at 1280 and 400 px (skipped when Chromium is not installed)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from provenance import __version__
from provenance.cli.main import main
from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, yi_style
from provenance.reports.lineage_html import P_AXIS, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def run(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evidence")
    cfg = TinyLlamaConfig()
    base = llama_state_dict(cfg, seed=0)
    write_hf_dir(root / "base", base, cfg.hf_config())
    write_hf_dir(root / "yi", yi_style(base), cfg.hf_config())
    write_hf_dir(root / "other", llama_state_dict(cfg, seed=1), cfg.hf_config())
    return root


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_reproduce_block_lists_versions_command_and_input_hashes(models, capsys, monkeypatch):
    monkeypatch.chdir(models)
    code, page = run(["compare", "yi", "base", "--format", "html"], capsys)
    assert code == 0
    block = page.split("<h2>Reproduce</h2>", 1)[1]
    assert f"llm-provenance {__version__}" in block and "fingerprint format version" in block
    assert "<pre>provenance compare yi base --format html</pre>" in block
    for side in ("yi", "base"):
        for name in ("model.safetensors", "config.json"):
            f = models / side / name
            assert _sha(f) in block and f"{f.stat().st_size:,}" in block
    code, _ = run(["fingerprint", "base", "-o", "base.fp"], capsys)
    code, page = run(["compare", "yi", "base.fp", "--format", "html"], capsys)
    block = page.split("<h2>Reproduce</h2>", 1)[1]
    assert _sha(models / "base.fp") in block and "(fingerprint, fingerprint version" in block


def test_plain_words_and_absolute_scales(models, capsys, monkeypatch):
    monkeypatch.chdir(models)
    _, derived = run(["compare", "yi", "base", "--format", "html"], capsys)
    assert "far below anything chance produces" in derived
    assert not re.search(r"probability \d\.\d+e-\d+", derived)  # no literal tiny probability
    assert "What this verdict cannot prove" in derived
    _, indep = run(["compare", "other", "base", "--format", "html"], capsys)
    assert "far below anything chance" not in indep and "with probability about" in indep

    def bar_widths(page: str) -> list[float]:
        svg = re.findall(r"<svg.*?</svg>", page, flags=re.S)[1]
        bar = r'<rect x="190(?:\.0)?" y="[\d.]+" width="([\d.]+)"[^>]*fill="#c62828"'
        return [float(w) for w in re.findall(bar, svg)]

    # the same fixed axis on both pages: an independent pair's bars stay short, a derived pair's reach the end
    assert max(bar_widths(indep)) < 0.25 * max(bar_widths(derived))
    assert f"(0–{P_AXIS:g})" in indep and "(0–1)" in indep


def _many_layers(models: Path, capsys, monkeypatch, n: int = 120) -> str:
    monkeypatch.chdir(models)
    _, text = run(["compare", "yi", "base", "--format", "json"], capsys)
    report = json.loads(text)
    proto = report["layers"][0]
    report["layers"] = [dict(copy.deepcopy(proto), suspect=i, reference=i, log10_p=-(i % 40)) for i in range(n)]
    report["models"]["reference"]["layers"] = n
    return render(report)


def test_hundred_layers_every_layer_drawn(models, capsys, monkeypatch):
    page = _many_layers(models, capsys, monkeypatch)
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    for svg in svgs:
        root = ElementTree.fromstring(svg)
        assert "viewBox" in root.attrib and "width" not in root.attrib  # scales with the page
    assert svgs[1].count("<title>layer ") == 240 and svgs[2].count("<circle") == 120


LAYOUT_PROBE = (
    "<script>document.addEventListener('DOMContentLoaded',()=>{const w=Math.max("
    "document.documentElement.scrollWidth,document.body.scrollWidth);const s=[...document.querySelectorAll"
    "('svg')].map(e=>Math.round(e.getBoundingClientRect().width));document.body.setAttribute("
    "'data-layout',JSON.stringify({scroll:w,view:window.innerWidth,svgs:s}));});</script>"
)


def _chromium(args: list[str]) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`)")
@pytest.mark.parametrize("width", [1280, 400])
def test_renders_in_chromium_without_horizontal_overflow(models, capsys, monkeypatch, tmp_path, width):
    page = _many_layers(models, capsys, monkeypatch)
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    shot = tmp_path / f"page-{width}.png"
    proc = _chromium([f"--window-size={width},1600", f"--screenshot={shot}", (tmp_path / "page.html").as_uri()])
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", proc.stderr[-2000:]
    assert int.from_bytes(shot.read_bytes()[16:20], "big") == width  # PNG IHDR width
    # layout, measured by the browser on a copy with a probe script (the page itself has none)
    (tmp_path / "probe.html").write_text(page.replace("</head>", LAYOUT_PROBE + "</head>"), encoding="utf-8")
    proc = _chromium([f"--window-size={width},1600", "--dump-dom", (tmp_path / "probe.html").as_uri()])
    layout = json.loads(re.search(r"data-layout=\"([^\"]+)\"", proc.stdout).group(1).replace("&quot;", '"'))
    assert layout["scroll"] <= layout["view"], layout  # nothing sticks out sideways
    assert len(layout["svgs"]) == 3 and all(0 < w <= layout["view"] for w in layout["svgs"]), layout
