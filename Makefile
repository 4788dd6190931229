# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs every test.
# Both first install what they need into .venv (once; again only when the requirements change).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo sheet test export docs

$(STAMP): pyproject.toml requirements/constraints.txt tools/install.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python tools/install.py
	touch $(STAMP)

install: $(STAMP)

# The main job: train the CPU preset on procedural art, then draw captions it never saw. 1,125 steps, the first 30% on
# half-size images at a third of the cost each: the training time of 900 full-size steps (minutes on 2 CPU cores; how many
# on which machines is in bench/README.md). Run again, it continues the same run instead of starting over (raise DEMO_STEPS
# to train longer).
DEMO_RUN ?= runs/procart-cpu
DEMO_STEPS ?= 1125
demo: $(STAMP)
	if [ -f $(DEMO_RUN)/checkpoints/latest ]; then $(BIN)/artdiff train --resume $(DEMO_RUN) --max-steps $(DEMO_STEPS); \
	else $(BIN)/artdiff train --preset procart-cpu --max-steps $(DEMO_STEPS) --output-folder $(DEMO_RUN); fi
	$(BIN)/artdiff generate --model-path $(DEMO_RUN) --captions-file examples/unseen_captions.txt --out $(DEMO_RUN)/generated_grid.png

sheet: $(STAMP)
	$(BIN)/artdiff sheet --out runs/procart_sheet.png

# Notebooks run two at once, one thread each (never oversubscribed); pytest a test file per core (exit 5: none collected).
# Everything they write to the temporary folder goes in one scratch folder, removed at the end, pass or fail.
test: $(STAMP)
	@scratch=$$(mktemp -d -t artdiff-test-XXXXXX); trap 'rm -rf "$$scratch"' EXIT; export TMPDIR="$$scratch"; set -x; \
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 && $(BIN)/nbdev-test index.ipynb || exit $$?; \
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

export: $(STAMP)
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean && $(BIN)/nbdev-clean --fname index.ipynb && $(BIN)/python tools/readme.py

# The docs site, offline: nbdev's processed notebooks rendered by mkdocs-material into site/ (tools/docs.py).
docs: $(STAMP)
	$(BIN)/python tools/docs.py
