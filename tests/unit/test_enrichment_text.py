from datetime import UTC, datetime

from newsflow_contracts.events import ArticleContent
from newsflow_enrichment.domain.pipeline import Enricher, enrich, pipeline_version
from newsflow_enrichment.domain.text import TEXT, html_to_text, reading_time_minutes, word_count

NOW = datetime(2026, 11, 28, tzinfo=UTC)
DEFAULT_ENRICHERS = (TEXT,)
BODY = (
    "<p>The harbour authority said on <strong>Monday</strong> that the old swing bridge "
    "would reopen to traffic after <a href='https://example.org'>eight months</a> of repairs.</p>"
    "<blockquote><p>It is a great day for the east side,</p></blockquote>"
    "<ul><li>Cyclists get a new lane.</li><li>Buses return on Friday.</li></ul>"
)


def content(body: str = BODY) -> ArticleContent:
    return ArticleContent(headline="Bridge reopens", body_html=body, first_created=NOW, updated=NOW)


def test_html_to_text_keeps_paragraphs_and_drops_inline_markup() -> None:
    assert html_to_text(BODY) == (
        "The harbour authority said on Monday that the old swing bridge would reopen to "
        "traffic after eight months of repairs.\n\n"
        "It is a great day for the east side,\n\n"
        "Cyclists get a new lane.\n\nBuses return on Friday."
    )


def test_word_count_counts_hyphenated_apostrophe_and_number_words_once() -> None:
    assert word_count("The mayor’s well-known plan, in 2 parts.") == 7


def test_reading_time_is_at_least_one_minute_at_230_words_a_minute() -> None:
    assert reading_time_minutes(0) == 1
    assert reading_time_minutes(230) == 1
    assert reading_time_minutes(231) == 2


def test_pipeline_records_provenance_for_each_field() -> None:
    result = enrich(content(), DEFAULT_ENRICHERS)
    assert result.word_count == 38
    assert result.reading_time_minutes == 1
    (run,) = result.runs
    assert (run.enricher, run.version, run.error) == ("text", "1", None)
    assert run.fields == ["plain_text", "reading_time_minutes", "word_count"]


def test_a_failing_enricher_is_recorded_and_the_others_still_run() -> None:
    def explode(_c: object, _d: object) -> dict[str, object]:
        raise RuntimeError("model missing")

    broken = Enricher(name="broken", version="0", run=explode)
    result = enrich(content(), (broken, *DEFAULT_ENRICHERS))
    assert result.word_count == 38
    assert result.runs[0].error == "RuntimeError: model missing"
    assert result.runs[0].fields == []
    assert pipeline_version((broken, *DEFAULT_ENRICHERS)) == "broken@0+text@1"
