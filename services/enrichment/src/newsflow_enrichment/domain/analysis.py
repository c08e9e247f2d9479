"""Sentences and word tokens of an article's plain text, computed once per text and shared
by the enrichers that read them (teaser, summary, keywords, entities, signature)."""

import re
from dataclasses import dataclass
from functools import lru_cache

from newsflow_contracts.events import ArticleContent

from .pipeline import Derived
from .resources import word_set

ABBREVIATIONS = word_set(
    "mr mrs ms dr st jr sr prof gen col lt sgt capt rev hon gov sen rep vs etc inc ltd co corp "
    "no jan feb mar apr jun jul aug sep sept oct nov dec fig approx est dept univ"
)
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")
_TOKEN = re.compile(r"([^\W\d_][\w&]*(?:['’.\-][^\W_][\w&]*)*)|(\S)")
_POSSESSIVE = ("'s", "’s")


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    """As written, without a possessive 's."""
    lower: str
    capital: bool
    """Starts with a capital letter."""
    initial: bool
    """First word of its sentence (or of a quotation or clause opened inside it)."""
    joined: bool
    """Follows the previous word of the sentence with nothing but a space between them."""


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start: int
    """Offset of the sentence in the analysed text."""
    paragraph: int
    words: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class Analysis:
    text: str
    sentences: tuple[Sentence, ...]

    @property
    def words(self) -> list[Word]:
        return [w for s in self.sentences for w in s.words]


def split_sentences(paragraph: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs; a full stop after an abbreviation or an initial ends nothing."""
    found: list[tuple[int, str]] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        before = paragraph[start : match.start()].rsplit(None, 1)
        last = before[-1].lower().rstrip(".") if before else ""
        if paragraph[match.start()] == "." and (last in ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            continue
        found.append((start, paragraph[start : match.start() + len(match.group(0).rstrip())]))
        start = match.end()
    if start < len(paragraph) and paragraph[start:].strip():
        found.append((start, paragraph[start:].rstrip()))
    return found


def tokenize(sentence: str) -> tuple[Word, ...]:
    words: list[Word] = []
    initial = True
    joined = False
    for match in _TOKEN.finditer(sentence):
        text = match.group(1)
        if text is None:
            mark = match.group(2)
            if mark == "." and words and (words[-1].lower in ABBREVIATIONS or len(words[-1].text) == 1):
                continue
            joined = False
            opening = match.start() == 0 or sentence[match.start() - 1].isspace()
            if mark in ":“‘(;—–" or (mark in "\"'" and opening):
                initial = True
            continue
        possessive = text.endswith(_POSSESSIVE) and len(text) > 3
        if possessive:
            text = text[:-2]
        words.append(Word(text, text.lower(), text[0].isupper(), initial, joined))
        joined = not possessive
        initial = False
    return tuple(words)


@lru_cache(maxsize=32)
def analyse(text: str) -> Analysis:
    sentences: list[Sentence] = []
    offset = 0
    for number, match in enumerate(_paragraph_spans(text)):
        offset, paragraph = match
        for start, sentence in split_sentences(paragraph):
            sentences.append(Sentence(sentence, offset + start, number, tokenize(sentence)))
    return Analysis(text, tuple(sentences))


def _paragraph_spans(text: str) -> list[tuple[int, str]]:
    spans: list[tuple[int, str]] = []
    start = 0
    for match in _PARAGRAPHS.finditer(text):
        if text[start : match.start()].strip():
            spans.append((start, text[start : match.start()]))
        start = match.end()
    if text[start:].strip():
        spans.append((start, text[start:]))
    return spans


def article_text(content: ArticleContent, derived: Derived) -> str:
    headline = " ".join(content.headline.split())
    return f"{headline}\n\n{derived.get('plain_text') or ''}"


def english_or_unknown(content: ArticleContent, derived: Derived) -> bool:
    """The statistics and gazetteers are English: other languages get no keywords or entities."""
    language = content.language or derived.get("language")
    return language is None or language.lower().split("-")[0] == "en"
