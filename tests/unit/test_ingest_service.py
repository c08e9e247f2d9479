from datetime import UTC, datetime, timedelta

import pytest
from newsflow_contracts.events import ArticleSubmitted
from newsflow_ingest.domain.articles import Withdrawn
from newsflow_ingest.service import NotYourArticle, accept_submission, release_due, resend_unsent, retract

from tests.support.fakes import FakeHeadStore, RecordingPublisher


def submission(body: str = "<p>Text of the article.</p>") -> ArticleSubmitted:
    return ArticleSubmitted(external_id="x-1", headline="Headline", body_html=body)


async def test_same_content_twice_is_one_version_and_one_event() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher()
    first = await accept_submission(submission(), source="cms", heads=heads, publish=publish)
    second = await accept_submission(submission(), source="cms", heads=heads, publish=publish)
    assert (first.version, first.new_version) == (1, True)
    assert (second.version, second.new_version, second.event_id) == (1, False, first.event_id)
    assert len(publish.events) == 1


async def test_changed_content_is_the_next_version() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher()
    await accept_submission(submission(), source="cms", heads=heads, publish=publish)
    changed = await accept_submission(
        submission("<p>Corrected.</p>"), source="cms", heads=heads, publish=publish
    )
    assert changed.version == 2
    assert [e.version for e, _ in publish.events] == [1, 2]


async def test_a_version_stored_but_not_sent_is_sent_again_with_the_same_event_id() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher(fail_times=1)
    with pytest.raises(ConnectionError):
        await accept_submission(submission(), source="cms", heads=heads, publish=publish)
    assert await resend_unsent(heads=heads, publish=publish) == 1
    retried = await accept_submission(submission(), source="cms", heads=heads, publish=publish)
    assert [e.version for e, _ in publish.events] == [1]
    assert publish.events[0][1] == retried.event_id
    assert await heads.unsent() == []


EMBARGO = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
BEFORE, AFTER = EMBARGO - timedelta(hours=1), EMBARGO + timedelta(seconds=1)


def embargoed(body: str = "<p>Embargoed text.</p>") -> ArticleSubmitted:
    return ArticleSubmitted(external_id="x-1", headline="Headline", body_html=body, embargo_until=EMBARGO)


async def test_an_embargoed_version_is_held_until_its_time_then_released_once() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher()
    accepted = await accept_submission(embargoed(), source="cms", heads=heads, publish=publish, now=BEFORE)
    assert accepted.held_until == EMBARGO and publish.events == []
    assert await resend_unsent(heads=heads, publish=publish) == 0  # a restart does not leak it
    assert await release_due(heads=heads, publish=publish, now=BEFORE) == 0
    assert await release_due(heads=heads, publish=publish, now=AFTER) == 1
    assert await release_due(heads=heads, publish=publish, now=AFTER) == 0
    assert [(e.version, e.event_type) for e, _ in publish.events] == [(1, "news.article.ingested.v1")]


async def test_a_newer_version_without_embargo_supersedes_the_held_one() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher()
    await accept_submission(embargoed(), source="cms", heads=heads, publish=publish, now=BEFORE)
    lifted = await accept_submission(
        submission("<p>Now public.</p>"), source="cms", heads=heads, publish=publish, now=BEFORE
    )
    assert lifted.version == 2 and lifted.held_until is None
    assert await release_due(heads=heads, publish=publish, now=AFTER) == 0
    assert [e.version for e, _ in publish.events] == [2]


async def test_a_retraction_supersedes_a_held_version_and_is_published() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher()
    first = await accept_submission(embargoed(), source="cms", heads=heads, publish=publish, now=BEFORE)
    pulled = await retract(
        first.article_id,
        kind="unpublish",
        reason="Story dropped",
        source="cms",
        heads=heads,
        publish=publish,
        now=BEFORE,
    )
    assert pulled.version == 2
    assert await release_due(heads=heads, publish=publish, now=AFTER) == 0
    assert [(e.version, e.event_type) for e, _ in publish.events] == [(2, "news.article.retracted.v1")]


async def test_an_unpublished_article_comes_back_with_a_new_version_but_a_killed_one_does_not() -> None:
    heads, publish = FakeHeadStore(), RecordingPublisher()
    first = await accept_submission(submission(), source="cms", heads=heads, publish=publish)
    await retract(
        first.article_id, kind="unpublish", reason="Checking", source="cms", heads=heads, publish=publish
    )
    back = await accept_submission(submission("<p>Checked.</p>"), source="cms", heads=heads, publish=publish)
    assert back.version == 3
    await retract(first.article_id, kind="kill", reason="Legal", source="cms", heads=heads, publish=publish)
    with pytest.raises(Withdrawn):
        await accept_submission(submission("<p>Again.</p>"), source="cms", heads=heads, publish=publish)
    with pytest.raises(NotYourArticle):
        await retract(
            first.article_id, kind="kill", reason="Mine", source="rival", heads=heads, publish=publish
        )
