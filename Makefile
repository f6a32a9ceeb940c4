# keras_iml — quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install browser test demo docs bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

# TensorFlow: the package asks for `tensorflow` (what Colab and GPU machines carry). This
# project's machines have no GPU: on x86-64 Linux, setup.py declares tensorflow-cpu instead
# when KERAS_IML_TENSORFLOW names it, so pip never fetches the full wheel, and installed
# metadata and `pip check` stay true. Other platforms keep `tensorflow` (tensorflow-cpu's
# wheels are for x86-64).
# Set KERAS_IML_TENSORFLOW=tensorflow to choose the full build here.
KERAS_IML_TENSORFLOW ?= $(if $(filter Linux-x86_64,$(shell uname -s)-$(shell uname -m)),tensorflow-cpu,tensorflow)
export KERAS_IML_TENSORFLOW

# torch 2.13.0 is the CPU build this project's machines carry (a plain `torch` would pull
# a multi-GB CUDA build); jax[cpu] and torch run the JAX and PyTorch backend tests.
# The last check fails when two TensorFlow distributions lie over each other in the venv
# (another package asked for `tensorflow` beside tensorflow-cpu).
$(STAMP): $(PY) setup.py setup.cfg pyproject.toml
	$(PY) -m pip install --quiet "torch==2.13.0" -e ".[test,backends]"
	$(PY) -c "import tensorflow as tf, keras; print('keras_iml: TensorFlow', tf.__version__, '/ Keras', keras.__version__)"
	$(PY) -c "$$TF_DISTRIBUTIONS_CHECK"
	touch $(STAMP)

define TF_DISTRIBUTIONS_CHECK
import importlib.metadata as md
names = sorted({(d.metadata["Name"] or "").lower().replace("_", "-") for d in md.distributions()}
               & {"tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"})
print("keras_iml: TensorFlow distributions installed:", ", ".join(names))
assert len(names) == 1, f"expected one TensorFlow distribution, found {names}"
endef
export TF_DISTRIBUTIONS_CHECK

install: $(STAMP) browser

# Headless Chromium + chromedriver for tests/test_browser.py (Debian packages), installed
# with apt-get when missing; elsewhere (e.g. macOS) a message, and the test is skipped.
# In CI (CI set) a failed installation fails the target.
browser:
	@if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then \
	  exit 0; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo -n"; \
	  echo "keras_iml: installing chromium and chromium-driver with apt-get (for the browser test)"; \
	  if $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; then \
	    echo "keras_iml: chromium installed"; \
	  else \
	    echo "keras_iml: could not install chromium with apt-get; tests/test_browser.py will be skipped"; \
	    [ -z "$$CI" ] || exit 1; \
	  fi; \
	else \
	  echo "keras_iml: apt-get is not available: install Chromium and chromedriver yourself to run tests/test_browser.py (it is skipped without them)"; \
	  [ -z "$$CI" ] || exit 1; \
	fi

test: install
	$(PY) -m pytest -q -ra tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

demo: $(STAMP)
	$(VENV)/bin/keras-iml demo --out demo_out

docs: install
	$(VENV)/bin/mkdocs build --strict --site-dir site  # not --quiet: it hides the warnings that --strict counts

# The PyTorch peers (captum, tangermeme) need torch (installed with the test extras).
bench: install
	$(PY) -m pip install --quiet "torch==2.13.0" -e ".[benchmark]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) demo_out site .numba_cache
