# `make demo` and `make test` set up .venv on first use (Python 3.11+), then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup graphviz datasets demo test bench clean

setup: $(VENV)/.installed graphviz datasets

# Graphviz's `dot` draws the diagrams (cnnc compile -o net.svg); without it cnnc writes the .dot
# file and says how to install it. Debian's package is installed when it is absent and we may
# (root, or sudo without a password); otherwise a hint, never a failed set-up.
graphviz:
	@command -v dot >/dev/null 2>&1 \
	  || apt-get install -y -qq graphviz >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq graphviz) >/dev/null 2>&1 \
	  || sudo -n sh -c 'apt-get update -qq && apt-get install -y -qq graphviz' >/dev/null 2>&1 \
	  || echo "Graphviz not installed: diagrams fall back to .dot files; install it with" \
	          "'sudo apt-get install graphviz' or 'brew install graphviz'"

# Fashion-MNIST for `cnnc run --data fashion-mnist` (and fashion-scenes): Debian's package puts
# the IDX files under /usr/share/datasets/fashion-mnist/. Installed the same way as Graphviz.
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
datasets:
	@test -e $(FASHION) \
	  || apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
	  || sudo -n sh -c 'apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist' >/dev/null 2>&1 \
	  || echo "Fashion-MNIST not installed: its tests skip; install it with" \
	          "'sudo apt-get install dataset-fashion-mnist', or use --data idx:DIR"

# The demo needs cnnc alone; the tests add their extras, PyTorch and CuPy on top.
$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed: $(VENV)/.base
	$(BIN)/pip install -q -e '.[test]'
	@# PyTorch is only a reference for cross-checks; its tests skip where it cannot be installed.
	$(BIN)/pip install -q torch==2.13.0 || echo "torch 2.13.0 not installed: PyTorch cross-checks will skip"
	@# CuPy and NVRTC compile the CUDA kernels to PTX in a test, which needs no GPU.
	$(BIN)/pip install -q cupy-cuda12x nvidia-cuda-nvrtc-cu12 || echo "CuPy/NVRTC not installed: the CUDA compile test will skip"
	@# mpi4py and MPICH's mpiexec for the 2-rank distributed tests, which skip without them.
	$(BIN)/pip install -q -e '.[mpi]' || echo "mpi4py/MPICH not installed: the distributed tests will skip"
	@# onnx and onnxruntime for `cnnc export` and its tests, which skip without them.
	$(BIN)/pip install -q -e '.[onnx]' || echo "onnx/onnxruntime not installed: the ONNX tests will skip"
	touch $@

demo: $(VENV)/.base
	$(BIN)/cnnc compile resnet18

test: setup
	$(BIN)/python -m pytest

# The machines this is developed on set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (a workaround
# for old OpenBLAS builds) that pin NumPy's OpenBLAS to AVX2 kernels; a user's machine lets it
# pick its own. The benchmark measures what a user gets: both are removed for it alone.
bench: setup
	$(BIN)/python bench/compile_speed.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python bench/runtime_cpu.py  # at 1 thread and at every core

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
