"""Named entities by rules over capitalised word sequences:

1. a candidate is a run of capitalised words, joined by 'of', 'for', 'de', 'van' and the like
   ('Bank of England'); a sentence's first word is dropped when the corpus mostly writes it in
   lower case ('Analysts', 'But');
2. leading titles and roles make a person and are dropped ('Prime Minister Tony Blair');
3. the gazetteers name places and organisations (with aliases: 'Tories' is the Conservative
   Party); a last word like 'Bank', 'Council' or 'United' makes an organisation, 'Street' or
   'River' a place; a known given name first makes a person;
4. within the article, 'Mr Blair' and 'Blair' resolve to 'Tony Blair'; an unknown name whose
   last word is later used alone is a person, as news writing introduces people.

Headline capitals are unreliable (title case), so a headline candidate counts only when the
gazetteers know it or the body names it too."""

from dataclasses import dataclass, field

from newsflow_contracts.events import ArticleContent, Entity, EntityKind

from .analysis import Analysis, Word, analyse, article_text, english_or_unknown
from .pipeline import Derived, Enricher
from .resources import (
    NOT_NAMES,
    STOPWORDS,
    TITLES,
    Gazetteer,
    TermStats,
    fold,
    gazetteer,
    term_stats,
    word_set,
)

MAX_ENTITIES = 25
CONNECTORS = word_set("of for de del della da do dos van von der den &")
ORGANISATION_LAST = word_set(
    "bank banks party council office department ministry commission committee agency association "
    "union university college school institute corporation corp group holdings inc ltd plc llc ag "
    "sa nv company co airlines airways motors records studios pictures entertainment united city "
    "rovers athletic wanderers albion county fc club foundation trust service services network "
    "networks telecom telecoms communications media press times post herald telegraph guardian "
    "observer mirror express journal magazine television tv radio police army navy force forces "
    "court board authority federation society church parliament assembly government administration "
    "exchange fund reserve systems technologies technology software electronics pharmaceuticals "
    "energy oil petroleum gas steel motor airline bros brothers partners capital securities "
    "investments labs laboratories games channel organisation organization movement alliance "
    "coalition front brigade academy museum hospital institution industries international "
    "foods stores airport railways rail trains tribunal inquiry senate congress cabinet executive "
    "ministries boards forum centre center shipyards shipyard shipbuilders mutual harriers library "
    "observatory theatre cathedral gallery hall"
)
ORGANISATION_FIRST = word_set(
    "bank university department ministry institute church house office court academy college "
    "museum school society board council association federation union royal national"
)
PEOPLE_OF = ("ians", "eans", "ers")
"""'Londoners West Ham', 'Australians Lleyton Hewitt': a people before a name."""
DEMONYM_ENDINGS = ("ian", "ians", "ean", "eans", "ese", "ish", "ers")
PLACE_PREPOSITIONS = word_set("in near across around outside")
PLACE_FIRST = word_set("river lake mount isle cape fort gulf port loch glen")
PLACE_LAST = word_set(
    "street road avenue lane square river lake mountain mountains island islands county province "
    "valley bay hill hills bridge strait sea ocean coast peninsula desert forest heath "
    "harbour park head point sands beach pier quay wharf dock docks"
)
EVENT_WORDS = word_set(
    "cup league championship championships open games olympics awards award prize prizes "
    "festival tournament trophy series final finals grand prix marathon day week year act bill "
    "show oscars oscar grammy grammys baftas bafta brits golden globe globes nations"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    kind: EntityKind | None
    known: bool = False
    titled: bool = False
    person_like: bool = False


@dataclass
class Mention:
    name: str
    kind: EntityKind | None
    count: int = 0
    first: int = 0
    in_body: bool = False
    known: bool = False
    titled: bool = False
    person_like: bool = False
    place_votes: int = 0
    """Mentions after 'in', 'near', 'across'..."""
    alone: bool = False
    """Also written as one capitalised word on its own."""
    words: list[str] = field(default_factory=list)


def _known_start(run: list[Word], names: Gazetteer) -> bool:
    """'New Zealand', 'United Nations': a first word that belongs to a name the gazetteers know."""
    for size in (2, 3, 4):
        key = fold(" ".join(w.text for w in run[:size]))
        if len(run) >= size and (key in names.places or key in names.organisations):
            return True
    return False


def _sequences(analysis: Analysis, stats: TermStats, names: Gazetteer) -> list[tuple[int, bool, list[Word]]]:
    """(paragraph, after a place preposition, words) of every capitalised run."""
    found: list[tuple[int, bool, list[Word]]] = []
    for sentence in analysis.sentences:
        words = sentence.words
        i = 0
        while i < len(words):
            if not words[i].capital or stats.is_contraction(words[i].lower):
                i += 1
                continue
            run = [words[i]]
            j = i + 1
            while j < len(words) and words[j].joined:
                word = words[j]
                if word.capital or (
                    word.lower in CONNECTORS
                    and j + 1 < len(words)
                    and words[j + 1].joined
                    and words[j + 1].capital
                ):
                    run.append(word)
                else:
                    break
                j += 1
            first = run[0]
            if (
                first.initial
                and first.lower not in TITLES
                and stats.is_common_word(first.lower)
                and not _known_start(run, names)
            ):
                run = run[1:]
            while run and (run[0].lower in CONNECTORS or _described(run[0])):
                run = run[1:]  # 'Bracknell-based Exel', 'DHL-owner Deutsche Post'
            if run and not (len(run) == 1 and (run[0].lower in NOT_NAMES or len(run[0].text) == 1)):
                before = words[i - 1] if i and words[i].joined else None
                found.append(
                    (sentence.paragraph, before is not None and before.lower in PLACE_PREPOSITIONS, run)
                )
            i = j
    return found


def _described(word: Word) -> bool:
    head, _, tail = word.text.rpartition("-")
    return bool(head) and tail.islower()


def _split_titles(words: list[Word]) -> tuple[list[Word], list[Word]]:
    """(before, name) around the last block of titles that a name follows: 'Home Office
    Minister Hazel Blears' -> (Home Office, Hazel Blears), 'Secretary of Energy Spencer
    Abraham' -> ([], Spencer Abraham); ([], words) when there is none."""
    found: tuple[int, int] | None = None
    i = 0
    while i < len(words):
        if words[i].lower not in TITLES:
            i += 1
            continue
        j = i + 1
        while j < len(words):
            if words[j].lower in TITLES:
                j += 1
            elif words[j].lower in CONNECTORS and j + 2 < len(words):
                j += 2  # 'Secretary of State', 'Minister for Sport'
            else:
                break
        if j < len(words):
            found = (i, j)
        i = j
    if found is None:
        return [], words
    return words[: found[0]], words[found[1] :]


def _classify(words: list[Word], names: Gazetteer, stats: TermStats) -> list[Candidate]:
    """The names in a capitalised run, with their kind (None when undecided)."""
    text = " ".join(w.text for w in words)
    key = fold(text)
    if key in names.places:
        return [Candidate(names.places[key], "place", known=True)]
    if key in names.organisations:
        return [Candidate(names.organisations[key], "organisation", known=True)]
    lowers = [w.lower for w in words]
    if len(words) > 1 and (lowers[-1] in ORGANISATION_LAST or lowers[0] in ORGANISATION_FIRST):
        return [Candidate(text, "organisation")]
    if (
        lowers[0] in NOT_NAMES
        or len(words[0].text) == 1
        or (len(words) > 1 and lowers[0].endswith(PEOPLE_OF))
    ):
        return _classify(words[1:], names, stats) if len(words) > 1 else []  # 'British', 'Monday'
    if any(w in ("of", "for", "&") for w in lowers):  # 'The Diary of Alicia Keys': two names
        parts: list[list[Word]] = [[]]
        for word in words:
            if word.lower in ("of", "for", "&"):
                parts.append([])
            else:
                parts[-1].append(word)
        return [c for part in parts if part for c in _classify(part, names, stats)]
    before, name = _split_titles(words)
    if len(name) < len(words):
        found = _classify(before, names, stats) if before else []
        person = " ".join(w.text for w in name)
        if fold(person) in names.places or fold(person) in names.organisations:
            return found + _classify(name, names, stats)
        return [*found, Candidate(person, "person", titled=True)]
    if any(w in EVENT_WORDS for w in lowers):
        return []
    if len(words) > 1 and (lowers[-1] in PLACE_LAST or lowers[0] in PLACE_FIRST):
        return [Candidate(text, "place")]
    if any(w in STOPWORDS for w in lowers):
        return [Candidate(text, None)]  # 'Meet The Fockers'
    if 1 < len(words) <= 4 and words[0].text in names.given_names:
        return [Candidate(text, "person")]
    if (
        1 < len(words) <= 3
        and words[0].lower not in stats.idf
        and not any(w.text.isupper() or stats.is_common_word(w.lower) for w in words)
    ):
        return [Candidate(text, None, person_like=True)]  # a first name the corpus does not know
    return [Candidate(text, None)]


def extract(analysis: Analysis, stats: TermStats, names: Gazetteer) -> list[Entity]:
    mentions: dict[str, Mention] = {}
    for position, (paragraph, after_in, run) in enumerate(_sequences(analysis, stats, names)):
        if len(run) == 1 and run[0].lower in TITLES:
            continue
        for candidate in _classify(run, names, stats):
            key = fold(candidate.name)
            mention = mentions.get(key)
            if mention is None:
                mention = Mention(
                    candidate.name, candidate.kind, first=position, words=candidate.name.split()
                )
                mentions[key] = mention
            mention.count += 1
            mention.in_body = mention.in_body or paragraph > 0
            mention.known = mention.known or candidate.known
            mention.titled = mention.titled or candidate.titled
            mention.person_like = mention.person_like or candidate.person_like
            if mention.kind is None:
                mention.kind = candidate.kind
            if len(run) == 1 and not run[0].initial:
                mention.alone = True
            mention.place_votes += after_in
    return _resolve(mentions, stats)


def _resolve(mentions: dict[str, Mention], stats: TermStats) -> list[Entity]:
    singles = {m.words[0]: m for m in mentions.values() if len(m.words) == 1}
    # "Arsene Wenger ... Wenger said": a name whose last word stands alone later is a person
    for mention in mentions.values():
        last = singles.get(mention.words[-1])
        if (
            len(mention.words) > 1
            and mention.kind is None
            and last is not None
            and last.kind != "place"
            and not stats.is_common_word(last.words[0].lower())
            and not any(w.lower() in STOPWORDS for w in mention.words)
        ):
            mention.kind = "person"
    people_by_name: dict[str, list[Mention]] = {}
    for mention in mentions.values():
        if mention.kind == "person" and len(mention.words) > 1:
            people_by_name.setdefault(mention.words[-1], []).append(mention)
    for mention in mentions.values():
        if mention.kind == "person" and len(mention.words) > 1 and mention.words[0] not in people_by_name:
            people_by_name.setdefault(mention.words[0], []).append(mention)  # "Elvis" for Elvis Presley
    organisations_by_name: dict[str, list[Mention]] = {}
    for mention in mentions.values():
        if mention.kind == "organisation" and len(mention.words) > 1:
            organisations_by_name.setdefault(mention.words[-1], []).append(mention)
    for word, single in singles.items():
        full = [m for m in people_by_name.get(word, []) if m is not single]
        if not full and single.kind in (None, "organisation") and not single.known:
            full = organisations_by_name.get(word, [])  # "Rovers" for Harbourton Rovers
        if len(full) == 1 and single.kind in (None, full[0].kind):
            full[0].count += single.count
            full[0].in_body = full[0].in_body or single.in_body
            single.count = 0
    entities: list[Entity] = []
    for mention in sorted(mentions.values(), key=lambda m: (-m.count, m.first)):
        if mention.count == 0 or not (mention.in_body or mention.known):
            continue
        kind = mention.kind
        if kind is None and len(mention.words) == 1:
            word = mention.words[0]
            if word.isupper() and 2 <= len(word) <= 6 and mention.count >= 2:
                kind = "organisation"  # an acronym the gazetteer does not know: NHS, WPP
            elif mention.place_votes and mention.place_votes * 2 >= mention.count:
                kind = "place"  # mostly "in Harbourton", "across Harbourton"
            elif word.lower().endswith(DEMONYM_ENDINGS):
                pass  # 'Egyptian', 'Londoners': people of a place, not a name
            elif mention.count >= 2 and mention.alone and stats.capital_share.get(word.lower(), 100) >= 90:
                kind = "organisation"  # a recurring name that is no one's surname: Absa, Barclays
        elif kind is None and mention.count >= 2:
            person = mention.person_like and mention.words[0] not in singles  # not "Harbourton Observatory"
            kind = "person" if person else "organisation"
        if kind is not None:
            entities.append(Entity(name=mention.name, kind=kind, count=mention.count))
    return entities[:MAX_ENTITIES]


def _entities(content: ArticleContent, derived: Derived) -> Derived:
    if not english_or_unknown(content, derived):
        return {}
    analysis = analyse(article_text(content, derived))
    return {"entities": extract(analysis, term_stats(), gazetteer())}


ENTITIES = Enricher(name="entities", version="1", run=_entities)
