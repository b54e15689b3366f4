"""Each finding id: a release that raises it and one that does not (library API, card-only releases where the
weights do not matter; real tiny weights where they do)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import licenses as kb
from provenance.audit import RULES, AuditConfig, apply_writes, audit_release, load_config
from provenance.errors import InputError, UsageError
from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, yi_style
from provenance.release import read_release, set_front_matter_keys


def card(body: str = "", **front) -> str:
    return "---\n" + yaml.safe_dump(front, sort_keys=True) + "---\n" + (body or "# model\n")


def make(root: Path, files: dict[str, str | None]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if text is not None:
            (root / name).write_text(text, encoding="utf-8")
    return root


def llama2_release() -> dict[str, str | None]:
    """A card-only Llama 2 fine-tune that owes nothing: the clean baseline."""
    return {
        "README.md": card(
            "# tiny-llama2-chat\n",
            license="llama2",
            base_model="meta-llama/Llama-2-7b-hf",
            model_name="tiny-llama2-chat",
        ),
        "LICENSE": kb.BY_ID["llama2"].signature.sample,
        "NOTICE": kb.BY_ID["llama2"].notice + "\n",
        "USE_POLICY.md": "# Llama 2 Acceptable Use Policy\n",
    }


def llama3_release() -> dict[str, str | None]:
    lic = kb.BY_ID["llama3"]
    return {
        "README.md": card(
            "# Llama-3-tiny-chat\n\nBuilt with Meta Llama 3\n",
            license="llama3",
            base_model="meta-llama/Meta-Llama-3-8B",
            model_name="Llama-3-tiny-chat",
        ),
        "LICENSE": lic.signature.sample,
        "NOTICE": lic.notice + "\n",
        "USE_POLICY.md": "# Meta Llama 3 Acceptable Use Policy\n",
    }


def yi_release(
    body: str = "# tiny-yi-chat\n\nA chat model fine-tuned from Yi-34B by 01.AI.\n",
) -> dict[str, str | None]:
    """A card-only Yi derivative of January 2024 (Yi License v2.1 then applied) that credits its source."""
    return {
        "README.md": card(
            body,
            license="other",
            license_name="yi-license",
            base_model="01-ai/Yi-34B",
            model_name="tiny-yi-chat",
            release_date="2024-01-10",
        ),
        "LICENSE": kb.BY_ID["yi-license"].signature.sample,
    }


def ids(report) -> set[str]:
    return {f.id for f in report.findings}


def run(tmp: Path, files, bases=(), base_licenses=(), config=None):
    return audit_release(
        make(tmp / "release", files), [Path(b) for b in bases], list(base_licenses), config or AuditConfig()
    )


def test_clean_baselines_have_no_findings(tmp_path):
    assert run(tmp_path / "a", llama2_release()).findings == []
    assert run(tmp_path / "b", llama3_release()).findings == []


def _with(files, **changes):
    out = dict(files)
    out.update(changes)
    return out


# finding id -> (files that raise it, files that do not); both built from a clean baseline.
CASES = {
    "license-missing": (
        _with(llama2_release(), **{"README.md": card(model_name="x", base_model="a/b"), "LICENSE": None}),
        llama2_release(),
    ),
    "license-unknown": (
        _with(llama2_release(), **{"README.md": card(license="gpl-3.0", model_name="x")}),
        llama2_release(),
    ),
    "license-text-missing": (_with(llama2_release(), LICENSE=None), llama2_release()),
    "license-text-unavailable": (_with(llama2_release(), LICENSE=None), llama2_release()),
    "license-text-unrecognised": (_with(llama2_release(), **{"LICENSE-extra": "Our own terms.\n"}), llama2_release()),
    "license-text-mismatch": (
        _with(llama2_release(), **{"LICENSE-extra": kb.BY_ID["gemma"].signature.sample}),
        llama2_release(),
    ),
    "notice-missing": (_with(llama2_release(), NOTICE=None), llama2_release()),
    "notice-incorrect": (_with(llama2_release(), NOTICE="Llama 2 is licensed under some license.\n"), llama2_release()),
    "use-policy-missing": (_with(llama2_release(), **{"USE_POLICY.md": None}), llama2_release()),
    "attribution-missing": (
        _with(
            llama3_release(),
            **{
                "README.md": card(
                    "# Llama-3-tiny-chat\n",
                    license="llama3",
                    base_model="meta-llama/Meta-Llama-3-8B",
                    model_name="Llama-3-tiny-chat",
                )
            },
        ),
        llama3_release(),
    ),
    "name-prefix": (
        _with(
            llama3_release(),
            **{
                "README.md": card(
                    "Built with Meta Llama 3\n",
                    license="llama3",
                    base_model="meta-llama/Meta-Llama-3-8B",
                    model_name="tiny-chat",
                )
            },
        ),
        llama3_release(),
    ),
    "undisclosed-base": (
        _with(
            llama2_release(),
            **{
                "README.md": card(license="llama2", model_name="x"),
                "adapter_config.json": json.dumps({"base_model_name_or_path": "meta-llama/Llama-2-7b-hf"}),
            },
        ),
        _with(
            llama2_release(),
            **{"adapter_config.json": json.dumps({"base_model_name_or_path": "meta-llama/Llama-2-7b-hf"})},
        ),
    ),
    "base-hint-undisclosed": (
        _with(llama2_release(), **{"config.json": json.dumps({"_name_or_path": "org/other"})}),
        _with(llama2_release(), **{"config.json": json.dumps({"_name_or_path": "meta-llama/Llama-2-7b-hf"})}),
    ),
    "base-license-unknown": (
        _with(
            llama2_release(),
            **{"README.md": card(license="llama2", model_name="x", base_model="someone/unheard-of-model")},
        ),
        llama2_release(),
    ),
    "card-missing": (_with(llama2_release(), **{"README.md": None}), llama2_release()),
    "source-attribution-missing": (yi_release("# tiny-yi-chat\n\nA chat model.\n"), yi_release()),
}


def test_every_rule_has_a_case():
    assert set(CASES) | {"license-conflict", "lineage-unconfirmed"} == set(RULES)


@pytest.mark.parametrize("finding_id", sorted(CASES))
def test_finding_raised_and_not_raised(tmp_path, finding_id):
    raising, clean = CASES[finding_id]
    report = run(tmp_path / "raise", raising)
    assert finding_id in ids(report), [f.to_dict() for f in report.findings]
    f = next(f for f in report.findings if f.id == finding_id)
    assert f.severity == RULES[finding_id].severity and f.message and f.fix
    assert finding_id not in ids(run(tmp_path / "clean", clean))


def test_license_conflict_raised_and_not_raised(tmp_path):
    apache = _with(llama2_release(), **{"README.md": card(license="apache-2.0", model_name="x")})
    report = run(tmp_path / "a", apache, base_licenses=["llama2"])
    assert "license-conflict" in ids(report)
    assert "license-conflict" not in ids(run(tmp_path / "b", llama2_release(), base_licenses=["llama2"]))
    # A Hub id the table knows gives the inherited license without --base-license.
    named = _with(
        llama2_release(), **{"README.md": card(license="mit", model_name="x", base_model="meta-llama/Llama-2-7b-hf")}
    )
    report = run(tmp_path / "c", named)
    assert "license-conflict" in ids(report)
    assert report.bases[0].license_source.startswith("known Hub repo table")


def test_license_text_is_identified_and_reported(tmp_path):
    info = read_release(make(tmp_path / "r", _with(llama2_release(), **{"LICENSE-x": "nothing known\n"})))
    by_name = {t.name: t.license_id for t in info.legal if t.kind == "license"}
    assert by_name == {"LICENSE": "llama2", "LICENSE-x": None}


def test_gguf_metadata_names_the_base_and_the_license(tmp_path):
    import gguf
    import numpy as np

    rel = make(tmp_path / "r", {"README.md": card(model_name="tiny-gguf")})
    w = gguf.GGUFWriter(str(rel / "model.gguf"), "llama")
    w.add_string("general.name", "tiny-gguf")
    w.add_string("general.license", "llama2")
    w.add_uint32("general.base_model.count", 1)
    w.add_string("general.base_model.0.name", "Llama 2 7b Hf")
    w.add_string("general.base_model.0.repo_url", "https://huggingface.co/meta-llama/Llama-2-7b-hf")
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    report = audit_release(rel, [], [], AuditConfig())
    assert report.release.gguf.license == "llama2"
    assert report.declared[0]["source"] == "card" or report.declared[0]["source"] == "GGUF general.license"
    base = report.bases[0]
    assert base.hub_id == "meta-llama/Llama-2-7b-hf" and base.licenses == ["llama2"]
    assert "undisclosed-base" in ids(report) and "notice-missing" in ids(report)


# ------------------------------------------------------------------------------------------ with real weights


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    cfg = TinyLlamaConfig()
    base_sd = llama_state_dict(cfg, seed=0)
    base = write_hf_dir(
        root / "llama2-base", base_sd, cfg.hf_config(), card(license="llama2", model_name="tiny-llama2-base")
    )
    (base / "LICENSE").write_text(kb.BY_ID["llama2"].signature.sample)
    (base / "USE_POLICY.md").write_text("# Llama 2 Acceptable Use Policy\n")
    yi_cfg = dict(cfg.hf_config(), architectures=["YiForCausalLM"], model_type="yi")
    derived = write_hf_dir(
        root / "yi-style", yi_style(base_sd), yi_cfg, card(license="apache-2.0", model_name="tiny-yi")
    )
    independent = write_hf_dir(
        root / "independent",
        llama_state_dict(cfg, seed=1),
        cfg.hf_config(),
        card(license="llama2", model_name="tiny-other"),
    )
    return {"base": base, "derived": derived, "independent": independent}


def test_matching_weights_reveal_the_undisclosed_base(tiny_models):
    """The required case: a Llama-2-derived release (two norm names changed per layer) declaring apache-2.0, no
    NOTICE, no base_model; --base points at the Llama 2 base whose weights match (deep comparison)."""
    report = audit_release(tiny_models["derived"], [tiny_models["base"]], [], AuditConfig())
    assert {"notice-missing", "license-text-missing", "license-conflict", "undisclosed-base"} <= ids(report)
    base = report.bases[0]
    assert base.evidence == "weights" and base.comparison["verdict"] == "derived"
    assert "--base" in base.established_by and not base.disclosed
    assert report.failing()


def test_lineage_unconfirmed_raised_and_not_raised(tiny_models):
    cache: dict = {}
    quick = AuditConfig(compare="quick")  # fingerprints only: the deep search on independent weights takes longer
    report = audit_release(tiny_models["independent"], [tiny_models["base"]], [], quick, cache)
    assert report.bases[0].comparison["verdict"] == "independent"
    assert "lineage-unconfirmed" in ids(report) and "undisclosed-base" not in ids(report)
    report = audit_release(tiny_models["derived"], [tiny_models["base"]], [], quick, cache)
    assert "lineage-unconfirmed" not in ids(report)
    assert any(h.startswith("weights (derived") for h in report.bases[0].established_by)


def test_base_without_weights_is_user_claimed_lineage(tmp_path):
    base = make(
        tmp_path / "base",
        {
            "README.md": card(license="llama3.1", model_name="Llama-3.1-8B"),
            "LICENSE": kb.BY_ID["llama3.1"].signature.sample,
        },
    )
    report = run(tmp_path, {"README.md": card(license="llama3.1", model_name="Llama-3.1-tiny")}, bases=[base])
    b = report.bases[0]
    assert b.established_by == ["--base"] and b.evidence == "user"
    assert b.comparison == {"skipped": "not compared: the release has no weights"}
    assert {"undisclosed-base", "notice-missing", "attribution-missing"} <= ids(report)
    assert "name-prefix" not in ids(report)


def test_base_license_flag_fills_unknown_bases_then_adds_anonymous_ones(tmp_path):
    report = run(
        tmp_path,
        {"README.md": card(license="llama2", model_name="x", base_model="org/private")},
        base_licenses=["llama2", "qwen"],
    )
    assert [(b.name, b.licenses, b.license_source) for b in report.bases] == [
        ("org/private", ["llama2"], "--base-license"),
        ("(base under Qwen License Agreement)", ["qwen"], "--base-license"),
    ]
    with pytest.raises(UsageError):
        run(tmp_path / "x", llama2_release(), base_licenses=["no-such-license"])


def test_unreadable_inputs_are_input_errors(tmp_path):
    with pytest.raises(InputError):
        audit_release(tmp_path / "missing", [], [], AuditConfig())
    with pytest.raises(InputError):
        run(tmp_path, llama2_release(), bases=[tmp_path / "no-base"])
    bad = make(tmp_path / "bad", {"README.md": "---\nlicense: [unclosed\n---\n"})
    with pytest.raises(InputError):
        audit_release(bad, [], [], AuditConfig())


def test_config_severity_and_ignore(tmp_path):
    files = CASES["name-prefix"][0]
    rel = make(tmp_path / "r", files)
    (rel / "provenance.toml").write_text('fail_on = "warning"\nseverity = { "name-prefix" = "error" }\n')
    cfg = load_config(rel)
    assert cfg.fail_on == "warning" and cfg.severity_of("name-prefix") == "error"
    report = audit_release(rel, [], [], cfg)
    assert [f.severity for f in report.findings if f.id == "name-prefix"] == ["error"]
    (rel / "provenance.toml").unlink()
    (rel / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.provenance]\nignore = ["name-prefix"]\n')
    report = audit_release(rel, [], [], load_config(rel))
    assert "name-prefix" not in ids(report) and [f.id for f in report.ignored] == ["name-prefix"]
    assert not report.failing()
    (rel / "pyproject.toml").write_text('[tool.provenance]\nignore = ["no-such-id"]\n')
    with pytest.raises(UsageError):
        load_config(rel)
    (rel / "pyproject.toml").write_text('[tool.provenance]\nfail_on = "sometimes"\n')
    with pytest.raises(UsageError):
        load_config(rel)


def test_write_is_idempotent_and_never_overwrites_without_force(tmp_path, tiny_models):
    import shutil

    rel = tmp_path / "rel"
    shutil.copytree(tiny_models["derived"], rel)
    # The base's config names its Hub id: that, never the card's model name, becomes base_model (issue 12 defect 6).
    base = shutil.copytree(tiny_models["base"], tmp_path / "base")
    config = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**config, "_name_or_path": "meta-llama/Llama-2-7b-hf"}))
    tiny_models = {**tiny_models, "base": base}
    cache: dict = {}
    cfg = AuditConfig()
    report = audit_release(rel, [tiny_models["base"]], [], cfg, cache)
    plan = {(w.path, w.action) for w in report.files_to_write}
    assert ("LICENSE", "create") in plan and ("NOTICE", "create") in plan and ("USE_POLICY.md", "create") in plan
    assert ("README.md", "overwrite") in plan  # the conflicting license line
    done = apply_writes(report, force=False)
    assert {"path": "README.md", "status": "skipped", "reason": "changes existing content; use --force"} in done
    assert read_release(rel).license == "apache-2.0"
    after = audit_release(rel, [tiny_models["base"]], [], cfg, cache)
    assert ids(after) == {"license-conflict"}
    apply_writes(after, force=True)
    final = audit_release(rel, [tiny_models["base"]], [], cfg, cache)
    assert final.findings == [] and final.files_to_write == []
    snapshot = {p.name: p.read_bytes() for p in rel.iterdir()}
    assert apply_writes(final, force=True) == []
    assert snapshot == {p.name: p.read_bytes() for p in rel.iterdir()}
    info = read_release(rel)
    assert info.license == "llama2" and info.base_models == ["meta-llama/Llama-2-7b-hf"]
    assert (rel / "NOTICE").read_text().strip() == kb.BY_ID["llama2"].notice
    assert (rel / "LICENSE").read_text() == (tiny_models["base"] / "LICENSE").read_text()


def test_set_front_matter_keys_keeps_other_lines():
    text = "---\n# a comment\nlicense: apache-2.0\nbase_model:\n- a/b\n- c/d\ntags: [x]\n---\nbody\n"
    out = set_front_matter_keys(text, {"license": "llama2", "base_model": "e/f"})
    assert out == "---\n# a comment\nlicense: llama2\nbase_model: e/f\ntags: [x]\n---\nbody\n"
    assert set_front_matter_keys("body\n", {"license": "mit"}) == "---\nlicense: mit\n---\nbody\n"


def test_adapter_release_is_not_weight_compared(tmp_path, tiny_models):
    rel = make(
        tmp_path / "adapter",
        {
            "README.md": card(license="llama2", model_name="x", base_model="tiny-llama2-base"),
            "adapter_config.json": json.dumps({"base_model_name_or_path": "tiny-llama2-base", "peft_type": "LORA"}),
            "adapter_model.safetensors": None,
        },
    )
    import numpy as np
    from safetensors.numpy import save_file

    save_file(
        {"base_model.model.layers.0.q_proj.lora_A.weight": np.zeros((2, 64), np.float32)},
        str(rel / "adapter_model.safetensors"),
    )
    report = audit_release(rel, [tiny_models["base"]], [], AuditConfig())
    base = report.bases[0]
    assert base.comparison["skipped"].endswith("adapter (adapter_config.json)")
    assert base.disclosed and "adapter_config.json base_model_name_or_path" in base.established_by
    assert "undisclosed-base" not in ids(report) and "lineage-unconfirmed" not in ids(report)


def test_creative_commons_text_or_its_link_satisfies_the_copy_duty(tmp_path):
    declared = {"README.md": card("# m\n", license="cc-by-4.0", model_name="m")}
    assert "license-text-missing" not in ids(run(tmp_path / "a", declared))  # the card's id renders as a link
    inherited = {
        "README.md": card("# m\n", license="mit", model_name="m", base_model="someone/cc-model"),
        "LICENSE": kb.BY_ID["mit"].signature.sample,
    }
    report = run(tmp_path / "b", inherited, base_licenses=["cc-by-4.0"])
    missing = [f for f in report.findings if f.id == "license-text-missing"]
    assert len(missing) == 1 and missing[0].license == "cc-by-4.0" and "URI" in missing[0].message
    assert "creativecommons.org/licenses/by/4.0" in missing[0].fix
    linked = dict(
        inherited,
        **{
            "README.md": card(
                "# m\n\nBase model under https://creativecommons.org/licenses/by/4.0/ (CC BY 4.0).\n",
                license="mit",
                model_name="m",
                base_model="someone/cc-model",
            )
        },
    )
    assert "license-text-missing" not in ids(run(tmp_path / "c", linked, base_licenses=["cc-by-4.0"]))
    # a license whose text itself must travel is not satisfied by a link
    llama = dict(llama2_release(), LICENSE=None)
    assert "license-text-missing" in ids(run(tmp_path / "d", llama))
