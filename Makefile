# Haven: `make run` and `make test` are the two set-up commands (see README.md).
# Every target bootstraps .venv (Python 3.10 + pinned dependencies) on first use.
VENV   := .venv
PY     := $(VENV)/bin/python
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
PYTEST_ARGS ?=

.PHONY: run test lint train eval eval-cv validate bench bench-channels bench-safety bench-directory bench-handoff bench-reporting venv clean cluster bench-cluster profile

venv:
	@scripts/bootstrap.sh

run: venv
	$(PY) -m bot.cli run

# Strict typing of bot/, channels/, actions/ (config in pyproject.toml [tool.mypy]).
lint: venv
	$(PY) -m mypy

# Several replicas behind HAProxy on this machine (needs HAVEN_DATABASE_URL=postgresql://...,
# HAVEN_REDIS_URL=redis://...; installs haproxy with apt-get where missing).
cluster: venv
	@scripts/bootstrap.sh --cluster
	$(PY) -m bot.cli cluster

train: venv
	$(PY) -m bot.cli train

validate: venv
	$(PY) -m bot.rasa_adapters.main data validate --domain domain --data nlu data/dialogue --config config.yml

test: venv lint validate
	$(PY) -m bot.cli train
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

eval: venv
	$(PY) -m bot.cli train
	$(PY) -m bot.cli eval --report results/nlu-eval.json

# 5-fold cross-validation over the training data (5 NLU trainings: slow); reuses finished folds
# in results/cv/. --write-thresholds re-chooses the danger thresholds on its out-of-fold predictions.
eval-cv: venv
	nice -n 10 $(PY) -m bot.eval_cv $(CV_ARGS)

bench: venv
	$(PY) -m bot.cli train
	$(PY) -m bench.core

bench-channels: venv
	$(PY) -m bot.cli train
	$(PY) -m bench.channels_stack

bench-safety: venv
	$(PY) -m bench.safety

bench-directory: venv
	$(PY) -m bench.directory

bench-handoff: venv
	$(PY) -m bench.handoff

bench-reporting: venv
	$(PY) -m bench.reporting

# Stock `rasa init` bot vs Haven embedded vs Haven 2-replica cluster (PostgreSQL/Redis from
# HAVEN_TEST_DATABASE_URL / HAVEN_TEST_REDIS_URL, haproxy installed where missing).
bench-cluster: venv
	$(PY) -m bot.cli train
	@scripts/bootstrap.sh --cluster || true
	$(PY) -m bench.cluster

# Where one turn's CPU goes (py-spy over the embedded stack under load; prints the top frames).
profile: venv
	$(PY) -m bot.cli train
	$(PY) -m bench.profile_turn 40

clean:
	rm -rf models results test-output .pytest_cache
