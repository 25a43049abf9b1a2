# Two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install report test test-fast bench clean

install: $(STAMP)

# Reinstall when the declared dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (customer-activity-report)" >/dev/null
	@# Where PYTHONDONTWRITEBYTECODE is set, Python compiled every module of the editable
	@# package again in every run (0.25 s of a run's start); a stale .pyc is never used.
	$(PY) -m compileall -q helpers bench
	touch $(STAMP)

# The bundled four weeks twice: with the spec's defaults (users are sessions) and with users
# as visitors and every analysis defined: outputs/sample/ and outputs/analyses/.
report: $(STAMP)
	$(PY) -m helpers run --params params/sample.yaml --params params/analyses.yaml --out outputs

# Everything: lint, unit and property tests, end-to-end papermill runs, Spark, Chromium and
# every notebook executed by nbmake.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest --nbmake tests notebooks

# The inner loop: unit and property tests (fewer examples), in parallel; no papermill,
# no Spark, no browser.
test-fast: $(STAMP)
	HYPOTHESIS_PROFILE=fast $(PY) -m pytest -q -m "not slow" -n auto tests

# Generates (and caches in bench/cache/) 100k, 1M and 10M synthetic events, then writes
# bench/results.md and bench/results.json: 20-45 min on 2 cores, longer on a busy machine;
# then the report against hand-written DuckDB SQL, A B A B, at 1M and 10M CSV and Parquet
# (3 pairs each) and 100M Parquet (1 pair, 2.9 GB generated once): about 45 min more
# (bench/versus.py; its section of results.md).
# e.g. make bench BENCH_ARGS="--code-at HEAD" VERSUS_ARGS="--cases 1m/csv".
BENCH_ARGS ?=
VERSUS_ARGS ?=
bench: $(STAMP)
	$(PY) -m compileall -q helpers bench
	$(PY) -m bench.bench $(BENCH_ARGS)
	$(PY) -m bench.versus $(VERSUS_ARGS)

clean:
	rm -rf outputs/sample outputs/analyses outputs/notebook
