"""Data-parallel training on 2 MPI ranks against one process (runtime/distributed.py): the
same weights to rounding, and bit for bit with the batch in shards (--shards), resuming across a change of rank count, a killed rank stopping the
run with its checkpoint intact. Each test launches `mpiexec -n 2`; they skip without mpi4py
and MPICH (`pip install 'cnnc[mpi]'`, which `make test` does)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import distributed_job as job
import numpy as np
import pytest

from cnnc_runtime import jit
from cnnc_runtime.run_state import read_run

BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
try:
    import mpi4py  # noqa: F401
except ImportError:
    MPIEXEC = None
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="needs mpi4py and mpiexec: pip "
                                "install 'cnnc[mpi]'")
JOB = Path(job.__file__)
ENV = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

# (name, settings): 50 steps of 16 images each unless `steps` says fewer
RUNS = {
    "mnist64": {"spec": "mnist1d_cnn"},
    "resnet64": {"spec": "resnet20_cifar", "sync_bn": True},
    # float32 runs part at the first ReLU input that rounding puts across zero unless their
    # sums add the same numbers in the same order: in 2 shards on both sides (--shards), they
    # take the same steps bit for bit (docs/distributed.md)
    "mnist32": {"spec": "mnist1d_cnn", "dtype": "float32", "shards": 2},
    "resnet32": {"spec": "resnet20_cifar", "sync_bn": True, "dtype": "float32", "shards": 2},
    "per_rank_bn": {"spec": "resnet20_cifar", "steps": 3},
}


def relative(a: dict, b: dict) -> float:
    """The largest difference of a tensor relative to that tensor's largest value."""
    return max(float(np.abs(a[k] - b[k]).max() / np.abs(a[k]).max()) for k in a)


def ranks_run(out: Path, runs: dict, n: int = 2) -> None:
    args = [json.dumps({"name": name} | settings) for name, settings in runs.items()]
    done = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(JOB), str(out), *args],
                          check=False, env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The RUNS on 2 ranks and in this process, and a run that starts in this process,
    continues on 2 ranks and ends here: (the 2-rank weights, this process's) by name."""
    out = tmp_path_factory.mktemp("distributed")
    jit.set_threads(1)
    resumes = {"resumed": {"spec": "mnist1d_cnn", "steps": 20},
               "resumed32": {"spec": "resnet20_cifar", "steps": 10, "dtype": "float32",
                             "sync_bn": True, "shards": 2}}
    for name, resume in resumes.items():
        job.train_run(out, f"{name}1", **resume)
    ranks_run(out, RUNS | {f"{name}2": resume | {"resume": f"{name}1", "epochs": 2}
                           for name, resume in resumes.items()})
    ranks = {name: dict(np.load(out / name / "weights.npz")) for name in RUNS}
    alone = {name: job.train_run(out / "alone", name, **settings)
             for name, settings in RUNS.items()}
    for name, resume in resumes.items():
        ranks[name] = job.train_run(out, f"{name}3", **resume, resume=f"{name}2", epochs=3)
        alone[name] = job.train_run(out / "alone", name, **resume, epochs=3)
    return ranks, alone


@pytest.mark.parametrize("name", ["mnist64", "resnet64"])
def test_two_ranks_take_the_steps_of_one_process(runs, name):
    ranks, alone = runs
    assert relative(alone[name], ranks[name]) < 1e-10


@pytest.mark.parametrize("name", ["mnist32", "resnet32"])
def test_in_shards_two_ranks_take_one_process_steps_bit_for_bit(runs, name):
    ranks, alone = runs
    for tensor, value in alone[name].items():
        assert np.array_equal(ranks[name][tensor], value), tensor


def test_four_ranks_in_shards_take_one_process_steps_bit_for_bit(tmp_path):
    """Over 2 cores, 4 ranks of 4 images each: the ranks' sums pair neighbours first, as the
    shards' tree does (MPICH's allreduce; runtime/shards.py)."""
    run = {"spec": "resnet20_cifar", "sync_bn": True, "dtype": "float32", "shards": 4,
           "steps": 20}
    ranks_run(tmp_path, {"four": run}, n=4)
    ranks = dict(np.load(tmp_path / "four" / "weights.npz"))
    jit.set_threads(1)
    for tensor, value in job.train_run(tmp_path / "alone", "four", **run).items():
        assert np.array_equal(ranks[tensor], value), tensor


def test_without_sync_bn_each_rank_normalises_by_its_own_share(runs):
    ranks, alone = runs
    assert relative(alone["per_rank_bn"], ranks["per_rank_bn"]) > 1e-6


def test_a_run_resumed_on_two_ranks_and_back_on_one_ends_as_one_that_never_stopped(runs):
    ranks, alone = runs
    assert relative(alone["resumed"], ranks["resumed"]) < 1e-10
    for tensor, value in alone["resumed32"].items():  # in shards: bit for bit
        assert np.array_equal(ranks["resumed32"][tensor], value), tensor


def cli(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([MPIEXEC, "-n", "2", str(BIN / "cnnc"), "run", "mnist1d_cnn",
                             "--train", "--data", "mnist1d", "--batch-size", "16",
                             "--threads", "1", "--out", str(out), *extra],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_rank_stops_the_run_and_its_checkpoint_resumes(tmp_path, how):
    run = cli(tmp_path, "--epochs", "40")
    saved = tmp_path / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while not saved.exists():
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.1)
    header = ""
    while "rank 1 pid" not in header:
        header += run.stderr.readline()
    pid = int(re.search(r"rank 1 pid (\d+)", header).group(1))
    killed = time.monotonic()
    os.kill(pid, how)
    out, err = run.communicate(timeout=30)
    assert time.monotonic() - killed < 10
    if how == signal.SIGTERM:  # the rank says so, in one line
        assert run.returncode == 143, header + out + err
        assert f"rank 1 of 2 (pid {pid} on " in err and "received SIGTERM" in err, header + err
    else:  # it cannot: mpiexec names its pid, which the run's first line maps to rank 1
        assert run.returncode == 9, header + out + err
        assert f"PID {pid}" in out + err, header + out + err
    _, meta = read_run(saved)
    epochs = int(meta["epoch"]) + 1
    done = subprocess.run([str(BIN / "cnnc"), "run", "mnist1d_cnn", "--train", "--data",
                           "mnist1d", "--resume", str(saved), "--epochs", str(epochs),
                           "--threads", "1"], check=False, env=ENV, capture_output=True,
                          text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_run(saved)[1]["epoch"] == str(epochs)


def test_ctrl_c_stops_every_rank_after_the_same_step_and_saves(tmp_path):
    run = cli(tmp_path, "--epochs", "40")
    saved = tmp_path / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while not saved.exists():
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)  # mpiexec passes it on to every rank, as a terminal would
    _, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    assert re.search(r"interrupted (at|after) epoch \d+", err) and "continue with:" in err
    assert err.count("interrupted") == 1  # rank 0 alone speaks
    _, meta = read_run(saved)
    assert json.loads(meta["position"])["step"] > 0


def test_an_error_every_rank_meets_is_printed_once_and_ends_the_job(tmp_path):
    done = subprocess.run([MPIEXEC, "-n", "2", str(BIN / "cnnc"), "run", "mnist1d_cnn",
                           "--train", "--data", "mnist1d", "--batch-size", "15", "--out",
                           str(tmp_path)], check=False, env=ENV, capture_output=True,
                          text=True, timeout=120)
    said = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 1, said
    assert done.stderr.count("error: --batch-size 15 does not split into 2 equal shares") == 1, said


@pytest.mark.gpu
def test_two_gpu_ranks_reduce_through_nccl_to_the_weights_of_one_gpu(tmp_path):
    cupy = pytest.importorskip("cupy")
    if not cupy.is_available() or cupy.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs 2 CUDA GPUs")
    settings = {"spec": "resnet20_cifar", "sync_bn": True, "device": "gpu", "steps": 20}
    ranks_run(tmp_path, {"gpu": settings})
    alone = job.train_run(tmp_path / "alone", "gpu", **settings)
    assert relative(alone, dict(np.load(tmp_path / "gpu" / "weights.npz"))) < 1e-10
