"""A Colab-like check (`make colab-check`): a fresh virtual environment with the packages of Colab's published GPU
runtime at Colab's versions (torch and torchvision, numpy, matplotlib, pillow, scikit-learn, scipy, tqdm,
ipywidgets 7.7.1, IPython, ipykernel and the kernel's plumbing, nbclient), read from Colab's package list
(colab/pip-freeze.gpu.txt, a copy of Colab's own; ../shared/colab/pip-freeze.gpu.txt when present), on the Python
Colab runs (3.13) where this machine has it, else the newest it has. Then the notebooks' own set-up cell, run as on
Colab against this repository's committed HEAD (git+file://); it asserts that none of those packages changed,
executes every notebook and the capstone in tiny mode there, and drives the latent explorer on ipywidgets 7.7.1.
With --runtime kaggle (`make kaggle-check`), the same on Kaggle Notebooks' runtime (colab/kaggle-versions.txt: Colab's
runtime of May 2026 with Kaggle's packages over it: Python 3.12, torch 2.10, ipywidgets 8.1.5, torchmetrics), the
set-up cell taking its Kaggle branch (KAGGLE_KERNEL_RUN_TYPE).

Run with any Python 3.10+: python colab/check.py [--runtime colab|kaggle] [--keep]. It needs only the package registry.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE_LISTS = (REPO.parent / "shared" / "colab" / "pip-freeze.gpu.txt", REPO / "colab" / "pip-freeze.gpu.txt")
COLAB_PYTHON = "3.13"  # the Python of Colab's runtime (August 2026)
# What of Colab's runtime the notebooks touch: installed at Colab's versions, and unchanged by the set-up cell
KEPT = ("torch", "torchvision", "numpy", "matplotlib", "pillow", "scikit-learn", "scipy", "tqdm", "ipywidgets",
        "ipykernel", "ipython", "jupyter_client", "traitlets", "tornado", "pyzmq", "nbclient", "nbformat",
        "kagglehub")
NOTEBOOKS = [*(f"notebooks/{name}" for name in ("01_data_exploration.ipynb", "02_architecture.ipynb",
                                                "03_training.ipynb", "04_results.ipynb", "05_beyond_dcgan.ipynb",
                                                "06_style_based_generator.ipynb")),
             "final/capstone.ipynb"]  # in the course's order: 04 and the capstone find 03's run


def runtime_versions(runtime: Runtime) -> tuple[Path, dict[str, str]]:
    """The runtime's versions of what it keeps, from the first package list there is (a CUDA build's +cu128
    dropped: PyPI's torch of that version is the same code)."""
    listing = next(path for path in runtime.package_lists if path.is_file())
    pins = {}
    for line in listing.read_text().splitlines():
        name, _, version = line.partition("==")
        if version and name.strip().lower() in runtime.kept:
            pins[name.strip().lower()] = version.strip().split("+")[0]
    missing = sorted(set(runtime.kept) - set(pins))
    if missing:
        raise SystemExit(f"{listing} lists no version of {', '.join(missing)}")
    return listing, pins


def runtime_python(runtime: Runtime) -> str:
    """The runtime's Python where this machine has it (on PATH, or installed by pyenv), else the newest one it has."""
    for version in dict.fromkeys((runtime.python, "3.13", "3.12", "3.11")):
        candidates = [*map(str, sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))),
                      shutil.which(f"python{version}")]
        for found in filter(None, candidates):  # a pyenv shim of a version not selected does not run: tried first
            if subprocess.run([found, "--version"], capture_output=True).returncode == 0:
                if version != runtime.python:
                    print(f"note: no Python {runtime.python} here ({runtime.name}'s): using Python {version}",
                          file=sys.stderr)
                return found
    return sys.executable

FAKE_COLAB = """import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # the set-up cell below takes its Colab branch"""
AFTER_SETUP = """del sys.modules["google.colab"]  # the rest runs as locally (no Drive to mount here)
import platform
print("Python", platform.python_version())"""
KAGGLE_AFTER_SETUP = """import platform
from gan_lib.course.settings import platform as course_platform
assert course_platform() == "kaggle", course_platform()
print("Python", platform.python_version(), "on", course_platform())"""
DRIVE_EXPLORER = """import ipywidgets
assert ipywidgets.__version__ == {version!r}, ipywidgets.__version__
face, strip = bytes(explorer.image.value), bytes(explorer.strip.value)
explorer.sliders[0].value = 2.0
assert bytes(explorer.image.value) != face and bytes(explorer.strip.value) != strip, "the slider changed nothing"
explorer.sliders[0].value = 0.0
assert bytes(explorer.image.value) == face, "back at 0, the face is not the starting face"
explorer.random.click()
assert bytes(explorer.image.value) != face, "random face showed the same face"
print("explorer driven on ipywidgets", ipywidgets.__version__, "with", len(explorer.sliders), "sliders")
hostile = sefa.select([0])
hostile.rename(0, '<img src=x onerror="alert(1)">')
shown = LatentExplorer(G, hostile, start=z[favourites[0]]).sliders[0]
{description_check}
print("a direction named", hostile.names[0], "is the description", shown.description)"""
ESCAPED = """import html  # 7.7.1 sets a description as innerHTML: it must be escaped
assert shown.description == html.escape(hostile.names[0]), shown.description"""
AS_TYPED = """# 8.x shows a description as text (unless description_allow_html): the name as typed
assert shown.description == hostile.names[0] and not shown.description_allow_html, shown.description"""


@dataclass(frozen=True)
class Runtime:
    """What the check reproduces of one notebook platform."""

    name: str  # as printed: "Colab" or "Kaggle"
    venv: Path
    package_lists: tuple[Path, ...]  # the first that exists gives the versions of `kept`
    python: str
    kept: tuple[str, ...]  # installed at the runtime's versions, and unchanged by the set-up cell
    before_setup: tuple[str, ...]  # cells that make the set-up cell take this platform's branch
    after_setup: str
    description_check: str  # how the explorer must show a direction's name
    kernel_env: tuple[tuple[str, str], ...] = ()
    working: Path | None = None  # the platform's run folder; where missing, runs go to GAN_LIB_RUN_DIR


RUNTIMES = {
    "colab": Runtime("Colab", REPO / ".colab-venv", PACKAGE_LISTS, COLAB_PYTHON, KEPT, (FAKE_COLAB,), AFTER_SETUP,
                     ESCAPED),
    "kaggle": Runtime("Kaggle", REPO / ".kaggle-venv", (REPO / "colab" / "kaggle-versions.txt",), "3.12",
                      (*KEPT, "torchmetrics"), (), KAGGLE_AFTER_SETUP, AS_TYPED,
                      kernel_env=(("KAGGLE_KERNEL_RUN_TYPE", "Interactive"),), working=Path("/kaggle/working")),
}


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, **kwargs)


def versions(python: Path, kept: tuple[str, ...]) -> dict[str, str]:
    code = ("import importlib.metadata as m, json; "
            f"print(json.dumps({{n: m.version(n).split('+')[0] for n in {kept!r}}}))")
    return json.loads(subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout)


def cell(text: str) -> dict:
    """A code cell of the check's own, whose output the check prints."""
    return {"cell_type": "code", "id": f"colab-check-{abs(hash(text)) % 10**8}", "metadata": {"colab_check": True},
            "outputs": [], "execution_count": None, "source": text}


def platform_like(notebook: Path, runtime: Runtime, setup_marker: str = "if \"google.colab\" in sys.modules") -> dict:
    """The notebook with its set-up cell pointed at this repository and run on the pretended platform, then the
    rest."""
    nb = json.loads(notebook.read_text())
    cells = nb["cells"]
    setup = next(i for i, c in enumerate(cells) if setup_marker in "".join(c["source"]))
    source = "".join(cells[setup]["source"])
    url = source.split('REPOSITORY = "')[1].split('"')[0]
    cells[setup]["source"] = source.replace(url, REPO.as_uri())

    cells[setup:setup + 1] = [*map(cell, runtime.before_setup), cells[setup], cell(runtime.after_setup)]
    return nb


def execute(python: Path, notebooks: list[Path], folder: Path, env: dict) -> None:
    """Run the notebooks in order with nbclient, in one folder (04 finds 03's run), in the environment's kernel."""
    driver = f"""
import sys, nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={{"metadata": {{"path": "{folder}"}}}}).execute()
    for cell in nb.cells:
        if cell.metadata.get("colab_check"):
            print("".join(out.get("text", "") for out in cell.outputs).strip())
    print("executed", path)
"""
    run(str(python), "-c", driver, *map(str, notebooks), cwd=folder, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=RUNTIMES, default="colab", help="the platform to reproduce")
    parser.add_argument("--keep", action="store_true",
                        help="keep the virtual environment (.colab-venv, .kaggle-venv) for reuse")
    args = parser.parse_args()
    runtime = RUNTIMES[args.runtime]
    venv = runtime.venv
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    if dirty:
        print("note: the set-up cell installs the committed HEAD; uncommitted changes are not checked", file=sys.stderr)
    start = time.time()
    if venv.exists() and not args.keep:
        shutil.rmtree(venv)
    python = venv / "bin" / "python"
    listing, pins = runtime_versions(runtime)
    if not python.exists():
        run(runtime_python(runtime), "-m", "venv", str(venv))
        run(str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        # From the registry alone: a local CPU-only torch wheel (as on this project's machines) would not match
        # torchvision's CUDA build, and the machine's pip cap (torch<=2.14.1 for Python 3.11) is not the runtime's.
        registry = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"} | {"PIP_CONFIG_FILE": os.devnull}
        run(str(python), "-m", "pip", "install", "--quiet", *(f"{n}=={v}" for n, v in pins.items()), env=registry)
    before = versions(python, runtime.kept)
    if before != pins:
        print(f"FAILED: the environment is not {runtime.name}'s ({listing}): {before} against {pins}",
              file=sys.stderr)
        return 1
    python_version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    print(f"{runtime.name}-like environment (from {listing}), Python {python_version}:", before,
          f"({time.time() - start:.0f} s)")

    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", GAN_LIB_TINY="1",
               VIRTUAL_ENV=str(venv), PYDEVD_DISABLE_FILE_VALIDATION="1", **dict(runtime.kernel_env))
    env.pop("PYTHONPATH", None)
    explorer = DRIVE_EXPLORER.format(version=pins["ipywidgets"], description_check=runtime.description_check)
    with tempfile.TemporaryDirectory(prefix=f"{args.runtime}-check-") as folder:
        folder = Path(folder)
        env["GAN_LIB_CACHE"] = str(folder / "cache")  # a fresh runtime: nothing cached
        if runtime.working and not runtime.working.is_dir():  # not made here: it would make this machine a Kaggle
            env["GAN_LIB_RUN_DIR"] = str(folder / "runs" / "course")
            print(f"note: no {runtime.working} here: GAN_LIB_RUN_DIR={env['GAN_LIB_RUN_DIR']}", file=sys.stderr)
        paths = []
        for name in NOTEBOOKS:
            nb = platform_like(REPO / name, runtime)
            if name.endswith("04_results.ipynb"):
                nb["cells"].append(cell(explorer))
            paths.append(folder / Path(name).name)
            paths[-1].write_text(json.dumps(nb))
        execute(python, paths, folder, env)
        installed = subprocess.run([str(python), "-c", "import gan_lib, sys; print(gan_lib.__file__)"], cwd=folder,
                                   env=env, capture_output=True, text=True, check=True).stdout.strip()
    after = versions(python, runtime.kept)
    if after != before:
        print(f"FAILED: the set-up cell changed {before} into {after}", file=sys.stderr)
        return 1
    if not Path(installed).is_relative_to(venv):
        print(f"FAILED: gan_lib came from the repository ({installed}), not from the set-up cell's install",
              file=sys.stderr)
        return 1
    print(f"{args.runtime}-check passed in {time.time() - start:.0f} s: {after} unchanged; gan_lib from {installed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
