"""The lineage commands end to end (`compare`, `fingerprint`, `registry`, `identify`) on real files.

The base is the real trained stories260K (llama2.c v0 file from ../shared/models). Derived files are written from it
by the real libraries: transformers ``save_pretrained`` (float32 and bfloat16), Yi-style ``ln1``/``ln2`` names and
fully scrambled names (safetensors), GGUF F32, Q8_0 and Q4_0 (gguf's GGUFWriter, Q/K rows in llama.cpp's order), Meta
``consolidated.00.pth`` + ``params.json`` (torch.save), and a fine-tune-like copy (noise plus shuffled MLP neurons).
Independent models of exactly the same architecture come from ``fingerprints.toymodels`` (other seed, briefly
trained on a synthetic language; and a fresh initialisation).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from provenance.cli.main import main

SAME_ARCH = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=172,
    num_hidden_layers=5,
    num_attention_heads=8,
    num_key_value_heads=4,
)
CONTRACT_KEYS = {"schema_version", "verdict", "p_value", "score", "relation", "layers", "alignment", "caveats"}


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """The real CLI in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def show(request, capsys):
    """Print figures past capsys, but only under ``-s`` (as print does in tests that do not use capsys)."""

    def emit(text: str) -> None:
        if request.config.getoption("capture") == "no":
            with capsys.disabled():
                print(text)

    return emit


def compare_json(capsys, suspect, reference, *extra) -> dict:
    code, out, err = run(["compare", suspect, reference, "--format", "json", *extra], capsys)
    assert code == 0, err
    return json.loads(out)  # stdout holds the report and nothing else


# ------------------------------------------------------------------------------------------------ writing files
def _write_gguf(path: Path, model, cfg, qtype) -> None:
    """GGUF as llama.cpp lays it out (its tensor names, Q/K rows in Meta's interleaved order), 2-D weights in
    ``qtype`` where the row length allows and F16 otherwise, as llama.cpp does."""
    from provenance.examples import TinyLlamaConfig, write_gguf

    tiny = TinyLlamaConfig(
        **{
            k: getattr(cfg, k)
            for k in (
                "vocab_size",
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "max_position_embeddings",
                "rms_norm_eps",
            )
        },
        rope_theta=10000.0,
    )
    sd = {k: t.detach().float().numpy() for k, t in model.state_dict().items()}
    write_gguf(path, sd, tiny, name="stories260K", qtype=qtype.name, fallback="F16")


def _save_safetensors(directory: Path, sd: dict, config: dict | None) -> Path:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True)
    save_file(
        {k: np.ascontiguousarray(v, np.float32) for k, v in sd.items()},
        str(directory / "model.safetensors"),
        metadata={"format": "pt"},
    )
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    return directory


@pytest.fixture(scope="module")
def files(stories260k, tmp_path_factory):
    import gguf
    import torch
    from safetensors.numpy import load_file
    from test_normalize_common import load_llama, rewrite_safetensors
    from test_normalize_formats import meta_state_dict
    from test_normalize_structural import SCRAMBLED, opaque

    from fingerprints import variants as V
    from fingerprints.toymodels import ToyConfig, train
    from provenance.checkpoint import open_checkpoint
    from provenance.normalize import normalize, write_canonical

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest on shared cores
    d = tmp_path_factory.mktemp("lineage")
    f: dict[str, Path] = {"orig": stories260k}
    write_canonical(normalize(open_checkpoint(stories260k)), d / "canonical")
    model = load_llama(d / "canonical")
    cfg = model.config
    model.save_pretrained(d / "hf")
    f["hf"] = d / "hf"
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(d / "bf16")  # .to() is in place: round a copy
    f["bf16"] = d / "bf16"
    config = json.loads((d / "hf" / "config.json").read_text())
    yi = dict(config, model_type="Yi", architectures=["YiForCausalLM"])
    f["yi"] = rewrite_safetensors(
        d / "hf",
        d / "yi",
        lambda n: n.replace("input_layernorm", "ln1").replace("post_attention_layernorm", "ln2"),
        config=yi,
    )
    globals_ = {"model.embed_tokens.weight": "net.a", "model.norm.weight": "net.b", "lm_head.weight": "net.c"}
    f["scrambled"] = rewrite_safetensors(
        d / "hf", d / "scrambled", lambda n: opaque(n, SCRAMBLED, globals_), config=None
    )
    _write_gguf(d / "f32.gguf", model, cfg, gguf.GGMLQuantizationType.F32)
    _write_gguf(d / "q8_0.gguf", model, cfg, gguf.GGMLQuantizationType.Q8_0)
    _write_gguf(d / "q4_0.gguf", model, cfg, gguf.GGMLQuantizationType.Q4_0)
    f["gguf-f32"], f["gguf-q8_0"], f["gguf-q4_0"] = d / "f32.gguf", d / "q8_0.gguf", d / "q4_0.gguf"
    (d / "meta").mkdir()
    torch.save(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in meta_state_dict(model, cfg).items()},
        d / "meta" / "consolidated.00.pth",
    )
    (d / "meta" / "params.json").write_text(
        json.dumps(
            {
                "dim": 64,
                "n_layers": 5,
                "n_heads": 8,
                "n_kv_heads": 4,
                "vocab_size": 512,
                "multiple_of": 4,
                "norm_eps": 1e-5,
            }
        )
    )
    f["meta"] = d / "meta"
    sd = load_file(str(d / "hf" / "model.safetensors"))
    noisy = copy.deepcopy(model)  # a fine-tune (noise, neurons in place), then quantized like the base
    noisy.load_state_dict(
        {k: torch.from_numpy(v) for k, v in V.add_noise(sd, relative=0.1, seed=9).items()}, strict=False
    )
    _write_gguf(d / "tuned-q4_0.gguf", noisy, cfg, gguf.GGMLQuantizationType.Q4_0)
    f["tuned-q4_0"] = d / "tuned-q4_0.gguf"
    f["tuned"] = _save_safetensors(
        d / "tuned", V.permute_neurons(V.add_noise(sd, relative=0.1, seed=7), seed=8), config
    )
    toy = ToyConfig(**SAME_ARCH)
    f["independent"] = _save_safetensors(d / "independent", train(toy, 1, 0, 40, batch=8), toy.arch())
    f["untrained"] = _save_safetensors(d / "untrained", train(toy, 2, 0, 0), toy.arch())
    f["notllm"] = _save_safetensors(d / "notllm", {"conv.weight": np.ones((8, 3, 3, 3)), "fc.bias": np.zeros(8)}, None)
    broken = dict(sd)
    broken["model.layers.2.mlp.down_proj.weight"] = sd["model.layers.2.mlp.down_proj.weight"].copy()
    broken["model.layers.2.mlp.down_proj.weight"][5, 7] = np.nan
    f["nan"] = _save_safetensors(d / "nan", broken, config)
    yield f
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------------- compare
# suspect, reference, relation labels that must be present
DERIVED = {
    "hf": ("orig", {"format-converted", "renamed"}),
    "bf16": ("hf", {"dtype-changed"}),
    "yi": ("hf", {"renamed"}),
    "scrambled": ("hf", {"renamed"}),
    "gguf-f32": ("hf", {"format-converted", "renamed"}),
    "gguf-q8_0": ("hf", {"format-converted", "quantized"}),
    "gguf-q4_0": ("orig", {"format-converted", "quantized"}),
    "meta": ("orig", {"format-converted"}),
    "tuned": ("orig", {"fine-tuned"}),
    "tuned-q4_0": ("orig", {"fine-tuned", "quantized"}),  # moved by more than 4-bit rounding explains
}


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_derived_files_are_derived_in_deep_mode(files, capsys, show, name):
    ref, labels = DERIVED[name]
    r = compare_json(capsys, files[name], files[ref])
    show(
        f"\n{name} vs {ref}: deep log10 p {r['log10_p_value']}, fingerprint log10 p "  # quoted in docs/lineage.md
        f"{r['fingerprint_log10_p_value']} (score {r['fingerprint_score']:.3f}), relation {r['relation']}"
    )
    assert CONTRACT_KEYS <= r.keys()
    assert r["schema_version"] == 1 and r["mode"] == "deep"
    assert r["verdict"] == "derived", (name, r["summary"])
    assert r["p_value"] <= 1e-6 and r["log10_p_value"] <= -6
    assert labels <= set(r["relation"]), r["relation"]
    if name in ("hf", "yi", "scrambled", "gguf-f32", "meta"):  # lossless conversions: every value survives
        assert r["hashes"]["all_identical"] and r["score"] > 0.99
        assert "fine-tuned" not in r["relation"] and "quantized" not in r["relation"]
    if name.startswith("gguf-q"):  # quantization noise alone is neither a fine-tune nor a rotation (each value
        # lies within one rounding step of the reference's, checked element by element)
        assert "fine-tuned" not in r["relation"] and "rotated" not in r["relation"]
        assert r["alignment"]["kind"] in ("identity", "signed-permutation")
        assert r["storage_rounding"]["explained"] and r["storage_rounding"]["tensors_checked"] >= 35
    if name == "tuned-q4_0":
        assert not r["storage_rounding"]["explained"] and r["storage_rounding"]["tensors_moved"] >= 35
    # every suspect layer is mapped back onto the same reference layer
    assert [(e["suspect"], e["reference"]) for e in r["layers"]] == [(i, i) for i in range(5)]
    if name == "yi":  # the canonical names agree, the files' names do not: a rename, not identity
        assert "identical" not in r["relation"]
    if name == "scrambled":  # roles that names could not tell were resolved against the reference, and it says so
        assert any("resolved by similarity to the other model" in c for c in r["caveats"])
        assert r["alignment"]["kind"] == "identity"


def test_a_model_against_itself_is_identical_with_a_nonzero_p_value(files, capsys):
    same = compare_json(capsys, files["hf"], files["hf"])
    assert same["verdict"] == "derived" and same["relation"] == ["identical"]
    assert 0 < same["p_value"] <= 1e-6  # a tiny p-value with its digits, not rounded to 0


INDEPENDENT = [("independent", "orig"), ("untrained", "orig"), ("gguf-q8_0", "independent")]


@pytest.mark.parametrize("suspect,reference", INDEPENDENT)
def test_independent_models_of_the_same_architecture_are_not_derived(files, capsys, show, suspect, reference):
    deep = compare_json(capsys, files[suspect], files[reference])
    fp = compare_json(capsys, files[suspect], files[reference], "--fingerprint-only")
    show(
        f"\n{suspect} vs {reference}: deep log10 p {deep['log10_p_value']}, fingerprint log10 p "
        f"{fp['log10_p_value']} (score {fp['score']:.3f})"
    )
    assert deep["mode"] == "deep" and fp["mode"] == "fingerprint"
    for r in (deep, fp):
        assert r["verdict"] != "derived", (suspect, reference, r["mode"], r["log10_p_value"])
        assert r["p_value"] > 1e-3 and r["relation"] == []
        assert r["hashes"]["identical_tensors"] == 0
        assert r["copy_evidence"]["copied"] == [] and r["copy_evidence"]["layout_changed"] == []
    assert deep["score"] < 0.2


def test_text_and_markdown_reports(files, capsys):
    code, text, err = run(["compare", files["gguf-q8_0"], files["orig"]], capsys)
    assert code == 0
    assert text.startswith("Verdict: DERIVED") and "shared weight lineage" in text
    assert "quantized" in text and "caveats:" in text
    assert sum(1 for line in text.splitlines() if "→" in line and "token CKA" in line) == 5
    code, md, _ = run(["compare", files["gguf-q8_0"], files["orig"], "--format", "markdown"], capsys)
    assert code == 0 and md.startswith("## Lineage: **derived**") and "shared weight lineage" in md
    assert sum(1 for line in md.splitlines() if line.startswith("| ") and line.count("|") == 7) == 6  # header + 5
    code, text, _ = run(["compare", files["independent"], files["orig"]], capsys)
    assert code == 0 and "Verdict: DERIVED" not in text and "shared weight lineage" in text  # "No shared … found"


def test_html_report_is_self_contained_with_charts_of_the_evidence(files, capsys):
    import re
    from xml.etree import ElementTree

    code, page, _ = run(["compare", files["gguf-q8_0"], files["orig"], "--format", "html"], capsys)
    assert code == 0 and page.startswith("<!DOCTYPE html>")
    assert (
        "<script" not in page
        and "src=" not in page
        and "<link" not in page
        and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "DERIVED" in page and "shared weight lineage" in page
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    for svg in svgs:
        ElementTree.fromstring(svg)  # each chart is well-formed SVG
    # the layer map shows one filled cell per suspect layer, on the diagonal for an unchanged stack
    assert svgs[2].count('fill="#1565c0"') == 5
    # per-layer bars: one CKA bar and one neuron-test bar per layer
    assert svgs[1].count("<title>layer ") == 10
    code, page2, _ = run(["compare", files["independent"], files["orig"], "--format", "html"], capsys)
    assert code == 0 and "INDEPENDENT" in page2 and "DERIVED" not in page2


def test_expect_turns_the_verdict_into_an_exit_code(files, capsys, tmp_path):
    fp = tmp_path / "orig.fp"
    assert run(["fingerprint", files["orig"], "-o", fp], capsys)[0] == 0
    code, out, err = run(["compare", files["gguf-q8_0"], fp, "--expect", "independent"], capsys)
    assert code == 1 and out.startswith("Verdict: DERIVED")  # the report is still printed
    assert err == "provenance: check failed: verdict derived, expected independent\n"
    assert run(["compare", files["gguf-q8_0"], fp, "--expect", "derived"], capsys)[0] == 0
    assert run(["compare", files["independent"], fp, "--expect", "derived"], capsys)[0] == 1


def test_compare_json_is_deterministic(files, capsys):
    outs = [run(["compare", files["scrambled"], files["meta"], "--format", "json"], capsys)[1] for _ in range(2)]
    assert outs[0] == outs[1] and json.loads(outs[0])["verdict"] == "derived"


# --------------------------------------------------------------------------------------------- fingerprints
def test_fingerprint_files_are_deterministic_and_compare_alone(files, capsys, tmp_path):
    a, b = tmp_path / "orig.fp", tmp_path / "again.fp"
    code, out, err = run(["fingerprint", files["orig"], "-o", a], capsys)
    assert code == 0 and out == "" and "wrote" in err  # nothing but the file; the summary goes to stderr
    assert run(["fingerprint", files["orig"], "--output", b], capsys)[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size < 1_000_000
    ind_fp = tmp_path / "independent.fp"
    assert run(["fingerprint", files["independent"], "-o", ind_fp], capsys)[0] == 0

    same = compare_json(capsys, a, b)
    assert same["mode"] == "fingerprint" and same["verdict"] == "derived" and same["hashes"]["all_identical"]
    outs = {}
    # converted checkpoints against the stored fingerprint (scrambled names: roles guessed without a reference)
    for suspect in ("gguf-q8_0", "meta", "scrambled", "gguf-q8_0"):
        code, out, _ = run(["compare", files[suspect], a, "--format", "json"], capsys)
        r = json.loads(out)
        assert r["mode"] == "fingerprint" and r["verdict"] == "derived", (suspect, r["log10_p_value"])
        assert r["p_value"] <= 1e-6 and CONTRACT_KEYS <= r.keys()
        assert any("Fingerprint-only" in c for c in r["caveats"])
        assert outs.setdefault(suspect, out) == out  # the same inputs give the same bytes
    assert "quantized" in json.loads(outs["gguf-q8_0"])["relation"]
    for r in (compare_json(capsys, ind_fp, a), compare_json(capsys, files["independent"], a)):
        assert r["mode"] == "fingerprint" and r["verdict"] != "derived" and r["relation"] == []


def test_anchor_count_option(files, capsys, tmp_path):
    from fingerprints import Fingerprint
    from fingerprints.fingerprint import ANCHORS, MIN_ANCHORS
    from provenance.cli.fingerprint_cmd import ANCHORS_OPTION, DEFAULT_ANCHORS

    assert DEFAULT_ANCHORS == ANCHORS and ANCHORS_OPTION.min == MIN_ANCHORS
    wide, default = tmp_path / "wide.fp", tmp_path / "default.fp"
    assert run(["fingerprint", files["orig"], "-o", wide, "--anchors", "64"], capsys)[0] == 0
    assert run(["fingerprint", files["orig"], "-o", default], capsys)[0] == 0
    fw, fd = Fingerprint.load(wide), Fingerprint.load(default)
    assert len(fw.anchors) == 64 and len(fd.anchors) == ANCHORS and wide.stat().st_size > default.stat().st_size
    r = compare_json(capsys, wide, default)
    assert r["verdict"] == "derived" and r["anchors"]["shared_anchors"] == ANCHORS and r["hashes"]["all_identical"]
    r = compare_json(capsys, files["gguf-q8_0"], wide, "--fingerprint-only")
    assert r["verdict"] == "derived" and r["score"] > 0.9
    code, out, err = run(["fingerprint", files["orig"], "-o", tmp_path / "x.fp", "--anchors", "16"], capsys)
    assert code == 2 and out == "" and not (tmp_path / "x.fp").exists()


# ------------------------------------------------------------------------------------------ registry, identify
def test_registry_and_identify(files, capsys, tmp_path):
    reg = tmp_path / "registry"
    code, out, _ = run(["registry", "list", "--registry", reg], capsys)
    assert code == 0 and "empty" in out and not reg.exists()  # listing does not create it
    ind_fp = tmp_path / "independent.fp"
    assert run(["fingerprint", files["independent"], "-o", ind_fp], capsys)[0] == 0
    for name, path in (
        ("stories260k", files["orig"]),
        ("toy-untrained", files["untrained"]),
        ("toy-independent", ind_fp),
    ):
        code, out, err = run(["registry", "add", name, path, "--registry", reg], capsys)
        assert code == 0 and out == "" and f"added {name}" in err, err
    code, out, _ = run(["registry", "list", "--registry", reg, "--format", "json"], capsys)
    rows = json.loads(out)["models"]
    assert [r["name"] for r in rows] == ["stories260k", "toy-independent", "toy-untrained"]
    assert rows[0]["path"] == str(files["orig"].resolve()) and rows[1]["path"] is None
    assert rows[0]["layers"] == 5 and rows[0]["hidden_size"] == 64 and rows[0]["vocab_size"] == 512
    assert (rows[0]["fingerprint_version"], rows[0]["anchors"], rows[0]["content_hash"]) == (4, 32, "blake3-160")
    code, out, _ = run(["registry", "list", "--registry", reg], capsys)
    assert code == 0 and len(out.splitlines()) == 3 and "(fingerprint only)" in out and "version" not in out

    code, out, err = run(["identify", files["gguf-q8_0"], "--registry", reg, "--format", "json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["screened"] == 3
    first, *rest = res["candidates"]
    assert first["name"] == "stories260k" and first["verdict"] == "derived" and first["mode"] == "deep"
    assert first["p_value"] <= 1e-6 and "quantized" in first["relation"]
    assert all(c["verdict"] != "derived" for c in rest) and len(rest) == 2
    assert {c["name"]: c["mode"] for c in rest} == {"toy-untrained": "deep", "toy-independent": "fingerprint"}
    code, text, _ = run(["identify", files["scrambled"], "--registry", reg, "--top", "1"], capsys)
    assert code == 0 and text.splitlines()[1].startswith("1. stories260k: derived (deep")
    assert not any(line.startswith("2. ") for line in text.splitlines())
    code, out, _ = run(["identify", files["independent"], "--registry", reg, "--format", "json"], capsys)
    cands = json.loads(out)["candidates"]
    assert [c["verdict"] for c in cands if c["name"] == "stories260k"] != ["derived"]
    assert [c for c in cands if c["name"] == "toy-independent"][0]["verdict"] == "derived"  # itself, by fingerprint

    code, _, err = run(["registry", "remove", "toy-untrained", "--registry", reg], capsys)
    assert code == 0 and "removed toy-untrained" in err
    code, out, _ = run(["registry", "list", "--registry", reg, "--format", "json"], capsys)
    assert [r["name"] for r in json.loads(out)["models"]] == ["stories260k", "toy-independent"]
    code, out, err = run(["registry", "remove", "toy-untrained", "--registry", reg], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and "no model named" in err


def test_identify_refreshes_an_entry_written_by_an_older_version(files, capsys, tmp_path):
    import sqlite3

    from fingerprints import Fingerprint

    reg = tmp_path / "registry"
    assert run(["registry", "add", "stories260k", files["orig"], "--registry", reg], capsys)[0] == 0
    db = reg / "registry.sqlite"
    with sqlite3.connect(db) as con:
        fp = Fingerprint.from_bytes(con.execute("SELECT fingerprint FROM models").fetchone()[0])
        del fp.meta["content_hash"]  # as a version-2 entry (SHA-1 hashes) would read
        fp.meta["version"] = 2
        con.execute("UPDATE models SET fingerprint = ?", (fp.to_bytes(),))
    code, out, _ = run(["registry", "list", "--registry", reg, "--format", "json"], capsys)
    row = json.loads(out)["models"][0]
    assert (row["fingerprint_version"], row["content_hash"], row["anchors"]) == (2, "sha1", 32)
    code, out, _ = run(["registry", "list", "--registry", reg], capsys)
    assert "fingerprint version 2: add it again" in out
    code, out, err = run(["identify", files["meta"], "--registry", reg, "--format", "json"], capsys)
    assert code == 0, err
    first = json.loads(out)["candidates"][0]
    assert first["verdict"] == "derived" and first["mode"] == "deep"
    assert any("older version" in n for n in first["notes"]) and not any("changed since" in n for n in first["notes"])


def test_identify_with_an_empty_registry_is_an_input_error(files, capsys, tmp_path):
    code, out, err = run(["identify", files["orig"], "--registry", tmp_path / "none"], capsys)
    assert code == 2 and out == "" and "registry is empty" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------------------------- bad input
def _truncated_fingerprint(files, tmp_path, capsys) -> Path:
    full = tmp_path / "full.fp"
    assert run(["fingerprint", files["orig"], "-o", full], capsys)[0] == 0
    cut = tmp_path / "cut.fp"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    return cut


@pytest.mark.parametrize(
    "case",
    ["missing", "truncated-fingerprint", "not-an-llm", "empty-file", "bad-registry", "nan-weights", "nan-fingerprint"],
)
def test_bad_input_exits_2_with_one_line(files, capsys, tmp_path, case):
    if case == "missing":
        argv = ["compare", tmp_path / "nope", files["orig"]]
    elif case == "truncated-fingerprint":
        argv = ["compare", files["orig"], _truncated_fingerprint(files, tmp_path, capsys)]
    elif case == "not-an-llm":
        argv = ["compare", files["notllm"], files["orig"]]
    elif case == "nan-weights":
        argv = ["compare", files["nan"], files["orig"]]
    elif case == "nan-fingerprint":
        argv = ["fingerprint", files["nan"], "-o", tmp_path / "x.fp"]
    elif case == "empty-file":
        (tmp_path / "empty.safetensors").write_bytes(b"")
        argv = ["fingerprint", tmp_path / "empty.safetensors", "-o", tmp_path / "x.fp"]
    else:
        (tmp_path / "reg").mkdir()
        (tmp_path / "reg" / "registry.sqlite").write_bytes(b"this is not sqlite" * 100)
        argv = ["registry", "list", "--registry", tmp_path / "reg"]
    code, out, err = run(argv, capsys)
    assert code == 2, (case, err)
    assert out == ""
    assert err.startswith("provenance: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert "rerun with --debug" not in err, err  # an explained input error, not an unexpected exception
    assert not (tmp_path / "x.fp").exists()
    if case.startswith("nan"):
        assert "model.layers.2.mlp.down_proj.weight" in err and "non-finite" in err and "model.safetensors" in err


def test_help_texts_teach_with_an_example(capsys):
    for cmd in (
        ["compare"],
        ["fingerprint"],
        ["identify"],
        ["registry"],
        ["registry", "add"],
        ["registry", "list"],
        ["registry", "remove"],
    ):
        code, out, _ = run([*cmd, "--help"], capsys)
        assert code == 0 and "Example: provenance " in out, cmd


# ------------------------------------------------------------------------------------- progress goes to stderr
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bars_go_to_a_terminal_stderr_and_never_to_stdout(files):
    """`python -m provenance` with stderr on a pseudo-terminal (so progress bars are drawn) and stdout on a pipe."""
    import pty
    import threading

    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="100", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    chunks: list[bytes] = []

    def drain() -> None:  # read while the child writes, so a full terminal buffer can never block it
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child has exited and the slave side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(
        [sys.executable, "-m", "provenance", "compare", str(files["tuned"]), str(files["orig"]), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        timeout=120,
    )
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    tty_text = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    report = json.loads(proc.stdout)  # stdout: exactly one JSON document
    assert report["verdict"] == "derived"
    assert "fingerprint" in tty_text or "compare layers" in tty_text  # the bars were drawn, on stderr
    assert b"\x1b[" not in proc.stdout
