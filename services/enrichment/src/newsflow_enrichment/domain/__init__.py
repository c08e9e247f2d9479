from .entities import ENTITIES
from .keywords import KEYWORDS
from .language import language_enricher
from .pipeline import Enricher
from .resources import gazetteer, term_stats
from .signature import SIGNATURE
from .subjects import SUBJECTS
from .summaries import SUMMARY, TEASER
from .text import TEXT

DEFAULT_LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pt")


def build_enrichers(languages: tuple[str, ...] | list[str] = DEFAULT_LANGUAGES) -> tuple[Enricher, ...]:
    """The pipeline, in order: later enrichers read what earlier ones derived. Loads the
    statistics and gazetteers now, so that the first article does not wait for them."""
    term_stats()
    gazetteer()
    return (
        TEXT,
        language_enricher(list(languages)),
        TEASER,
        SUMMARY,
        KEYWORDS,
        ENTITIES,
        SUBJECTS,
        SIGNATURE,
    )
