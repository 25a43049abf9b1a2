"""Parameters: one typed definition shared by YAML files, --set overrides and the notebook."""

from __future__ import annotations

import ast
from pathlib import Path

import papermill
import pytest
import yaml

from helpers.errors import ParameterError
from helpers.notebook import RUN_PARAMETERS
from helpers.params import ReportParams, load_params, parse_override
from helpers.run import NOTEBOOK

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_spec_defaults() -> None:
    assert ReportParams().reported() == {
        "user_column": "session_id",
        "environments": ["production"],
        "exclude_internal_traffic": True,
        "short_session_seconds": 5,
        "price_threshold": 1200,
        "price_currency": "EUR",
        "columns": {},
        "session_timeout_minutes": 30,
        "datetime_format": None,
        "keep_columns": [],
        "pseudonymise": ["html", "notebook"],
        "min_group_users": 5,
    }


@pytest.mark.parametrize(
    ("item", "key", "value"),
    [
        ("user_column=visitor_id", "user_column", "visitor_id"),
        ("environments=[production, development]", "environments", ["production", "development"]),
        ("exclude_internal_traffic=false", "exclude_internal_traffic", False),
        ("short_session_seconds=10", "short_session_seconds", 10),
        ("price_threshold=1500", "price_threshold", 1500),
        ("price_threshold=1499.5", "price_threshold", 1499.5),
    ],
)
def test_overrides_are_read_as_yaml(item: str, key: str, value: object) -> None:
    assert parse_override(item) == (key, value)
    assert getattr(load_params(overrides=[item]), key) == value


def test_files_merge_in_order_and_overrides_win(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("price_threshold: 1000\nshort_session_seconds: 7\n")
    second = tmp_path / "b.yaml"
    second.write_text("price_threshold: 2000\n")
    params = load_params([first, second], ["short_session_seconds=9"])
    assert (params.price_threshold, params.short_session_seconds) == (2000, 9)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("user_colum=visitor_id", "unknown parameter(s) 'user_colum'"),
        ("user_column=' '", "user_column"),
        ("user_column=[a, b]", "user_column"),
        ("columns=[timestamp]", "columns"),
        ("session_timeout_minutes=-1", "session_timeout_minutes"),
        ("datetime_format=%Q", "datetime_format"),
        ("price_threshold=cheap", "price_threshold"),
        ("price_threshold=yes", "not a boolean"),
        ("price_threshold=.inf", "finite"),
        ("short_session_seconds=-1", "short_session_seconds"),
        ("environments=[]", "environments"),
        ("environments=['  ']", "blank"),
        ("exclude_internal_traffic=maybe", "exclude_internal_traffic"),
        ("price_currency=''", "price_currency"),
        ("novalue", "needs KEY=VALUE"),
    ],
)
def test_bad_values_are_refused_with_the_key_named(item: str, message: str) -> None:
    with pytest.raises(ParameterError, match="--set") as caught:
        load_params(overrides=[item])
    assert message in str(caught.value)


def test_bad_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        load_params([tmp_path / "missing.yaml"])
    listed = tmp_path / "list.yaml"
    listed.write_text("- price_threshold\n")
    with pytest.raises(ParameterError, match="mapping"):
        load_params([listed])
    broken = tmp_path / "broken.yaml"
    broken.write_text("price_threshold: [\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_params([broken])


@pytest.mark.parametrize("path", sorted((ROOT / "params").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_parameter_file_is_valid(path: Path) -> None:
    assert isinstance(load_params([path]), ReportParams)


def test_notebook_parameters_cell_matches_the_model() -> None:
    cell = papermill.inspect_notebook(str(NOTEBOOK))
    assert set(cell) == set(ReportParams.model_fields) | set(RUN_PARAMETERS)
    defaults = ReportParams().model_dump(mode="json")
    for name in ReportParams.model_fields:
        assert ast.literal_eval(cell[name]["default"]) == defaults[name], name


def test_credentials_are_never_parameter_values() -> None:
    # Papermill writes parameters into the executed notebook: only paths may appear there.
    for name in ReportParams.model_fields:
        assert not any(word in name for word in ("key", "token", "secret", "password")), name


def test_environment_yml_installs_the_package_declared_in_pyproject() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[dev]"]
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = pyproject.split('requires-python = ">=')[1].split('"')[0]
    assert python == f"python={minimum}"
