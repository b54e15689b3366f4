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

    def source_of(self, fact: str) -> str:
        by_fact = dict(self.sources)
        return by_fact.get(fact, by_fact.get("*", ""))

    @property
    def permits_commercial(self) -> bool:
        return not self.non_commercial


def _meta(version: str, hf: str, scancode: str, title: str, version_line: str, notice: str, *,
          display: tuple[str, ...] = (), prefix: str | None = None, policy_url: str | None = None,
          outputs: str, extra_pass_through: str = "") -> License:
    """A Meta Llama community license (2, 3, 3.x, 4): the common terms are the same across versions [S1]."""
    return License(
        id=hf,
        name=f"{version} Community License",
        hf_license=hf,
        hf_license_name=None,
        aliases=(hf.replace(".", "_"), hf.replace("llama", "llama-"), f"{hf}-community-license"),
        spdx=f"LicenseRef-scancode-{scancode}",
        signature=TextSignature(
            title=re.escape(title), version=re.escape(version_line),
            sample=f"{title}\n{version_line}\n\"Agreement\" means the terms and conditions …\n"),
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
    )


_EU = "; multimodal models grant no rights to individuals or companies domiciled in the EU"
_LLAMA31_OUTPUTS = "allowed; a model trained on outputs and distributed must carry the naming and display duties"

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
            sample="LLaMA LICENSE AGREEMENT\nThis License Agreement … applies to your use of … the Software …\n"),
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
    ),
    _meta("Llama 2", "llama2", "llama-2-license-2023",
          "LLAMA 2 COMMUNITY LICENSE AGREEMENT", "Llama 2 Version Release Date: July 18, 2023",
          "Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. "
          "All Rights Reserved.",
          policy_url="https://ai.meta.com/llama/use-policy",
          outputs="may not be used to improve any other large language model (except Llama 2 derivatives)"),
    _meta("Meta Llama 3", "llama3", "llama-3-license-2024",
          "META LLAMA 3 COMMUNITY LICENSE AGREEMENT", "Meta Llama 3 Version Release Date: April 18, 2024",
          "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms, Inc. "
          "All Rights Reserved.",
          display=("Built with Meta Llama 3",), prefix="Llama 3",
          policy_url="https://llama.meta.com/llama3/use-policy",
          outputs="may not be used to improve any other large language model (except Llama 3 derivatives)"),
    _meta("Llama 3.1", "llama3.1", "llama-3.1-license-2024",
          "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT", "Llama 3.1 Version Release Date: July 23, 2024",
          "Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © Meta Platforms, Inc. "
          "All Rights Reserved.",
          display=("Built with Llama",), prefix="Llama",
          policy_url="https://llama.meta.com/llama3_1/use-policy", outputs=_LLAMA31_OUTPUTS),
    _meta("Llama 3.2", "llama3.2", "llama-3.2-license-2024",
          "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT", "Llama 3.2 Version Release Date: September 25, 2024",
          "Llama 3.2 is licensed under the Llama 3.2 Community License, Copyright © Meta Platforms, Inc. "
          "All Rights Reserved.",
          display=("Built with Llama",), prefix="Llama",
          policy_url="https://www.llama.com/llama3_2/use-policy", outputs=_LLAMA31_OUTPUTS, extra_pass_through=_EU),
    _meta("Llama 3.3", "llama3.3", "llama-3.3-license-2024",
          "LLAMA 3.3 COMMUNITY LICENSE AGREEMENT", "Llama 3.3 Version Release Date: December 6, 2024",
          "Llama 3.3 is licensed under the Llama 3.3 Community License, Copyright © Meta Platforms, Inc. "
          "All Rights Reserved.",
          display=("Built with Llama",), prefix="Llama",
          policy_url="https://www.llama.com/llama3_3/use-policy", outputs=_LLAMA31_OUTPUTS, extra_pass_through=_EU),
    _meta("Llama 4", "llama4", "llama-4-license-2025",
          "LLAMA 4 COMMUNITY LICENSE AGREEMENT", "Llama 4 Version Effective Date: April 5, 2025",
          "Llama 4 is licensed under the Llama 4 Community License, Copyright © Meta Platforms, Inc. "
          "All Rights Reserved.",
          display=("Built with Llama",), prefix="Llama",
          policy_url="https://www.llama.com/llama4/use-policy", outputs=_LLAMA31_OUTPUTS, extra_pass_through=_EU),
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
            sample="Gemma Terms of Use\nLast modified: March 24, 2025\nBy using, reproducing, modifying …\n"),
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
    ),
    License(
        id="tongyi-qianwen",
        name="Tongyi Qianwen License Agreement",
        hf_license="other",
        hf_license_name="tongyi-qianwen",
        aliases=("tongyi-qianwen-license", "tongyi-qianwen-license-agreement", "qianwen",
                 "tongyi-qianwen-research"),
        spdx="LicenseRef-scancode-tongyi-qianwen-2023",
        signature=TextSignature(
            title=r"Tongyi Qianwen LICENSE AGREEMENT",
            sample="Tongyi Qianwen LICENSE AGREEMENT\nTongyi Qianwen Release Date: August 3, 2023\n"),
        copy_required=True,
        notice="Tongyi Qianwen is licensed under the Tongyi Qianwen LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. "
               "All Rights Reserved.",
        notice_file="NOTICE",
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="export controls apply",
        commercial="licensees above 100M monthly active users need a license from Alibaba Cloud",
        non_commercial=False,
        outputs_for_training="outputs may not be used to improve other large language models",
        relicense=Relicense.NO,
        mark_modifications=False,
        family="qwen",
        sources=(("*", "S4"),),
    ),
    License(
        id="qwen",
        name="Qwen License Agreement",
        hf_license="other",
        hf_license_name="qwen",
        aliases=("qwen-license", "qwen-license-agreement"),
        spdx="LicenseRef-scancode-qwen-2024",
        signature=TextSignature(
            title=r"Qwen LICENSE AGREEMENT", version=r"Release Date: September 19, 2024",
            exclude=(r"Qwen RESEARCH LICENSE AGREEMENT",),
            sample="Qwen LICENSE AGREEMENT\nQwen LICENSE AGREEMENT Release Date: September 19, 2024\n"),
        copy_required=True,
        notice="Qwen is licensed under the Qwen LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. All Rights Reserved.",
        notice_file="NOTICE",
        display=("Built with Qwen", "Improved using Qwen"),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="export controls apply",
        commercial="licensees above 100M monthly active users need a license from Alibaba Cloud",
        non_commercial=False,
        outputs_for_training="allowed; a distributed model trained on Qwen or its outputs must display "
                             "\"Built with Qwen\" or \"Improved using Qwen\"",
        relicense=Relicense.NO,
        mark_modifications=False,
        family="qwen",
        sources=(("*", "S4"),),
    ),
    License(
        id="qwen-research",
        name="Qwen Research License Agreement",
        hf_license="other",
        hf_license_name="qwen-research",
        aliases=("qwen-research-license", "qwen-research-license-agreement"),
        spdx="LicenseRef-qwen-research-2024",  # no ScanCode key listed in licenses.md
        signature=TextSignature(
            title=r"Qwen RESEARCH LICENSE AGREEMENT", version=r"Release Date: September 19, 2024",
            sample="Qwen RESEARCH LICENSE AGREEMENT\nQwen RESEARCH LICENSE AGREEMENT Release Date: "
                   "September 19, 2024\n"),
        copy_required=True,
        notice="Qwen is licensed under the Qwen RESEARCH LICENSE AGREEMENT, Copyright (c) Alibaba Cloud. "
               "All Rights Reserved.",
        notice_file="NOTICE",
        display=(),
        name_prefix=None,
        use_policy_file=None,
        use_policy_url=None,
        pass_through="non-commercial use only",
        commercial="non-commercial only",
        non_commercial=True,
        outputs_for_training="non-commercial only",
        relicense=Relicense.NO,
        mark_modifications=False,
        family="qwen",
        sources=(("*", "S7"),),
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
            sample="# Mistral AI Research License\nIf You want to use a Mistral Model … for research purposes …\n"),
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
        relicense=Relicense.NO,
        mark_modifications=True,
        family="mistral",
        sources=(("*", "S9"),),
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
            sample="# Mistral AI Non-Production License\n1. Scope and acceptance …\n"),
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
    ),
    License(
        id="yi-license",
        name="Yi Series Models Community License Agreement v2.1",
        hf_license="other",
        hf_license_name="yi-license",
        aliases=("yi", "yi-community-license", "yi-series-models-community-license"),
        spdx="LicenseRef-yi-community-license-2.1",
        signature=TextSignature(
            title=r"Yi Series Models Community License Agreement", version=r"Version:? 2\.1",
            sample="Yi Series Models Community License Agreement\nVersion: 2.1\n"),
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
    ),
    License(
        id="deepseek",
        name="DeepSeek License Agreement v1.0",
        hf_license="other",
        hf_license_name="deepseek",
        aliases=("deepseek-license", "deepseek-license-agreement", "deepseek-model-license"),
        spdx="LicenseRef-scancode-deepseek-la-1.0",
        signature=TextSignature(
            title=r"DEEPSEEK LICENSE AGREEMENT", version=r"Version 1\.0",
            sample="DEEPSEEK LICENSE AGREEMENT\nVersion 1.0, 23 October 2023\n"),
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
    ),
    License(
        id="falcon-llm-license",
        name="Falcon 2 11B TII License 1.0",
        hf_license="other",
        hf_license_name="falcon-llm-license",
        aliases=("falcon-2-11b-tii-license", "tii-falcon-llm-license", "falcon-llm"),
        spdx="LicenseRef-scancode-falcon-2-11b-1.0",
        signature=TextSignature(
            title=r"Falcon 2 11B TII License", version=r"Version 1\.0",
            sample="Falcon 2 11B TII License Version 1.0\n"),
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
    ),
    License(
        id="openrail-m",
        name="OpenRAIL-M family (BigScience, CreativeML, BigCode, OpenRAIL++)",
        hf_license="bigscience-openrail-m",
        hf_license_name=None,
        aliases=("bigscience-openrail-m", "creativeml-openrail-m", "openrail", "openrail++",
                 "bigcode-openrail-m", "bigscience-bloom-rail-1.0", "openrail-m"),
        spdx="LicenseRef-scancode-bigscience-open-rail-m",
        signature=TextSignature(
            title=r"(?:Open RAIL(?:\+\+)?-M|RAIL License)",
            version=r"(?:dated|License v1\.0|version 1\.0|v1|August \d+, 2022|November 24, 2022)",
            sample="BigScience Open RAIL-M License\ndated August 18, 2022\nSection I: PREAMBLE\n"),
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
    ),
    License(
        id="apache-2.0",
        name="Apache License 2.0",
        hf_license="apache-2.0",
        hf_license_name=None,
        aliases=("apache2", "apache-2", "apache 2.0", "apache license 2.0", "apache-2.0-license"),
        spdx="Apache-2.0",
        signature=TextSignature(
            title=r"Apache License", version=r"Version 2\.0, January 2004",
            sample="Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n"),
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
                   "person obtaining a copy …\n"),
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
            sample="Attribution 4.0 International\nCreative Commons Attribution 4.0 International Public License\n"),
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
                   "International Public License\n"),
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
    ),
)

BY_ID: dict[str, License] = {lic.id: lic for lic in LICENSES}
