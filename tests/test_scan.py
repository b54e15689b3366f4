"""`provenance scan` end to end: a small collection of real files (derived and independent models in safetensors,
GGUF and llama2.c, one corrupt file) scanned against a registry holding the genuine stories260K.

Every file is written by the real libraries (safetensors, gguf-py); the base is the trained llama2.c checkpoint
from ../shared. Nothing here knows which file is derived except through the report.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from provenance.cli.main import main

CONTRACT_MODEL_KEYS = {"path", "status", "error", "matches"}
CONTRACT_MATCH_KEYS = {"name", "verdict", "p_value", "relation", "mode"}
CONTRACT_FAMILY_KEYS = {"root", "members"}


def run(argv: list, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def tiny_cfg():
    from provenance.examples import TinyLlamaConfig

    return TinyLlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=172,
        num_hidden_layers=5,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=512,
        tie_word_embeddings=True,
    )


def stories_state_dict(path: Path) -> dict:
    from provenance.checkpoint import open_checkpoint
    from provenance.normalize import normalize

    cm = normalize(open_checkpoint(path), graph=False)
    return {k: np.asarray(t.read() if hasattr(t, "read") else t, np.float32) for k, t in cm.tensors.items()}


def write_collection(root: Path, stories: Path) -> Path:
    """Derived models of stories260K in three formats, an independent model with a derived child, a loner, and a
    cut safetensors file."""
    from fingerprints import variants as V
    from provenance.examples import llama_state_dict, write_gguf, write_hf_dir

    c = root / "collection"
    c.mkdir(parents=True)
    sd = stories_state_dict(stories)
    cfg = tiny_cfg()
    hf = cfg.hf_config()
    write_hf_dir(c / "tuned", V.permute_neurons(V.add_noise(sd, relative=0.1, seed=7), seed=8), hf)
    write_hf_dir(
        c / "declared",
        V.add_noise(sd, relative=0.05, seed=9),
        hf,
        card="---\nbase_model: karpathy/stories260K\n---\n# A story model, tuned\n",
    )
    write_gguf(c / "quant.gguf", sd, cfg, name="stories", qtype="Q8_0", fallback="F16")
    shutil.copy(stories, c / "stories-copy.bin")  # llama2.c
    ind = llama_state_dict(cfg, 1)
    write_hf_dir(c / "independent", ind, hf)
    write_hf_dir(c / "independent-child", V.permute_neurons(V.add_noise(ind, relative=0.1, seed=3), seed=4), hf)
    write_hf_dir(c / "loner", llama_state_dict(cfg, 2), hf)
    data = (c / "tuned" / "model.safetensors").read_bytes()
    (c / "broken.safetensors").write_bytes(data[:200])
    return c


@pytest.fixture(scope="module")
def coll(stories260k, tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    c = write_collection(root, stories260k)
    return {"root": root, "collection": c, "stories": stories260k}


def new_registry(coll, name: str, capsys) -> Path:
    reg = coll["root"] / name
    code, _, err = run(["registry", "add", "stories260k", coll["stories"], "--registry", reg], capsys)
    assert code == 0, err
    return reg


def scan_json(capsys, *args) -> tuple[dict, str]:
    code, out, err = run(["scan", *args, "--format", "json"], capsys)
    assert code == 0, err
    return json.loads(out), out


@pytest.fixture(scope="module")
def first(coll):
    """One scan with the local backend, 2 workers (module-wide, since it is the slow part)."""
    from provenance.cli.output import dumps
    from provenance.registry import Registry
    from provenance.scan import run_scan

    reg = coll["root"] / "reg-first"
    Registry(reg).add("stories260k", coll["stories"])
    report = run_scan([coll["collection"]], Registry(reg), workers=2)
    return {"report": report, "registry": reg, "json": dumps(report)}


def by_path(report: dict) -> dict:
    return {Path(m["path"]).name: m for m in report["models"]}


def test_families_verdicts_and_errors(coll, first):
    r = first["report"]
    m = by_path(r)
    assert set(m) == {
        "tuned",
        "declared",
        "quant.gguf",
        "stories-copy.bin",
        "independent",
        "independent-child",
        "loner",
        "broken.safetensors",
    }
    bad = m["broken.safetensors"]
    assert bad["status"] == "error" and "broken.safetensors" in bad["error"] and "\n" not in bad["error"]
    assert bad["matches"] == [] and bad["family"] is None
    assert all(x["status"] == "ok" and x["error"] is None for n, x in m.items() if n != "broken.safetensors")

    fams = {f["root"]: f for f in r["families"]}
    assert set(fams) == {"stories260k", str(coll["collection"] / "independent")}
    base = fams["stories260k"]
    assert base["root_kind"] == "registry" and base["bases"] == ["stories260k"]
    assert sorted(Path(p).name for p in base["members"]) == ["declared", "quant.gguf", "stories-copy.bin", "tuned"]
    other = fams[str(coll["collection"] / "independent")]
    assert other["root_kind"] == "collection"
    assert sorted(Path(p).name for p in other["members"]) == ["independent", "independent-child"]
    for name in ("tuned", "declared", "quant.gguf", "stories-copy.bin"):
        best = m[name]["matches"][0]
        assert best["verdict"] == "derived" and best["p_value"] < 1e-6, (name, best)
        assert m[name]["family"] == base["id"]
    assert "stories260k" in {c["name"] for c in m["tuned"]["matches"] if c["verdict"] == "derived"}
    assert "quantized" in next(c for c in m["quant.gguf"]["matches"] if c["name"] == "stories260k")["relation"]
    copy = next(c for c in m["stories-copy.bin"]["matches"] if c["name"] == "stories260k")
    assert copy["mode"] == "deep" and "identical" in copy["relation"]
    assert m["independent-child"]["matches"][0]["name"].endswith("independent")
    # independent models are never derived from the base, nor from each other
    for name in ("independent", "independent-child", "loner"):
        assert not any(c["verdict"] == "derived" and c["name"] == "stories260k" for c in m[name]["matches"])
    assert m["loner"]["family"] is None and r["unmatched"] == [m["loner"]["path"]]


def test_disclosure_of_derivatives(first):
    m = by_path(first["report"])
    assert m["declared"]["declared_bases"] == ["karpathy/stories260K"] and m["declared"]["disclosure"] == "declared"
    assert m["tuned"]["disclosure"] == "undisclosed" and m["tuned"]["declared_bases"] == []
    assert m["independent-child"]["disclosure"] is None  # its family has no registered base
    und = {Path(u["path"]).name for u in first["report"]["undisclosed"]}
    assert und == {"tuned", "quant.gguf", "stories-copy.bin"}


def test_json_contract(first):
    r = json.loads(first["json"])
    assert (
        r["schema_version"] == 1 and first["json"] == json.dumps(r, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    assert {"models", "families", "stats", "undisclosed", "unmatched"} <= set(r)
    for m in r["models"]:
        assert CONTRACT_MODEL_KEYS <= set(m) and m["status"] in ("ok", "error")
        for c in m["matches"]:
            assert CONTRACT_MATCH_KEYS <= set(c)
    for f in r["families"]:
        assert CONTRACT_FAMILY_KEYS <= set(f)
    counts = r["stats"]["counts"]
    assert counts["models"] == 8 and counts["error"] == 1 and counts["families"] == 2
    assert set(r["stats"]["timings"]) >= {"fingerprint_s", "screen_s", "total_s"}
    assert r["stats"]["cache"]["fingerprinted"] == 7 and r["stats"]["backend"] == {"name": "local", "workers": 2}


def test_rerun_is_cached_and_identical(coll, first, capsys, monkeypatch):
    import provenance.scan

    monkeypatch.setattr(provenance.scan, "COMPARE_BATCH", 2)  # the full comparisons run in the workers this time
    again, _ = scan_json(capsys, coll["collection"], "--registry", first["registry"], "--workers", "2")
    assert again["stats"]["cache"]["resumed"] == 8 and again["stats"]["cache"]["fingerprinted"] == 0
    strip = lambda r: {k: v for k, v in r.items() if k != "stats"}  # noqa: E731
    assert strip(again) == strip(first["report"])
    a = run(["scan", coll["collection"], "--registry", first["registry"], "-f", "json", "--no-timings"], capsys)[1]
    b = run(["scan", coll["collection"], "--registry", first["registry"], "-f", "json", "--no-timings"], capsys)[1]
    assert a == b and "timings" not in json.loads(a)["stats"]


def test_other_formats(first):
    from provenance.scan.render import render_csv, render_graphml, render_html, render_text

    r = first["report"]
    text = render_text(r)
    assert "family 1: root stories260k (registry)" in text and "undisclosed derivatives:" in text
    rows = list(csv.DictReader(io.StringIO(render_csv(r))))
    assert {Path(x["path"]).name for x in rows} == {Path(m["path"]).name for m in r["models"]}
    assert any(x["match"] == "stories260k" and x["verdict"] == "derived" for x in rows)
    g = ET.fromstring(render_graphml(r))
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    nodes = g.findall(".//g:node", ns)
    edges = g.findall(".//g:edge", ns)
    assert len(nodes) == 9 and len(edges) == sum(len(f["edges"]) for f in r["families"])
    page = render_html(r)
    assert page.count("<svg") == 1 and "<script" not in page and "stories260k" in page
    ET.fromstring(page[page.index("<svg") : page.index("</svg>") + 6])  # the inline SVG is well-formed


def test_a_fresh_registry_and_one_worker_give_the_same_report(coll, first, capsys):
    reg = new_registry(coll, "reg-one-worker", capsys)
    r, _ = scan_json(capsys, coll["collection"], "--registry", reg, "--workers", "1", "--no-timings")
    want = json.loads(first["json"])
    for x in (r, want):
        x.pop("registry")
        x["stats"] = x["stats"]["counts"]
    assert r == want


def test_ray_backend_gives_the_same_report(coll, first, capsys):
    import importlib.util

    if importlib.util.find_spec("ray") is None:  # not imported here: the backend sets Ray up for loopback first
        pytest.skip("ray is not installed (extra: ray)")
    reg = new_registry(coll, "reg-ray", capsys)
    r, _ = scan_json(capsys, coll["collection"], "--registry", reg, "--backend", "ray", "--workers", "2")
    assert r["stats"]["backend"]["name"] == "ray" and r["stats"]["cache"]["fingerprinted"] == 7
    want = json.loads(first["json"])
    for x in (r, want):
        x.pop("registry")
        x["stats"] = x["stats"]["counts"]
    assert r == want


def test_ray_backend_without_ray_is_a_one_line_usage_error(coll, first, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    code, out, err = run(["scan", coll["collection"], "--registry", first["registry"], "--backend", "ray"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and "provenance[ray]" in err


def test_manifests_and_missing_paths(coll, first, capsys, tmp_path):
    c = coll["collection"]
    (tmp_path / "list.txt").write_text(f"# uploads\n{c / 'tuned'}\n\n{c / 'loner'}\n{tmp_path / 'gone'}\n")
    (tmp_path / "list.jsonl").write_text(json.dumps({"path": str(c / "quant.gguf"), "uploader": "u1"}) + "\n")
    r, _ = scan_json(
        capsys,
        tmp_path / "list.txt",
        tmp_path / "list.jsonl",
        "--registry",
        first["registry"],
        "--workers",
        "1",
        "--deep-top",
        "0",
    )
    m = by_path(r)
    assert set(m) == {"tuned", "loner", "quant.gguf", "gone"}
    assert m["gone"]["status"] == "error" and "no such file" in m["gone"]["error"]
    assert m["quant.gguf"]["manifest"] == {"uploader": "u1"}
    assert m["tuned"]["matches"][0]["mode"] == "fingerprint"  # --deep-top 0
    assert {c["name"] for c in m["tuned"]["matches"] if c["verdict"] == "derived"} >= {"stories260k"}
    (tmp_path / "bad.jsonl").write_text('{"nopath": 1}\n')
    code, out, err = run(["scan", tmp_path / "bad.jsonl", "--registry", first["registry"]], capsys)
    assert code == 2 and out == "" and "line 1" in err and err.count("\n") == 1


def test_folder_expansion(tmp_path):
    from provenance.scan.inputs import expand_inputs

    (tmp_path / "org" / "model-a").mkdir(parents=True)
    (tmp_path / "org" / "model-a" / "config.json").write_text("{}")
    (tmp_path / "org" / "model-a" / "model-00001-of-00002.safetensors").write_bytes(b"x")
    (tmp_path / "org" / "model-a" / "model-00002-of-00002.safetensors").write_bytes(b"x")
    (tmp_path / "loose").mkdir()
    for n in ("a.gguf", "b.bin", "tok512.bin", "tokenizer.model", "notes.md"):
        (tmp_path / "loose" / n).write_bytes(b"x")
    (tmp_path / "single").mkdir()
    (tmp_path / "single" / "weights.safetensors").write_bytes(b"x")
    got = [e.path for e in expand_inputs([tmp_path])]
    assert got == [os.path.join(str(tmp_path), p) for p in ("loose/a.gguf", "loose/b.bin", "org/model-a", "single")]


def test_resume_after_a_killed_scan(coll, capsys, tmp_path):
    """A real kill: the scan process (and its workers) get SIGKILL mid-way; the rerun continues from the done-table
    and reports exactly what an uninterrupted scan reports."""
    from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir

    big = TinyLlamaConfig(
        vocab_size=2048,
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=6,
        num_attention_heads=8,
        num_key_value_heads=4,
    )
    many = tmp_path / "many"
    for i in range(8):
        write_hf_dir(many / f"m{i}", llama_state_dict(big, 100 + i), big.hf_config())
    reg = new_registry(coll, "reg-kill", capsys)
    args = [
        sys.executable,
        "-m",
        "provenance",
        "scan",
        str(many),
        "--registry",
        str(reg),
        "--workers",
        "1",
        "--format",
        "json",
        "--no-timings",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    done = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with sqlite3.connect(reg / "registry.sqlite") as con:
                    done = con.execute("SELECT count(*) FROM scan_done").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 2:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the scan and the workers it started (its own process group)
        proc.wait()
    assert 2 <= done < 8, f"the scan was not caught mid-way ({done} of 8 done)"
    r, out = scan_json(capsys, many, "--registry", reg, "--workers", "1")
    assert r["stats"]["cache"]["resumed"] >= 2 and r["stats"]["cache"]["fingerprinted"] <= 8 - 2
    assert r["stats"]["counts"]["ok"] == 8
    clean = new_registry(coll, "reg-clean", capsys)
    want, _ = scan_json(capsys, many, "--registry", clean, "--workers", "1")
    for x in (r, want):
        x.pop("registry")
        x["stats"] = x["stats"]["counts"]
    assert r == want


def test_content_cache_survives_a_move(coll, first, capsys, tmp_path):
    """An unchanged checkpoint at a new path is hashed but not fingerprinted again."""
    moved = tmp_path / "moved"
    shutil.copytree(coll["collection"] / "loner", moved / "loner-copy")
    r, _ = scan_json(capsys, moved, "--registry", first["registry"], "--workers", "1")
    assert r["stats"]["cache"]["from_cache"] == 1 and r["stats"]["cache"]["fingerprinted"] == 0


def test_a_repaired_input_is_scanned_again(coll, first, capsys, tmp_path):
    """Resuming reuses a done row only while the input's files are unchanged: a fixed file is read again."""
    d = tmp_path / "uploads" / "fixme"
    shutil.copytree(coll["collection"] / "loner", d)
    good = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(good[:300])
    r, _ = scan_json(capsys, d, "--registry", first["registry"], "--workers", "1")
    assert r["models"][0]["status"] == "error" and "truncated" in r["models"][0]["error"]
    (d / "model.safetensors").write_bytes(good)
    r, _ = scan_json(capsys, d, "--registry", first["registry"], "--workers", "1")
    assert r["models"][0]["status"] == "ok" and r["stats"]["cache"]["resumed"] == 0


def test_help_texts_teach_with_an_example(capsys):
    for cmd in (["scan"], ["registry", "export"], ["registry", "import"]):
        code, out, _ = run([*cmd, "--help"], capsys)
        assert code == 0 and "Example: provenance " in out, cmd


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_goes_to_a_terminal_stderr_only(coll, capsys, tmp_path):
    """With stderr on a pseudo-terminal the scan draws a status line with its progress; on a pipe it prints none;
    stdout holds the report alone either way."""
    import pty
    import threading

    reg = new_registry(coll, "reg-tty", capsys)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    args = [
        sys.executable,
        "-m",
        "provenance",
        "scan",
        str(coll["collection"]),
        "--registry",
        str(reg),
        "--workers",
        "2",
        "--deep-top",
        "0",
        "--format",
        "json",
    ]
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=slave, env=env, timeout=300)
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    tty = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0 and json.loads(proc.stdout)["stats"]["counts"]["models"] == 8
    assert "scan: fingerprints 8/8" in tty and b"\x1b[" not in proc.stdout
    piped = subprocess.run(args, capture_output=True, env=env, timeout=300)
    assert piped.returncode == 0 and b"scan:" not in piped.stderr


def test_the_local_pool_survives_a_dead_worker():
    """A worker killed mid-task (as the kernel does when memory runs out) fails its task, not the backend."""
    from concurrent.futures.process import BrokenProcessPool

    from provenance.scan.backends import LocalBackend

    be = LocalBackend(1)
    try:
        with pytest.raises(BrokenProcessPool):
            be.submit(os._exit, 9).result(timeout=120)
        assert be.submit(sum, [1, 2, 3]).result(timeout=120) == 6
    finally:
        be.close()
