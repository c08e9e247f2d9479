"""OWASP filter-evasion vectors through ingest's normalisation: nothing executable survives
in bodies, nothing tag-like in headlines."""

import html

import pytest
from newsflow_ingest.domain.normalise import plain_line, sanitise_html

from tests.support.xss import VECTORS, executable_parts, text_with_markup


def test_there_are_at_least_thirty_vectors_and_the_check_catches_them_raw() -> None:
    assert len(VECTORS) >= 30
    caught = [v for v in VECTORS if executable_parts(v) or text_with_markup(html.unescape(v))]
    assert len(caught) == len(VECTORS), set(VECTORS) - set(caught)


@pytest.mark.parametrize("vector", VECTORS)
def test_no_vector_survives_in_a_body(vector: str) -> None:
    cleaned = sanitise_html(f"<p>Before</p>{vector}<p>After</p>")
    assert executable_parts(cleaned) == [], cleaned


@pytest.mark.parametrize("vector", VECTORS)
def test_no_vector_survives_in_a_headline(vector: str) -> None:
    cleaned = plain_line(f"Council vote {vector} delayed")
    assert not text_with_markup(cleaned), cleaned


def test_plain_text_keeps_a_harmless_less_than_sign() -> None:
    assert plain_line("Inflation &lt; 2% for the first time") == "Inflation < 2% for the first time"
