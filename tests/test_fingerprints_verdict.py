"""Relation labels: what the files' own names say versus what the canonical names say."""

from __future__ import annotations

from fingerprints.verdict import relations, verdict


def _fp(all_identical=True, names_too=True):
    return {
        "hashes": {"all_identical": all_identical, "identical_names_too": names_too, "same_values_other_layout": 0},
        "layer_map": [{"reference": i, "token_cka": 1.0} for i in range(2)],
    }


def _meta(digest, fmt="safetensors"):
    return {
        "source_names_digest": digest,
        "source_format": fmt,
        "layers": [0, 1],
        "vocab_size": 10,
        "storage_dtypes": {"F32": 9},
    }


def test_identical_content_under_other_file_names_is_renamed_not_identical():
    assert relations("derived", _fp(), _meta("aaa"), _meta("bbb"), None) == ["renamed"]
    assert relations("derived", _fp(), _meta("aaa"), _meta("aaa"), None) == ["identical"]


def test_format_conversion_and_renaming_are_both_named():
    rel = relations("derived", _fp(), _meta("aaa", "safetensors"), _meta("bbb", "gguf"), None)
    assert rel == ["format-converted", "renamed"]


def test_no_relation_without_a_derived_verdict():
    assert relations(verdict(-1.0), _fp(), _meta("aaa"), _meta("bbb"), None) == []
    assert verdict(-6.0) == "derived" and verdict(-3.0) == "inconclusive" and verdict(-1.9) == "independent"


def _changed(cka):
    fp = _fp(all_identical=False, names_too=False)
    fp["layer_map"] = [{"reference": i, "token_cka": c} for i, c in enumerate(cka)]
    return fp


def test_slightly_different_values_are_near_identical_and_larger_changes_fine_tuned():
    assert relations("derived", _changed([0.999, 0.998]), _meta("a"), _meta("a"), None) == ["near-identical"]
    assert relations("derived", _changed([0.999, 0.97]), _meta("a"), _meta("a"), None) == ["fine-tuned"]


def test_quantization_noise_alone_is_not_a_fine_tune():
    quant = dict(_meta("a", "gguf"), storage_dtypes={"Q4_0": 8, "F32": 1})
    assert relations("derived", _changed([0.993, 0.99]), _meta("a"), quant, None) == ["format-converted", "quantized"]
    assert "fine-tuned" in relations("derived", _changed([0.993, 0.9]), _meta("a"), quant, None)


def test_depth_changed_only_when_depths_differ():
    fp = _fp(all_identical=False, names_too=False)
    fp["layer_map"] = [{"reference": 0, "token_cka": 0.9}, {"reference": 0, "token_cka": 0.9}]  # repeats
    assert "depth-changed" not in relations("derived", fp, _meta("a"), _meta("a"), None)
    short = dict(_meta("a"), layers=[0])
    fp["layer_map"] = [{"reference": 0, "token_cka": 0.9}]
    assert "depth-changed" in relations("derived", fp, _meta("a"), short, None)


def test_copy_evidence_names_copied_and_layout_changed_tensors():
    copy = {"copied": [{"suspect": "x", "reference": "model.embed_tokens.weight"}], "layout_changed": []}
    rel = relations("derived", _changed([0.9, 0.9]), _meta("a"), _meta("a"), None, copy=copy)
    assert "copied" in rel and "layout-changed" not in rel
    copy = {"copied": [], "layout_changed": [{"suspect": "y", "reference": "z", "how": "transposed"}]}
    assert "layout-changed" in relations("derived", _changed([1.0, 1.0]), _meta("a"), _meta("a"), None, copy=copy)
    every = {"copied": [{"suspect": "a", "reference": "a"}], "layout_changed": []}  # all tensors identical
    assert relations("derived", _fp(), _meta("a"), _meta("a"), None, copy=every) == ["identical"]
    assert relations("derived", _fp(), _meta("a"), _meta("b"), None, copy=every) == ["renamed"]


def test_a_pair_whose_values_moved_far_is_not_near_identical():
    deep = {
        "alignment": {"kind": "identity"},
        "layers": [],
        "storage": None,
        "drift": {"tensors": 4, "median": 0.3, "max": 0.5},
    }
    assert relations("derived", _changed([0.999, 0.998]), _meta("a"), _meta("a"), deep) == ["modified"]
    deep["drift"] = {"tensors": 4, "median": 0.001, "max": 0.002}
    assert relations("derived", _changed([0.999, 0.998]), _meta("a"), _meta("a"), deep) == ["near-identical"]
