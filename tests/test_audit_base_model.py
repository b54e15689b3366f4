"""Issue 12 defect 6: --write puts a Hub id (owner/name) into base_model only when one is known, never a card
heading, a local path or a folder name; otherwise it leaves the key out and says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from provenance.audit import AuditConfig, apply_writes, audit_release, hub_id
from provenance.cards import parse_card


def adapter_release(root: Path, base_name: str) -> Path:
    rel = root / "rel"
    rel.mkdir()
    (rel / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 8, "base_model_name_or_path": base_name})
    )
    (rel / "README.md").write_text("---\nlicense: apache-2.0\n---\n# Model Card for Model ID\n")
    return rel


def write_and_read(rel: Path, bases: list[Path] | None = None):
    report = audit_release(rel, bases or [], [], AuditConfig(compare="off"))
    done = apply_writes(report, force=True)
    return report, done, parse_card((rel / "README.md").read_text())


@pytest.mark.parametrize(
    "local", ["/home/alice/models/llama-3-8b", "outputs/checkpoint-500", "./llama", "C:\\models\\llama", "~/llama"]
)
def test_a_local_adapter_base_path_is_never_written(tmp_path, local):
    rel = adapter_release(tmp_path, local)
    report, done, card = write_and_read(rel)
    assert "base_model" not in card.front_matter
    assert local not in (rel / "README.md").read_text()
    skipped = [d for d in done if d["status"] == "skipped" and "base_model left out" in d["reason"]]
    assert skipped, done
    assert "undisclosed-base" in {f.id for f in report.findings}


def test_a_relative_path_that_exists_is_not_an_id(tmp_path):
    (tmp_path / "rel" / "alice" / "llama").mkdir(parents=True)
    assert hub_id("alice/llama", tmp_path / "rel") is None
    assert hub_id("alice/llama", tmp_path) == "alice/llama"
    assert hub_id("meta-llama/Meta-Llama-3-8B") == "meta-llama/Meta-Llama-3-8B"
    assert hub_id("Vicuna Model Card") is None and hub_id("a--b/c") is None


def test_a_hub_id_in_the_adapter_config_is_written(tmp_path):
    rel = adapter_release(tmp_path, "meta-llama/Meta-Llama-3-8B")
    _, _, card = write_and_read(rel)
    assert card.front_matter["base_model"] == "meta-llama/Meta-Llama-3-8B"


def test_a_base_folder_known_only_by_its_heading_gives_no_base_model(tmp_path):
    base = tmp_path / "vicuna-7b"
    base.mkdir()
    (base / "README.md").write_text("---\nlicense: apache-2.0\n---\n# Vicuna Model Card\n")
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text("---\nlicense: apache-2.0\n---\n# My model\n")
    report, done, card = write_and_read(rel, [base])
    assert "base_model" not in card.front_matter
    text = (rel / "README.md").read_text()
    assert "Vicuna Model Card" not in text and "vicuna-7b" not in text


def test_gguf_base_model_repo_url_gives_the_id(tmp_path):
    gguf = pytest.importorskip("gguf")
    rel = tmp_path / "rel"
    rel.mkdir()
    w = gguf.GGUFWriter(str(rel / "m.gguf"), "llama")
    w.add_string("general.name", "My Llama")
    w.add_uint32("general.base_model.count", 1)
    w.add_string("general.base_model.0.name", "Meta Llama 3 8B")
    w.add_string("general.base_model.0.organization", "Meta Llama")
    w.add_string("general.base_model.0.repo_url", "https://huggingface.co/meta-llama/Meta-Llama-3-8B")
    w.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    (rel / "README.md").write_text("---\nlicense: llama3\n---\n# Llama 3 tiny\n")
    _, _, card = write_and_read(rel)
    assert card.front_matter["base_model"] == "meta-llama/Meta-Llama-3-8B"


def test_gguf_organization_and_name_are_not_an_id(tmp_path):
    gguf = pytest.importorskip("gguf")
    rel = tmp_path / "rel"
    rel.mkdir()
    w = gguf.GGUFWriter(str(rel / "m.gguf"), "llama")
    w.add_uint32("general.base_model.count", 1)
    w.add_string("general.base_model.0.name", "Llama 3 8B")
    w.add_string("general.base_model.0.organization", "Meta Llama")
    w.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    (rel / "README.md").write_text("---\nlicense: apache-2.0\n---\n# Tiny\n")
    _, _, card = write_and_read(rel)
    assert "base_model" not in card.front_matter


def test_hub_id_from_a_hugging_face_cache_snapshot_or_the_base_card(tmp_path):
    for name, card_extra in (
        ("hub/models--meta-llama--Meta-Llama-3-8B/snapshots/abc", ""),
        ("plain-folder", "model_name: meta-llama/Meta-Llama-3-8B\n"),
    ):
        base = tmp_path / name
        base.mkdir(parents=True)
        (base / "README.md").write_text(f"---\nlicense: llama3\n{card_extra}---\n# Meta Llama 3\n")
        rel = tmp_path / f"rel-{base.name}"
        rel.mkdir()
        (rel / "README.md").write_text("---\nlicense: llama3\n---\n# Llama 3 tiny\n")
        report = audit_release(rel, [base], [], AuditConfig(compare="off"))
        apply_writes(report, force=True)
        assert parse_card((rel / "README.md").read_text()).front_matter["base_model"] == "meta-llama/Meta-Llama-3-8B"
