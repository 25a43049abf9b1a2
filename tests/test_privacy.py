"""Privacy by default (issue 18): forgotten users, personal columns, pseudonyms, small cells.

Every test is a real run (real files, DuckDB, papermill for the notebook) whose written
bytes are scanned, as the secrets tests scan theirs.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import COLUMNS, event, run_cli, write_csv

from helpers import views
from helpers.events import build_report
from helpers.outputs import write_outputs
from helpers.params import ReportParams

ROOT = Path(__file__).resolve().parent.parent
GONE = "forget-me-7f3a"  # the forgotten user's session id
GONE_VISITOR = "visitor-gone-91c2"  # a forgotten visitor (another person)


def _rows() -> list[dict[str, str]]:
    """Six users who stay, and two forgotten people whose rows would otherwise be rejected
    for other reasons too (an unreadable datetime, another environment, internal traffic)."""
    kept = [event(session_id=f"s{i}", visitor_id=f"v{i}") for i in range(6)]
    kept.append(event(session_id="s1", visitor_id="v1", env="development"))  # rejected, kept
    gone = [
        event(session_id=GONE, visitor_id="v-of-gone"),
        event(session_id=GONE, visitor_id="v-of-gone", datetime="not a date"),
        event(session_id=GONE, visitor_id="v-of-gone", env="development"),
        event(session_id="s-of-visitor", visitor_id=GONE_VISITOR, is_internal_ip="TRUE"),
        event(session_id="s-of-visitor", visitor_id=GONE_VISITOR, params={"q": GONE_VISITOR}),
    ]
    return kept + gone


def _forget_file(tmp_path: Path) -> Path:
    path = tmp_path / "deletion-requests.txt"
    path.write_text(f"{GONE}\n\n  {GONE_VISITOR}  \n", encoding="utf-8")
    return path


def _scan(out: Path, *texts: str) -> list[str]:
    """Every output file's bytes and ``texts`` that hold a forgotten id (or its parts)."""
    found = []
    for path in sorted(out.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {i}" for i in (GONE, GONE_VISITOR, "v-of-gone",
                                                     "s-of-visitor") if i.encode() in data]
    found += [f"log: {i}" for t in texts for i in (GONE, GONE_VISITOR) if i in t]
    return found


def _reconciles(report: dict) -> None:
    quality = report["data_quality"]
    assert quality["rows_read"] == quality["rows_analysed"] + sum(quality["rows_excluded"].values())


def _as_jsonl(rows: list[dict[str, str]], path: Path) -> Path:
    lines = [json.dumps(r) for r in rows]
    lines.append('{"broken": "' + GONE + '"')  # not a JSON object: its text holds the id
    lines.append("not json at all")  # rejected, written, and nobody's
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _as_parquet(rows: list[dict[str, str]], path: Path) -> Path:
    pq.write_table(pa.table({c: [r[c] for r in rows] for c in COLUMNS}), path)
    return path


@pytest.mark.slow
def test_a_forgotten_user_is_in_no_output_log_or_notebook(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "events.csv", _rows())
    out = tmp_path / "out"
    result = run_cli("run", "--debug", "--source", str(source), "--out", str(out),
                 "--set", f"forget={_forget_file(tmp_path)}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {
        "report.json", "report.html", "report.ipynb", "rejected_rows.csv"
    }
    assert _scan(out, result.stdout, result.stderr) == []
    report = json.loads((out / "report.json").read_text())
    assert report["data_quality"]["rows_excluded"]["forgotten_user"] == 5
    assert report["data_quality"]["rows_excluded"]["non_production_env"] == 1
    assert report["objectives"]["users_total"] == 6
    _reconciles(report)
    with (out / "rejected_rows.csv").open(encoding="utf-8") as fh:
        reasons = [r["reason"] for r in csv.DictReader(fh)]
    assert reasons == ["non_production_env"]
    # papermill got the path, never the ids; nor are the kept users' ids in what people read.
    notebook = (out / "report.ipynb").read_text()
    assert "deletion-requests.txt" in notebook
    for page in (notebook, (out / "report.html").read_text()):
        assert not [i for i in ("s1", "s5", "v1", "v5") if f'"{i}"' in page or f">{i}<" in page]


@pytest.mark.parametrize("kind", ["parquet", "jsonl"])
def test_forgetting_works_for_every_kind_of_file(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    writer = _as_parquet if kind == "parquet" else _as_jsonl
    source = writer(_rows(), tmp_path / f"events.{kind}")
    params = ReportParams(source=str(source), forget=str(_forget_file(tmp_path)))
    report = build_report(params)
    out = tmp_path / "out"
    write_outputs(report, out)
    assert _scan(out, caplog.text) == []
    excluded = report.data_quality["rows_excluded"]
    assert excluded["forgotten_user"] == 5 + (kind == "jsonl")  # the broken line that names one
    assert excluded["invalid_json_line"] == (kind == "jsonl")  # the broken line of nobody
    assert report.objectives["users_total"] == 6
    _reconciles(report.data)


def test_a_forget_file_may_be_a_csv_with_an_id_column(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "events.csv", _rows())
    forget = tmp_path / "forget.csv"
    forget.write_text(f"requested_at,id\n2026-01-01,{GONE}\n2026-01-02,{GONE_VISITOR}\n")
    report = build_report(ReportParams(source=str(source), forget=str(forget)))
    assert report.data_quality["rows_excluded"]["forgotten_user"] == 5
    assert GONE not in str(report.rejected.to_pylist())


def test_forgetting_works_for_a_google_sheet(tmp_path: Path, monkeypatch) -> None:
    from fake_sheets import FakeGoogle

    from helpers import gsheets
    from helpers.sources import read_events

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(gsheets._retry, "_WAIT_INITIAL", 0.01)
    key_id = "1PrivacySheetKey0123456789abcdefghijklmnop"
    cells = [COLUMNS] + [[r[c] for c in COLUMNS] for r in _rows()]
    with FakeGoogle() as google:
        google.add_spreadsheet(key_id, "Events", {"Events": cells})
        google.write_service_account_key(tmp_path / "key.json")
        url = f"https://docs.google.com/spreadsheets/d/{key_id}/edit#gid=0"
        params = ReportParams(source=url, credentials=str(tmp_path / "key.json"),
                              forget=str(_forget_file(tmp_path)))  # fmt: skip
        raw = read_events(url, **params.sheet_options(), session=google.session())
        report = build_report(params, raw=raw)
    write_outputs(report, tmp_path / "out")
    assert _scan(tmp_path / "out") == []
    assert report.data_quality["rows_excluded"]["forgotten_user"] == 5
    _reconciles(report.data)


@pytest.mark.parametrize(
    ("setting", "said"),
    [("forget={missing}", "does not exist"), ("pseudonym_env=EMPTY_PSEUDONYM_KEY", "is empty")],
)
def test_bad_privacy_input_is_one_paragraph_and_exit_2(tmp_path: Path, setting, said) -> None:
    source = write_csv(tmp_path / "events.csv", _rows())
    setting = setting.format(missing=tmp_path / "nowhere.txt")
    result = run_cli("run", "--json-only", "--source", str(source), "--out", str(tmp_path / "out"),
                 "--set", setting, "--set", "pseudonymise=[rejected_rows]",
                 env={"EMPTY_PSEUDONYM_KEY": ""})  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert said in result.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_personal_columns_and_fields_never_reach_an_output(tmp_path: Path) -> None:
    header = [*COLUMNS, "ip_address", "email", "country"]
    rows = [
        {**event(session_id="a", params={"user": {"email": "ann@example.org", "age": 3}},
                 env="development"), "ip_address": "203.0.113.9", "email": "ann@example.org",
         "country": "DE"},
        {**event(session_id="b"), "ip_address": "203.0.113.10", "email": "bo@example.org",
         "country": "FR"},
    ]  # fmt: skip
    source = write_csv(tmp_path / "events.csv", rows, header)
    report = build_report(ReportParams(source=str(source)))
    paths = write_outputs(report, tmp_path / "out")
    text = "".join(p.read_text() for p in paths.values())
    assert "example.org" not in text and "203.0.113" not in text
    assert report.data_quality["personal_columns_dropped"] == [
        "ip_address", "email", "params.user.email"
    ]
    (row,) = report.rejected.to_pylist()
    assert row["country"] == "DE" and json.loads(row["params"]) == {"user": {"age": 3}}
    assert "personal" in views.data_quality(report).markup
    kept = build_report(ReportParams(source=str(source), keep_columns=["email"]))
    assert kept.rejected.column("email").to_pylist() == ["ann@example.org"]
    assert kept.data_quality["personal_columns_dropped"] == ["ip_address", "params.user.email"]


def _pseudonyms(tmp_path: Path, **params) -> dict[str, str]:
    rows = [event(session_id="raw-a", env="development"), event(session_id="raw-a", env="dev"),
            event(session_id="raw-b", env="development")]  # fmt: skip
    source = write_csv(tmp_path / "events.csv", rows)
    report = build_report(ReportParams(source=str(source), pseudonymise=["rejected_rows"],
                                       **params))  # fmt: skip
    paths = write_outputs(report, tmp_path / "out")
    assert "raw-a" not in paths["rejected"].read_text()
    ids = report.rejected.column("session_id").to_pylist()
    assert ids[0] == ids[1] != ids[2]  # stable within a run, one per id
    return {"a": ids[0], "b": ids[2]}


def test_pseudonyms_are_stable_in_a_run_and_linked_across_runs_only_with_a_key(
    tmp_path: Path, monkeypatch
) -> None:
    first, second = _pseudonyms(tmp_path), _pseudonyms(tmp_path)
    assert first["a"] != second["a"]  # a random key per run
    monkeypatch.setenv("REPORT_PSEUDONYM_KEY", "s3cr3t-key-material-0123456789")
    keyed = [_pseudonyms(tmp_path, pseudonym_env="REPORT_PSEUDONYM_KEY") for _ in range(2)]
    assert keyed[0] == keyed[1]
    assert "s3cr3t" not in (tmp_path / "out" / "report.json").read_text()


def test_a_breakdown_by_an_id_column_shows_pseudonyms(tmp_path: Path) -> None:
    rows = [event(session_id=f"s{i}", visitor_id="visitor-raw-77") for i in range(6)]
    source = write_csv(tmp_path / "events.csv", rows)
    trends = {"period": "day", "events": [], "breakdown": "visitor_id"}
    report = build_report(ReportParams(source=str(source), trends=trends))
    page = "".join(q.markup for q in views.questions(report))
    assert "visitor-raw-77" not in page and "p_" in page
    assert "visitor-raw-77" in json.dumps(report.data)  # report.json: not asked to
    private = build_report(ReportParams(source=str(source), trends=trends,
                                        pseudonymise=["html", "notebook", "report_json"]))
    assert "visitor-raw-77" not in json.dumps(private.data)


def test_a_channel_of_four_users_is_folded_and_totals_stay(tmp_path: Path) -> None:
    rows = [event(session_id=f"big{i}", om_source="adwords") for i in range(10)]
    rows += [event(session_id=f"tiny{i}", om_source="tiny_channel") for i in range(4)]
    source = write_csv(tmp_path / "events.csv", rows)
    report = build_report(ReportParams(source=str(source)))
    assert report.objectives["users_by_first_om_source"] == {"adwords": 10, "tiny_channel": 4}
    markup = views.section(report, "users_by_first_om_source").markup
    assert "tiny_channel" not in markup
    assert "other (small groups)" in markup and "fewer than 5" in markup
    summary = views.summary(report).markup
    assert 'data-key="/objectives/users_total" data-value="14"' in summary
    attribution = views.insight(report, "attribution").markup
    assert "tiny_channel" not in attribution and "not shown" in attribution
    shown = build_report(ReportParams(source=str(source), min_group_users=0))
    assert "tiny_channel" in views.section(shown, "users_by_first_om_source").markup
    assert "other (small groups)" not in views.section(shown, "users_by_first_om_source").markup


def test_spark_forgets_and_folds_as_duckdb_does(spark, tmp_path: Path) -> None:
    rows = _rows() + [event(session_id=f"tiny{i}", om_source="tiny_channel") for i in range(4)]
    source = write_csv(tmp_path / "events.csv", rows)
    params = {"source": str(source), "forget": str(_forget_file(tmp_path))}
    duck = build_report(ReportParams(**params))
    on_spark = build_report(ReportParams(**params, backend="pyspark"))
    assert on_spark.data_quality == duck.data_quality
    assert on_spark.data_quality["rows_excluded"]["forgotten_user"] == 5
    assert on_spark.objectives == duck.objectives
    assert on_spark.rejected.to_pylist() == duck.rejected.to_pylist()
    assert GONE not in str(on_spark.rejected.to_pylist())
    section = views.section(on_spark, "users_by_first_om_source").markup
    assert section == views.section(duck, "users_by_first_om_source").markup
    assert "tiny_channel" not in section and "other (small groups)" in section


def test_a_small_cohort_between_big_ones_is_left_out_and_figures_keep_their_places(
    tmp_path: Path,
) -> None:
    import re

    weeks = {"2021-01-04": 6, "2021-01-11": 2, "2021-01-18": 6}  # Mondays; the middle is small
    rows = [
        event(session_id=f"w{w}-{i}", datetime=f"{day} 10:00:00 UTC")
        for w, (day, n) in enumerate(weeks.items()) for i in range(n)
    ]  # fmt: skip
    source = write_csv(tmp_path / "events.csv", rows)
    report = build_report(ReportParams(source=str(source)))
    assert [c["users"] for c in report.data["analyses"]["retention"]["cohorts"]] == [6, 2, 6]
    markup = views.insight(report, "retention").markup
    assert "1 group with fewer than 5 users each (2 users in all) is not shown" in markup
    figures = re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', markup)
    assert any(key.startswith("/analyses/retention/cohorts/2/") for key, _ in figures)
    assert not any(key.startswith("/analyses/retention/cohorts/1/") for key, _ in figures)
    for key, value in figures:  # every figure names its own place in report.json
        found = report.data
        for part in key.split("/")[1:]:
            found = found[int(part)] if isinstance(found, list) else found[part]
        assert str(found) == value, key
