"""Plain text, word count and reading time."""

import math
import re
from typing import Any

from newsflow_contracts.events import ArticleContent
from selectolax.lexbor import LexborHTMLParser

from .pipeline import Derived, Enricher

WORDS_PER_MINUTE = 230
BLOCK_TAGS = "p, h2, h3, h4, li, blockquote, figcaption, td, th, pre"
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def html_to_text(body_html: str) -> str:
    """Paragraphs separated by a blank line, inline markup dropped, spaces folded."""
    tree = LexborHTMLParser(body_html)
    root = tree.body
    if root is None:
        return ""
    blocks = [
        _SPACES.sub(" ", node.text(separator="")).strip()
        for node in root.css(BLOCK_TAGS)
        if not any(parent.tag in {"li", "blockquote", "td", "th"} for parent in _ancestors(node))
    ]
    blocks = [b for b in blocks if b]
    if not blocks:
        whole = _SPACES.sub(" ", root.text(separator=" ")).strip()
        return whole
    return "\n\n".join(blocks)


def _ancestors(node: Any) -> list[Any]:
    found = []
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html"):
        found.append(parent)
        parent = parent.parent
    return found


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def reading_time_minutes(words: int) -> int:
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


def _text(content: ArticleContent, _: Derived) -> Derived:
    plain = html_to_text(content.body_html)
    words = word_count(plain)
    return {
        "plain_text": plain,
        "word_count": words,
        "reading_time_minutes": reading_time_minutes(words),
    }


TEXT = Enricher(name="text", version="1", run=_text)
