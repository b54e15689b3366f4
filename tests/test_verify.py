"""`provenance verify`: checkpoints written by transformers' save_pretrained, run through the reference LLaMA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from provenance import verify as V  # noqa: E402
from provenance.cli.main import main  # noqa: E402
from reference_impl import Llama, LlamaConfig, greedy  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run faster on one thread, and much faster when other jobs share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


def randomize(model: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1.0 + 0.2 * noise if name.endswith("norm.weight") else noise / p.shape[-1] ** 0.5)


def save(tmp: Path, name: str, cls, config, mutate=None) -> tuple[Path, torch.nn.Module]:
    model = cls(config).eval()
    randomize(model)
    out = tmp / name
    model.save_pretrained(out)
    if mutate:
        mutate(out)
    return out, model


def yi_rename(out: Path, architecture: str = "YiForCausalLM") -> None:
    """What Yi-34B did: two norm tensors per layer renamed, and a class name transformers does not know."""
    from safetensors.torch import load_file, save_file

    f = out / "model.safetensors"
    sd = load_file(f)
    sd = {k.replace("input_layernorm", "ln1").replace("post_attention_layernorm", "ln2"): v for k, v in sd.items()}
    save_file(sd, f, metadata={"format": "pt"})
    cfg = json.loads((out / "config.json").read_text())
    cfg.update(architectures=[architecture], model_type="Yi" if architecture == "YiForCausalLM" else "llama")
    (out / "config.json").write_text(json.dumps(cfg))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verify")
    cfg = transformers.LlamaConfig(**TINY)
    base, hf = save(tmp, "llama", transformers.LlamaForCausalLM, cfg)
    yi, _ = save(tmp, "yi", transformers.LlamaForCausalLM, cfg, mutate=yi_rename)
    renamed, _ = save(
        tmp, "renamed", transformers.LlamaForCausalLM, cfg, mutate=lambda out: yi_rename(out, "LlamaForCausalLM")
    )
    tied, _ = save(
        tmp, "tied", transformers.LlamaForCausalLM, transformers.LlamaConfig(**TINY, tie_word_embeddings=True)
    )
    qwen2, _ = save(tmp, "qwen2", transformers.Qwen2ForCausalLM, transformers.Qwen2Config(**TINY))
    mistral, _ = save(
        tmp, "mistral", transformers.MistralForCausalLM, transformers.MistralConfig(**TINY, sliding_window=8)
    )
    gemma, _ = save(tmp, "gemma", transformers.GemmaForCausalLM, transformers.GemmaConfig(**TINY, head_dim=16))
    return {
        "llama": base,
        "hf_llama": hf,
        "yi": yi,
        "renamed": renamed,
        "tied": tied,
        "qwen2": qwen2,
        "mistral": mistral,
        "gemma": gemma,
    }


def test_llama_runs_as_llama_and_matches_transformers(models):
    r = V.verify_path(models["llama"], steps=12)
    assert r["runs_as_llama"] and r["reasons"] == []
    assert r["compared_with"] == "LlamaForCausalLM" and r["max_abs_logit_diff"] <= 1e-4
    assert r["consumed"] == r["canonical_tensors"] == 2 * 9 + 3 and not r["missing"] and not r["unexpected"]
    assert r["finite"] and 0 < r["mean_entropy"] <= r["max_entropy"]
    assert r["bos_token_id"] == 3 and len(r["greedy_from_bos"]) == 12
    with torch.no_grad():
        theirs = models["hf_llama"].generate(
            torch.tensor([[3]]),
            max_new_tokens=12,
            min_new_tokens=12,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    assert r["greedy_from_bos"] == theirs[0, 1:].tolist()


def test_yi_style_rename_runs_as_llama_without_a_native_class(models):
    r = V.verify_path(models["yi"], steps=12)
    assert r["runs_as_llama"] and r["compared_with"] is None and r["max_abs_logit_diff"] is None
    assert "YiForCausalLM" in r["comparison_note"]
    assert r["greedy_from_bos"] == V.verify_path(models["llama"], steps=12)["greedy_from_bos"]


def test_declared_native_class_that_cannot_load_the_renamed_files_is_not_compared(models):
    r = V.verify_path(models["renamed"], steps=2)
    assert r["runs_as_llama"] and r["compared_with"] is None
    assert "do not load into transformers LlamaForCausalLM: 4 missing, 4 unexpected" in r["comparison_note"]


def test_tied_embeddings_without_lm_head_in_the_file(models):
    r = V.verify_path(models["tied"], steps=4)
    assert r["runs_as_llama"], r["reasons"]
    assert r["max_abs_logit_diff"] <= 1e-4


def test_qwen2_runs_in_the_reference_but_is_not_llama(models):
    r = V.verify_path(models["qwen2"], steps=4)
    assert not r["runs_as_llama"]
    assert any("bias" in reason for reason in r["reasons"])
    assert r["compared_with"] == "Qwen2ForCausalLM" and r["max_abs_logit_diff"] <= 1e-4
    assert not r["missing"] and not r["unexpected"]


def test_mistral_sliding_window_is_run_exactly_and_reported(models):
    r = V.verify_path(models["mistral"], steps=4)
    assert r["compared_with"] == "MistralForCausalLM" and r["max_abs_logit_diff"] <= 1e-4  # batch longer than 8
    assert any("sliding" in reason for reason in r["reasons"]) and not r["runs_as_llama"]


def test_gemma_does_not_run_as_llama(models):
    r = V.verify_path(models["gemma"], steps=4)
    assert not r["runs_as_llama"] and r["reasons"]
    assert r["compared_with"] is None


def test_logit_mismatch_is_a_reason(models, monkeypatch):
    monkeypatch.setattr(V, "LOGIT_TOLERANCE", 0.0)
    r = V.verify_path(models["llama"], steps=1)
    if r["max_abs_logit_diff"] > 0:  # bit-identical float32 would leave nothing to report
        assert not r["runs_as_llama"]
        assert any(reason.startswith("logits differ from transformers LlamaForCausalLM") for reason in r["reasons"])


def test_cli_exit_codes_and_json(models, capsys, tmp_path):
    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as exc:
            main(list(args))
        return exc.value.code or 0

    assert run("verify", str(models["llama"]), "--format", "json", "--steps", "5") == 0
    report = json.loads(capsys.readouterr().out)
    for key in (
        "schema_version",
        "runs_as_llama",
        "max_abs_logit_diff",
        "compared_with",
        "greedy_from_bos",
        "reasons",
        "consumed",
        "missing",
        "unexpected",
        "finite",
        "mean_entropy",
    ):
        assert key in report
    assert report["schema_version"] == V.SCHEMA_VERSION and len(report["greedy_from_bos"]) == 5

    assert run("verify", str(models["gemma"])) == 1
    out = capsys.readouterr().out
    assert "does NOT run as LLaMA" in out and "reason:" in out

    assert run("verify", str(tmp_path / "nothing-here")) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert run("verify", str(models["llama"]), "--steps", "-1") == 2


def test_stories260k_verifies_and_its_greedy_path_matches_the_independent_parse(stories260k):
    from test_reference_impl import read_llama2c_v0

    r = V.verify_path(stories260k, steps=64)
    assert r["format"] == "llama2c"
    assert r["runs_as_llama"], r["reasons"]
    assert r["consumed"] == r["canonical_tensors"]
    config, sd = read_llama2c_v0(stories260k)
    ref = Llama(LlamaConfig(**config)).eval()
    ref.load_canonical(sd)
    assert r["greedy_from_bos"] == greedy(ref, [1], 64)


def test_meta_consolidated_layout_runs_as_llama_with_the_same_outputs(models, tmp_path):
    """Meta's names and interleaved rotary rows (inverse of transformers' convert_llama_weights_to_hf.py
    permutation), torch.save'd with a params.json: verify must undo both and behave exactly like the HF model."""
    hf = models["hf_llama"]
    heads, kv, hd = TINY["num_attention_heads"], TINY["num_key_value_heads"], 64 // 4

    def hf_to_meta(w, n):
        return w.reshape(n, 2, hd // 2, w.shape[1]).transpose(1, 2).reshape(n * hd, w.shape[1])

    names = {
        "self_attn.q_proj": "attention.wq",
        "self_attn.k_proj": "attention.wk",
        "self_attn.v_proj": "attention.wv",
        "self_attn.o_proj": "attention.wo",
        "mlp.gate_proj": "feed_forward.w1",
        "mlp.down_proj": "feed_forward.w2",
        "mlp.up_proj": "feed_forward.w3",
        "input_layernorm": "attention_norm",
        "post_attention_layernorm": "ffn_norm",
    }
    meta = {
        "tok_embeddings.weight": hf.model.embed_tokens.weight,
        "norm.weight": hf.model.norm.weight,
        "output.weight": hf.lm_head.weight,
    }
    for name, value in hf.model.layers.state_dict().items():
        layer, rest = name.split(".", 1)
        module = rest.rsplit(".", 1)[0]
        w = value
        if module == "self_attn.q_proj":
            w = hf_to_meta(value, heads)
        elif module == "self_attn.k_proj":
            w = hf_to_meta(value, kv)
        meta[f"layers.{layer}.{names[module]}.weight"] = w
    out = tmp_path / "meta"
    out.mkdir()
    torch.save({k: v.detach().clone() for k, v in meta.items()}, out / "consolidated.00.pth")
    (out / "params.json").write_text(
        json.dumps(
            {
                "dim": 64,
                "n_layers": 2,
                "n_heads": heads,
                "n_kv_heads": kv,
                "vocab_size": TINY["vocab_size"],
                "norm_eps": 1e-5,
            }
        )
    )
    r = V.verify_path(out, steps=12)
    assert r["format"] == "meta" and r["runs_as_llama"], r["reasons"]
    ref = Llama(LlamaConfig.from_hf(hf.config.to_dict())).eval()
    ref.load_canonical(hf.state_dict())
    assert r["bos_token_id"] == 1 and r["greedy_from_bos"] == greedy(ref, [1], 12)


def test_non_finite_weights_are_bad_input_not_a_verdict(models, tmp_path, capsys):
    import shutil

    from safetensors.torch import load_file, save_file

    bad = tmp_path / "nan"
    shutil.copytree(models["llama"], bad)
    sd = load_file(str(bad / "model.safetensors"))
    sd["model.layers.0.self_attn.k_proj.weight"][0, 0] = float("nan")
    save_file(sd, str(bad / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.layers.0.self_attn.k_proj.weight" in err and "non-finite" in err


# ------------------------------------------------------------------ refused before any tensor is read (exit 2)
def refused(capsys, *args: str) -> str:
    """Run the CLI; it must exit 2 with one line on stderr and nothing on stdout. Returns that line."""
    capsys.readouterr()  # what building the input printed
    with pytest.raises(SystemExit) as exc:
        main(["verify", *args])
    captured = capsys.readouterr()
    assert exc.value.code == 2, captured
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("provenance: error: "), captured.err
    return captured.err


def test_fingerprint_file_is_refused(models, tmp_path, capsys):
    fp = tmp_path / "llama.fp"
    with pytest.raises(SystemExit) as exc:
        main(["fingerprint", str(models["llama"]), "-o", str(fp)])
    assert exc.value.code in (0, None) and fp.is_file()
    capsys.readouterr()
    err = refused(capsys, str(fp))
    assert str(fp) in err and "fingerprint file" in err and "not weights" in err


def test_peft_lora_adapter_is_refused_with_a_pointer_to_its_base(models, tmp_path, capsys):
    peft = pytest.importorskip("peft")
    base = transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY))
    base.config.name_or_path = "org/tiny-llama-base"
    lora = peft.get_peft_model(base, peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(tmp_path / "adapter")
    err = refused(capsys, str(tmp_path / "adapter"))
    assert "adapter" in err and "compare it with its base" in err
    # The same deltas without adapter_config.json (a bare safetensors of lora_A/lora_B) are refused too.
    bare = tmp_path / "bare"
    bare.mkdir()
    (tmp_path / "adapter" / "adapter_model.safetensors").rename(bare / "model.safetensors")
    err = refused(capsys, str(bare))
    assert "adapter" in err and "compare it with its base" in err


def test_a_network_that_is_not_a_language_model_is_refused(tmp_path, capsys):
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    cnn = {
        "conv1.weight": torch.randn(16, 3, 3, 3, generator=gen),
        "conv1.bias": torch.randn(16, generator=gen),
        "bn1.weight": torch.randn(16, generator=gen),
        "fc.weight": torch.randn(10, 64, generator=gen),
        "fc.bias": torch.randn(10, generator=gen),
    }
    save_file(cnn, str(tmp_path / "cnn.safetensors"))
    err = refused(capsys, str(tmp_path / "cnn.safetensors"))
    assert "not a language model" in err and "cnn.safetensors" in err


def test_an_architecture_without_llama_blocks_is_refused(tmp_path, capsys):
    cfg = transformers.GPT2Config(vocab_size=96, n_embd=64, n_layer=2, n_head=4, n_positions=64)
    model = transformers.GPT2LMHeadModel(cfg)
    model.save_pretrained(tmp_path / "gpt2")
    err = refused(capsys, str(tmp_path / "gpt2"))
    assert "not supported by the reference" in err and "LayerNorm" in err


def test_sizes_the_files_do_not_state_are_refused_never_defaulted(models, tmp_path, capsys):
    """A bare safetensors (no config.json) shows every width but not the head count: refused with the option that
    fixes it, and with --head-dim it runs like the original."""
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(models["llama"] / "model.safetensors", bare / "model.safetensors")
    err = refused(capsys, str(bare))
    assert "num_attention_heads unknown" in err and "--head-dim" in err and "never falls back" in err
    r = V.verify_path(bare, steps=6, head_dim=16)
    assert r["consumed"] == r["canonical_tensors"] and not r["missing"] and r["finite"]
    original = V.verify_path(models["llama"], steps=6)
    assert len(r["greedy_from_bos"]) == 6  # rms_norm_eps is LLaMA's default here (1e-6, the file says 1e-5):
    assert abs(r["mean_entropy"] - original["mean_entropy"]) < 1e-3  # the same weights, the same heads


# ------------------------------------------------------------------ weights kept as stored, widened per layer
def test_bfloat16_checkpoint_is_run_in_float32_from_its_stored_weights(tmp_path):
    """Weights stay bfloat16 in memory and are widened layer by layer: the logits equal transformers' float32 model
    holding the same (widened) weights, and so does the greedy path (transformers caches too)."""
    cfg = transformers.LlamaConfig(**TINY)
    hf = transformers.LlamaForCausalLM(cfg).eval()
    randomize(hf, seed=3)
    hf.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    hf.float()
    r = V.verify_path(tmp_path / "bf16", steps=10)
    assert r["runs_as_llama"], r["reasons"]
    assert r["compared_with"] == "LlamaForCausalLM" and r["max_abs_logit_diff"] <= 1e-4
    with torch.no_grad():
        theirs = hf.generate(
            torch.tensor([[3]]),
            max_new_tokens=10,
            min_new_tokens=10,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    assert r["greedy_from_bos"] == theirs[0, 1:].tolist()


def test_stored_weights_keep_the_file_dtype_and_share_a_tied_source(models, tmp_path):
    from provenance.checkpoint import open_checkpoint
    from provenance.normalize import normalize

    cfg = transformers.LlamaConfig(**TINY, tie_word_embeddings=True)
    hf = transformers.LlamaForCausalLM(cfg)
    hf.to(torch.bfloat16).save_pretrained(tmp_path / "tied16")
    ckpt = open_checkpoint(tmp_path / "tied16")
    cm = normalize(ckpt)
    weights = V.stored_weights(V._raw_bf16(ckpt, cm.tensors), list(cm.tensors))
    assert {w.dtype for w in weights.values()} == {torch.bfloat16}
    assert weights["lm_head.weight"] is weights["model.embed_tokens.weight"]  # one tensor, not two
    assert torch.equal(weights["model.layers.1.mlp.up_proj.weight"], hf.model.layers[1].mlp.up_proj.weight.detach())


def test_quantized_gguf_is_dequantized_per_layer_and_matches_its_dequantized_model(tmp_path):
    """Q8_0 blocks stay in the file (re-read when their layer runs): the greedy path equals transformers' on the
    exactly dequantized weights (llama.cpp's rotary permutation undone by normalization)."""
    gguf = pytest.importorskip("gguf")
    from test_normalize_common import build, tiny_llama_config
    from test_normalize_formats import _model_with, _write_gguf

    cfg = tiny_llama_config(intermediate_size=64, num_attention_heads=4, num_key_value_heads=2)
    model = build(transformers.LlamaForCausalLM, cfg)
    deq = _write_gguf(tmp_path / "m.gguf", model, cfg, gguf.GGMLQuantizationType.Q8_0)
    from provenance.checkpoint import open_checkpoint

    weights = V.stored_weights({"w": open_checkpoint(tmp_path / "m.gguf").tensors["blk.0.attn_q.weight"]}, ["w"])
    assert callable(weights["w"])  # kept in the file, not widened in memory
    r = V.verify_path(tmp_path / "m.gguf", steps=12)
    assert r["format"] == "gguf" and r["runs_as_llama"], r["reasons"]
    expected = _model_with(deq, cfg)
    with torch.no_grad():
        theirs = expected.generate(
            torch.tensor([[r["bos_token_id"]]]),
            max_new_tokens=12,
            min_new_tokens=12,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    assert r["greedy_from_bos"] == theirs[0, 1:].tolist()


def test_config_declaring_other_sizes_than_the_tensors_builds_no_transformers_model(models, tmp_path):
    """Sizes come from the tensors; a config.json claiming a million layers is not even handed to transformers."""
    import shutil

    odd = tmp_path / "odd"
    shutil.copytree(models["llama"], odd)
    cfg = json.loads((odd / "config.json").read_text())
    cfg["num_hidden_layers"] = 10**6
    (odd / "config.json").write_text(json.dumps(cfg))
    r = V.verify_path(odd, steps=3)
    assert r["reference_config"]["num_hidden_layers"] == 2 and r["consumed"] == r["canonical_tensors"]
    assert r["compared_with"] is None and "num_hidden_layers 1000000 vs 2" in r["comparison_note"]
    assert r["greedy_from_bos"] == V.verify_path(models["llama"], steps=3)["greedy_from_bos"]


def test_non_finite_bfloat16_weight_is_bad_input(tmp_path, capsys):
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY)).to(torch.bfloat16)
    with torch.no_grad():
        hf.model.layers[1].mlp.down_proj.weight[3, 5] = float("inf")
    hf.save_pretrained(tmp_path / "inf16")
    err = refused(capsys, str(tmp_path / "inf16"))
    assert "model.layers.1.mlp.down_proj.weight" in err and "non-finite" in err
