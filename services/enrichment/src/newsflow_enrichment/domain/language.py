"""Language detection, offline, among a configured set of languages: lingua's n-gram
models in low-accuracy mode (trigrams only: about 15 MB for seven languages), on the headline
and the first 600 characters of the body."""

from collections.abc import Callable

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
from newsflow_contracts.events import ArticleContent

from .pipeline import Derived, Enricher

SAMPLE_CHARS = 600
MIN_CHARS = 20


def detector(languages: list[str]) -> Callable[[str], Language | None]:
    """From ISO 639-1 codes, e.g. ['en', 'fr']; a code lingua does not know is refused."""
    chosen = {Language.from_iso_code_639_1(IsoCode639_1.from_str(code.strip().lower())) for code in languages}
    if not chosen:
        raise ValueError("no language configured")
    if len(chosen) == 1:
        (only,) = chosen
        return lambda _text: only
    built = (
        LanguageDetectorBuilder.from_languages(*chosen)
        .with_low_accuracy_mode()
        .with_preloaded_language_models()
        .build()
    )
    return built.detect_language_of


def language_enricher(languages: list[str]) -> Enricher:
    detect = detector(languages)

    def _language(content: ArticleContent, derived: Derived) -> Derived:
        sample = f"{content.headline}\n{(derived.get('plain_text') or '')[:SAMPLE_CHARS]}"
        if len(sample.strip()) < MIN_CHARS:
            return {}
        language = detect(sample)
        return {"language": language.iso_code_639_1.name.lower()} if language else {}

    return Enricher(name="language", version="1", run=_language)
