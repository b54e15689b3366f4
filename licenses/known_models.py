"""Licenses of well-known base models by Hugging Face repo id, for bases named only by id (no local copy).

One row per pattern, first match wins, each with its source (keys as in records.py). Used only when neither a
local base directory nor ``--base-license`` says what the base's license is; the audit says so.
"""

from __future__ import annotations

import re

# (regex on the repo id, case-insensitive, license id, source)
KNOWN_MODELS: tuple[tuple[str, str, str], ...] = (
    (r"^huggyllama/llama-", "llama1", "S1"),
    (r"^meta-llama/Llama-2-", "llama2", "S1"),
    (r"^meta-llama/Meta-Llama-3-", "llama3", "S1"),
    (r"^meta-llama/(Meta-)?Llama-3\.1-", "llama3.1", "S1"),
    (r"^meta-llama/Llama-3\.2-", "llama3.2", "S1"),
    (r"^meta-llama/Llama-3\.3-", "llama3.3", "S1"),
    (r"^meta-llama/Llama-4-", "llama4", "S1"),
    (r"^google/gemma-", "gemma", "S4"),
    (r"^Qwen/Qwen2\.5-(Coder-)?3B", "qwen-research", "S6, S7"),
    (r"^Qwen/Qwen2\.5-72B", "qwen", "S6"),
    (r"^Qwen/Qwen2\.5-(0\.5|1\.5|7|14|32)B", "apache-2.0", "S6"),
    (r"^Qwen/Qwen2-72B", "tongyi-qianwen", "S6"),
    (r"^Qwen/Qwen2-(0\.5|1\.5|7|57)B", "apache-2.0", "S6"),
    (r"^Qwen/Qwen3-", "apache-2.0", "S6"),
    (r"^Qwen/Qwen-(1_8|7|14|72)B", "tongyi-qianwen", "S4"),
    (r"^mistralai/(Mistral-7B|Mixtral-8x|Mistral-Nemo)", "apache-2.0", "S8"),
    (r"^mistralai/Codestral-22B", "mnpl", "S10"),
    (r"^mistralai/(Mistral-Large|Ministral-8B)", "mrl", "S8, S9"),
    (r"^deepseek-ai/DeepSeek-R1$", "mit", "S12"),
    (r"^deepseek-ai/DeepSeek-(V3|V2|LLM|Coder)", "deepseek", "S12"),
    (r"^tiiuae/falcon-11B", "falcon-llm-license", "S4"),
    (r"^tiiuae/falcon-(7b|40b)", "apache-2.0", "S8"),
)


def license_for_repo(repo_id: str) -> tuple[str, str] | None:
    """(license id, source) for a known Hub repo id, else None. Yi is absent: its license changed in 2024-05."""
    for pattern, lic, source in KNOWN_MODELS:
        if re.search(pattern, repo_id.strip(), re.I):
            return lic, source
    return None
