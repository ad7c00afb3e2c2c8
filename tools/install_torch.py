"""Install the pinned torch and torchvision that fit this machine, before `make setup` installs the rest.

    python tools/install_torch.py      (`make setup` runs it with the environment's python)

On a machine without a CUDA GPU the CPU build comes from PyTorch's CPU wheel index ($GAN_LIB_TORCH_INDEX to use
another): without CUDA's libraries (3.2 GB installed) and triton (0.9 GB), which the default build from PyPI brings
(a 6.2 GB `.venv`, measured). Where that index cannot be reached (an offline mirror, a proxy that lets
only PyPI through), it says so in one line and leaves the default build to `pip install -r requirements.txt`. With a
CUDA GPU (nvidia-smi answers), or on macOS, the default build is the right one and nothing is done here.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins() -> dict[str, str]:
    """The versions requirements.txt pins for torch and torchvision."""
    found = dict(re.findall(r"^(torch|torchvision)==([\w.]+)\s*$", REQUIREMENTS.read_text(), re.M))
    if set(found) != {"torch", "torchvision"}:
        raise SystemExit(f"error: {REQUIREMENTS} pins no torch==X and torchvision==Y: pin both")
    return found


def has_cuda_gpu() -> bool:
    """Whether nvidia-smi is here and sees a GPU."""
    smi = shutil.which("nvidia-smi")
    return bool(smi) and subprocess.run([smi, "-L"], capture_output=True).returncode == 0


def main() -> int:
    versions = pins()
    if platform.system() == "Darwin" or has_cuda_gpu():
        why = "macOS: PyPI's build is the one for Apple's CPU and GPU" if platform.system() == "Darwin" else \
            "a CUDA GPU is here"
        print(f"torch {versions['torch']}: the default build from PyPI ({why})")
        return 0
    index = os.environ.get("GAN_LIB_TORCH_INDEX") or CPU_INDEX
    wanted = [f"{name}=={version}+cpu" for name, version in versions.items()]
    print(f"torch {versions['torch']}: no CUDA GPU here, so the CPU build from {index} (without the 4.1 GB of CUDA's "
          "libraries and triton that the default build installs)", flush=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--index-url", index, "--timeout", "10",
                             "--retries", "0", *wanted], capture_output=True, text=True)
    if result.returncode:
        reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
        print(f"the CPU build could not be installed from {index} ({reason}): the default build from PyPI instead "
              "(6.2 GB installed, CUDA's libraries included; it runs on the CPU all the same)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
