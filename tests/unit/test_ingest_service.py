import pytest
from newsflow_contracts.events import ArticleSubmitted
from newsflow_ingest.service import accept_submission, resend_unsent

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
