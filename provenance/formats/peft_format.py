"""PEFT adapters: a directory with ``adapter_config.json`` and ``adapter_model.safetensors`` (or the older
``adapter_model.bin``), as written by ``PeftModel.save_pretrained`` (huggingface/peft, ``utils/save_and_load.py``,
``SAFETENSORS_WEIGHTS_NAME`` / ``WEIGHTS_NAME`` in ``utils/constants.py``).

The tensors are read by the safetensors and torch readers (so the torch path keeps its weights-only safety); the
config becomes ``ckpt.adapter`` with the declared base model, rank and alpha.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provenance.checkpoint_types import AdapterInfo, Checkpoint
from provenance.errors import InputError

CONFIG_NAME = "adapter_config.json"
WEIGHT_NAMES = ("adapter_model.safetensors", "adapter_model.bin", "adapter_model.pt", "adapter_model.pth")


def adapter_info(config: dict[str, Any]) -> AdapterInfo:
    """The declaration an adapter makes about itself (fields of peft ``LoraConfig`` and relatives)."""
    targets = config.get("target_modules") or []
    if isinstance(targets, str):  # peft allows a regex string instead of a list
        targets = [targets]
    rank = config.get("r")
    alpha = config.get("lora_alpha")
    return AdapterInfo(
        base_model=config.get("base_model_name_or_path"),
        rank=int(rank) if isinstance(rank, (int, float)) and not isinstance(rank, bool) else None,
        alpha=float(alpha) if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) else None,
        peft_type=config.get("peft_type"),
        target_modules=sorted(str(t) for t in targets),
        config=config,
    )


def open_path(path: Path) -> Checkpoint:
    """An adapter directory, or its ``adapter_model.*`` file (the config is read from beside it)."""
    from provenance.companions import check_companion, read_json

    directory = path if path.is_dir() else path.parent
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise InputError(directory, f"no {CONFIG_NAME}: not a PEFT adapter directory")
    config = check_companion("adapter_config", config_path, read_json(config_path))
    if path.is_file():
        weights = path
    else:
        found = [directory / n for n in WEIGHT_NAMES if (directory / n).is_file()]
        if not found:
            raise InputError(directory, f"{CONFIG_NAME} found but no adapter weights ({' or '.join(WEIGHT_NAMES[:2])})")
        weights = found[0]
    with open(weights, "rb") as fh:
        head = fh.read(16)
    metadata: dict[str, Any] = {"adapter_config": config}
    if weights.suffix == ".safetensors" or head[8:9] == b"{":
        from provenance.formats.safetensors_format import tensors_of_file

        tensors, st_meta = tensors_of_file(weights)
        if st_meta:
            metadata["safetensors"] = st_meta
    else:
        from provenance.formats.torch_format import read_torch_file

        tensors, torch_meta = read_torch_file(weights)
        if torch_meta:
            metadata["torch"] = torch_meta
    ckpt = Checkpoint(
        path=path,
        format="peft",
        files=[config_path, weights],
        tensors=tensors,
        metadata=metadata,
        adapter=adapter_info(config),
    )
    if ckpt.adapter.base_model is None:
        ckpt.warnings.append(f"{CONFIG_NAME} does not name its base model (base_model_name_or_path)")
    return ckpt
