"""The bundled language resources, loaded once per process: English stopwords, corpus term
statistics (document frequency, capitalisation) and gazetteers of places, organisations and
given names. `data/` holds the files; `scripts/build_term_stats.py` derives the statistics."""

import gzip
import math
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = word_set(
    """a about above across after afterwards again against all almost alone along already also
    although always am among amongst an and another any anybody anyone anything anyway anywhere
    are around as at back be became because become becomes been before beforehand behind being
    below beside besides between beyond both but by can cannot could did do does doing done down
    during each either else elsewhere enough etc even ever every everybody everyone everything
    everywhere except few for former formerly from further had has have having he hence her here
    hers herself him himself his how however i if in indeed into is it its itself just last
    latter least less let like made make makes many may me meanwhile might mine more moreover
    most mostly much must my myself namely neither never nevertheless next no nobody none noone
    nor not nothing now nowhere of off often on once one only onto or other others otherwise our
    ours ourselves out over own per perhaps quite rather really same see seem seemed seeming seems
    several she should since so some somehow someone something sometime sometimes somewhere still
    such than that the their theirs them themselves then thence there thereafter thereby therefore
    therein thereupon these they this those though through throughout thru thus to together too
    toward towards under until up upon us very via was we well were what whatever when whence
    whenever where whereafter whereas whereby wherein whereupon wherever whether which while whither
    who whoever whole whom whose why will with within without would yet you your yours yourself
    yourselves s t don didn doesn isn wasn weren won wouldn couldn shouldn hasn haven hadn aren ll
    ve re m y ok yes mr mrs ms miss dr sir said says say saying told tell tells added adding
    asked according including include includes included want wants wanted get gets got going go
    goes went come comes came took take takes taken put puts give gives given know known think
    thought use used using way ways thing things lot lots also year years month months week weeks
    day days today yesterday tomorrow time times number numbers per cent percent million millions
    billion billions thousand thousands hundred hundreds bn m one two three four five six seven
    eight nine ten first second third new old good best better big bigger biggest great greater
    high higher low lower long longer little small large largest last latest early earlier late
    later recent recently able likely unlikely expected set part end start started different
    people man men woman women officials official spokesman spokeswoman monday tuesday wednesday
    thursday friday saturday sunday january february march april june july august september october
    november december"""
)

NOT_NAMES = word_set(  # capitalised, but not names: days, months, adjectives of nationality
    "christmas easter ramadan internet web god net online english british french german spanish "
    "italian dutch portuguese european american african asian chinese japanese indian russian "
    "australian canadian irish scottish welsh israeli palestinian iraqi iranian arab muslim "
    "christian jewish catholic western eastern northern southern north south east west i "
    "aids hiv sars p2p vcr vcrs mms sms gprs ipo cfo dj r&b "
    "pc dvd cd tv mp3 ceo gdp mp mps mep meps msp msps monday tuesday wednesday thursday friday "
    "saturday sunday january february march april may june july august september october november "
    "december americans britons europeans africans asians australians canadians germans french "
    "italians spaniards russians chinese indians israelis palestinians iraqis iranians scots "
    "mondays tuesdays wednesdays thursdays fridays saturdays sundays dane danes swede swedes "
    "briton scot finn finns pole poles dutchman frenchman kazakh"
)

HONORIFICS = word_set(
    "mr mrs ms miss dr sir lord lady dame prof professor rev reverend president senator governor "
    "mayor councillor judge justice king queen prince princess pope sheikh ayatollah cardinal "
    "archbishop bishop father captain capt general gen colonel col lieutenant lt sergeant sgt "
    "detective inspector superintendent constable chancellor"
)
ROLES = word_set(
    "prime minister secretary foreign home deputy chief executive vice shadow ambassador "
    "commissioner coach manager boss chairman chairwoman chair director leader spokesman "
    "spokeswoman striker midfielder defender goalkeeper skipper star singer actor actress rapper "
    "economist analyst editor officer attorney state crown emperor chancellor president premier "
    "lady agent producer presenter host author writer founder owner sister brother "
    "minister mp mep msp peer"
)
TITLES = HONORIFICS | ROLES
"""Words before a name that make it a person's: honorifics and roles."""

CORPUS_COMMON_SHARE = 0.25
"""A word in more than this share of the corpus documents is too common to be a keyword."""


def _contraction(lower: str) -> str:
    return lower.replace("’", "'").split("'", 1)[0]


def fold(text: str) -> str:
    """Lower-case ASCII form of a name, for lookups and ids: 'Société Générale' -> 'societe generale'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return ascii_text.lower().replace("’", "'").replace(".", "")


@dataclass(frozen=True, slots=True)
class TermStats:
    documents: int
    idf: dict[str, float]
    capital_share: dict[str, int]
    """Per cent of a word's occurrences, not first in a sentence, written with a capital."""
    unseen_idf: float

    def is_common_word(self, lower: str) -> bool:
        """A word the corpus mostly writes in lower case ('analysts', 'but', 'shares', "i'll")."""
        head = lower.split("-", 1)[0]
        return (
            lower in STOPWORDS
            or 0 <= self.capital_share.get(lower, -1) < 50
            or self.is_contraction(lower)
            or (head != lower and (head in STOPWORDS or 0 <= self.capital_share.get(head, -1) < 50))
        )

    def is_contraction(self, lower: str) -> bool:
        """ "i'll", "we've": a stopword with a clitic."""
        return ("'" in lower or "’" in lower) and _contraction(lower) in STOPWORDS

    def too_common(self, lower: str) -> bool:
        return self.idf.get(lower, self.unseen_idf) < -math.log(CORPUS_COMMON_SHARE)


@dataclass(frozen=True, slots=True)
class Gazetteer:
    places: dict[str, str]
    """Folded name -> canonical name."""
    organisations: dict[str, str]
    given_names: frozenset[str]


def _lines(name: str) -> list[str]:
    text = files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _names(name: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _lines(name):
        alias, _, canonical = (part.strip() for part in line.partition("="))
        found[fold(alias)] = canonical or alias
        if canonical:
            found.setdefault(fold(canonical), canonical)
    return found


@cache
def term_stats() -> TermStats:
    raw = files(__package__).joinpath("data", "terms.tsv.gz").read_bytes()
    rows = gzip.decompress(raw).decode("utf-8").splitlines()
    documents = int(rows[0].split("\t")[1])
    idf: dict[str, float] = {}
    capital: dict[str, int] = {}
    for row in rows[1:]:
        term, df, share = row.split("\t")
        idf[term] = math.log(documents / int(df))
        if share != "-1":
            capital[term] = int(share)
    return TermStats(documents, idf, capital, unseen_idf=math.log(documents))


@cache
def gazetteer() -> Gazetteer:
    given = {n for line in _lines("given_names.txt") for n in line.split()}
    mined = {n for n in _lines("given_names.mined.txt") if len(n) > 2 and not n.isupper()}
    return Gazetteer(
        places=_names("places.txt"),
        organisations=_names("organisations.txt"),
        given_names=frozenset(given | mined),
    )
