"""Subjects: a normalised tag set with stable ids, from the entities and keywords:
`urn:newsflow:subject:<kind>:<slug>`, the slug being the ASCII-folded, hyphenated name
('Tony Blair' -> person:tony-blair, 'interest rates' -> topic:interest-rates). Topics are the
top keywords that are not already an entity's name or part of one."""

import re

from newsflow_contracts.events import ArticleContent, Entity, Keyword, Subject, SubjectKind

from .pipeline import Derived, Enricher
from .resources import fold

MAX_ENTITY_SUBJECTS = 8
MAX_TOPICS = 4
MIN_TOPIC_SCORE = 0.25
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def subject_id(kind: SubjectKind, name: str) -> str:
    slug = _NOT_SLUG.sub("-", fold(name).replace("&", " and ")).strip("-") or "x"
    return f"urn:newsflow:subject:{kind}:{slug}"


def subjects(entities: list[Entity], keywords: list[Keyword]) -> list[Subject]:
    found: dict[str, Subject] = {}
    top = max((e.count for e in entities), default=1)
    for entity in entities[:MAX_ENTITY_SUBJECTS]:
        sid = subject_id(entity.kind, entity.name)
        relevance = round(100 * entity.count / top)
        if sid not in found:
            found[sid] = Subject(id=sid, name=entity.name, kind=entity.kind, relevance=relevance)
    named = {word for e in entities for word in fold(e.name).split()}
    topics = 0
    for keyword in keywords:
        words = fold(keyword.term).split()
        if topics >= MAX_TOPICS or keyword.score < MIN_TOPIC_SCORE:
            break
        if any(w in named for w in words) or keyword.term[:1].isupper():
            continue
        sid = subject_id("topic", keyword.term)
        if sid not in found:
            found[sid] = Subject(
                id=sid, name=keyword.term.lower(), kind="topic", relevance=round(100 * keyword.score)
            )
            topics += 1
    return sorted(found.values(), key=lambda s: -s.relevance)


def _subjects(content: ArticleContent, derived: Derived) -> Derived:
    entities: list[Entity] = derived.get("entities") or []
    keywords: list[Keyword] = derived.get("keywords") or []
    if not entities and not keywords:
        return {}
    return {"subjects": subjects(entities, keywords)}


SUBJECTS = Enricher(name="subjects", version="1", run=_subjects)
