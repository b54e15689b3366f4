"""Vocabularies that travel with the weights: SentencePiece tokenizer.model (read without sentencepiece) and
tokenizer.json, and what they buy the comparison: a reordered vocabulary is matched by token string."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, write_meta_dir
from provenance.formats.sentencepiece_model import NotSentencePiece, sentencepiece_pieces
from provenance.lineage import compare_paths, load_side

spm = pytest.importorskip("sentencepiece")  # the test oracle only; the tool reads the file itself
CFG = TinyLlamaConfig()  # vocabulary 256


@pytest.fixture(scope="module")
def sp_model(tmp_path_factory):
    """A real SentencePiece BPE model with exactly CFG.vocab_size pieces, trained on synthetic text."""
    d = tmp_path_factory.mktemp("sp")
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7))) for _ in range(400)]
    (d / "corpus.txt").write_text("\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(2000)))
    spm.SentencePieceTrainer.train(
        input=str(d / "corpus.txt"),
        model_prefix=str(d / "tokenizer"),
        vocab_size=CFG.vocab_size,
        model_type="bpe",
        minloglevel=2,
    )
    return d / "tokenizer.model"


def test_pieces_read_from_the_protobuf_equal_sentencepiece_s_own(sp_model, tmp_path):
    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    assert sentencepiece_pieces(sp_model) == [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    cut = tmp_path / "cut.model"
    cut.write_bytes(sp_model.read_bytes()[:1001])
    with pytest.raises(NotSentencePiece):
        sentencepiece_pieces(cut)
    (tmp_path / "junk.model").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(NotSentencePiece):
        sentencepiece_pieces(tmp_path / "junk.model")


def test_a_reordered_vocabulary_is_matched_by_token_string(sp_model, tmp_path):
    base = llama_state_dict(CFG, seed=0)
    meta = write_meta_dir(tmp_path / "base-meta", base, CFG)
    shutil.copy(sp_model, meta / "tokenizer.model")
    pieces = sentencepiece_pieces(sp_model)
    assert load_side(meta).tokens == pieces

    # The suspect reorders its vocabulary: embedding and head rows permuted, tokenizer.json to match.
    perm = np.random.default_rng(5).permutation(CFG.vocab_size)  # new id j holds old token perm[j]
    suspect = dict(base)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        suspect[name] = base[name][perm]
    sus_dir = write_hf_dir(tmp_path / "reordered", suspect, CFG.hf_config())
    vocab = {pieces[old]: new for new, old in enumerate(perm)}
    (sus_dir / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": vocab}}))

    r = compare_paths(sus_dir, meta)
    assert r["alignment"]["vocab_match"] == "token-string"
    assert r["verdict"] == "derived" and r["log10_p_value"] <= -6
    assert "format-converted" in r["relation"]

    # Without the reference's vocabulary only token indices can be matched, and the report says so.
    (meta / "tokenizer.model").unlink()
    blind = compare_paths(sus_dir, meta)
    assert blind["alignment"]["vocab_match"] == "token-index"
    assert any("token index" in c for c in blind["caveats"])
