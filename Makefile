# Two commands: `make book` builds the book, `make test` runs every test and executes every chapter.
# Both create the virtual environment .venv on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test book site-check lint format bench clean

# One BLAS thread while testing and building: the layers' matrix multiplies are small enough that
# a second thread gains next to nothing (measured: one epoch of the training chapter takes the
# same time), and a multithreaded BLAS on a machine busy with other work can run ten times slower.
BLAS_ONE_THREAD := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[book,test]"
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check cnn_lib tests benchmarks scripts _ext
	$(BLAS_ONE_THREAD) $(PY) -m pytest

book: $(STAMP)
	$(BLAS_ONE_THREAD) $(VENV)/bin/jupyter-book build . -W -n --keep-going

# Click through the built book in headless Chromium (apt-get install chromium): menus, widths,
# JavaScript errors, code and figure sizes. Screenshots go to _build/site-check.
site-check: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[site-check]"
	$(PY) scripts/check_site.py _build/html --screenshots _build/site-check

lint: $(STAMP)
	$(VENV)/bin/ruff check cnn_lib tests benchmarks scripts _ext

format: $(STAMP)
	$(VENV)/bin/ruff format cnn_lib tests benchmarks scripts _ext

bench: $(STAMP)
	$(PY) benchmarks/bench_layers.py
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf _build .pytest_cache
