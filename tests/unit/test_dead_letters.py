"""The pure parts of `newsflow-dlq`: header decoding and rewriting, choosing records,
where they go back to, how they are shown, and usage errors (no Kafka needed)."""

import json
from types import SimpleNamespace

import pytest
from newsflow_chassis import dead_letters as dl
from newsflow_chassis.dead_letters_cli import as_json, as_line, main, shorten
from newsflow_chassis.delivery import DLQ_HEADERS, PoisonRecord, dead_letter_headers

DLQ = "news.article.ingested.v1.dlq"


def dead_letter(
    offset: int, *, source: str | None = "news.article.ingested.v1", **extra: str
) -> dl.DeadLetter:
    failed = SimpleNamespace(
        topic=source or "",
        partition=2,
        offset=40 + offset,
        headers=[("ce_id", b"evt-1"), ("ce_type", b"t.v1")],
    )
    headers = dead_letter_headers(failed, PoisonRecord(f"bad record {offset}"))
    if source is None:
        del headers["dlq_source_topic"]
    headers.update(extra)
    raw = tuple((k, v.encode()) for k, v in headers.items())
    return dl.DeadLetter(DLQ, offset, b"article-1", b'{"x": 1}', raw)


def test_headers_decode_as_text_tolerating_bad_bytes_and_nulls() -> None:
    assert dl.decode_headers([("a", b"caf\xc3\xa9"), ("b", b"\xff"), ("c", None)]) == {
        "a": "café",
        "b": "\ufffd",
        "c": "",
    }


def test_redrive_headers_drop_every_dlq_header_and_mark_the_origin() -> None:
    record = dead_letter(3, dlq_redriven_from="older.dlq@1", dlq_something_new="x")
    headers = dl.redrive_headers(record.headers, dlq_topic=DLQ, offset=3)
    assert headers == [("ce_id", b"evt-1"), ("ce_type", b"t.v1"), ("dlq_redriven_from", f"{DLQ}@3".encode())]
    assert not set(DLQ_HEADERS) & {name for name, _ in headers}


def test_choose_all_or_named_offsets_in_offset_order_without_duplicates() -> None:
    records = [dead_letter(o) for o in (5, 6, 7)]
    window = dl.Window(5, 8)
    assert [r.offset for r in dl.choose(records, None, topic=DLQ, window=window)] == [5, 6, 7]
    assert [r.offset for r in dl.choose(records, [7, 5, 7], topic=DLQ, window=window)] == [5, 7]


def test_choose_refuses_all_when_one_offset_is_missing() -> None:
    records = [dead_letter(o) for o in (5, 6, 7)]
    with pytest.raises(dl.DeadLetterError, match=r"offset 4, 9 in .*\.dlq \(offsets 5\.\.7\)"):
        dl.choose(records, [6, 9, 4], topic=DLQ, window=dl.Window(5, 8))
    with pytest.raises(dl.DeadLetterError, match="no records"):
        dl.choose([], [0], topic=DLQ, window=dl.Window(3, 3))


def test_plan_targets_the_source_topic_or_to_and_refuses_a_record_without_source() -> None:
    (redrive,) = dl.plan([dead_letter(0)])
    assert redrive.target == "news.article.ingested.v1"
    assert redrive.headers[-1] == ("dlq_redriven_from", f"{DLQ}@0".encode())
    assert dl.plan([dead_letter(1, source=None)], to="elsewhere.v1")[0].target == "elsewhere.v1"
    with pytest.raises(dl.DeadLetterError, match=r"offset 1 has no dlq_source_topic.*--to"):
        dl.plan([dead_letter(0), dead_letter(1, source=None)])


def test_a_record_is_shown_with_its_reason_source_and_event() -> None:
    record = dead_letter(2, dlq_error_message="line one\n" + "x" * 300)
    shown = as_json(record)
    assert shown["error_message"] == "line one\n" + "x" * 300  # full in JSON
    assert shown["source_partition"] == 2 and shown["source_offset"] == 42
    assert json.loads(json.dumps(shown))["ce_id"] == "evt-1"
    line = as_line(record)
    assert line.split()[:2] == ["2", "key=article-1"]
    assert "newsflow_chassis.delivery.PoisonRecord: line one xxx" in line
    assert "from news.article.ingested.v1[2]@42" in line and "ce_id=evt-1" in line
    assert len(shorten("y" * 300)) == 100 and shorten("y" * 300).endswith("…")


def test_dlq_topic_names() -> None:
    assert dl.is_dlq_topic("a.v1.dlq")
    assert not dl.is_dlq_topic(".dlq")
    assert not dl.is_dlq_topic("a.v1")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["list", "news.article.ingested.v1"],
        ["redrive", "news.article.ingested.v1", "--all"],
        ["redrive", DLQ],
        ["redrive", DLQ, "--all", "--offset", "1"],
        ["redrive", DLQ, "--all", "--to", "other.dlq"],
        ["list", "--limit", "-1"],
    ],
)
def test_usage_errors_exit_2_before_touching_kafka(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--bootstrap", "127.0.0.1:9", *argv]) == 2
    assert "usage:" in capsys.readouterr().err


def test_redrive_help_says_why_twice_is_harmless(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["redrive", "--help"]) == 0
    assert "re-driving a record twice doubles nothing" in " ".join(capsys.readouterr().out.split())
