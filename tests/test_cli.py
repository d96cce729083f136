"""The command line's promises (issue 23): every command takes --data-dir, the reader's actions print
their help, and looking at reviews creates no review database."""

from __future__ import annotations

import argparse

import pytest

from conftest import run_cli


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) of every command that runs something: the leaves of the subcommand tree."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _subcommands(child, path + (name,))


def test_every_command_takes_data_dir():
    from assistant.cli import build_parser

    commands = dict(_subcommands(build_parser()))
    assert {("reader",), ("verifier",), ("review", "list"), ("ask",)} <= set(commands)
    missing = [" ".join(path) for path, p in commands.items() if "--data-dir" not in p._option_string_actions]
    assert not missing, f"commands without --data-dir: {missing}"


@pytest.mark.parametrize("where", ["before", "after"])
def test_reader_actions_take_data_dir_on_either_side_of_the_action(where, tmp_path):
    from assistant.cli import _training_options, build_parser

    data_dir = str(tmp_path / "index")
    argv = (["reader", "--data-dir", data_dir, "calibrate", "--data", "qa"] if where == "before"
            else ["reader", "calibrate", "--data", "qa", "--data-dir", data_dir])
    options, found = _training_options(build_parser().parse_args(argv))
    assert options == ["--data", "qa"] and found == data_dir  # --data is not taken for an abbreviation of it


def test_reader_info_help_and_data_dir(tmp_path):
    result = run_cli("reader", "info", "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: assistant reader info") and "incomplete" not in result.stdout + result.stderr
    result = run_cli("reader", "info", "--data-dir", str(tmp_path / "index"), timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("reader "), result.stderr
    result = run_cli("reader", "info", str(tmp_path / "no-model"), timeout=120)
    assert result.returncode == 1 and "no-model" in result.stderr
    from assistant.reader import DECISION_DIR

    result = run_cli("reader", "info", str(DECISION_DIR), timeout=120)
    assert result.returncode == 0 and "of the best 3 sentences the reader" in result.stdout, result.stdout + result.stderr
    assert "reader train-decision" in result.stdout


def test_looking_at_reviews_creates_no_database(tmp_path):
    data_dir = tmp_path / "index"
    env = {"ASSISTANT_DATABASE_URL": ""}
    result = run_cli("review", "list", data_dir=data_dir, env=env, timeout=120)
    assert result.returncode == 0 and "no reviews yet" in result.stdout, result.stderr
    result = run_cli("review", "stale", "--data-dir", str(data_dir), env=env, timeout=120)
    assert result.returncode == 0 and "no stale items" in result.stdout, result.stderr
    result = run_cli("review", "show", "1", data_dir=data_dir, env=env, timeout=120)
    assert result.returncode == 1 and "no review 1" in result.stderr
    assert not data_dir.exists()  # neither reviews.db nor its folder
