# keras_iml — quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install test demo docs bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -c "import tensorflow as tf, keras; print('keras_iml: TensorFlow', tf.__version__, '/ Keras', keras.__version__)"
	touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m pytest -q -ra tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

demo: install
	$(VENV)/bin/keras-iml demo --out demo_out

docs: install
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

# The PyTorch peers (captum, tangermeme) need torch; 2.13.0 is the CPU build this
# project's machines carry (a plain `torch` would pull a multi-GB CUDA build).
bench: install
	$(PY) -m pip install --quiet "torch==2.13.0" -e ".[benchmark]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) demo_out site .numba_cache
