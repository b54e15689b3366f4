"""The license knowledge base: one frozen record per license, facts only, each with its source.

Not legal advice. Whole license texts are never stored here: the text a release must ship is copied from its base
model's directory. A record holds what the audit needs to check a release and to write the files it owes:
identifiers, how to recognise the text, the exact notice string, display and naming rules, use-policy files and
pass-through restrictions.

Sources (the keys used in ``sources`` below; full list in ../shared/reference/licenses.md):
  S1  meta-llama/llama-models ``models/<version>/LICENSE`` and ``USE_POLICY.md``
  S4  aboutcode-org/scancode-licensedb ``docs/*.LICENSE`` and ``docs/index.json``
  S6  QwenLM blog posts (Qwen2, Qwen2.5, Qwen3)         S7  Qwen2.5-Coder-3B model card
  S8  docs.mistral.ai open-weight models (and the Falcon 7B/40B relicensing, June 2023)
  S9  mistralai/Mistral-Large-Instruct-2411 card        S10 Codestral model cards
  S11 01-ai/Yi MODEL_LICENSE_AGREEMENT.txt, README, NOTICE
  S12 deepseek-ai/DeepSeek-V3 LICENSE-MODEL, DeepSeek-R1 README
  S13 QwenLM/Qwen ``Tongyi Qianwen LICENSE AGREEMENT`` and ``Tongyi Qianwen RESEARCH LICENSE AGREEMENT`` @ 2df8e8ac
  S14 the Qwen RESEARCH LICENSE AGREEMENT of Qwen2.5-3B (Release Date: September 19, 2024)
  S15 the FALCON 180B TII LICENSE VERSION 1.0 (September 2023) as shipped with Falcon-180B (quoted in the
      tiiuae/falcon-180B discussions and in redistributions of the model)
  S16 the BigScience Open RAIL-M License (dated August 18, 2022) and BigScience RAIL License v1.0 (May 19, 2022)
  S17 the Creative Commons BY-NC-SA 4.0 legal code (checked against ScanCode's copy, key cc-by-nc-sa-4.0)
  S18 the MRL-0.1 text (Mistral AI Research License), sections 2.2-3.2, 4.2 and 9, as published with Mistral
      Large 2411 (card gate text and a verbatim copy in a public repository)
  S19 MNPL-0.1 §3.2 as quoted at the Codestral release (2024-05-29); the rest of the MNPL text was not available
  LT  ../shared/license-texts/ (real texts, see its SOURCES.md): every quote from a text there is checked by a test
  HF  huggingface/hub-docs ``repositories-licenses.md`` (the card ``license:`` ids)
  SPDX spdx/license-list-XML; OSI/CC  the Apache-2.0, MIT and Creative Commons legal codes
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field


class Relicense(str, enum.Enum):
    """May a derivative be released under a license other than this one?"""

    NO = "no"  # the derivative stays under this agreement (model agreements, NC terms)
    YES = "yes"  # any license, keeping the required notices (permissive licenses)
    WITH_RESTRICTIONS = "with-restrictions"  # any terms, provided they carry the use restrictions (RAIL-style)


@dataclass(frozen=True)
class TextSignature:
    """How to recognise a license text: a title and (when the text has one) a version or date line.

    Both are regular expressions matched case-insensitively against the text with whitespace collapsed to single
    spaces. A text is this license when the title matches and, if ``version`` is set, the version matches too;
    the version decides between near-identical texts (Llama 3.1 / 3.2 / 3.3).
    """

    title: str
    version: str | None = None
    # A short synthetic sample containing the title and version lines (used by tests and docs, never shipped).
    sample: str = ""
    # Regexes that must NOT match (e.g. the CC-BY title is a prefix of the CC-BY-NC title).
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clause:
    """Where a fact stands in the license text: the section and a short verbatim quote.

    ``source`` overrides the record's own source key when the clause comes from elsewhere (a card, a blog post).
    Quotes are short on purpose: the record cites the text, it never carries it.
    """

    section: str
    quote: str
    source: str = ""


@dataclass(frozen=True)
class License:
    id: str  # our stable id; equals the Hugging Face card id where one exists
    name: str
    hf_license: str  # the value for a card's ``license:`` field
    hf_license_name: str | None  # the card's ``license_name:`` when ``hf_license`` is "other"
    aliases: tuple[str, ...]  # other spellings seen in ``license`` / ``license_name`` / GGUF ``general.license``
    spdx: str  # an SPDX id, or a LicenseRef- (ScanCode LicenseDB key where one exists)
    signature: TextSignature
    copy_required: bool  # a copy of the license must accompany redistribution
    notice: str | None  # the exact string a NOTICE file must contain
    notice_file: str | None  # where that string goes
    display: tuple[str, ...]  # attribution lines; any one satisfies ("{name}" = the derived model's name)
    name_prefix: str | None  # a derived model's name must begin with this
    use_policy_file: str | None  # the use policy file shipped beside the license
    use_policy_url: str | None
    pass_through: str | None  # use restrictions that bind downstream users
    commercial: str
    non_commercial: bool
    outputs_for_training: str
    relicense: Relicense
    mark_modifications: bool  # modified files must carry a prominent notice
    family: str
    sources: tuple[tuple[str, str], ...] = field(default=())  # (fact, source); fact "*" covers the record
    # The copy duty is met by the license's URI instead of its text (Creative Commons 4.0 legal code, 3(a)(1)(C)):
    # a model card that names the license (Hugging Face renders the id as a link) or links it satisfies it.
    link_suffices: bool = False
    url: str | None = None  # the canonical URI of the license text, where one exists
    # The version or date line of the text this record was written from ("Version 1.0, 23 October 2023").
    version: str = ""
    # fact (a field name above: notice, display, mark_modifications, relicense, ...) -> the clause it rests on
    clauses: tuple[tuple[str, Clause], ...] = ()
    # A duty to credit the licensor as the source, with no fixed wording (Yi §2(4)); None when there is none.
    attribute_source: str | None = None
    # Regexes that recognise the use policy's own text (its title line, its "you agree to this Acceptable Use
    # Policy" sentence), so a LICENSE that embeds the policy counts as shipping it. Matched like TextSignature.
    use_policy_markers: tuple[str, ...] = ()
    # Earlier or later revisions of the same text under the same id: "date: what is known of the change".
    revisions: tuple[str, ...] = ()

    def clause(self, fact: str) -> Clause | None:
        return dict(self.clauses).get(fact)

    def source_of(self, fact: str) -> str:
        """The source key of a fact, with its section when a clause is recorded ("S13 §3.b")."""
        by_fact = dict(self.sources)
        base = by_fact.get(fact, by_fact.get("*", ""))
        c = self.clause(fact)
        if c is None:
            return base
        return f"{c.source or base} {c.section}".strip()

    @property
    def permits_commercial(self) -> bool:
        return not self.non_commercial


def _meta(
    version: str,
    hf: str,
    scancode: str,
    title: str,
    version_line: str,
    notice: str,
    *,
    display: tuple[str, ...] = (),
    prefix: str | None = None,
    policy_url: str,
    outputs: str,
    outputs_clause: Clause,
    copy_quote: str,
    policy_markers: tuple[str, ...],
    extra_pass_through: str = "",
) -> License:
    """A Meta Llama community license (2, 3, 3.x, 4): the common terms are the same across versions [S1].

    Section numbers are the same in every version: §1.a grant, §1.b.i copy (and, from Llama 3, display and
    naming), §1.b.iii Notice file, §1.b.iv the Acceptable Use Policy incorporated by reference, §2 the 700M MAU
    limit. Llama 2 and 3 forbid improving other LLMs with outputs in §1.b.v; from 3.1 on, §1.b.i allows it with
    the naming duty.
    """
    aup = Clause(
        "§1.b.iv",
        "adhere to the Acceptable Use Policy for the Llama Materials (available at … "
        "which is hereby incorporated by reference into this Agreement",
    )
    clauses: list[tuple[str, Clause]] = [
        ("copy_required", Clause("§1.b.i", copy_quote)),
        ("notice", Clause("§1.b.iii", 'the following attribution notice within a "Notice" text file')),
        ("use_policy_file", aup),
        ("pass_through", aup),
        ("commercial", Clause("§2", "greater than 700 million monthly active users")),
        ("outputs_for_training", outputs_clause),
        ("relicense", Clause("§1.a", "non-exclusive, worldwide, non-transferable and royalty-free limited license")),
    ]
    if display:
        clauses.append(("display", Clause("§1.b.i", f'prominently display "{display[0]}"')))
    if prefix:
        clauses.append(
            ("name_prefix", Clause("§1.b.i", f'include "{prefix}" at the beginning of any such AI model name'))
        )
    return License(
        id=hf,
        name=f"{version} Community License",
        hf_license=hf,
        hf_license_name=None,
        aliases=(hf.replace(".", "_"), hf.replace("llama", "llama-"), f"{hf}-community-license"),
        spdx=f"LicenseRef-scancode-{scancode}",
        signature=TextSignature(
            title=re.escape(title),
            version=re.escape(version_line),
            sample=f'{title}\n{version_line}\n"Agreement" means the terms and conditions …\n',
        ),
        copy_required=True,
        notice=notice,
        notice_file="NOTICE",
        display=display,
        name_prefix=prefix,
        use_policy_file="USE_POLICY.md",
        use_policy_url=policy_url,
        pass_through="the Acceptable Use Policy binds by reference" + extra_pass_through,
        commercial="allowed; licensees above 700M monthly active users need a separate license from Meta",
        non_commercial=False,
        outputs_for_training=outputs,
        relicense=Relicense.NO,
        mark_modifications=False,
        family="llama",
        sources=(("*", "S1"), ("spdx", "S4"), ("hf_license", "HF")),
        version=version_line,
        clauses=tuple(clauses),
        use_policy_markers=policy_markers,
    )


def _aup_markers(product: str) -> tuple[str, ...]:
    """The title line and the opening sentence of a Meta Acceptable Use Policy for ``product`` ("Llama 3.1").

    Both must be present, so the license's own mention of "the Acceptable Use Policy" (§1.b.iv) is not taken for
    the policy text. "Meta " is optional: the Llama 3 policy says "Meta Llama 3" inside LICENSE, "Llama 3" in
    USE_POLICY.md.
    """
    p = re.escape(product)
    return (
        rf"(?:Meta )?{p} Acceptable Use Policy",
        rf"If you access or use (?:Meta )?{p}, you agree to this Acceptable Use Policy",
    )


_EU = "; multimodal models grant no rights to individuals or companies domiciled in the EU"
_LLAMA31_OUTPUTS = "allowed; a model trained on outputs and distributed must carry the naming and display duties"
_LLAMA3_COPY = "provide a copy of this Agreement with any such Llama Materials"
_LLAMA31_OUTPUTS_CLAUSE = Clause(
    "§1.b.i",
    "If you use the Llama Materials or any outputs or results of the Llama "
    "Materials to create, train, fine tune, or otherwise improve an AI model",
)
_LLAMA_NO_IMPROVE = Clause(
    "§1.b.v",
    "You will not use the Llama Materials or any output or results of the Llama "
    "Materials to improve any other large language model",
)


def _qwen_family(
    *,
    id: str,
    name: str,
    title: str,
    version_line: str,
    notice: str,
    research: bool,
    display: tuple[str, ...],
    aliases: tuple[str, ...],
    spdx: str,
    sources: tuple[tuple[str, str], ...],
    exclude: tuple[str, ...] = (),
    outputs: str,
    outputs_clause: Clause,
    rules_section: str,
) -> License:
    """Alibaba Cloud's Tongyi Qianwen / Qwen agreements share one skeleton [S13, S14, S4]: §3.a copy, §3.b mark
    modified files, §3.c Notice file, §3.d other terms allowed for derivative works as a whole (so relicensing
    is not forbidden; the agreement's conditions still bind the distributor), export controls under "Rules of
    use". The commercial texts cap use at 100M MAU (§4); the research texts are non-commercial (§2.a)."""
    clauses: list[tuple[str, Clause]] = [
        (
            "copy_required",
            Clause("§3.a", "give any other recipients of the Materials or derivative works a copy of this Agreement"),
        ),
        (
            "mark_modifications",
            Clause("§3.b", "cause any modified files to carry prominent notices stating that You changed the files"),
        ),
        ("notice", Clause("§3.c", 'the following attribution notices within a "Notice" text file')),
        (
            "relicense",
            Clause(
                "§3.d",
                "may provide additional or different license terms and conditions for use, "
                "reproduction, or distribution of Your modifications, or for any such derivative works "
                "as a whole",
            ),
        ),
        (
            "pass_through",
            Clause(f"§{rules_section}.a", "The Materials may be subject to export controls or restrictions"),
        ),
        ("outputs_for_training", outputs_clause),
    ]
    if research:
        clauses.append(("commercial", Clause("§2.a", "FOR NON-COMMERCIAL PURPOSES ONLY")))
    else:
        clauses.append(("commercial", Clause("§4", "has more than 100 million monthly active users")))
    if display:
        clauses.append(("display", outputs_clause))
    return License(
        id=id,
        name=name,
        hf_license="other",
        hf_license_name=id,
        aliases=aliases,
        spdx=spdx,
        signature=TextSignature(
            title=re.escape(title),
            version=re.escape(version_line),
            exclude=exclude,
            sample=f"{title}\n{version_line}\nBy clicking to agree or by using or distributing …\n",
        ),
        copy_required=True,
        notice=notice,
        notice_file="NOTICE",
        display=display,
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="export controls apply"
        + ("; non-commercial (research or evaluation) use only" if research else ""),
        commercial=(
            "non-commercial only (research or evaluation); commercial use needs a license from Alibaba Cloud"
            if research
            else "licensees above 100M monthly active users need a license from Alibaba Cloud"
        ),
        non_commercial=research,
        outputs_for_training=outputs,
        relicense=Relicense.YES,
        mark_modifications=True,
        family="qwen",
        sources=sources,
        version=version_line,
        clauses=tuple(clauses),
    )


_QWEN_BUILT_WITH = (
    "If you use the Materials or any outputs or results therefrom to create, train, fine-tune, or "
    "improve an AI model that is distributed or made available, you shall prominently display "
    '"Built with Qwen" or "Improved using Qwen"'
)
_TONGYI_NO_IMPROVE = "You can not use the Materials or any output therefrom to improve any other large language model"
_RAIL_CLAUSES: tuple[tuple[str, Clause], ...] = (
    (
        "copy_required",
        Clause(
            "§4.b",
            "You must give any Third Party recipients of the Model or Derivatives of the Model a copy of this License",
        ),
    ),
    (
        "mark_modifications",
        Clause(
            "§4.c", "You must cause any modified files to carry prominent notices stating that You changed the files"
        ),
    ),
    (
        "pass_through",
        Clause(
            "§4.a", "Use-based restrictions as referenced in paragraph 5 MUST be included as an enforceable provision"
        ),
    ),
    (
        "relicense",
        Clause(
            "§4 (last paragraph)",
            "may provide additional or different license terms and conditions … respecting paragraph 4.a.",
        ),
    ),
    (
        "outputs_for_training",
        Clause(
            "§1 Derivatives of the Model",
            "methods based on the generation of synthetic data by the Model for training the other model",
        ),
    ),
)


LICENSES: tuple[License, ...] = (
    License(
        id="llama1",
        name="LLaMA License (non-commercial)",
        hf_license="other",
        hf_license_name="llama-license",
        aliases=("llama", "llama-license", "llama1", "llama-1", "llama-research-license"),
        spdx="LicenseRef-scancode-llama-license-2023",
        signature=TextSignature(
            title=r"\bLLaMA LICENSE AGREEMENT\b",
            sample="LLaMA LICENSE AGREEMENT\nThis License Agreement … applies to your use of … the Software …\n",
        ),
        copy_required=True,
        notice="LLaMA is licensed under the LLaMA License, Copyright (c) Meta Platforms, Inc. All Rights Reserved.",
        notice_file="NOTICE",
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="non-commercial research use only; the restrictions bind recipients",
        commercial="non-commercial, personal, revocable",
        non_commercial=True,
        outputs_for_training="non-commercial research only",
        relicense=Relicense.NO,
        mark_modifications=False,
        family="llama",
        sources=(("*", "S1"), ("spdx", "S4")),
        version="undated text released with LLaMA 1 (February 2023; ScanCode key llama-license-2023)",
    ),
    _meta(
        "Llama 2",
        "llama2",
        "llama-2-license-2023",
        "LLAMA 2 COMMUNITY LICENSE AGREEMENT",
        "Llama 2 Version Release Date: July 18, 2023",
        "Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. "
        "All Rights Reserved.",
        policy_url="https://ai.meta.com/llama/use-policy",
        outputs="may not be used to improve any other large language model (except Llama 2 derivatives)",
        outputs_clause=_LLAMA_NO_IMPROVE,
        copy_quote="you shall provide a copy of this Agreement to such third party",
        policy_markers=_aup_markers("Llama 2"),
    ),
    _meta(
        "Meta Llama 3",
        "llama3",
        "llama-3-license-2024",
        "META LLAMA 3 COMMUNITY LICENSE AGREEMENT",
        "Meta Llama 3 Version Release Date: April 18, 2024",
        "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms, Inc. "
        "All Rights Reserved.",
        display=("Built with Meta Llama 3",),
        prefix="Llama 3",
        policy_url="https://llama.meta.com/llama3/use-policy",
        outputs="may not be used to improve any other large language model (except Llama 3 derivatives)",
        outputs_clause=_LLAMA_NO_IMPROVE,
        copy_quote=_LLAMA3_COPY,
        policy_markers=_aup_markers("Llama 3"),
    ),
    _meta(
        "Llama 3.1",
        "llama3.1",
        "llama-3.1-license-2024",
        "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT",
        "Llama 3.1 Version Release Date: July 23, 2024",
        "Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © Meta Platforms, Inc. "
        "All Rights Reserved.",
        display=("Built with Llama",),
        prefix="Llama",
        policy_url="https://llama.meta.com/llama3_1/use-policy",
        outputs=_LLAMA31_OUTPUTS,
        outputs_clause=_LLAMA31_OUTPUTS_CLAUSE,
        copy_quote=_LLAMA3_COPY,
        policy_markers=_aup_markers("Llama 3.1"),
    ),
    _meta(
        "Llama 3.2",
        "llama3.2",
        "llama-3.2-license-2024",
        "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
        "Llama 3.2 Version Release Date: September 25, 2024",
        "Llama 3.2 is licensed under the Llama 3.2 Community License, Copyright © Meta Platforms, Inc. "
        "All Rights Reserved.",
        display=("Built with Llama",),
        prefix="Llama",
        policy_url="https://www.llama.com/llama3_2/use-policy",
        outputs=_LLAMA31_OUTPUTS,
        extra_pass_through=_EU,
        outputs_clause=_LLAMA31_OUTPUTS_CLAUSE,
        copy_quote=_LLAMA3_COPY,
        policy_markers=_aup_markers("Llama 3.2"),
    ),
    _meta(
        "Llama 3.3",
        "llama3.3",
        "llama-3.3-license-2024",
        "LLAMA 3.3 COMMUNITY LICENSE AGREEMENT",
        "Llama 3.3 Version Release Date: December 6, 2024",
        "Llama 3.3 is licensed under the Llama 3.3 Community License, Copyright © Meta Platforms, Inc. "
        "All Rights Reserved.",
        display=("Built with Llama",),
        prefix="Llama",
        policy_url="https://www.llama.com/llama3_3/use-policy",
        outputs=_LLAMA31_OUTPUTS,
        extra_pass_through=_EU,
        outputs_clause=_LLAMA31_OUTPUTS_CLAUSE,
        copy_quote=_LLAMA3_COPY,
        policy_markers=_aup_markers("Llama 3.3"),
    ),
    _meta(
        "Llama 4",
        "llama4",
        "llama-4-license-2025",
        "LLAMA 4 COMMUNITY LICENSE AGREEMENT",
        "Llama 4 Version Effective Date: April 5, 2025",
        "Llama 4 is licensed under the Llama 4 Community License, Copyright © Meta Platforms, Inc. "
        "All Rights Reserved.",
        display=("Built with Llama",),
        prefix="Llama",
        policy_url="https://www.llama.com/llama4/use-policy",
        outputs=_LLAMA31_OUTPUTS,
        extra_pass_through=_EU,
        outputs_clause=_LLAMA31_OUTPUTS_CLAUSE,
        copy_quote=_LLAMA3_COPY,
        policy_markers=_aup_markers("Llama 4"),
    ),
    License(
        id="gemma",
        name="Gemma Terms of Use",
        hf_license="gemma",
        hf_license_name=None,
        aliases=("gemma-terms-of-use", "gemma-tou"),
        spdx="LicenseRef-scancode-gemma-tou-2025-03-24",
        signature=TextSignature(
            title=r"Gemma Terms of Use",
            version=r"Last modified: (?:February 21|April 1), 2024|Last modified: March 24, 2025",
            sample="Gemma Terms of Use\nLast modified: March 24, 2025\nBy using, reproducing, modifying …\n",
        ),
        copy_required=True,
        notice="Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms",
        notice_file="NOTICE",
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url="https://ai.google.dev/gemma/prohibited_use_policy",
        pass_through="the Gemma Prohibited Use Policy must be an enforceable provision of your terms, with notice",
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="distillation or training on Gemma outputs makes a Model Derivative",
        relicense=Relicense.WITH_RESTRICTIONS,
        mark_modifications=True,
        family="gemma",
        sources=(("*", "S4"), ("hf_license", "HF")),
        version="Last modified: March 24, 2025",
        clauses=(
            (
                "copy_required",
                Clause(
                    "§3.1(2)",
                    "You must provide all third party recipients of Gemma or Model "
                    "Derivatives a copy of this Agreement",
                ),
            ),
            (
                "mark_modifications",
                Clause(
                    "§3.1(3)",
                    "You must cause any modified files to carry prominent notices stating that you modified the files",
                ),
            ),
            (
                "notice",
                Clause("§3.1(4)", 'must be accompanied by a "Notice" text file that contains the following notice'),
            ),
            (
                "pass_through",
                Clause(
                    "§3.1(1)",
                    "You must include the use restrictions referenced in Section 3.2 as "
                    "an enforceable provision in any agreement",
                ),
            ),
            (
                "relicense",
                Clause(
                    "§3.1 (last paragraph)",
                    "may provide additional or different terms and conditions "
                    "for use, reproduction, or Distribution of your modifications, or for any such Model "
                    "Derivatives as a whole",
                ),
            ),
            (
                "outputs_for_training",
                Clause("§1(e)", "including distillation methods that use intermediate data representations"),
            ),
        ),
        revisions=(
            "February 21, 2024: first Gemma Terms of Use (Gemma 1); text not available here",
            "April 1, 2024: §3.1 conditions (1)-(4), the Notice string and §3.2 read as in the 2025 text (compared "
            'with ScanCode\'s copy, key gemma-tou-2024-04-01); "Gemma" is the models "identified at '
            'ai.google.dev/gemma"',
            'March 24, 2025: "Gemma" becomes the models "identified in the Appendix" (§1.1(c)); the duties '
            "above are unchanged; the clauses are quoted from this revision",
        ),
    ),
    _qwen_family(
        id="tongyi-qianwen",
        name="Tongyi Qianwen License Agreement",
        title="Tongyi Qianwen LICENSE AGREEMENT",
        version_line="Tongyi Qianwen Release Date: August 3, 2023",
        notice="Tongyi Qianwen is licensed under the Tongyi Qianwen LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. "
        "All Rights Reserved.",
        research=False,
        display=(),
        aliases=("tongyi-qianwen-license", "tongyi-qianwen-license-agreement", "qianwen"),
        spdx="LicenseRef-scancode-tongyi-qianwen-2023",
        sources=(("*", "S13"), ("spdx", "S4")),
        exclude=(r"Tongyi Qianwen RESEARCH LICENSE AGREEMENT",),
        outputs="outputs may not be used to improve other large language models (except Tongyi Qianwen derivatives)",
        outputs_clause=Clause("§5.b", _TONGYI_NO_IMPROVE),
        rules_section="5",
    ),
    _qwen_family(
        id="tongyi-qianwen-research",
        name="Tongyi Qianwen Research License Agreement",
        title="Tongyi Qianwen RESEARCH LICENSE AGREEMENT",
        version_line="Tongyi Qianwen Release Date: November 30, 2023",
        notice="Tongyi Qianwen is licensed under the Tongyi Qianwen RESEARCH LICENSE AGREEMENT, Copyright (c) "
        "Alibaba Cloud. All Rights Reserved.",
        research=True,
        display=(),
        aliases=("tongyi-qianwen-research-license", "tongyi-qianwen-research-license-agreement"),
        spdx="LicenseRef-tongyi-qianwen-research-2023",
        sources=(("*", "S13"), ("spdx", "S13")),
        outputs="outputs may not be used to improve other large language models (except Tongyi Qianwen "
        "derivatives); non-commercial only",
        outputs_clause=Clause("§4.b", _TONGYI_NO_IMPROVE),
        rules_section="4",
    ),
    _qwen_family(
        id="qwen",
        name="Qwen License Agreement",
        title="Qwen LICENSE AGREEMENT",
        version_line="Qwen LICENSE AGREEMENT Release Date: September 19, 2024",
        notice="Qwen is licensed under the Qwen LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. All Rights Reserved.",
        research=False,
        display=("Built with Qwen", "Improved using Qwen"),
        aliases=("qwen-license", "qwen-license-agreement"),
        spdx="LicenseRef-scancode-qwen-2024",
        sources=(("*", "S4"),),
        exclude=(r"Qwen RESEARCH LICENSE AGREEMENT",),
        outputs='allowed; a distributed model trained on Qwen or its outputs must display "Built with Qwen" or '
        '"Improved using Qwen"',
        outputs_clause=Clause("§5.b", _QWEN_BUILT_WITH),
        rules_section="5",
    ),
    _qwen_family(
        id="qwen-research",
        name="Qwen Research License Agreement",
        title="Qwen RESEARCH LICENSE AGREEMENT",
        version_line="Qwen RESEARCH LICENSE AGREEMENT Release Date: September 19, 2024",
        notice="Qwen is licensed under the Qwen RESEARCH LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. "
        "All Rights Reserved.",
        research=True,
        display=("Built with Qwen", "Improved using Qwen"),
        aliases=("qwen-research-license", "qwen-research-license-agreement"),
        spdx="LicenseRef-qwen-research-2024",  # no ScanCode key listed in licenses.md
        sources=(("*", "S14"),),
        outputs='non-commercial only; a distributed model trained on it or its outputs must display "Built with '
        'Qwen" or "Improved using Qwen"',
        outputs_clause=Clause("§4.b", _QWEN_BUILT_WITH),
        rules_section="4",
    ),
    License(
        id="mrl",
        name="Mistral AI Research License",
        hf_license="other",
        hf_license_name="mrl",
        aliases=("mistral-research-licence", "mistral-research-license", "mistral-ai-research-license", "mrl-0.1"),
        spdx="LicenseRef-mistral-research-license",
        signature=TextSignature(
            title=r"Mistral AI Research License",
            sample="# Mistral AI Research License\nIf You want to use a Mistral Model … for research purposes …\n",
        ),
        copy_required=True,
        notice="Licensed by Mistral AI under the Mistral AI Research License",
        notice_file="NOTICE",
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="research purposes only; no distribution by a commercial entity",
        commercial="non-commercial",
        non_commercial=True,
        outputs_for_training="research purposes only",
        relicense=Relicense.WITH_RESTRICTIONS,  # §2.3: other terms for your derivatives, MRL limits still apply
        mark_modifications=True,
        family="mistral",
        sources=(("*", "S18"),),
        version="MRL-0.1 (license_link https://mistral.ai/licenses/MRL-0.1.md in Mistral's cards)",
        clauses=(
            (
                "copy_required",
                Clause("§2.2", "You must make available a copy of this Agreement to third-party recipients"),
            ),
            ("notice", Clause("§2.2", 'the following attribution notice within a "Notice" text file')),
            (
                "mark_modifications",
                Clause("§2.3", "prominent notices stating that You modified the concerned Mistral Model"),
            ),
            (
                "relicense",
                Clause(
                    "§2.3",
                    "You may Distribute any Derivatives made by or for You under additional or "
                    "different terms and conditions",
                ),
            ),
            (
                "commercial",
                Clause(
                    "§3.2",
                    "You shall only use the Mistral Models, Derivatives (whether or not created "
                    "by Mistral AI) and Outputs for Research Purposes",
                ),
            ),
            (
                "pass_through",
                Clause(
                    "§9 Research Purposes",
                    "any Distribution by a commercial entity of the Mistral "
                    "Model, Derivative or Output whether in return for payment or free of charge",
                ),
            ),
            (
                "outputs_for_training",
                Clause("§4.2", "Any Outputs shall be subject to the restrictions set out in Section 3"),
            ),
        ),
    ),
    License(
        id="mnpl",
        name="Mistral AI Non-Production License",
        hf_license="other",
        hf_license_name="mnpl",
        aliases=("mistral-non-production-license", "mnpl-0.1", "mistral-ai-non-production-license"),
        spdx="LicenseRef-mistral-non-production-license",
        signature=TextSignature(
            title=r"Mistral AI Non-Production License",
            sample="# Mistral AI Non-Production License\n1. Scope and acceptance …\n",
        ),
        copy_required=True,
        notice="Licensed by Mistral AI under the Mistral AI Non-Production License",
        notice_file="NOTICE",
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="non-production use only",
        commercial="non-commercial",
        non_commercial=True,
        outputs_for_training="non-production use only",
        relicense=Relicense.NO,
        mark_modifications=True,
        family="mistral",
        sources=(("*", "S10"),),
        clauses=(
            (
                "commercial",
                Clause(
                    "§3.2",
                    "You shall only use the Mistral Models and Derivatives (whether or not "
                    "created by Mistral AI) for testing, research, Personal, or evaluation purposes in "
                    "Non-Production Environments",
                    "S19",
                ),
            ),
            (
                "pass_through",
                Clause(
                    "§3.2",
                    "You shall not supply the Mistral Models or Derivatives in the course of a commercial activity",
                    "S19",
                ),
            ),
        ),
        version="MNPL-0.1 (license_link https://mistral.ai/licenses/MNPL-0.1.md in the Codestral cards)",
    ),
    License(
        id="yi-license",
        name="Yi Series Models Community License Agreement v2.1",
        hf_license="other",
        hf_license_name="yi-license",
        aliases=("yi", "yi-community-license", "yi-series-models-community-license"),
        spdx="LicenseRef-yi-community-license-2.1",
        signature=TextSignature(
            title=r"Yi Series Models Community License Agreement",
            version=r"Version:? 2\.1",
            sample="Yi Series Models Community License Agreement\nVersion: 2.1\n",
        ),
        copy_required=True,
        notice=None,  # no fixed string: clearly attribute the source and mark substantial modifications [S11]
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="legal and ethical use restrictions",
        commercial="commercial use needs registration with 01.AI",
        non_commercial=False,
        outputs_for_training="not addressed separately",
        relicense=Relicense.NO,  # a conservative reading: derivatives are distributed under the same agreement
        mark_modifications=True,
        family="yi",
        sources=(("*", "S11"),),
        version="Version: 2.1, Date of Release: November 23, 2023",
        attribute_source="clearly attribute the source of the Yi Series Models to the Licensor (01.AI)",
        clauses=(
            (
                "attribute_source",
                Clause("§2(4)", "You must clearly attribute the source of the Yi Series Models to the Licensor"),
            ),
            (
                "copy_required",
                Clause(
                    "§2(4)",
                    "provide a copy of this Agreement to any Third-Party users of the Yi Series Models and Derivatives",
                ),
            ),
            ("mark_modifications", Clause("§2(5)", "you must clearly indicate the substantial modifications made")),
            (
                "pass_through",
                Clause(
                    "§2(5)",
                    "You shall not enable, assist, or in any way facilitate Third Parties to "
                    "violate the license restrictions of this Agreement",
                ),
            ),
            ("relicense", Clause("§2", "non-exclusive, global, non-transferable, non-sub-licensable, revocable")),
            ("commercial", Clause("§2 (after item 5)", "send completed Registration Form")),
            (
                "outputs_for_training",
                Clause("§1 Derivatives", "generating synthetic data based on Yi Series Models to train other models"),
            ),
        ),
    ),
    License(
        id="deepseek",
        name="DeepSeek License Agreement v1.0",
        hf_license="other",
        hf_license_name="deepseek",
        aliases=("deepseek-license", "deepseek-license-agreement", "deepseek-model-license"),
        spdx="LicenseRef-scancode-deepseek-la-1.0",
        signature=TextSignature(
            title=r"DEEPSEEK LICENSE AGREEMENT",
            version=r"Version 1\.0",
            sample="DEEPSEEK LICENSE AGREEMENT\nVersion 1.0, 23 October 2023\n",
        ),
        copy_required=True,
        notice=None,  # keep existing notices; mark modified files [S12]
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="the Attachment A use restrictions must be enforceable downstream",
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="distillation makes a derivative",
        relicense=Relicense.WITH_RESTRICTIONS,
        mark_modifications=True,
        family="deepseek",
        sources=(("*", "S12"), ("spdx", "S4")),
        version="Version 1.0, 23 October 2023",
        clauses=_RAIL_CLAUSES
        + (("notice", Clause("§4.d", "You must retain all copyright, patent, trademark, and attribution notices")),),
    ),
    License(
        id="falcon-llm-license",
        name="Falcon 2 11B TII License 1.0",
        hf_license="other",
        hf_license_name="falcon-llm-license",
        aliases=("falcon-2-11b-tii-license", "tii-falcon-llm-license", "falcon-llm"),
        spdx="LicenseRef-scancode-falcon-2-11b-1.0",
        signature=TextSignature(
            title=r"Falcon 2 11B TII License", version=r"Version 1\.0", sample="Falcon 2 11B TII License Version 1.0\n"
        ),
        copy_required=True,
        notice=None,
        notice_file=None,
        display=("{name} is built using Falcon LLM technology from the Technology Innovation Institute",),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="the Acceptable Use Policy applies downstream",
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="not addressed separately",
        relicense=Relicense.WITH_RESTRICTIONS,
        mark_modifications=False,
        family="falcon",
        sources=(("*", "S4"),),
        version="Falcon 2 11B TII License Version 1.0, May 2024",
    ),
    License(
        id="openrail-m",
        name="OpenRAIL-M family (BigScience, CreativeML, BigCode, OpenRAIL++)",
        hf_license="openrail",
        hf_license_name=None,
        aliases=("creativeml-openrail-m", "openrail++", "bigcode-openrail-m", "openrail-m"),
        spdx="LicenseRef-openrail-m-family",
        signature=TextSignature(
            title=r"(?:Open RAIL(?:\+\+)?-M|RAIL License)",
            exclude=(r"BigScience Open RAIL-M License", r"BigScience RAIL License v1\.0"),
            version=r"(?:dated|License v1\.0|version 1\.0|v1|August \d+, 2022|November 24, 2022)",
            sample="CreativeML Open RAIL-M\ndated August 22, 2022\nSection I: PREAMBLE\n",
        ),
        copy_required=True,
        notice=None,  # keep notices; mark modified files [S4]
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="the Attachment A use restrictions must be an enforceable provision of your terms, with notice",
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="not restricted beyond the use restrictions",
        relicense=Relicense.WITH_RESTRICTIONS,
        mark_modifications=True,
        family="openrail",
        sources=(("*", "S4"), ("hf_license", "HF")),
        version="family record: the member texts are dated August 18, 2022 (BigScience Open RAIL-M), August 22, "
        "2022 (CreativeML) and later; the specific BigScience texts have their own records",
    ),
    License(
        id="falcon-180b-tii-license",
        name="Falcon 180B TII License 1.0",
        hf_license="other",
        hf_license_name="falcon-180b-tii-license",
        aliases=("falcon-180b-license", "falcon-180b-tii-license-1.0", "tii-falcon-180b-license"),
        spdx="LicenseRef-falcon-180b-tii-license-1.0",
        signature=TextSignature(
            title=r"FALCON 180B TII LICENSE",
            version=r"VERSION 1\.0",
            sample="FALCON 180B TII LICENSE VERSION 1.0\nSeptember 2023\nfalconllm.tii.ae\n",
        ),
        # Assumed from the text's own framing (an Apache-2.0-based license); its redistribution section was not
        # available to quote (docs/licenses.md says so).
        copy_required=True,
        notice=None,
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="use of the model and of every derivative must comply with TII's Acceptable Use Policy at all "
        "times, as updated from time to time",
        commercial="allowed, but hosted services may need a separate license from TII",
        non_commercial=False,
        outputs_for_training="not addressed in the quoted clauses",
        relicense=Relicense.WITH_RESTRICTIONS,
        mark_modifications=False,
        family="falcon",
        sources=(("*", "S15"),),
        version="FALCON 180B TII LICENSE VERSION 1.0, September 2023",
        clauses=(
            (
                "copy_required",
                Clause("Introductory note", "This license is, in part, based on the Apache License Version 2.0"),
            ),
            (
                "pass_through",
                Clause(
                    "§5.1",
                    "your use of the Work or any Derivative Work must comply with the "
                    "Acceptable Use Policy at all times",
                ),
            ),
            (
                "commercial",
                Clause("Introductory note", "Use of Falcon180B for hosted services may require a separate license"),
            ),
            # Other terms seem possible (Apache-based), but the AUP binds every Derivative Work: §5.1.
            (
                "relicense",
                Clause(
                    "§5.1",
                    "your use of the Work or any Derivative Work must comply with the "
                    "Acceptable Use Policy at all times",
                ),
            ),
        ),
    ),
    License(
        id="bigscience-openrail-m",
        name="BigScience Open RAIL-M License",
        hf_license="bigscience-openrail-m",
        hf_license_name=None,
        aliases=("bigscience-open-rail-m", "bigscience-open-rail-m-license"),
        spdx="LicenseRef-scancode-bigscience-open-rail-m",
        signature=TextSignature(
            title=r"BigScience Open RAIL-M License",
            version=r"dated August 18, 2022",
            sample="BigScience Open RAIL-M License\ndated August 18, 2022\nSection I: PREAMBLE\n",
        ),
        copy_required=True,
        notice=None,  # keep existing notices (§4.d); no fixed string
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="the Attachment A use restrictions must be an enforceable provision of your terms, with notice",
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="a model trained on synthetic data generated by the model is a Derivative of the Model",
        relicense=Relicense.WITH_RESTRICTIONS,
        mark_modifications=True,
        family="openrail",
        sources=(("*", "S16"), ("spdx", "S4"), ("hf_license", "HF")),
        version="dated August 18, 2022",
        clauses=_RAIL_CLAUSES,
    ),
    License(
        id="bigscience-bloom-rail-1.0",
        name="BigScience RAIL License v1.0 (BLOOM)",
        hf_license="bigscience-bloom-rail-1.0",
        hf_license_name=None,
        aliases=("bloom-rail", "bigscience-rail-1.0", "bigscience-rail-license-v1.0", "bloom-rail-1.0"),
        spdx="LicenseRef-scancode-bigscience-rail-1.0",
        signature=TextSignature(
            title=r"BigScience RAIL License v1\.0",
            version=r"dated May 19, 2022",
            sample='BigScience RAIL License v1.0\ndated May 19, 2022\nThis is a license (the "License") …\n',
        ),
        copy_required=True,
        notice=None,
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="the Attachment A use restrictions must be an enforceable provision of your terms, with notice",
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="a model trained on synthetic data generated by BLOOM is a Derivative of the Model",
        relicense=Relicense.WITH_RESTRICTIONS,
        mark_modifications=True,
        family="openrail",
        sources=(("*", "S16"), ("spdx", "S4"), ("hf_license", "HF")),
        version="dated May 19, 2022",
        clauses=_RAIL_CLAUSES,
    ),
    License(
        id="apache-2.0",
        name="Apache License 2.0",
        hf_license="apache-2.0",
        hf_license_name=None,
        aliases=("apache2", "apache-2", "apache 2.0", "apache license 2.0", "apache-2.0-license"),
        spdx="Apache-2.0",
        signature=TextSignature(
            title=r"Apache License",
            version=r"Version 2\.0, January 2004",
            sample="Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n",
        ),
        copy_required=True,
        notice=None,  # pass on the contents of the base's NOTICE file, if it has one (section 4(d))
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through=None,
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="not restricted",
        relicense=Relicense.YES,
        mark_modifications=True,
        family="permissive",
        sources=(("*", "Apache License 2.0, sections 4(a)-(d)"), ("spdx", "SPDX")),
        version="Version 2.0, January 2004",
        clauses=(
            (
                "copy_required",
                Clause(
                    "§4(a)", "You must give any other recipients of the Work or Derivative Works a copy of this License"
                ),
            ),
            (
                "mark_modifications",
                Clause(
                    "§4(b)",
                    "You must cause any modified files to carry prominent notices stating that You changed the files",
                ),
            ),
            ("notice", Clause("§4(d)", 'If the Work includes a "NOTICE" text file as part of its distribution')),
            (
                "relicense",
                Clause(
                    "§4 (last paragraph)",
                    "may provide additional or different license terms and "
                    "conditions for use, reproduction, or distribution of Your modifications",
                ),
            ),
        ),
    ),
    License(
        id="mit",
        name="MIT License",
        hf_license="mit",
        hf_license_name=None,
        aliases=("mit-license", "expat"),
        spdx="MIT",
        signature=TextSignature(
            title=r"\bMIT License\b",
            version=r"Permission is hereby granted, free of charge",
            sample="MIT License\nCopyright (c) 2025 Example\nPermission is hereby granted, free of charge, to any "
            "person obtaining a copy …\n",
        ),
        copy_required=True,  # the copyright and permission notice must be included
        notice=None,
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through=None,
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="not restricted",
        relicense=Relicense.YES,
        mark_modifications=False,
        family="permissive",
        sources=(("*", "the MIT license text"), ("spdx", "SPDX")),
        version="the MIT text is undated; identified by its permission sentence",
        clauses=(
            (
                "copy_required",
                Clause(
                    "¶2",
                    "The above copyright notice and this permission notice shall be included "
                    "in all copies or substantial portions of the Software",
                ),
            ),
            ("relicense", Clause("¶1", "publish, distribute, sublicense, and/or sell")),
        ),
    ),
    License(
        id="cc-by-4.0",
        name="Creative Commons Attribution 4.0 International",
        hf_license="cc-by-4.0",
        hf_license_name=None,
        aliases=("cc-by", "cc-by-4", "creative-commons-attribution-4.0"),
        spdx="CC-BY-4.0",
        signature=TextSignature(
            title=r"Creative Commons Attribution 4\.0 International Public License|Attribution 4\.0 International",
            exclude=(r"Attribution-NonCommercial", r"Attribution-ShareAlike", r"Attribution-NoDerivatives"),
            sample="Attribution 4.0 International\nCreative Commons Attribution 4.0 International Public License\n",
        ),
        copy_required=True,  # the text or its URI (link_suffices)
        notice=None,  # creator credit, copyright, license and disclaimer notices and the URI; no fixed string
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through=None,
        commercial="allowed",
        non_commercial=False,
        outputs_for_training="not restricted",
        relicense=Relicense.YES,
        mark_modifications=True,
        family="creative-commons",
        sources=(("*", "CC BY 4.0 legal code, section 3(a)"), ("spdx", "SPDX")),
        link_suffices=True,
        url="https://creativecommons.org/licenses/by/4.0/legalcode",
        version="Creative Commons Attribution 4.0 International Public License (legal code version 4.0)",
    ),
    License(
        id="cc-by-nc-4.0",
        name="Creative Commons Attribution-NonCommercial 4.0 International",
        hf_license="cc-by-nc-4.0",
        hf_license_name=None,
        aliases=("cc-by-nc", "cc-by-nc-4", "creative-commons-attribution-noncommercial-4.0"),
        spdx="CC-BY-NC-4.0",
        signature=TextSignature(
            title=r"Attribution-NonCommercial 4\.0 International",
            exclude=(r"Attribution-NonCommercial-ShareAlike", r"Attribution-NonCommercial-NoDerivatives"),
            sample="Attribution-NonCommercial 4.0 International\nCreative Commons Attribution-NonCommercial 4.0 "
            "International Public License\n",
        ),
        copy_required=True,
        notice=None,
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="no use primarily intended for commercial advantage",
        commercial="non-commercial",
        non_commercial=True,
        outputs_for_training="not addressed",
        relicense=Relicense.NO,  # an adaptation may carry other terms, but never ones allowing commercial use
        mark_modifications=True,
        family="creative-commons",
        sources=(("*", "CC BY-NC 4.0 legal code, sections 1(i), 3(a)"), ("spdx", "SPDX")),
        link_suffices=True,
        url="https://creativecommons.org/licenses/by-nc/4.0/legalcode",
        version="Creative Commons Attribution-NonCommercial 4.0 International Public License (legal code version 4.0)",
    ),
    License(
        id="cc-by-nc-sa-4.0",
        name="Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International",
        hf_license="cc-by-nc-sa-4.0",
        hf_license_name=None,
        aliases=("cc-by-nc-sa", "cc-by-nc-sa-4", "creative-commons-attribution-noncommercial-sharealike-4.0"),
        spdx="CC-BY-NC-SA-4.0",
        signature=TextSignature(
            title=r"Attribution-NonCommercial-ShareAlike 4\.0 International",
            sample="Attribution-NonCommercial-ShareAlike 4.0 International\nCreative Commons Attribution-"
            "NonCommercial-ShareAlike 4.0 International Public License\n",
        ),
        copy_required=True,  # the text or its URI (link_suffices)
        notice=None,
        notice_file=None,
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="no use primarily intended for commercial advantage; adaptations carry a BY-NC-SA license",
        commercial="non-commercial",
        non_commercial=True,
        outputs_for_training="not addressed",
        relicense=Relicense.NO,  # ShareAlike: an adaptation is shared under BY-NC-SA (this version or later)
        mark_modifications=True,
        family="creative-commons",
        sources=(("*", "S17"), ("spdx", "SPDX")),
        link_suffices=True,
        url="https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode",
        version="Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International Public License (legal code "
        "version 4.0)",
        clauses=(
            (
                "copy_required",
                Clause(
                    "§3(a)(1)(C)",
                    "indicate the Licensed Material is licensed under this Public "
                    "License, and include the text of, or the URI or hyperlink to, this Public "
                    "License",
                ),
            ),
            ("mark_modifications", Clause("§3(a)(1)(B)", "indicate if You modified the Licensed Material")),
            (
                "relicense",
                Clause(
                    "§3(b)(1)",
                    "The Adapter's License You apply must be a Creative Commons license "
                    "with the same License Elements, this version or later, or a BY-NC-SA Compatible "
                    "License",
                ),
            ),
            (
                "commercial",
                Clause(
                    "§1(k)",
                    "not primarily intended for or directed towards commercial advantage or monetary compensation",
                ),
            ),
        ),
    ),
)

BY_ID: dict[str, License] = {lic.id: lic for lic in LICENSES}
