"""Joint anchors (issue 10, item 3): a side with vocabulary strings and one without share the full anchor set, so a
GGUF conversion that carries its vocabulary gives the same per-layer evidence as a safetensors copy without one.

The GGUF file is written with gguf-py's GGUFWriter from the genuine stories260K, with its own vocabulary read from
llama2.c's ``tok512.bin`` (format: int32 max length, then per token float32 score, int32 length, bytes).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_lineage_cli import compare_json, show  # noqa: F401 (fixture)

from provenance.formats.tokenizers import llama2c_token_strings


@pytest.fixture(scope="module")
def sides(stories260k, tmp_path_factory):
    from safetensors.numpy import load_file
    from test_lineage_cli import _save_safetensors

    from provenance.checkpoint import open_checkpoint
    from provenance.normalize import normalize, write_canonical

    d = tmp_path_factory.mktemp("anchors")
    cm = normalize(open_checkpoint(stories260k))
    write_canonical(cm, d / "canonical")
    sd: dict[str, np.ndarray] = {}
    for f in sorted((d / "canonical").glob("*.safetensors")):
        sd.update(load_file(str(f)))
    hf = _save_safetensors(d / "hf", sd, None)  # no tokenizer beside it: anchors by index
    # SentencePiece pieces as a GGUF conversion stores them (the project's llama2.c reader maps run.c's spaces
    # and "\n<s>\n" markers back to pieces; the reader itself is exercised in test_formats_gguf_versions).
    pieces = llama2c_token_strings(stories260k.parent / "tok512.bin", 512)
    assert len(pieces) == 512
    a = cm.arch.values
    from provenance.examples import TinyLlamaConfig, write_gguf

    cfg = TinyLlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=172,
        num_hidden_layers=5,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
    )
    assert a.get("hidden_size") in (None, 64)
    write_gguf(d / "vocab.gguf", sd, cfg, name="stories260K", qtype="F32", tokens=pieces)
    return {"orig": stories260k, "hf": hf, "gguf": d / "vocab.gguf"}


def test_gguf_with_vocabulary_gives_the_same_per_layer_evidence_as_a_safetensors_copy(sides, capsys, tmp_path, show):
    from provenance.lineage import load_side

    assert load_side(sides["gguf"]).tokens is not None and load_side(sides["hf"]).tokens is None
    g = compare_json(capsys, sides["gguf"], sides["hf"])
    for r in (g, compare_json(capsys, sides["gguf"], sides["orig"]), compare_json(capsys, sides["hf"], sides["orig"])):
        assert r["verdict"] == "derived" and r["anchors"]["shared_anchors"] == r["anchors"]["anchors_reference"]
        assert [(e["suspect"], e["reference"]) for e in r["layers"]] == [(i, i) for i in range(5)]
        assert all(e["token_cka"] > 0.999 for e in r["layers"])
        assert "depth-changed" not in r["relation"]
    ref = compare_json(capsys, sides["hf"], sides["orig"])
    fpm = compare_json(capsys, sides["gguf"], sides["hf"], "--fingerprint-only")
    show(
        f"\nGGUF with vocabulary vs safetensors copy: deep log10 p {g['log10_p_value']}, fingerprint log10 p "
        f"{fpm['log10_p_value']}, anchors {g['anchors']['vocab_match']} {g['anchors']['shared_anchors']}"
    )
    assert abs(g["log10_p_value"] - ref["log10_p_value"]) <= 0.1 * abs(ref["log10_p_value"])
    # fingerprint files: one with strings, one without, still share every anchor
    fa, fb = tmp_path / "gguf.fp", tmp_path / "hf.fp"
    from provenance.cli.main import main

    for src, out in ((sides["gguf"], fa), (sides["hf"], fb)):
        with pytest.raises(SystemExit) as exc:
            main(["fingerprint", str(src), "-o", str(out)])
        assert exc.value.code in (0, None)
    from fingerprints import Fingerprint

    fpa, fpb = Fingerprint.load(fa), Fingerprint.load(fb)
    assert fpa.anchor_strings is not None and fpb.anchor_strings is None and fpa.grams_index is not None
    assert fpa.meta["index_anchors"] == fpb.anchors  # the index-chosen set both hold
    for a, b in ((fa, fb), (fb, fa)):
        r = compare_json(capsys, a, b)
        assert r["anchors"]["vocab_match"] == "token-index" and r["anchors"]["shared_anchors"] == 32
        assert [(e["suspect"], e["reference"]) for e in r["layers"]] == [(i, i) for i in range(5)]
        assert r["verdict"] == "derived" and r["fingerprint_score"] > 0.999
    r = compare_json(capsys, fa, fa)
    assert r["anchors"]["vocab_match"] == "token-string" and r["anchors"]["shared_anchors"] == 32
