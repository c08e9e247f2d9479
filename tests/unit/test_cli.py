"""`newsflow`, the operator CLI, without servers: parsing, help at every level, exit codes,
dispatch to the code that owns each command, and how listings print."""

import argparse
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError
from newsflow_chassis import dead_letters_cli
from newsflow_cli import main as cli
from newsflow_cli import offsets, stack, stats
from newsflow_cli.offsets import Lag, TopicState
from newsflow_cli.table import retention, table
from newsflow_contracts.topics import ARTICLE_PUBLISHED, PAGEVIEW_RECORDED, topics_with_dead_letters
from newsflow_publication.settings import Settings as PublicationSettings

COMMANDS = [
    "stack",
    "services",
    "topics",
    "lag",
    "dlq",
    "replay",
    "generations",
    "popular",
    "sources",
    "feeds",
    "keys",
    "webhooks",
    "stats",
]
REPO = Path(__file__).resolve().parents[2]


def every_parser(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, (*path, name))


def test_top_level_help_lists_every_command_with_examples_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"\n    {name}" in out
    assert "examples:\n  newsflow stack status" in out
    assert "exit codes: 0 ok; 1 a problem found" in out


def test_every_command_at_every_level_has_help_with_a_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = [path for path, _ in every_parser(cli.parser()) if path]
    assert {p[0] for p in paths} == set(COMMANDS)
    assert ("sources", "revoke") in paths and ("dlq", "redrive") in paths
    for path in paths:
        assert cli.main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert out.startswith(f"usage: newsflow {' '.join(path)}"), path
        description = out.split("\n\n")[1]
        assert not description.startswith(("options:", "positional arguments:")), (path, out)


def test_every_top_level_command_shows_examples() -> None:
    for name, sub in cli.parser()._subparsers._group_actions[0].choices.items():  # type: ignore[union-attr]
        assert sub.epilog and sub.epilog.startswith("examples:\n  newsflow "), name
        assert f"newsflow {name}" in sub.epilog, name


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["stack"],
        ["stack", "reset"],
        ["services", "restart"],
        ["lag", "--max-lag", "-1"],
        ["lag", "--max-lag", "many"],
        ["dlq", "list", "news.article.ingested.v1"],
        ["dlq", "redrive", "x.dlq"],
        ["sources", "create"],
        ["keys", "create", "--owner", "x", "--scope", "nope"],
        ["generations", "use"],
    ],
)
def test_usage_errors_exit_2_before_touching_anything(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack.subprocess, "call", lambda _: pytest.fail("ran stack.sh"))
    assert cli.main(argv) == 2
    assert "usage: newsflow" in capsys.readouterr().err


def test_each_command_reaches_the_code_that_owns_it() -> None:
    parse = cli.parser().parse_args
    dlq = parse(["dlq", "redrive", "a.dlq", "--offset", "3", "--dry-run"])
    assert dlq.handler is dead_letters_cli.run and dlq.command == "redrive" and dlq.offsets == [3]
    assert parse(["replay", "--no-switch"]).command == "replay"  # publication's replay.command reads it
    generations = parse(["generations", "drop", "g1", "--force"])
    assert (generations.command, generations.generations_command, generations.force) == (
        "generations",
        "drop",
        True,
    )
    sources = parse(["sources", "create", "--source", "cms-main"])
    assert (sources.handler, sources.keys_command, sources.source) == (cli._sources, "create", "cms-main")
    keys = parse(["keys", "revoke", "k1"])
    assert (keys.handler, keys.keys_command, keys.key_id) == (cli._keys, "revoke", "k1")
    assert parse(["webhooks", "redrive", "--all-dead"]).handler is cli._webhooks
    assert parse(["feeds", "poll", "wire"]).handler is cli._feeds
    lag = parse(["lag", "--group", "a", "--group", "b", "--max-lag", "0"])
    assert (lag.group, lag.max_lag) == (["a", "b"], 0)


@pytest.mark.parametrize(("argv", "code"), [(["stack", "status"], 1), (["services", "up"], 0)])
def test_stack_and_services_run_stack_sh_and_pass_its_exit_code_on(
    argv: list[str], code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[str]] = []
    monkeypatch.delenv("NEWSFLOW_STACK_SCRIPT", raising=False)
    monkeypatch.chdir(REPO / "tools")
    monkeypatch.setattr(stack.subprocess, "call", lambda command: ran.append(command) or code)
    assert cli.main(argv) == code
    script = str(REPO / "stack" / "stack.sh")
    assert ran == [[script, "status"]] if argv[0] == "stack" else ran == [[script, "services", "up"]]


def test_stack_script_from_the_environment_first_and_a_clear_failure_without_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSFLOW_STACK_SCRIPT", "/opt/newsflow/stack.sh")
    assert stack.find_script() == Path("/opt/newsflow/stack.sh")
    monkeypatch.delenv("NEWSFLOW_STACK_SCRIPT")
    monkeypatch.setattr(stack, "__file__", str(tmp_path / "newsflow_cli" / "stack.py"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["stack", "status"]) == 1
    assert "no stack/stack.sh here or above" in capsys.readouterr().err


def test_a_server_out_of_reach_exits_1_naming_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def unreachable(*_: object) -> list[TopicState]:
        raise KafkaConnectionError("no broker at 127.0.0.1:9092")

    monkeypatch.setattr(offsets, "topic_states", unreachable)
    assert cli.main(["topics"]) == 1
    assert capsys.readouterr().err.startswith("newsflow topics: KafkaConnectionError")


def test_tables_align_text_left_numbers_right_and_show_unknowns_as_dashes() -> None:
    out = table(["NAME", "N", "LAG"], [["a", 1234567, None], ["longer-name", 5, 0]])
    assert out.splitlines() == [
        "NAME                 N  LAG",
        "a            1,234,567    -",
        "longer-name          5    0",
    ]
    assert table(["ONLY"], []) == "ONLY"


@pytest.mark.parametrize(
    ("ms", "text"), [(-1, "forever"), (7 * 86_400_000, "7d"), (3_600_000, "1h"), (1500, "1500ms"), (0, "0ms")]
)
def test_retention_reads_as_a_duration(ms: int, text: str) -> None:
    assert retention(ms) == text


def test_topics_table_shows_policy_retention_and_end_offsets_and_names_problems() -> None:
    states = [
        TopicState(PAGEVIEW_RECORDED, 6, (10, 0, 5, 5, 0, 1)),
        TopicState(ARTICLE_PUBLISHED, 3, (1, 2, 3)),
        TopicState(PAGEVIEW_RECORDED.dlq, None),
    ]
    lines = offsets.topics_table(states).splitlines()
    assert lines[0].split() == ["TOPIC", "PARTITIONS", "POLICY", "RETENTION", "END", "END", "BY", "PARTITION"]
    assert lines[1].split() == [
        "news.pageview.recorded.v1",
        "6",
        "delete",
        "7d",
        "21",
        "10",
        "0",
        "5",
        "5",
        "0",
        "1",
    ]
    assert lines[2].split() == ["news.article.published.v1", "3", "compact", "-", "6", "1", "2", "3"]
    assert lines[3].split() == ["news.pageview.recorded.v1.dlq", "-", "delete", "30d", "-", "missing"]
    assert [s.problem for s in states] == [None, "3 partitions, the registry says 6", "missing"]


def test_lag_is_end_minus_committed_and_unknown_without_a_commit() -> None:
    found = {
        "g": [Lag("g", "t", 0, 7, 10), Lag("g", "t", 1, None, 4), Lag("g", "t", 2, 12, 12)],
        "idle": [],
    }
    assert [r.lag for r in found["g"]] == [3, None, 0]
    assert offsets.lag_table(found).splitlines()[1:] == [
        "g      t              0          7   10    3",
        "g      t              1          -    4    -",
        "g      t              2         12   12    0",
    ]
    assert offsets.over(found, 2) == [found["g"][0]]
    assert offsets.over(found, 3) == []


def test_stats_summary_counts_dead_letters_from_the_dlq_topics_only() -> None:
    records = {t.name: 10 for t in topics_with_dead_letters()}
    records[PAGEVIEW_RECORDED.dlq.name] = None  # not created yet
    summary = stats.Stats("g1", "newsflow_publication_g1", 12, 11, 30, 5, 4, 2, records)
    dead_letter_topics = [name for name in records if name.endswith(".dlq")]
    assert summary.dead_letters == 10 * (len(dead_letter_topics) - 1)
    out = stats.render(summary, PublicationSettings())
    assert "read model        g1 (database newsflow_publication_g1)" in out
    assert "articles          12" in out and "listed            11" in out
    assert "Related keys      5 (newsflow:related:*) (4 articles indexed)" in out
    assert f"dead letters      {summary.dead_letters}" in out
    assert out.splitlines()[-1].split() == [PAGEVIEW_RECORDED.dlq.name, "-"]
