"""Normalization: any supported checkpoint → one canonical LLaMA schema (Hugging Face LlamaForCausalLM names,
[out, in] weights, half-split rotary order, unfused q/k/v and gate/up, norms without offsets, lm_head present).

Public API::

    from provenance.normalize import normalize, write_canonical
    cm = normalize(open_checkpoint(path))          # lazy CanonicalModel
    cm.family, cm.llama_compatible, cm.renames, cm.unmatched, cm.arch.to_hf_config()
    write_canonical(cm, outdir)                     # config.json + model.safetensors (streamed)

Modules: ``schemes`` (the declarative naming table), ``structural`` (roles for unknown names), ``layouts``
(transforms), ``arch`` (ArchSpec), ``family`` (family, traits, graph diff), ``canonical`` (normalize),
``write`` (write_canonical).
"""

from provenance.normalize.arch import ArchSpec
from provenance.normalize.canonical import Assignment, CanonicalModel, Rename, normalize
from provenance.normalize.write import DEFAULT_MAX_SHARD_BYTES, write_canonical

__all__ = [
    "ArchSpec",
    "Assignment",
    "CanonicalModel",
    "DEFAULT_MAX_SHARD_BYTES",
    "Rename",
    "normalize",
    "write_canonical",
]
