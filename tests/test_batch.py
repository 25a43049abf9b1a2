"""A batch over three days through the real CLI and papermill: the index lists every run,
every link resolves, the figures are the runs' report.json's, and each day is compared with
the day before it."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of synthetic events (``synth --days 3``), one file and one params file per
    day, run as one batch, in order: day 2 first would not be compared."""
    directory = tmp_path_factory.mktemp("batch")
    events = directory / "events.csv"
    assert run_cli("synth", "--rows", "3000", "--days", "3", str(events)).returncode == 0
    table = pacsv.read_csv(events, convert_options=pacsv.ConvertOptions(
        column_types={"datetime": "string"}, strings_can_be_null=False))  # fmt: skip
    days = pc.utf8_slice_codeunits(table.column("datetime"), 0, 10)
    params = []
    for day in sorted(set(days.to_pylist())):
        path = directory / f"{day}.csv"
        pacsv.write_csv(table.filter(pc.equal(days, day)), path)
        params.append(directory / f"day-{day}.yaml")
        params[-1].write_text(f"source: '{path}'\nuser_column: visitor_id\n")
    assert len(params) == 3
    out = directory / "out"
    args = [a for p in params for a in ("--params", str(p))]
    result = run_cli("run", "--out", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out


def test_the_index_lists_every_run_and_every_link_resolves(batch: Path) -> None:
    index = json.loads((batch / "index.json").read_text())
    names = [run["name"] for run in index["runs"]]
    assert names == ["day-2021-01-04", "day-2021-01-05", "day-2021-01-06"]
    page = (batch / "index.html").read_text()
    links = re.findall(r'href="([^"]+)"', page)
    assert links == [f"{name}/report.html" for name in names]
    for link in links:
        assert (batch / link).is_file(), link
    for run in index["runs"]:
        report = json.loads((batch / run["report_json"]).read_text())
        assert run["kpis"]["users_total"] == report["objectives"]["users_total"]
        assert run["first_event"] == report["period"]["first_event"]
        assert run["parameters"] == {"user_column": "visitor_id"}
        assert f'data-value="{report["objectives"]["users_clicked_book_now"]}"' in page
    assert page.count("<img") == 3  # users, sessions, shares of users: one unit per chart
    assert "http://" not in page and "https://" not in page


def test_each_day_is_compared_with_the_day_before(batch: Path) -> None:
    reports = [json.loads((batch / f"day-2021-01-0{d}" / "report.json").read_text())
               for d in (4, 5, 6)]  # fmt: skip
    assert reports[0]["comparison"] is None
    for before, now in itertools.pairwise(reports):
        kpi = now["comparison"]["kpis"]["users_total"]
        assert kpi["previous"] == before["objectives"]["users_total"]
        assert kpi["current"] == now["objectives"]["users_total"]
    html = (batch / "day-2021-01-05" / "report.html").read_text()
    assert "Compared with the previous report" in html
