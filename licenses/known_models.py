"""Licenses of well-known base models by Hugging Face repo id, for bases named only by id (no local copy).

Used only when neither a local base directory nor ``--base-license`` says what the base's license is; the audit
says so. One row per (pattern, period): the first row whose pattern matches and whose period contains the date
asked about wins. Source keys as in records.py, plus:
  C   the model's own Hugging Face card (``license:`` / ``license_name:``) or repository LICENSE file
  R1  deepseek-ai/DeepSeek-R1 README, "License" section: the R1-Distill models keep their bases' licenses

Licenses that changed over time (Falcon 7B/40B, Yi) have one row per period. ``valid_from`` is inclusive and
``valid_until`` exclusive, both ISO dates. How a period is chosen (see docs/licenses.md):
  - with a date (the date the base was obtained, or the base revision's commit date), the row whose period holds
    that date;
  - without a date, the current row (``valid_until`` unset): a licensor's relicensing applies to the same weights
    as they are offered today, and :func:`repo_history` lists the earlier terms so a report can mention them.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownModel:
    """One row: a repo-id pattern, the licenses that apply to it in a period, and where that fact comes from.

    ``licenses`` may hold several ids when a model carries more than one set of terms (an R1-Distill-Llama model is
    Llama 3.1 weights fine-tuned by DeepSeek under MIT: both apply). The first id is the one a derivative must
    keep. An empty ``licenses`` means the terms of that period are not in the knowledge base (``note`` names them).
    """

    pattern: str  # regex on the repo id, case-insensitive
    licenses: tuple[str, ...]
    source: str
    valid_from: str | None = None
    valid_until: str | None = None
    note: str = ""

    def holds_on(self, day: _dt.date) -> bool:
        lo = _dt.date.fromisoformat(self.valid_from) if self.valid_from else _dt.date.min
        hi = _dt.date.fromisoformat(self.valid_until) if self.valid_until else _dt.date.max
        return lo <= day < hi

    @property
    def current(self) -> bool:
        return self.valid_until is None


_QWEN25 = r"^Qwen/Qwen2\.5-(?:[A-Za-z]+-)*"  # Qwen2.5, Qwen2.5-Coder, -Math, -VL, -Omni: the size decides
_YI_CHANGE = "2024-05-30"  # Yi relicensed to Apache-2.0 [reference, S11 history]
_FALCON_CHANGE = "2023-06-01"  # Falcon 7B/40B under Apache-2.0 since June 2023 [S8]

KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(r"^huggyllama/llama-", ("llama1",), "S1"),
    KnownModel(r"^meta-llama/Llama-2-", ("llama2",), "S1"),
    # Code Llama was released under the Llama 2 Community License (its cards say license: llama2).
    KnownModel(r"^(?:codellama|meta-llama)/CodeLlama-", ("llama2",), "C"),
    KnownModel(r"^meta-llama/Meta-Llama-3-", ("llama3",), "S1"),
    KnownModel(r"^meta-llama/(?:Meta-)?Llama-3\.1-", ("llama3.1",), "S1"),
    KnownModel(r"^meta-llama/Llama-3\.2-", ("llama3.2",), "S1"),
    KnownModel(r"^meta-llama/Llama-3\.3-", ("llama3.3",), "S1"),
    KnownModel(r"^meta-llama/Llama-4-", ("llama4",), "S1"),
    KnownModel(r"^google/(?:gemma|codegemma|recurrentgemma|paligemma|shieldgemma)", ("gemma",), "S4"),
    # Qwen (1.0): 1.8B under the Tongyi Qianwen RESEARCH license, 7B/14B/72B under the commercial one [S13].
    KnownModel(r"^Qwen/Qwen-1_8B", ("tongyi-qianwen-research",), "S13"),
    KnownModel(r"^Qwen/Qwen-(?:7|14|72)B", ("tongyi-qianwen",), "S13"),
    # Qwen1.5: the small sizes carry license_name tongyi-qianwen-research, the others tongyi-qianwen [C].
    KnownModel(r"^Qwen/Qwen1\.5-(?:0\.5|1\.8|4)B", ("tongyi-qianwen-research",), "C"),
    KnownModel(r"^Qwen/Qwen1\.5-(?:7|14|32|72|110)B|^Qwen/Qwen1\.5-MoE-", ("tongyi-qianwen",), "C"),
    KnownModel(r"^Qwen/Qwen2-72B", ("tongyi-qianwen",), "S6"),
    KnownModel(r"^Qwen/Qwen2-(?:0\.5|1\.5|7|57)B", ("apache-2.0",), "S6"),
    # Qwen2.5 and its Coder/Math/VL variants: 3B research, 72B Qwen license, other sizes Apache-2.0 [S6, S7].
    KnownModel(_QWEN25 + r"3B(?![\d.])", ("qwen-research",), "S6, S7"),
    KnownModel(_QWEN25 + r"72B(?![\d.])", ("qwen",), "S6"),
    KnownModel(_QWEN25 + r"(?:0\.5|1\.5|7|14|32)B(?![\d.])", ("apache-2.0",), "S6"),
    KnownModel(r"^Qwen/Qwen3-", ("apache-2.0",), "S6"),
    KnownModel(r"^mistralai/(?:Mistral-7B|Mixtral-8x|Mistral-Nemo)", ("apache-2.0",), "S8"),
    KnownModel(r"^mistralai/Codestral-22B", ("mnpl",), "S10"),
    KnownModel(r"^mistralai/(?:Mistral-Large|Ministral-8B)", ("mrl",), "S8, S9"),
    # DeepSeek-R1 and its distills: R1 itself is MIT; the distills keep their bases' terms too [R1].
    KnownModel(
        r"^deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        ("llama3.1", "mit"),
        "R1",
        note="derived from Llama-3.1-8B; DeepSeek's own contribution is MIT",
    ),
    KnownModel(
        r"^deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
        ("llama3.3", "mit"),
        "R1",
        note="derived from Llama-3.3-70B-Instruct; DeepSeek's own contribution is MIT",
    ),
    KnownModel(
        r"^deepseek-ai/DeepSeek-R1-Distill-Qwen-",
        ("apache-2.0", "mit"),
        "R1",
        note="derived from Qwen2.5 / Qwen2.5-Math models under Apache-2.0",
    ),
    KnownModel(r"^deepseek-ai/DeepSeek-R1(?:-Zero|-0528)?$", ("mit",), "S12"),
    KnownModel(
        r"^deepseek-ai/DeepSeek-V3-0324",
        ("mit",),
        "C",
        note="released under MIT on 2025-03-24; whether the original V3 weights were relicensed is not "
        "established by the sources here",
    ),
    KnownModel(r"^deepseek-ai/DeepSeek-(?:V3|V2|LLM|Coder|MoE|Math)", ("deepseek",), "S12"),
    KnownModel(r"^tiiuae/falcon-180B", ("falcon-180b-tii-license",), "S15"),
    KnownModel(r"^tiiuae/falcon-11B", ("falcon-llm-license",), "S4"),
    KnownModel(
        r"^tiiuae/falcon-(?:7b|40b)",
        (),
        "S8",
        valid_until=_FALCON_CHANGE,
        note="first released (May 2023) under the royalty-bearing TII Falcon LLM License 1.0, which the "
        "knowledge base does not hold",
    ),
    KnownModel(r"^tiiuae/falcon-(?:7b|40b)", ("apache-2.0",), "S8", valid_from=_FALCON_CHANGE),
    KnownModel(r"^01-ai/Yi-(?:6B|9B|34B|VL-)", ("yi-license",), "S11", valid_until=_YI_CHANGE),
    KnownModel(r"^01-ai/Yi-(?:6B|9B|34B|VL-)", ("apache-2.0",), "S11", valid_from=_YI_CHANGE),
    KnownModel(r"^01-ai/Yi-(?:1\.5|Coder)-", ("apache-2.0",), "C"),
    KnownModel(
        r"^microsoft/(?:phi-1_5|phi-2|Phi-3|Phi-3\.5|Phi-4|phi-4)",
        ("mit",),
        "C",
        note="the phi-2 LICENSE is the MIT text with Microsoft's copyright line (license-texts/mit)",
    ),
    KnownModel(r"^allenai/(?:OLMo|OLMoE)", ("apache-2.0",), "C"),
    KnownModel(r"^HuggingFaceTB/SmolLM", ("apache-2.0",), "C"),
)


def _day(as_of: _dt.date | _dt.datetime | str | None) -> _dt.date | None:
    if as_of is None:
        return None
    if isinstance(as_of, _dt.datetime):
        return as_of.date()
    if isinstance(as_of, _dt.date):
        return as_of
    return _dt.date.fromisoformat(str(as_of).strip()[:10])


def repo_history(repo_id: str) -> list[KnownModel]:
    """Every row for ``repo_id`` of the first pattern that matches it, oldest period first (one row when the
    license never changed)."""
    rid = repo_id.strip()
    rows = [r for r in KNOWN_MODELS if re.search(r.pattern, rid, re.I)]
    if not rows:
        return []
    first = rows[0].pattern
    return sorted((r for r in rows if r.pattern == first), key=lambda r: r.valid_from or "")


def licenses_for_repo(repo_id: str, as_of: _dt.date | str | None = None) -> KnownModel | None:
    """The row that applies to ``repo_id`` on ``as_of`` (an ISO date or date), or the current row without one."""
    day = _day(as_of)
    for row in repo_history(repo_id):
        if row.holds_on(day) if day else row.current:
            return row
    return None


def license_for_repo(repo_id: str, as_of: _dt.date | str | None = None) -> tuple[str, str] | None:
    """(license id, source) for a known Hub repo id, else None: the first license of :func:`licenses_for_repo`.

    None too when the terms of that period are not in the knowledge base (Falcon 40B before its relicensing)."""
    row = licenses_for_repo(repo_id, as_of)
    if row is None or not row.licenses:
        return None
    return row.licenses[0], row.source
