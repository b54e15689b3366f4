"""`identify --deep` uses the same content-first correspondence as `compare`: an obfuscated exact copy of a
registered base (meaningless names, shuffled layers, no config.json) is mapped back by content and `derived`."""

from __future__ import annotations

import numpy as np
import pytest
from test_lineage_cli import _save_safetensors
from test_lineage_copies import base  # noqa: F401 (fixture: stories260K written as canonical safetensors)

from provenance.registry import Registry, identify


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return int(parts[2]) if name.startswith("model.layers.") else None


def _obfuscated(d, sd: dict, seed: int, name: str):
    """Every tensor under a meaningless name, layers shuffled, no config.json; values untouched."""
    rng = np.random.default_rng(seed)
    where = {int(src): i for i, src in enumerate(rng.permutation(5))}
    tags = rng.permutation(len(sd))
    out = {}
    for tag, n in zip(tags, sorted(sd)):
        lay = _layer(n)
        out[f"blk{where[lay]}.t{tag:03d}" if lay is not None else f"g.t{tag:03d}"] = sd[n]
    return _save_safetensors(d / name, out, None)


@pytest.fixture(scope="module")
def registry(base, tmp_path_factory):  # noqa: F811
    d, sd, config, hf = base
    reg = Registry(tmp_path_factory.mktemp("reg"))
    reg.add("stories260k", hf)
    rng = np.random.default_rng(11)  # an unrelated model of the same shapes, registered beside it
    other = {k: (rng.standard_normal(v.shape) * (float(v.std()) or 1.0)).astype(np.float32) for k, v in sd.items()}
    reg.add("unrelated", _save_safetensors(d / "unrelated-reg", other, config))
    return reg


def test_identify_deep_maps_an_obfuscated_copy_by_content_and_finds_it_derived(base, registry):  # noqa: F811
    d, sd, _, _ = base
    sus = _obfuscated(d, sd, 3, "obfuscated-identify")
    r = identify(sus, registry, top=2, deep=True)
    best = r["candidates"][0]
    assert best["name"] == "stories260k" and best["verdict"] == "derived" and best["mode"] == "deep"
    assert best["p_value"] <= 1e-6
    others = [c for c in r["candidates"] if c["name"] == "unrelated"]
    assert others and others[0]["verdict"] != "derived"


def test_identify_without_deep_still_sees_the_copied_tensors(base, registry):  # noqa: F811
    d, sd, _, _ = base
    sus = _obfuscated(d, sd, 5, "obfuscated-fp")
    r = identify(sus, registry, top=2, deep=False)
    best = r["candidates"][0]
    assert best["name"] == "stories260k" and best["verdict"] == "derived" and best["mode"] != "deep"


def test_a_file_no_registered_model_can_place_is_one_input_error(base, registry, tmp_path):  # noqa: F811
    from provenance.errors import InputError

    _, sd, _, _ = base
    rng = np.random.default_rng(0)
    junk = {f"x{i}": rng.standard_normal(v.shape).astype(np.float32) for i, v in enumerate(sd.values())}
    with pytest.raises(InputError):
        identify(_save_safetensors(tmp_path / "junk", junk, None), registry, top=2)
