"""What `pip install gan_lib` (Colab's set-up cell) installs holds every module the notebooks import."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_every_module_and_subpackage_of_gan_lib(tmp_path):
    source = tmp_path / "source"  # a clean copy: a build/ folder left in the checkout would hide a missing package
    shutil.copytree(ROOT / "gan_lib", source / "gan_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--wheel-dir", str(tmp_path), str(source)], check=True, capture_output=True)
    wheel, = tmp_path.glob("gan_lib-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "gan_lib").rglob("*.py")}
    assert modules - packaged == set()


def test_make_lab_opens_the_course_in_jupyterlab_at_notebook_01(tmp_path):
    """`make lab` (the README's first row) serves the repository from the project's environment, notebook 01 first."""
    import os
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path)}
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"PY={sys.executable}",
                            f"LAB_ARGS=--no-browser --port={port} --ServerApp.token= --allow-root"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        deadline, status = time.time() + 120, None
        while time.time() < deadline and lab.poll() is None and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5).status
            except OSError:
                time.sleep(0.5)
        assert status == 200, lab.stdout.read() if lab.poll() is not None else "no answer"
        for page in ("notebooks/01_data_exploration.ipynb", "final/capstone.ipynb"):  # the whole course is served
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/{page}?content=0").status == 200
        opened = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).url  # where the browser opens
        assert opened.endswith("/lab/tree/notebooks/01_data_exploration.ipynb"), opened
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.communicate(timeout=60)


def _install_torch(tmp_path, smi_exit: int | None, **env: str) -> subprocess.CompletedProcess:
    """tools/install_torch.py with a fake nvidia-smi on PATH (exiting smi_exit; None: no nvidia-smi at all)."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if smi_exit is not None:
        smi = bin_dir / "nvidia-smi"
        smi.write_text(f"#!/bin/sh\nexit {smi_exit}\n")
        smi.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), *(p for p in os.environ["PATH"].split(os.pathsep) if
                                            not (Path(p) / "nvidia-smi").exists())])
    return subprocess.run([sys.executable, str(ROOT / "tools" / "install_torch.py")], capture_output=True, text=True,
                          env={**os.environ, "PATH": path, **env}, timeout=300)


def test_setup_takes_the_cpu_build_of_torch_without_a_cuda_gpu_and_falls_back_in_one_line(tmp_path):
    import torch

    before = torch.__version__
    unreachable = {"GAN_LIB_TORCH_INDEX": "http://127.0.0.1:9/simple"}  # nothing listens there
    for smi_exit in (None, 1):  # no nvidia-smi, or one that sees no GPU
        result = _install_torch(tmp_path, smi_exit, **unreachable)
        assert result.returncode == 0, result.stderr
        said = result.stdout.strip().splitlines()
        assert said[0].startswith("torch ") and "no CUDA GPU here, so the CPU build from http://127.0.0.1:9" in said[0]
        assert len(said) == 2 and said[1].startswith("the CPU build could not be installed from http://127.0.0.1:9")
        assert "the default build from PyPI instead" in said[1]
    gpu = _install_torch(tmp_path, 0, **unreachable)
    assert gpu.returncode == 0 and gpu.stdout.strip().endswith("the default build from PyPI (a CUDA GPU is here)")
    assert subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                          text=True).stdout.strip() == before  # nothing was installed over the environment's torch
