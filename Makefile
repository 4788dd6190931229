# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs every test.
# Both first install what they need into .venv (once; again only when the requirements change).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test export clean-nbs

$(STAMP): pyproject.toml requirements/constraints.txt tools/install.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python tools/install.py
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/artdiff sheet --out runs/procart_sheet.png

test: $(STAMP)
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/nbdev-test index.ipynb
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

export: $(STAMP)
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean && $(BIN)/nbdev-clean --fname index.ipynb && $(BIN)/python tools/readme.py
