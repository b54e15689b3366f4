"""`provenance verify ADAPTER --base BASE`: a real peft LoRA adapter applied to its base in memory and run; the
oracle is transformers running peft's own ``merge_and_unload()`` model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from provenance import verify as V  # noqa: E402
from provenance.cli.main import main  # noqa: E402
from provenance.errors import InputError, UsageError  # noqa: E402

TINY = dict(
    vocab_size=96,
    hidden_size=64,
    intermediate_size=112,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    rms_norm_eps=1e-5,
    bos_token_id=3,
)
STEPS = 12


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _base(seed: int = 0, **over) -> transformers.LlamaForCausalLM:
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**dict(TINY, **over))).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # weights large enough that greedy decoding is not a run of ties
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1.0 + 0.2 * noise if name.endswith("norm.weight") else noise / p.shape[-1] ** 0.5)
    return model


def _greedy(model) -> list[int]:
    with torch.no_grad():
        out = model.generate(
            torch.tensor([[TINY["bos_token_id"]]]),
            max_new_tokens=STEPS,
            min_new_tokens=STEPS,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    return out[0, 1:].tolist()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify_adapter")
    _base().save_pretrained(root / "base")
    _base(2, hidden_size=32).save_pretrained(root / "narrow")
    greedy = {"base": _greedy(_base())}
    for name, lora in {
        "attn_mlp": dict(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj", "gate_proj"]),
        "embedding": dict(r=2, lora_alpha=32, target_modules=["embed_tokens", "o_proj"]),
    }.items():
        pm = peft.get_peft_model(_base(), peft.LoraConfig(init_lora_weights=False, **lora))
        with torch.no_grad():  # deltas large enough to change what the model says
            for pname, p in pm.named_parameters():
                if "lora_" in pname:
                    p.mul_(3.0)
        pm.save_pretrained(root / name, save_embedding_layers=False)
        greedy[name] = _greedy(pm.merge_and_unload().eval())
    return root, greedy


@pytest.mark.parametrize("name", ["attn_mlp", "embedding"])
def test_adapted_model_decodes_as_transformers_runs_peft_merge(made, name):
    root, greedy = made
    assert greedy[name] != greedy["base"]  # the adapter changes the behaviour, so the check below can fail
    r = V.verify_path(root / name, steps=STEPS, base=root / "base")
    assert r["runs_as_llama"] and r["reasons"] == []
    assert r["greedy_from_bos"] == greedy[name]
    # transformers ran the base's files with the adapted tensors in place of the base's: same logits
    assert r["compared_with"] == "LlamaForCausalLM" and r["max_abs_logit_diff"] <= 1e-4
    a = r["adapter"]
    assert a["path"] == str(root / name) == r["path"] and a["base"] == str(root / "base")
    assert a["peft_type"] == "LORA" and a["low_rank_updates"] == a["tensors_changed"] > 0
    assert V.verify_path(root / "base", steps=STEPS)["adapter"] is None


def test_cli_json_and_text_name_the_adapter_and_base(made, capsys):
    root, greedy = made
    with pytest.raises(SystemExit) as exc:
        main(
            ["verify", str(root / "attn_mlp"), "--base", str(root / "base"), "--steps", str(STEPS), "--format", "json"]
        )
    assert exc.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["adapter"]["rank"] == 4 and report["adapter"]["alpha"] == 64
    assert report["greedy_from_bos"] == greedy["attn_mlp"]
    text = V.render_text(report)
    assert f"adapter: {root / 'attn_mlp'}" in text and f"applied in memory to {root / 'base'}" in text


def _refused(capsys, *args: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["verify", *args])
    captured = capsys.readouterr()
    assert exc.value.code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("provenance: error: "), captured.err
    return captured.err


def test_adapter_that_does_not_fit_the_base_is_one_line_exit_2(made, capsys):
    root, _ = made
    with pytest.raises(InputError):
        V.verify_path(root / "attn_mlp", base=root / "narrow")
    err = _refused(capsys, str(root / "attn_mlp"), "--base", str(root / "narrow"))
    assert str(root / "attn_mlp") in err and "the base has" in err


def test_base_with_a_path_that_is_not_an_adapter_is_a_usage_error(made, capsys):
    root, _ = made
    with pytest.raises(UsageError):
        V.verify_path(root / "base", base=root / "base")
    err = _refused(capsys, str(root / "base"), "--base", str(root / "narrow"))
    assert "--base" in err and "not an adapter" in err


def test_adapter_without_base_is_refused_and_points_to_base_option(made, capsys):
    root, _ = made
    err = _refused(capsys, str(root / "attn_mlp"))
    assert "--base" in err and "compare it with its base" in err


def test_two_adapters_or_a_fingerprint_base_are_refused(made, capsys, tmp_path: Path):
    root, _ = made
    err = _refused(capsys, str(root / "attn_mlp"), "--base", str(root / "embedding"))
    assert "adapter" in err
    fp = tmp_path / "base.fp"
    with pytest.raises(SystemExit):
        main(["fingerprint", str(root / "base"), "-o", str(fp)])
    err = _refused(capsys, str(root / "attn_mlp"), "--base", str(fp))
    assert "fingerprint file" in err
