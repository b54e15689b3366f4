"""GGUF versions 1 and 2, written by hand following the spec (ggml docs/gguf.md: v1 stores counts, lengths and
dimensions as uint32, v2 as uint64), from the key-values and tensor bytes of a v3 file written by gguf's GGUFWriter
(the oracle). Also: llama2.c tokenizer strings (tok512.bin) matching a GGUF vocabulary by string."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import gguf
import numpy as np
import pytest

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError
from provenance.formats.tokenizers import llama2c_token_strings
from provenance.lineage import compare_paths, load_side

TOK512 = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "stories260K" / "tok512.bin"


def stories_gguf_v3(stories: Path, path: Path, tokens: list[str] | None = None, qtype: str = "F32") -> Path:
    """stories260K as llama.cpp lays it out, written by GGUFWriter (v3), optionally with a vocabulary."""
    from provenance.examples import TinyLlamaConfig, write_gguf
    from provenance.normalize import normalize

    cm = normalize(open_checkpoint(stories), graph=False)
    sd = {n: t.read() for n, t in cm.tensors.items()}
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
    write_gguf(path, sd, cfg, name="stories260K", qtype=qtype, fallback="F32", tokens=tokens)
    return path


# ------------------------------------------------------------------ a v1/v2 writer that follows the spec by hand
def _scalar(vtype: int, value) -> bytes:
    code = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}[vtype]
    return struct.pack(code, value)


def write_old_gguf(v3: Path, out: Path, version: int) -> Path:
    """Re-serialise a v3 file as ``version`` (1 or 2): same key-values, tensor infos and data, only the width of
    counts/lengths/dimensions changes (uint32 in v1, uint64 in v2)."""
    r = gguf.GGUFReader(v3)
    n = "<I" if version == 1 else "<Q"

    def string(s: str) -> bytes:
        b = s.encode("utf-8")
        return struct.pack(n, len(b)) + b

    def value(vtype: int, f) -> bytes:
        if vtype == gguf.GGUFValueType.STRING:
            return string(f)
        return _scalar(int(vtype), f)

    kvs = []
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        vt = f.types[0]
        body = string(name) + struct.pack("<I", int(vt))
        if vt == gguf.GGUFValueType.ARRAY:
            et = f.types[1]
            items = f.contents()
            body += struct.pack("<I", int(et)) + struct.pack(n, len(items))
            body += b"".join(value(et, x) for x in items)
        else:
            body += value(vt, f.contents())
        kvs.append(body)
    align = 32
    infos, blobs, offset = [], [], 0
    for t in r.tensors:
        dims = [int(d) for d in t.shape.tolist()]  # ggml order, as stored
        infos.append(
            string(t.name)
            + struct.pack("<I", len(dims))
            + b"".join(struct.pack(n, d) for d in dims)
            + struct.pack("<I", int(t.tensor_type))
            + struct.pack("<Q", offset)
        )
        data = bytes(np.ascontiguousarray(t.data).view(np.uint8).reshape(-1))
        pad = (-len(data)) % align
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head = b"GGUF" + struct.pack("<I", version) + struct.pack(n, len(infos)) + struct.pack(n, len(kvs))
    meta = head + b"".join(kvs) + b"".join(infos)
    meta += b"\0" * ((-len(meta)) % align)
    out.write_bytes(meta + b"".join(blobs))
    return out


@pytest.fixture(scope="module")
def tok512(stories260k):
    if not TOK512.is_file():
        pytest.skip("../shared/models/stories260K/tok512.bin is not present")
    return TOK512


@pytest.fixture(scope="module")
def ggufs(stories260k, tok512, tmp_path_factory):
    d = tmp_path_factory.mktemp("gguf-versions")
    tokens = llama2c_token_strings(tok512, 512)
    v3 = stories_gguf_v3(stories260k, d / "v3.gguf", tokens)
    return {
        "v3": v3,
        "v2": write_old_gguf(v3, d / "v2.gguf", 2),
        "v1": write_old_gguf(v3, d / "v1.gguf", 1),
        "tokens": tokens,
    }


@pytest.mark.parametrize("version", [1, 2])
def test_old_versions_hold_the_same_tensors_and_metadata_as_v3(ggufs, version):
    v3 = open_checkpoint(ggufs["v3"])
    old = open_checkpoint(ggufs[f"v{version}"])
    assert old.metadata["gguf"]["GGUF.version"] == version and v3.metadata["gguf"]["GGUF.version"] == 3
    assert {k: v for k, v in old.metadata["gguf"].items() if k != "GGUF.version"} == {
        k: v for k, v in v3.metadata["gguf"].items() if k != "GGUF.version"
    }
    assert list(old.tensors) == list(v3.tensors)
    for name, t in v3.tensors.items():
        assert old.tensors[name].shape == t.shape and old.tensors[name].dtype == t.dtype
        np.testing.assert_array_equal(old.tensors[name].read(), t.read())
    assert load_side(ggufs[f"v{version}"]).tokens == ggufs["tokens"]


def test_gguf_v1_conversion_of_stories260k_is_derived_with_string_matched_vocabulary(stories260k, ggufs):
    r = compare_paths(ggufs["v1"], stories260k)
    assert r["verdict"] == "derived" and r["log10_p_value"] <= -6
    assert r["alignment"]["vocab_match"] == "token-string"  # tok512.bin beside stories260K.bin


def test_the_gguf_package_itself_refuses_v1(ggufs):
    """Why the header is parsed here: the oracle library cannot open these files."""
    with pytest.raises(ValueError):
        gguf.GGUFReader(ggufs["v1"])


def test_llama2c_tokenizer_strings_are_sentencepiece_pieces(tok512):
    tokens = llama2c_token_strings(tok512, 512)
    assert len(tokens) == 512
    assert tokens[:3] == ["<unk>", "<s>", "</s>"]  # BOS/EOS written as "\n<s>\n" by llama2.c's export
    assert tokens[3] == "<0x00>" and tokens[259] == "\u2581t"  # "▁" written as a space by the export
    assert llama2c_token_strings(tok512, 32000) is None  # not this model's vocabulary


def test_stories260k_with_tok512_beside_it_carries_strings(stories260k, tok512, tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    shutil.copy(stories260k, d / "model.bin")
    assert load_side(d).tokens is None
    shutil.copy(tok512, d / "tok512.bin")
    assert load_side(d).tokens == llama2c_token_strings(tok512, 512)


def test_stories260k_vs_a_reordered_hf_copy_matches_by_string(stories260k, tok512, tmp_path):
    """A copy whose vocabulary was permuted (embedding rows and tokenizer.json alike) aligns only by string."""
    import json

    from provenance.normalize import normalize, write_canonical

    d = tmp_path / "hf"
    write_canonical(normalize(open_checkpoint(stories260k)), d)
    from safetensors.numpy import load_file, save_file

    shard = next(d.glob("*.safetensors"))
    sd = load_file(str(shard))
    perm = np.random.default_rng(3).permutation(512)
    for name in [k for k in sd if k in ("model.embed_tokens.weight", "lm_head.weight")]:
        sd[name] = np.ascontiguousarray(sd[name][perm])
    save_file(sd, str(shard), metadata={"format": "pt"})
    tokens = llama2c_token_strings(tok512, 512)
    (d / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "BPE", "vocab": {tokens[old]: new for new, old in enumerate(perm)}}})
    )
    r = compare_paths(d, stories260k)
    assert r["alignment"]["vocab_match"] == "token-string"
    assert r["verdict"] == "derived" and r["log10_p_value"] <= -6


def test_corrupt_llama2c_tokenizer_is_an_input_error(tmp_path):
    p = tmp_path / "tokenizer.bin"
    p.write_bytes(struct.pack("<i", 7) + struct.pack("<fi", 0.0, 1 << 30) + b"x")
    with pytest.raises(InputError, match="declares"):
        llama2c_token_strings(p, 1)


def test_a_directory_with_a_llama2c_model_and_its_tokenizer(stories260k, tok512, tmp_path):
    """tok512.bin sorts after the model here but before it when the model is named zz.bin: never the weights."""
    shutil.copy(stories260k, tmp_path / "zz.bin")
    shutil.copy(tok512, tmp_path / "tok512.bin")
    ck = open_checkpoint(tmp_path)
    assert ck.format == "llama2c" and ck.files == [tmp_path / "zz.bin"]
    assert load_side(tmp_path).tokens[1] == "<s>"
