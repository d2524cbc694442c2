"""Titles in Chinese, English or both: operators in Shandong read Chinese, integrators often
English. A `Text` holds both; the build's language picks how it is rendered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["zh", "en", "both"]
LANGUAGES: tuple[Language, ...] = ("zh", "en", "both")


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def render(self, language: Language) -> str:
        if language == "zh":
            return self.zh
        if language == "en":
            return self.en
        return f"{self.zh} · {self.en}"

    def format(self, **values: object) -> Text:
        """Both texts with `{name}` fields filled (each text may use any of them)."""
        return Text(self.zh.format(**values), self.en.format(**values))


def t(zh: str, en: str) -> Text:
    return Text(zh, en)
