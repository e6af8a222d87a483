"""Config: every problem at once, nearest valid key, typed values, paths relative to the file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bridge.config import load_config
from bridge.errors import ConfigError

BASE = """
[wave]
name = "wave-3"
[qualtrics]
csv = "exports/wave3.csv"
[mturk]
csv = "exports/batch.csv"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "wave.toml"
    p.write_text(text)
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert str(tmp_path / "wave.toml") in str(info.value)
    return info.value.problems


def test_minimal_config_and_defaults(tmp_path):
    s = load_config(write(tmp_path, BASE))
    assert s.wave.name == "wave-3" and s.wave.reward is None
    assert s.panel.match_options(s).key_column == "Random ID" and s.mturk.code_answer == "surveycode"
    assert s.mturk.environment == "sandbox" and s.rules.unmatched == "review"
    assert s.resolve(s.qualtrics.csv) == tmp_path / "exports" / "wave3.csv"
    assert s.workbook_path == tmp_path / "out" / "wave-3-reconciliation.xlsx"
    # One ledger beside the workbooks, not one per wave name (SPEC 13: a renamed wave finds it).
    assert s.ledger_path == s.ledger_location == tmp_path / "out" / "survey-bridge.ledger.sqlite"
    assert s.safety.settle_minutes == 10


def test_a_ledger_an_older_version_kept_per_wave_is_used_where_it_exists(tmp_path):
    s = load_config(write(tmp_path, BASE))
    old = tmp_path / "out" / "wave-3-reconciliation.ledger.sqlite"
    old.parent.mkdir()
    old.write_bytes(b"")
    assert s.ledger_path == old


def test_the_shared_ledger_is_a_postgresql_url_never_a_path(tmp_path):
    s = load_config(write(tmp_path, BASE + '[output]\nledger = "postgresql://db.lab.example:5432/ledger"\n'
                                           "[safety]\nsettle_minutes = 0.5\n"))
    assert s.ledger_location == "postgresql://db.lab.example:5432/ledger" and s.ledger_path is None
    assert s.safety.settle_minutes == 0.5
    s = load_config(write(tmp_path, BASE + '[output]\nledger = "books/lab.sqlite"\n'))
    assert s.ledger_location == s.ledger_path == tmp_path / "books" / "lab.sqlite"


@pytest.mark.parametrize("url", ["postgresql://ra:hunter2secret@db.lab.example/ledger",
                                 "postgres://db.lab.example/ledger?password=hunter2secret",
                                 "postgresql://db.lab.example/ledger?user=ra&password=hunter2secret"])
def test_a_password_in_the_ledger_url_is_refused_saying_where_it_goes(tmp_path, url):
    (problem,) = problems(tmp_path, BASE + f'[output]\nledger = "{url}"\n')
    assert problem.startswith("[output] ledger: ") and "PGPASSWORD" in problem and "~/.pgpass" in problem
    assert "hunter2secret" not in problem


def test_a_ledger_url_of_another_kind_or_a_bad_settle_window_is_a_config_error(tmp_path):
    found = problems(tmp_path, BASE + '[output]\nledger = "mysql://db/ledger"\n[safety]\nsettle_minutes = -1\n')
    assert any(p.startswith("[output] ledger: ") and "postgresql://" in p for p in found)
    assert any(p.startswith("[safety] settle_minutes: ") for p in found)


def test_prolific_template_is_valid():
    s = load_config(Path(__file__).resolve().parents[1] / "templates" / "study.toml")
    assert s.wave.platform == "prolific" and s.panel.name == "Prolific"


def test_template_is_valid():
    s = load_config(Path(__file__).resolve().parents[1] / "templates" / "wave.toml")
    assert s.bonus.max_per_worker == Decimal("5.00") and s.rules.attention_checks[0].column == "Q7"


def test_sample_config_is_valid():
    load_config(Path(__file__).resolve().parents[1] / "sample_data" / "wave.toml")


def test_money_is_decimal(tmp_path):
    s = load_config(write(tmp_path, BASE.replace('name = "wave-3"', 'name = "wave-3"\nreward = "$1.50"')
                          + '[bonus]\ncolumn = "b"\nmax_per_worker = 5\n'))
    assert s.wave.reward == Decimal("1.50") and isinstance(s.bonus.max_per_worker, Decimal)


@pytest.mark.parametrize(
    "text, expected",
    [
        (BASE + "[rules]\ntoo_fats = 'review'\n", "unknown key 'too_fats' in [rules]; did you mean too_fast?"),
        (BASE + "[bonuss]\n", "unknown key '[bonuss]' in top level; did you mean [bonus]?"),
        (BASE + "[rules]\nattention_checks = [{column='Q7', expectd='Blue'}]\n", "did you mean expected?"),
        (BASE.replace('name = "wave-3"', ""), "[wave] name is required"),
        (BASE + "[rules]\ntoo_fast = 'maybe'\n", "[rules] too_fast: Input should be 'approve', 'review' or 'reject' (got 'maybe')"),
        (BASE.replace('name = "wave-3"', 'name = "wave-3"\nreward = "1.505"'), "more than two decimals"),
        (BASE.replace('name = "wave-3"', 'name = "wave-3"\nreward = "-1"'), "must not be negative"),
        (BASE.replace('name = "wave-3"', 'name = "wave 3"'), "it names the wave's files"),
        # SPEC §12: csv and hit_ids may be given together (hit_ids checks the file); one is needed.
        (BASE.replace('csv = "exports/batch.csv"', 'environment = "sandbox"'), 'give csv = "batch_results.csv" or'),
        (BASE.replace('csv = "exports/batch.csv"', 'hit_ids = ["3abc"]'), "upper-case letters and digits"),
        (BASE + "[mturk]\n", "not valid TOML"),
        (BASE.replace('csv = "exports/batch.csv"', 'csv = "b.csv"\nenvironment = "prod"'), "sandbox, production or"),
        (BASE + '[rules]\nreject_feedback = "x\\u0001"\n', "control characters"),
        (BASE + "[rules]\nreject_feedback = '" + "x" * 1025 + "'\n", "at most 1024"),
        (BASE + "[qualifications]\nprev_worker = 'abc'\n", "not a qualification type id"),
    ],
)
def test_problems_are_named(tmp_path, text, expected):
    assert any(expected in p for p in problems(tmp_path, text)), problems(tmp_path, text)


def test_all_problems_reported_at_once(tmp_path):
    text = BASE.replace('name = "wave-3"', 'name = "wave 3"') + "[rules]\ntoo_fast = 'x'\nunmatch = 'reject'\n"
    assert len(problems(tmp_path, text)) == 3


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found; copy templates/wave.toml"):
        load_config(tmp_path / "nope.toml")
