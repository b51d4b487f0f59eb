# cnnlab: `make demo` runs the lesson, `make test` runs lint, the docs build and tests. Both set up first.
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cnnlab-setup

.PHONY: setup system-deps demo test test-portable lint docs bench clean

setup: $(STAMP)

# torch first, its CPU build: on Linux PyPI's torch pulls several GB of CUDA libraries and
# PyTorch's CPU index does not (one looked up there, without its dependencies, which come with
# cnnlab's below from PyPI); PyPI's torch for macOS is CPU-only already.
TORCH      := torch==2.13.0
TORCH_FROM := $(if $(filter Linux,$(shell uname -s)),--no-deps --index-url https://download.pytorch.org/whl/cpu)

$(STAMP): pyproject.toml
	@echo "setup: creating the virtual environment $(VENV) (if missing)"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "setup: upgrading pip"
	@$(BIN)/python -m pip install -q --upgrade pip
	@echo "setup: installing $(TORCH) (CPU build)"
	@$(BIN)/python -m pip install -q $(TORCH_FROM) $(TORCH)
	@echo "setup: installing cnnlab with its dev and docs extras (pytest, ruff, keras, mkdocs)"
	@$(BIN)/python -m pip install -q -e '.[dev,docs]'
	@touch $(STAMP)
	@echo "setup: done ($(VENV); reinstalled whenever pyproject.toml changes)"

# Real Fashion-MNIST (Debian) and a headless browser for report tests, where apt and root allow.
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  need=""; \
	  [ -d /usr/share/datasets/fashion-mnist ] || need="$$need dataset-fashion-mnist"; \
	  command -v chromium >/dev/null 2>&1 || need="$$need chromium"; \
	  if [ -n "$$need" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null) \
	      || echo "note: could not install$$need; the tests that need them will skip"; \
	  fi; \
	else echo "note: no apt or not root; real-data and browser tests will skip"; fi

demo: setup system-deps
	$(BIN)/cnnlab lesson --dataset fashion_mnist --overwrite

lint: setup
	$(BIN)/ruff check src tests bench

# The docs site, built strictly: a broken link, a missing page or API name fails the build.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: setup system-deps lint docs
	$(BIN)/python -m pytest -q -p no:cacheprovider
	@$(MAKE) --no-print-directory test-portable

# What macOS and Windows meet: training and the lesson on torch's operators alone (no C
# compiler), then with C kernels but without the Linux-only oneDNN wheel.
test-portable: setup
	CNNLAB_NATIVE=0 $(BIN)/python -m pytest -q -p no:cacheprovider tests/train tests/lesson
	CNNLAB_ONEDNN=0 $(BIN)/python -m pytest -q -p no:cacheprovider tests/train tests/lesson

# Keras 3 on TensorFlow, the benchmarks' peer, in its own venv: never a dependency of cnnlab.
# If it cannot be installed, the benches compare with Keras on torch and say so.
bench: setup system-deps
	@test -f .venv-bench/.stamp || { $(PY) -m venv .venv-bench \
	  && .venv-bench/bin/python -m pip install -q tensorflow-cpu && touch .venv-bench/.stamp; } \
	  || echo "note: could not install tensorflow-cpu into .venv-bench"
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/time_to_accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
