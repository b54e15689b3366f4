"""Small value types shared by the normalization stages (own module, so stages import it instead of each other)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rename:
    """One source tensor mapped to a canonical name, with the rule that did it and how sure it is."""

    from_: str
    to: str
    rule: str
    confidence: str = "high"  # high | medium | low

    def as_dict(self) -> dict[str, str]:
        return {"from": self.from_, "to": self.to, "rule": self.rule, "confidence": self.confidence}


@dataclass
class Assignment:
    """A source tensor given a role (before layouts are applied)."""

    source: str
    role: str
    layer: int | None
    rule: str
    confidence: str = "high"
    suffix: str = ""  # adapter suffix such as ".lora_A.weight"
