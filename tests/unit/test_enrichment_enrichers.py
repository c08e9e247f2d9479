"""Each enricher on real prose: the bundled sample newsroom and short texts written here."""

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsflow_contracts.events import ArticleContent, Enrichment, Entity, Keyword
from newsflow_enrichment.domain import build_enrichers
from newsflow_enrichment.domain.analysis import analyse, split_sentences
from newsflow_enrichment.domain.entities import extract
from newsflow_enrichment.domain.keywords import keywords, terms_of
from newsflow_enrichment.domain.language import detector
from newsflow_enrichment.domain.pipeline import Enricher, enrich, pipeline_version
from newsflow_enrichment.domain.resources import STOPWORDS, gazetteer, term_stats
from newsflow_enrichment.domain.signature import signature, similarity
from newsflow_enrichment.domain.subjects import subject_id, subjects
from newsflow_enrichment.domain.summaries import teaser

NOW = datetime(2026, 11, 28, tzinfo=UTC)
SAMPLES = {
    row["external_id"]: row
    for row in map(
        json.loads, (Path(__file__).parents[2] / "samples/articles.jsonl").read_text().splitlines()
    )
}
ENRICHERS = build_enrichers()

POLITICS = """<p>Prime Minister Tony Blair has promised to cut waiting times in the NHS if Labour wins
a third term, in a speech in Manchester on Tuesday.</p>
<p>Mr Blair said the health service would get a further £3bn a year. The Tories said the
pledge was unfunded. Analysts at the Bank of England warned that interest rates may rise.</p>
<p>Britain's Chancellor Gordon Brown told the BBC that interest rates were a matter for the
bank. "We will not gamble with the economy," Mr Brown said. But Conservative leader Michael
Howard said voters in London and Scotland had heard it all before.</p>"""

LANGUAGES = {
    "en": "The council said the new bridge would open next spring after two years of delays and "
    "rising costs, and that ferries would keep running until then.",
    "fr": "Le conseil municipal a annoncé que le nouveau pont ouvrira au printemps prochain, après "
    "deux années de retards et de coûts en hausse pour les habitants.",
    "de": "Der Stadtrat teilte mit, dass die neue Brücke im nächsten Frühjahr nach zwei Jahren "
    "Verzögerung und steigenden Kosten eröffnet werden soll.",
    "es": "El ayuntamiento anunció que el nuevo puente se abrirá la próxima primavera, después de "
    "dos años de retrasos y de costes cada vez más altos para los vecinos.",
    "it": "Il consiglio comunale ha annunciato che il nuovo ponte aprirà la prossima primavera, "
    "dopo due anni di ritardi e di costi sempre più alti per i cittadini.",
    "nl": "De gemeenteraad heeft laten weten dat de nieuwe brug volgend voorjaar opengaat, na twee "
    "jaar vertraging en stijgende kosten voor de bewoners van de stad.",
    "pt": "A câmara municipal anunciou que a nova ponte vai abrir na próxima primavera, depois de "
    "dois anos de atrasos e de custos cada vez mais altos para os moradores.",
}


def content(body_html: str, headline: str = "Blair pledges NHS cash", **fields: object) -> ArticleContent:
    return ArticleContent.model_validate(
        {"headline": headline, "body_html": body_html, "first_created": NOW, "updated": NOW, **fields}
    )


def sample(external_id: str) -> ArticleContent:
    row = SAMPLES[external_id]
    return content(row["body_html"], headline=row["headline"])


def enriched(article: ArticleContent) -> Enrichment:
    result = enrich(article, ENRICHERS)
    assert [run.error for run in result.runs if run.error] == []
    return result


def entity(found: list[Entity], name: str) -> Entity:
    matches = [e for e in found if e.name == name]
    assert matches, f"{name} not among {[e.name for e in found]}"
    return matches[0]


# sentences and words


def test_sentences_do_not_end_at_abbreviations_or_initials() -> None:
    text = "Mr. Smith met Dr J. Jones in the U.S. capital. They agreed! Shares rose 2.5% on Monday."
    assert [s for _, s in split_sentences(text)] == [
        "Mr. Smith met Dr J. Jones in the U.S. capital.",
        "They agreed!",
        "Shares rose 2.5% on Monday.",
    ]


def test_words_know_sentence_starts_possessives_and_what_joins_them() -> None:
    (sentence,) = analyse("Britain's Gordon Brown said: Shares fell.").sentences
    words = [(w.text, w.initial, w.joined) for w in sentence.words]
    assert words == [
        ("Britain", True, False),
        ("Gordon", False, False),  # a possessive ends a name
        ("Brown", False, True),
        ("said", False, True),
        ("Shares", True, False),  # a colon opens a clause
        ("fell", False, True),
    ]


# language


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_language_is_detected_among_the_configured_ones(code: str) -> None:
    result = enrich(content(f"<p>{LANGUAGES[code]}</p>", headline="Bridge"), ENRICHERS)
    assert result.language == code


def test_language_detection_is_limited_to_the_configured_set() -> None:
    detect = detector(["en", "fr"])
    found = detect(LANGUAGES["de"])
    assert found is not None and found.iso_code_639_1.name.lower() in {"en", "fr"}
    assert detector(["pt"])(LANGUAGES["de"]) is not None  # one language: always that one
    with pytest.raises(ValueError):
        detector(["xx"])


def test_a_foreign_article_gets_language_teaser_and_signature_but_no_english_keywords() -> None:
    result = enriched(content(f"<p>{LANGUAGES['fr']}</p>", headline="Le nouveau pont"))
    assert result.language == "fr"
    assert result.teaser == LANGUAGES["fr"]
    assert result.keywords is None and result.entities is None
    assert result.signature is not None


# teaser and summary


def test_teaser_keeps_whole_sentences_within_200_characters() -> None:
    result = enriched(sample("demo-002"))
    assert result.teaser is not None and result.teaser.endswith(".")
    assert 100 <= len(result.teaser) <= 200
    assert result.plain_text is not None and result.plain_text.startswith(result.teaser)


def test_a_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    result = enriched(sample("demo-001"))
    assert result.teaser is not None and result.teaser.endswith("…")
    assert 160 <= len(result.teaser) <= 200
    cut = result.teaser.removesuffix("…")
    assert result.plain_text is not None and result.plain_text.startswith(cut)
    assert result.plain_text[len(cut)] == " "  # a whole word
    last = cut.split()[-1].lower()
    assert last not in STOPWORDS and not last.endswith(",")


def test_teaser_of_short_and_empty_texts() -> None:
    assert teaser(["Bridge reopens."]) == "Bridge reopens."
    assert teaser([]) is None
    assert teaser(["x" * 300]) == "x" * 199 + "…"


def test_summary_is_a_few_body_sentences_in_their_order() -> None:
    result = enriched(sample("demo-005"))
    assert result.summary is not None and result.plain_text is not None
    sentences = [s.text for s in analyse(result.plain_text).sentences]
    chosen = [s for s in sentences if s in result.summary]
    assert 2 <= len(chosen) <= 3
    assert result.summary == " ".join(chosen)
    assert chosen[0] == sentences[0]  # the lead


# keywords


def test_keywords_are_the_articles_subject_matter_without_stopwords() -> None:
    found = enriched(sample("demo-001")).keywords
    assert found is not None and len(found) <= 10
    terms = [k.term for k in found]
    assert terms[0] == "ferry subsidy"
    assert {"budget", "Penhallow"} <= set(terms)
    assert not any(word in STOPWORDS for term in terms for word in term.lower().split())
    scores = [k.score for k in found]
    assert scores[0] == 1.0 and scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_keyword_phrases_are_kept_together_and_plurals_folded() -> None:
    terms = terms_of(
        "Interest rates rise\n\nInterest rates rose. Interest rates will rise again, and the rate matters."
    )
    found = [k.term for k in keywords(terms)]
    assert found[0] == "interest rates"
    assert "rates" not in found and "rate" not in found  # taken in by the phrase


# entities


def test_entities_resolve_titles_and_surnames_to_full_names() -> None:
    found = enriched(content(POLITICS)).entities
    assert found is not None
    # the headline's "Blair", "Prime Minister Tony Blair", "Mr Blair"
    assert entity(found, "Tony Blair") == Entity(name="Tony Blair", kind="person", count=3)
    assert entity(found, "Gordon Brown").count == 2
    assert entity(found, "Michael Howard").kind == "person"
    assert entity(found, "Bank of England").kind == "organisation"  # multi-word names kept together
    assert entity(found, "Conservative Party").count == 2  # 'the Tories' and 'Conservative'
    assert entity(found, "NHS").kind == "organisation"
    assert {entity(found, p).kind for p in ("United Kingdom", "Manchester", "London", "Scotland")} == {
        "place"
    }
    names = {e.name for e in found}
    assert not names & {"Analysts", "But", "Mr Blair", "Blair", "Prime Minister", "Chancellor", "Tuesday"}


def test_entities_in_a_sample_article() -> None:
    found = enriched(sample("demo-009")).entities
    assert found is not None
    assert entity(found, "Harbourton Rovers").kind == "organisation"
    assert entity(found, "Harbourton Rovers").count >= 5  # "Rovers" alone is the same club
    assert entity(found, "Kwame Okafor").kind == "person"
    assert entity(found, "Tomasz Reyes").kind == "person"
    assert entity(found, "Gull Park").kind == "place"
    assert entity(found, "Millbrook Athletic").kind == "organisation"


def test_a_headline_in_title_case_adds_no_entities() -> None:
    body = "<p>The council approved the plan on Monday after a long debate.</p>"
    found = extract(analyse(f"Council Approves Plan After Long Debate\n\n{body}"), term_stats(), gazetteer())
    assert found == []


# subjects


def test_subject_ids_are_stable_normalised_urns() -> None:
    assert subject_id("person", "Tony Blair") == "urn:newsflow:subject:person:tony-blair"
    assert subject_id("place", "São Paulo") == "urn:newsflow:subject:place:sao-paulo"
    assert subject_id("organisation", "Marks & Spencer") == (
        "urn:newsflow:subject:organisation:marks-and-spencer"
    )
    assert subject_id("topic", "interest rates") == "urn:newsflow:subject:topic:interest-rates"


def test_subjects_join_entities_and_topics_most_relevant_first() -> None:
    found = subjects(
        [Entity(name="Tony Blair", kind="person", count=4), Entity(name="London", kind="place", count=1)],
        [Keyword(term="interest rates", score=1.0), Keyword(term="Blair", score=0.9)],
    )
    assert [(s.id, s.relevance) for s in found] == [
        ("urn:newsflow:subject:person:tony-blair", 100),
        ("urn:newsflow:subject:topic:interest-rates", 100),
        ("urn:newsflow:subject:place:london", 25),
    ]


def test_every_subject_of_a_sample_article_has_a_valid_id() -> None:
    found = enriched(sample("demo-010")).subjects
    assert found
    assert all(
        re.fullmatch(r"urn:newsflow:subject:(person|place|organisation|topic):[a-z0-9-]+", s.id)
        for s in found
    )
    assert "urn:newsflow:subject:person:tomasz-reyes" in {s.id for s in found}


# signature


def test_signature_is_a_unit_vector_of_every_content_word_by_sublinear_frequency() -> None:
    found = enriched(sample("demo-013")).signature
    assert found is not None and found.scheme == "logtf"
    assert len(found.terms) > 32
    assert math.isclose(sum(t.weight**2 for t in found.terms), 1.0, abs_tol=1e-3)
    assert math.isclose(similarity(found, found), 1.0, abs_tol=1e-3)
    weights = [t.weight for t in found.terms]
    assert weights == sorted(weights, reverse=True)
    assert "the" not in {t.term for t in found.terms}
    assert signature({}).terms == []
    twice, once = signature({"ferry": 2, "harbour": 1}).terms
    assert (twice.term, once.term) == ("ferry", "harbour")
    assert math.isclose(twice.weight / once.weight, 1 + math.log(2), rel_tol=1e-3)


def test_related_articles_are_more_similar_than_unrelated_ones() -> None:
    def sig(external_id: str):  # type: ignore[no-untyped-def]
        result = enriched(sample(external_id)).signature
        assert result is not None
        return result

    ferries, apprentices, novelist, seals = sig("demo-005"), sig("demo-007"), sig("demo-020"), sig("demo-021")
    assert similarity(ferries, apprentices) > 2 * similarity(ferries, novelist)
    assert similarity(seals, sig("demo-024")) > 2 * similarity(seals, novelist)


# the pipeline


def test_every_field_is_covered_by_the_run_that_produced_it() -> None:
    result = enriched(sample("demo-003"))
    produced = {field for field, value in result if value is not None and field != "runs"}
    assert produced == {
        "plain_text",
        "word_count",
        "reading_time_minutes",
        "language",
        "teaser",
        "summary",
        "keywords",
        "entities",
        "subjects",
        "signature",
    }
    by_run = [field for run in result.runs for field in run.fields]
    assert sorted(by_run) == sorted(produced)  # each field by exactly one enricher
    assert [(r.enricher, r.version) for r in result.runs] == [
        ("text", "1"),
        ("language", "1"),
        ("teaser", "1"),
        ("summary", "1"),
        ("keywords", "1"),
        ("entities", "1"),
        ("subjects", "1"),
        ("signature", "2"),
    ]
    assert pipeline_version(ENRICHERS) == (
        "text@1+language@1+teaser@1+summary@1+keywords@1+entities@1+subjects@1+signature@2"
    )


def test_a_failing_enricher_leaves_its_fields_empty_and_the_rest_still_run() -> None:
    def explode(_c: object, _d: object) -> dict[str, object]:
        raise RuntimeError("gazetteer missing")

    broken = Enricher(name="entities", version="2", run=explode)
    pipeline = tuple(broken if e.name == "entities" else e for e in ENRICHERS)
    result = enrich(sample("demo-001"), pipeline)
    failed = next(r for r in result.runs if r.enricher == "entities")
    assert failed.error == "RuntimeError: gazetteer missing" and failed.fields == []
    assert result.entities is None
    assert result.subjects and {s.kind for s in result.subjects} == {"topic"}  # from keywords alone
    assert result.signature is not None


def test_an_empty_body_produces_no_empty_fields() -> None:
    result = enriched(content("<p></p>", headline="Bridge"))
    assert result.word_count == 0
    assert result.teaser is None and result.summary is None
