# Two entry points (see README): `make example` and `make test`.
# Both build .venv/ first with the pinned versions in constraints.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: example test docs setup clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/setup.sh
	PYTHON=$(PYTHON) bash scripts/setup.sh $(VENV)
	touch $(STAMP)

example: $(STAMP)
	$(VENV)/bin/nmfsep separate audio_examples/drums_mix.wav --recipe drums --hits audio_examples/hits --out separated --overwrite

test: $(STAMP)
	$(PY) -m pytest -q

# the API reference site (mkdocs.yml) into site/, warnings as errors; tests/test_docs.py builds it too
docs: $(STAMP)
	$(PY) -m mkdocs build --strict

clean-venv:
	rm -rf $(VENV)
