import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from newsflow_contracts.events import ArticleSubmitted
from newsflow_ingest.domain.articles import (
    Head,
    InvalidArticle,
    NewVersion,
    Unchanged,
    article_id_for,
    content_hash,
    decide,
    normalise,
    slug_for,
)
from newsflow_ingest.domain.normalise import sanitise_html

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def submission(**changes: object) -> ArticleSubmitted:
    fields: dict[str, object] = {
        "external_id": "cms-42",
        "headline": "Council <em>approves</em> budget",
        "body_html": "<p>The council approved the budget on Tuesday.</p>",
        "section": "politics",
        "subjects": ["budget", "city council", "budget"],
    }
    fields.update(changes)
    return ArticleSubmitted.model_validate(fields)


@pytest.mark.parametrize(
    "dirty",
    [
        '<p>hi</p><script>alert("x")</script>',
        '<p onclick="steal()">hi</p>',
        '<p><a href="javascript:alert(1)">hi</a></p>',
        '<p><img src="x" onerror="alert(1)">hi</p>',
        "<p>hi</p><iframe src='https://evil.example'></iframe>",
        '<p style="background:url(javascript:alert(1))">hi</p>',
    ],
)
def test_sanitising_removes_scripts_handlers_and_javascript_urls(dirty: str) -> None:
    clean = sanitise_html(dirty)
    assert "hi" in clean
    for forbidden in ("<script", "onclick", "onerror", "javascript:", "<iframe", "style="):
        assert forbidden not in clean.lower()


def test_normalise_makes_plain_headline_utc_times_and_sorted_unique_subjects() -> None:
    local = datetime(2026, 11, 28, 14, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    content = normalise(submission(updated=local, first_created=local), now=NOW)
    assert content.headline == "Council approves budget"
    assert content.updated == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert content.updated.utcoffset() == timedelta(0)
    assert content.subjects == ["budget", "city council"]


def test_naive_times_are_taken_as_utc_and_missing_times_default_to_now() -> None:
    content = normalise(submission(updated=datetime(2026, 1, 2, 3, 4)), now=NOW)
    assert content.updated == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert normalise(submission(), now=NOW).first_created == NOW


def test_body_with_no_text_after_sanitising_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidArticle) as caught:
        normalise(submission(body_html="<script>only()</script>"), now=NOW)
    assert caught.value.field == "body_html"


def test_first_created_after_updated_is_rejected() -> None:
    with pytest.raises(InvalidArticle) as caught:
        normalise(submission(first_created=NOW, updated=NOW - timedelta(days=1)), now=NOW)
    assert caught.value.field == "first_created"


def test_article_id_is_stable_per_source_and_external_id() -> None:
    assert article_id_for("cms", "1") == article_id_for("cms", "1")
    assert article_id_for("cms", "1") != article_id_for("wire", "1")


def test_slug_is_ascii_headline_words_with_an_id_suffix() -> None:
    article_id = article_id_for("cms", "1")
    slug = slug_for("Zürich café: prices up 5%!", article_id)
    assert slug == f"zurich-cafe-prices-up-5-{article_id.replace('-', '')[:8]}"


def test_content_hash_ignores_times_but_not_text() -> None:
    a = normalise(submission(), now=NOW)
    later = normalise(submission(), now=NOW + timedelta(hours=1))
    edited = normalise(submission(body_html="<p>The council rejected the budget.</p>"), now=NOW)
    assert content_hash(a) == content_hash(later)
    assert content_hash(a) != content_hash(edited)


def test_a_change_of_pins_is_a_new_version_and_no_curation_keeps_the_old_hash() -> None:
    plain = normalise(submission(), now=NOW)
    pinned = normalise(submission(curation={"related": {"pinned": ["other-article"]}}), now=NOW)
    assert pinned.curation is not None and pinned.curation.related.pinned == ["other-article"]
    assert content_hash(plain) != content_hash(pinned)
    fields = plain.model_dump(mode="json", exclude={"updated", "first_created", "curation"})
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert content_hash(plain) == hashlib.sha256(canonical.encode()).hexdigest()


def test_decide_first_version_then_unchanged_then_next_version_with_same_slug() -> None:
    content = normalise(submission(), now=NOW)
    first = decide(head=None, source="cms", external_id="cms-42", content=content, accepted_at=NOW)
    assert isinstance(first, NewVersion) and first.event.version == 1
    head = Head(
        article_id=first.event.article_id,
        version=1,
        slug=first.event.slug,
        content_hash=first.event.content_hash,
        event_id="e1",
        sent=True,
    )
    again = decide(head=head, source="cms", external_id="cms-42", content=content, accepted_at=NOW)
    assert isinstance(again, Unchanged)

    retitled = normalise(submission(headline="Council budget passes after long night"), now=NOW)
    second = decide(head=head, source="cms", external_id="cms-42", content=retitled, accepted_at=NOW)
    assert isinstance(second, NewVersion)
    assert second.event.version == 2 and second.previous_version == 1
    assert second.event.slug == first.event.slug
