"""The known-model table: repo ids of real releases resolve to the licenses that apply, period by period."""

from __future__ import annotations

import datetime as dt

import pytest

import licenses as kb
from licenses.known_models import KNOWN_MODELS

CURRENT = [
    # DeepSeek-R1 distills keep their bases' terms next to DeepSeek's MIT, whatever the card says.
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", ("llama3.1", "mit")),
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", ("llama3.3", "mit")),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", ("apache-2.0", "mit")),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", ("apache-2.0", "mit")),
    ("deepseek-ai/DeepSeek-R1", ("mit",)),
    ("deepseek-ai/DeepSeek-V3-0324", ("mit",)),
    ("deepseek-ai/DeepSeek-V3", ("deepseek",)),
    ("deepseek-ai/deepseek-llm-7b-base", ("deepseek",)),
    ("codellama/CodeLlama-7b-hf", ("llama2",)),
    ("meta-llama/CodeLlama-34b-Instruct-hf", ("llama2",)),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", ("llama4",)),
    # Qwen 1.0 and 1.5: small sizes under the Tongyi Qianwen RESEARCH license.
    ("Qwen/Qwen-1_8B-Chat", ("tongyi-qianwen-research",)),
    ("Qwen/Qwen-7B", ("tongyi-qianwen",)),
    ("Qwen/Qwen1.5-0.5B-Chat", ("tongyi-qianwen-research",)),
    ("Qwen/Qwen1.5-1.8B", ("tongyi-qianwen-research",)),
    ("Qwen/Qwen1.5-4B-Chat", ("tongyi-qianwen-research",)),
    ("Qwen/Qwen1.5-7B-Chat", ("tongyi-qianwen",)),
    ("Qwen/Qwen1.5-72B", ("tongyi-qianwen",)),
    ("Qwen/Qwen1.5-MoE-A2.7B", ("tongyi-qianwen",)),
    # Qwen2.5 by size, Coder/Math/VL included: 3B research, 72B Qwen license, the rest Apache-2.0.
    ("Qwen/Qwen2.5-3B", ("qwen-research",)),
    ("Qwen/Qwen2.5-Coder-3B-Instruct", ("qwen-research",)),
    ("Qwen/Qwen2.5-VL-3B-Instruct", ("qwen-research",)),
    ("Qwen/Qwen2.5-72B-Instruct", ("qwen",)),
    ("Qwen/Qwen2.5-Math-72B", ("qwen",)),
    ("Qwen/Qwen2.5-7B-Instruct", ("apache-2.0",)),
    ("Qwen/Qwen2.5-32B", ("apache-2.0",)),
    ("Qwen/Qwen2.5-Coder-32B-Instruct", ("apache-2.0",)),
    ("Qwen/Qwen2.5-Coder-7B", ("apache-2.0",)),
    ("Qwen/Qwen2.5-Math-1.5B", ("apache-2.0",)),
    ("Qwen/Qwen2.5-14B-Instruct-1M", ("apache-2.0",)),
    ("tiiuae/falcon-180B-chat", ("falcon-180b-tii-license",)),
    ("tiiuae/falcon-40b-instruct", ("apache-2.0",)),
    ("tiiuae/falcon-7b", ("apache-2.0",)),
    ("01-ai/Yi-34B-Chat", ("apache-2.0",)),
    ("01-ai/Yi-1.5-9B", ("apache-2.0",)),
    ("microsoft/phi-2", ("mit",)),
    ("microsoft/Phi-3-mini-4k-instruct", ("mit",)),
    ("allenai/OLMo-2-1124-7B", ("apache-2.0",)),
    ("HuggingFaceTB/SmolLM2-1.7B-Instruct", ("apache-2.0",)),
    ("google/gemma-2-9b", ("gemma",)),
]


@pytest.mark.parametrize("repo,expected", CURRENT)
def test_current_terms(repo, expected):
    row = kb.licenses_for_repo(repo)
    assert row is not None and row.licenses == expected
    assert kb.license_for_repo(repo) == (expected[0], row.source)


@pytest.mark.parametrize("repo", ["Qwen/Qwen2.5-32B", "Qwen/Qwen2.5-Coder-32B", "Qwen/Qwen2.5-7B"])
def test_sizes_that_merely_contain_3_or_72_are_not_taken_for_them(repo):
    assert kb.licenses_for_repo(repo).licenses == ("apache-2.0",)


@pytest.mark.parametrize(
    "repo,day,expected",
    [
        ("01-ai/Yi-34B", "2023-11-05", ("yi-license",)),
        ("01-ai/Yi-6B-200K", dt.date(2024, 5, 29), ("yi-license",)),
        ("01-ai/Yi-34B", "2024-05-30", ("apache-2.0",)),
        ("01-ai/Yi-9B", dt.datetime(2025, 1, 1, 12, 0), ("apache-2.0",)),
        ("tiiuae/falcon-40b", "2023-06-15", ("apache-2.0",)),
        # Before the relicensing: terms the knowledge base does not hold, said so rather than guessed.
        ("tiiuae/falcon-40b", "2023-05-26", ()),
        ("meta-llama/Llama-2-7b-hf", "2023-08-01", ("llama2",)),
    ],
)
def test_terms_on_a_date(repo, day, expected):
    row = kb.licenses_for_repo(repo, day)
    assert row is not None and row.licenses == expected
    if not expected:
        assert row.note and kb.license_for_repo(repo, day) is None


def test_history_lists_every_period_oldest_first():
    yi = kb.repo_history("01-ai/Yi-34B")
    assert [r.licenses for r in yi] == [("yi-license",), ("apache-2.0",)]
    assert yi[0].valid_until == yi[1].valid_from == "2024-05-30"
    assert len(kb.repo_history("meta-llama/Llama-2-7b-hf")) == 1
    assert kb.repo_history("someone/unknown-model") == []
    assert kb.licenses_for_repo("someone/unknown-model") is None


def test_table_is_well_formed():
    for row in KNOWN_MODELS:
        assert row.source, row.pattern
        assert all(lid in kb.BY_ID for lid in row.licenses), row.pattern
        assert row.licenses or row.note, "a period without a record says what its terms were"
        if row.valid_from and row.valid_until:
            assert row.valid_from < row.valid_until
    # Rows of one pattern cover time without gaps or overlaps, and exactly one is current.
    by_pattern: dict[str, list] = {}
    for row in KNOWN_MODELS:
        by_pattern.setdefault(row.pattern, []).append(row)
    for pattern, rows in by_pattern.items():
        rows.sort(key=lambda r: r.valid_from or "")
        assert sum(r.current for r in rows) == 1, pattern
        assert rows[0].valid_from is None, pattern
        for a, b in zip(rows, rows[1:]):
            assert a.valid_until == b.valid_from, pattern
