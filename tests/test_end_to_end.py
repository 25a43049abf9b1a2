"""End to end: the real CLI, real papermill and nbconvert, on the bundled sample and on files
a user could hand it. The notebook and the HTML must show report.json's numbers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from conftest import event, write_csv
from oracle import reference_report

from helpers import build_report
from helpers.params import SAMPLE_SOURCE, ReportParams
from helpers.report import validate

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


class _Figures(HTMLParser):
    """Collects (data-key, data-value, shown text) of every figure in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, str, str]] = []
        self._open: tuple[str, str] | None = None
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if "data-key" in found:
            self._open = (found["data-key"] or "", found["data-value"] or "")

    def handle_data(self, data: str) -> None:
        if self._open:
            self.figures.append((*self._open, data))
            self._open = None


def _figures(markup: str) -> _Figures:
    parser = _Figures()
    parser.feed(markup)
    return parser


def resolve(document: dict, pointer: str) -> object:
    value: object = document
    for part in pointer.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        value = value[int(key)] if isinstance(value, list) else value[key]  # type: ignore[index]
    return value


def assert_shows_report_numbers(markup: str, report: dict) -> int:
    figures = _figures(markup).figures
    for key, value, shown in figures:
        assert resolve(report, key) == int(value), key
        assert shown == f"{int(value):,}", key
    return len({key for key, _, _ in figures})


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    result = cli("run", "--params", "params/sample.yaml", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_the_sample_run_writes_every_output(sample_run: Path) -> None:
    names = {p.name for p in sample_run.iterdir()}
    assert names == {"report.json", "report.html", "report.ipynb", "rejected_rows.csv"}
    validate(json.loads((sample_run / "report.json").read_text()))


def test_the_sample_report_agrees_with_the_reference_implementation(sample_run: Path) -> None:
    report = json.loads((sample_run / "report.json").read_text())
    reference = reference_report(SAMPLE_SOURCE)
    spec_quality = {k: report["data_quality"][k] for k in reference["data_quality"]}
    assert spec_quality == reference["data_quality"]
    assert report["objectives"] == reference["objectives"]
    # The sample is meant to exercise every rule: none of these may be trivially zero.
    quality = report["data_quality"]
    for reason in ("missing_session_id", "non_production_env", "internal_ip", "duplicate_event"):
        assert quality["rows_excluded"][reason] > 0, reason
    assert quality["params_invalid"] > 0 and quality["price_invalid"] > 0
    assert report["objectives"]["price_filter"]["sessions_ignored_other_currency"] > 0


def test_the_html_shows_the_json_numbers_without_code(sample_run: Path) -> None:
    report = json.loads((sample_run / "report.json").read_text())
    page = (sample_run / "report.html").read_text()
    shown = assert_shows_report_numbers(page, report)
    assert shown >= 40  # every objective, breakdown and data-quality count
    for key in report["objectives"]:
        assert f'data-key="/objectives/{key}' in page, key
    # No code cells, no prompts, nothing fetched from the network.
    notebook = nbformat.read(ROOT / "notebooks" / "customer_activity.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.source.splitlines()[-1] not in page
    body = re.sub(r"<style.*?</style>", "", page, flags=re.DOTALL)
    assert "In&nbsp;[" not in body and "Out[" not in body
    for tag, attrs in _figures(page).tags:
        for attribute in ("src", "href"):
            target = attrs.get(attribute) or ""
            assert not target.startswith(("http:", "https:", "//")), (tag, target)
    assert "<script src" not in page


def test_the_executed_notebook_shows_the_json_numbers(sample_run: Path) -> None:
    report = json.loads((sample_run / "report.json").read_text())
    notebook = nbformat.read(sample_run / "report.ipynb", as_version=4)
    markup = "".join(
        output.get("data", {}).get("text/html", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert assert_shows_report_numbers(markup, report) >= 40
    tags = [c.metadata.get("tags", []) for c in notebook.cells]
    injected = notebook.cells[next(i for i, t in enumerate(tags) if "injected-parameters" in t)]
    assert "price_threshold = 1200" in injected.source


def test_json_only_gives_the_same_numbers_without_the_notebook(
    sample_run: Path, tmp_path: Path
) -> None:
    result = cli("run", "--out", str(tmp_path), "--json-only")
    assert result.returncode == 0, result.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"report.json", "rejected_rows.csv"}
    fast = json.loads((tmp_path / "report.json").read_text())
    full = json.loads((sample_run / "report.json").read_text())
    for key in ("source", "parameters", "data_quality", "objectives"):
        assert fast[key] == full[key]


def test_a_batch_writes_one_report_per_parameter_set(tmp_path: Path) -> None:
    result = cli(
        "run", "--json-only", "--out", str(tmp_path),
        "--params", "params/sample.yaml", "--params", "params/visitors.yaml",
        "--set", "price_threshold=1500",
    )
    assert result.returncode == 0, result.stderr
    sample = json.loads((tmp_path / "sample" / "report.json").read_text())
    visitors = json.loads((tmp_path / "visitors" / "report.json").read_text())
    assert sample["parameters"]["user_column"] == "session_id"
    assert visitors["parameters"]["user_column"] == "visitor_id"
    assert sample["parameters"]["price_threshold"] == visitors["parameters"]["price_threshold"]
    assert sample["parameters"]["price_threshold"] == 1500
    assert visitors["objectives"]["users_total"] < sample["objectives"]["users_total"]


def test_overrides_reach_the_report(tmp_path: Path) -> None:
    result = cli(
        "run", "--json-only", "--out", str(tmp_path),
        "--set", "environments=[production, development]",
        "--set", "exclude_internal_traffic=false", "--set", "short_session_seconds=10",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    default = build_report(ReportParams())
    assert report["data_quality"]["rows_excluded"]["non_production_env"] == 0
    assert report["data_quality"]["rows_excluded"]["internal_ip"] == 0
    assert report["objectives"]["users_total"] > default.objectives["users_total"]
    assert report["objectives"]["short_sessions"]["max_duration_seconds"] == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "no/such/file.csv"], "does not exist"),
        (["--set", "price_treshold=1"], "unknown parameter(s) 'price_treshold'"),
        (["--set", "user_column=visitor"], "user_column"),
        (["--params", "params/none.yaml"], "does not exist"),
    ],
)
def test_mistakes_get_one_clear_paragraph_and_exit_code_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli("run", "--json-only", "--out", str(tmp_path), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = cli("run", "--json-only", "--debug", "--out", str(tmp_path), "--source", "nope.csv")
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_a_failed_run_leaves_the_last_good_report(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [event()])
    assert cli("run", "--out", str(tmp_path / "out"), "--source", str(good)).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    bad = tmp_path / "bad.csv"
    bad.write_text("when,session_id\n2021-01-23,1\n")
    result = cli("run", "--out", str(tmp_path / "out"), "--source", str(bad))
    assert result.returncode == 2
    assert "no datetime column" in result.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_hostile_strings_from_the_data_are_escaped(tmp_path: Path) -> None:
    hostile = '<img src=x onerror=alert(1)>'
    rows = [event(om_source=hostile, device_class="<script>alert(2)</script>")]
    source = write_csv(tmp_path / "hostile.csv", rows)
    # One user: shown only with small groups shown (min_group_users=0), as here.
    result = cli("run", "--out", str(tmp_path / "out"), "--source", str(source),
                 "--set", "min_group_users=0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "report.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert hostile not in page
    assert "<script>alert(2)</script>" not in page
    assert not [t for t, attrs in _figures(page).tags if t == "img" and attrs.get("src") == "x"]


CHROMIUM = Path("/usr/bin/chromium")
_CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update",
]


SCREENSHOTS = ROOT / "outputs" / "screenshots"  # git-ignored: what the browser saw, to look at
_NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
)


@contextmanager
def _browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=_CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def what_if_run(sample_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A what-if report (a longer short-session limit) compared with the sample's."""
    out = tmp_path_factory.mktemp("what-if")
    result = cli("run", "--params", "params/sample.yaml", "--set", "short_session_seconds=10",
                 "--compare-to", str(sample_run / "report.json"), "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


@_NEEDS_CHROMIUM
@pytest.mark.parametrize("width", [390, 1280], ids=["phone", "desktop"])
def test_the_html_in_a_real_browser(sample_run: Path, width: int) -> None:
    report = json.loads((sample_run / "report.json").read_text())
    page_path = sample_run / "report.html"
    assert page_path.stat().st_size <= 3 * 1024 * 1024
    console, requests = [], []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"report-{width}px.png"
    with _browser() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.on("console", lambda message: console.append((message.type, message.text)))
        page.on("pageerror", lambda error: console.append(("pageerror", str(error))))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri(), wait_until="load")
        figures = page.eval_on_selector_all(
            "[data-key]",
            "els => els.map(e => [e.dataset.key, e.dataset.value, e.innerText])",
        )
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        header = page.inner_text(".car-about")
        # Every link of the contents lands on exactly one element of the page.
        targets = page.evaluate("""[...document.querySelectorAll('nav.car-toc a')].map(a =>
            [a.getAttribute('href'),
             document.querySelectorAll('[id="' + a.getAttribute('href').slice(1) + '"]').length]
        )""")
        # The smallest text of each chart as shown: its PNG's font size, scaled as displayed.
        labels = page.evaluate("""[...document.querySelectorAll('img.car-chart')].map(i =>
            i.getBoundingClientRect().width / i.naturalWidth * i.dataset.fontPx)""")
        page.locator("nav.car-toc a").first.click()
        landed = page.evaluate("window.location.hash")
        page.screenshot(path=str(shot), full_page=True)
    assert [m for m in console if m[0] in ("error", "pageerror")] == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    kpis = [f for f in figures if f[0].startswith("/objectives/")]
    assert len(kpis) >= 20
    for key, value, shown in figures:
        assert resolve(report, key) == int(value), key
        assert shown.strip() == f"{int(value):,}", key
    assert overflow <= 1  # readable at phone width: nothing wider than the screen
    assert "sample_events.csv.gz" in header and "100,000 rows" in header
    assert "Mon 4 Jan 2021, 00:03 to Sun 31 Jan 2021, 23:59 UTC" in header
    assert "Generated" in header and "What-if" not in header
    assert len(targets) >= 20 and all(count == 1 for _, count in targets), targets
    assert landed == targets[0][0]
    assert len(labels) >= 10 and min(labels) >= 11, labels
    assert shot.stat().st_size > 10_000


_ANALYSES = ("funnels", "retention", "trends", "lifecycle")


@_NEEDS_CHROMIUM
def test_the_analyses_charts_in_a_real_browser(sample_run: Path) -> None:
    """Each of the analyst's questions at phone width: its charts drawn and inside the
    screen, its figures those of report.json, its retention blanks blank; one screenshot per
    analysis (outputs/screenshots/analysis-<key>-390px.png)."""
    report = json.loads((sample_run / "report.json").read_text())
    console: list[tuple[str, str]] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 900})
        page.on("console", lambda message: console.append((message.type, message.text)))
        page.on("pageerror", lambda error: console.append(("pageerror", str(error))))
        page.goto((sample_run / "report.html").as_uri(), wait_until="load")
        sections = {}
        for key in _ANALYSES:
            section = page.locator(f".jp-OutputArea-output:has(h2#{key})")
            sections[key] = section.evaluate("""s => ({
                charts: [...s.querySelectorAll('img.car-chart')].map(i =>
                    [i.naturalWidth, i.getBoundingClientRect().right]),
                figures: [...s.querySelectorAll('[data-key]')].map(e =>
                    [e.dataset.key, e.dataset.value, e.innerText]),
                cells: [...s.querySelectorAll('td')].map(td => td.innerText.trim()),
                narrative: s.querySelector('p.car-narrative').innerText,
            })""")
            section.screenshot(path=str(SCREENSHOTS / f"analysis-{key}-390px.png"))
    assert [m for m in console if m[0] in ("error", "pageerror")] == []
    analyses = report["analyses"]
    for key, shown in sections.items():
        assert shown["charts"], f"{key} has no chart"
        for natural_width, right in shown["charts"]:
            assert natural_width > 0 and right <= 390, (key, natural_width, right)
        assert shown["figures"], f"{key} shows no figure"
        for pointer, value, text in shown["figures"]:
            assert pointer.startswith(f"/analyses/{key}/"), pointer
            assert resolve(report, pointer) == int(value) and text.strip() == f"{int(value):,}"
        assert len(shown["narrative"]) > 40, key
    # The sample is four weeks of data: every analysis has something to show.
    assert len(analyses["trends"]["periods"]) >= 28 and len(analyses["lifecycle"]["periods"]) >= 3
    # A retention cell not yet observed (null in report.json) is blank in the page, never 0.
    unobserved = sum(v is None for c in analyses["retention"]["cohorts"] for v in c["retained"])
    assert unobserved > 0
    assert sum(cell == "" for cell in sections["retention"]["cells"]) >= unobserved
    for key in _ANALYSES:
        assert (SCREENSHOTS / f"analysis-{key}-390px.png").stat().st_size > 5_000


@_NEEDS_CHROMIUM
def test_the_html_in_dark_mode_and_on_paper(sample_run: Path) -> None:
    page_path = sample_run / "report.html"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with _browser() as browser:
        dark = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
        dark.goto(page_path.as_uri(), wait_until="load")
        background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
        tile = dark.evaluate(
            "getComputedStyle(document.querySelector('.car-kpi')).backgroundColor"
        )
        dark.screenshot(path=str(SCREENSHOTS / "report-dark.png"), full_page=True)
        paper = browser.new_page()
        paper.goto(page_path.as_uri(), wait_until="load")
        paper.emulate_media(media="print")
        hidden = paper.evaluate(
            "getComputedStyle(document.querySelector('nav.car-toc')).display"
        )
        pdf = paper.pdf(path=str(SCREENSHOTS / "report-print.pdf"), format="A4")
    assert background == "rgb(13, 17, 23)"  # the page's dark background, #0d1117
    assert tile == "rgb(22, 27, 34)"  # and the tiles' (#161b22)
    assert hidden == "none"  # the contents are for the screen
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 1 <= pages <= 6, pages


@_NEEDS_CHROMIUM
def test_a_what_if_comparison_in_a_real_browser(what_if_run: Path, sample_run: Path) -> None:
    report = json.loads((what_if_run / "report.json").read_text())
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 900})
        page.goto((what_if_run / "report.html").as_uri(), wait_until="load")
        banner = page.inner_text(".car-what-if")
        figures = page.eval_on_selector_all(
            "[data-key^='/comparison/']",
            "els => els.map(e => [e.dataset.key, e.dataset.value, e.innerText])",
        )
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(path=str(SCREENSHOTS / "report-what-if-390px.png"), full_page=True)
    assert "What-if report" in banner and "short session limit (seconds) = 10" in banner
    assert len(figures) >= 2 * len(report["comparison"]["kpis"])
    for key, value, shown in figures:
        assert resolve(report, key) == int(value), key
        assert shown.strip() == f"{int(value):,}", key
    before = json.loads((sample_run / "report.json").read_text())
    assert report["comparison"]["kpis"]["short_sessions.sessions"]["previous"] == (
        before["objectives"]["short_sessions"]["sessions"]
    )
    assert overflow <= 1


def test_progress_shows_on_a_terminal_and_stays_quiet_otherwise(tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios
    import threading

    leader, follower = pty.openpty()
    # A terminal 100 columns wide (a new pty has none, and tqdm draws nothing in 0 columns).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    shown = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the run is over
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    with_terminal = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--json-only", "--out", str(tmp_path / "tty")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=follower, timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    os.close(follower)
    reader.join(timeout=10)
    os.close(leader)
    assert with_terminal.returncode == 0
    text = shown.decode(errors="replace")
    for stage in ("reading the events", "cleaning", "insights"):
        assert stage in text
    assert "stages" in text

    piped = cli("run", "--json-only", "--out", str(tmp_path / "piped"))
    assert piped.returncode == 0, piped.stderr
    assert "stages" not in piped.stderr and "cleaning" not in piped.stderr


def test_a_log_in_another_shape_through_papermill_says_what_it_cannot_answer(
    tmp_path: Path,
) -> None:
    from conftest import write_activity_log

    log = write_activity_log(tmp_path / "log.csv", users=60)
    params = tmp_path / "log.yaml"
    params.write_text(
        "columns: {datetime: time, event_type: event}\nuser_column: distinct_id\n"
        "datetime_format: epoch_ms\ntrends: {period: day, breakdown: platform}\n"
    )
    out = tmp_path / "out"
    result = cli("run", "--source", str(log), "--params", str(params), "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["objectives"]["short_sessions"] is None
    assert report["data_quality"]["objectives_unavailable"]["short_sessions"] == ["page_type"]
    page = (out / "report.html").read_text()
    assert assert_shows_report_numbers(page, report) >= 10
    assert "Not answered: this question needs the\npage_type column" in page
    assert "Not answered: this analysis needs the\npage_type column" in page  # paths
    assert "The events have no page_type column" in page


def _papermill(cwd: Path, output: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "customer_activity.ipynb"),
         str(output), *args], cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_papermill_from_any_directory_writes_where_the_cli_would(tmp_path: Path) -> None:
    name = f"test-papermill-{tmp_path.name}"
    relative = f"outputs/{name}"
    try:
        for cwd in (ROOT, tmp_path):
            result = _papermill(cwd, tmp_path / "out.ipynb", "-p", "out_dir", relative,
                                "-p", "price_threshold", "1500")  # fmt: skip
            assert result.returncode == 0, result.stderr
            report = json.loads((ROOT / relative / "report.json").read_text())
            assert report["parameters"]["price_threshold"] == 1500
            (ROOT / relative / "report.json").unlink()
        assert not (tmp_path / "outputs").exists() and not (ROOT.parent / "outputs" / name).exists()
        page = tmp_path / "out.html"
        shown = cli("html", str(tmp_path / "out.ipynb"), "--out", str(page))
        assert shown.returncode == 0, shown.stderr
        markup = page.read_text()
        assert "<script src" not in markup
        assert ".car-kpi" in markup  # the tiles carry their styles
    finally:
        shutil.rmtree(ROOT / relative, ignore_errors=True)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-p", "user_colum", "visitor_id"], "unknown parameter(s) 'user_colum'"),
        (["-p", "short_session_seconds", "soon"], "short_session_seconds"),
    ],
)
def test_papermill_mistakes_stop_at_the_first_cell_with_one_message(
    tmp_path: Path, args: list[str], said: str
) -> None:
    out = tmp_path / "outputs"
    result = _papermill(tmp_path, tmp_path / "out.ipynb", "-p", "out_dir", str(out), *args)
    assert result.returncode != 0
    assert said in result.stderr
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]  # fmt: skip
    assert len(errors) == 1
    assert len(errors[0]["traceback"]) == 1 and errors[0]["traceback"][0].startswith("error: ")
    assert not out.exists()
