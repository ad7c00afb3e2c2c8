# make demo: set up, then train on the built-in synthetic faces (11 min 26 s on a 2-core AVX2 CPU without native bf16)
# make real DATA=FOLDER|anime-faces: train notebook 03's run on real faces (32 px and 3,000 steps on a CPU, 64 px and 5,000 on a GPU; SIZE=64, STEPS=N to choose), sample, score
# make lab: set up, then open the course in JupyterLab at notebook 01 (offline, it trains on the synthetic faces)
# make test: set up, then run the unit tests and re-execute every notebook in tiny mode
# make student: the student edition in student/, the notebooks without their solutions (for instructors to hand out;
#   COLAB=OWNER/REPO/blob/BRANCH/FOLDER points their Colab badges at the copy you publish there)
# make browser-test: the explorers of notebooks 04 and 06 in JupyterLab, driven by headless Chromium (installs Debian's chromium as root)
# make colab-check: a Colab-like environment (Colab's published versions: Python 3.13, torch 2.11, ipywidgets 7.7.1, ...) installs gan_lib and runs every notebook
# make kaggle-check: the same on Kaggle Notebooks' runtime (Colab's of May 2026 with Kaggle's packages: Python 3.12, torch 2.10, ipywidgets 8.1.5, torchmetrics)
# make figures DATA=FOLDER|anime-faces: run every notebook in full and keep the figures they show before they are run (img/notebooks/)
# make gpu-check: on a CUDA machine, the GPU tests (gpu_tests/) and the GPU throughput benchmark
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO := runs/demo
DATA ?= anime-faces
SIZE ?=
REAL ?= runs/real-$(notdir $(abspath $(DATA)))$(SIZE)  # one run folder per dataset (and size): another DATA starts its own
STEPS ?=

.PHONY: setup lab demo real test lint student figures gpu-check browser-test browser-screenshot colab-check kaggle-check
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) tools/install_torch.py  # the CPU build of torch where there is no CUDA GPU
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

LAB_ARGS ?=
lab: setup
	$(PY) -m jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/01_data_exploration.ipynb \
		$(LAB_ARGS)

demo: setup
	$(PY) -m gan_lib train --data synthetic --out $(DEMO) --recipe demo --steps 2400 \
		$(if $(wildcard $(DEMO)/checkpoint.pt),--resume)
	$(PY) -m gan_lib generate --checkpoint $(DEMO)/checkpoint.pt --out $(DEMO)/faces.png --n 64 --scale 2 --overwrite

real: setup
	$(PY) -m gan_lib train --data $(DATA) --out $(REAL) --holdout $(if $(STEPS),--steps $(STEPS)) $(if $(SIZE),--image-size $(SIZE)) \
		$(if $(wildcard $(REAL)/checkpoint.pt),--resume)
	$(PY) -m gan_lib generate --checkpoint $(REAL)/checkpoint.pt --out $(REAL)/faces.png --n 64 --scale 2 --overwrite
	$(PY) -m gan_lib evaluate --checkpoint $(REAL)/checkpoint.pt

test: setup
	rm -rf notebooks/runs/course-tiny final/runs/course-tiny  # tiny runs start fresh, whatever an older version left
	GAN_LIB_TINY=1 GAN_LIB_SHOW_SOLUTIONS=1 $(PY) -m pytest --nbval-lax -q tests notebooks final

lint: setup
	$(PY) -m ruff check gan_lib tests gpu_tests benchmarks browser_tests colab tools

student: setup
	$(PY) tools/student_edition.py student $(if $(COLAB),--colab $(COLAB))

figures: setup
	$(PY) tools/figures.py --data $(DATA)

gpu-check: setup
	$(PY) -m pytest -q gpu_tests
	$(PY) benchmarks/throughput.py --device cuda --batch-size 64 256

CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@test "$$(id -u)" = 0 || { echo "Chromium is missing: install it (Debian: sudo apt-get install chromium) or pass CHROMIUM=/path/to/chromium" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

browser-test: setup $(CHROMIUM)
	GAN_LIB_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q browser_tests

# The README's screenshot: the explorer on a trained run (RUN=runs/real-NAME DATA=FOLDER; by default the demo's, after
# `make demo`), its first slider dragged by the browser; names saved with the run's directions are shown
RUN ?= $(DEMO)
browser-screenshot: setup $(CHROMIUM)
	GAN_LIB_CHROMIUM=$(CHROMIUM) GAN_LIB_RUN_DIR=$(RUN) GAN_LIB_DATA=$(if $(filter $(DEMO),$(RUN)),synthetic,$(DATA)) \
		EXPLORER_SCREENSHOT=$(CURDIR)/img/explorer.png $(PY) -m pytest -q browser_tests -k 04_results

colab-check:
	$(PYTHON) colab/check.py

kaggle-check:
	$(PYTHON) colab/check.py --runtime kaggle
