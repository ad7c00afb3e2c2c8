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
