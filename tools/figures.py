"""Make the figures the notebooks show before they are run: run each notebook in full ("Run all", not tiny mode),
keep the PNG outputs of its code cells tagged `figure:NAME`, and show them in a markdown cell above each such cell.

    python tools/figures.py [NOTEBOOK ...] [--data DATA]     (`make figures DATA=...` runs it on every notebook)
    python tools/figures.py --previews                        (only rewrite the preview cells from img/notebooks/)

A tagged cell's PNG outputs become img/notebooks/NAME.png (NAME-1.png, NAME-2.png, ... where it draws several).
img/notebooks/figures.json records, for every figure, the notebook and tag that made it and its SHA-256, and for
every notebook the run it came from (data, machine, date, commit, minutes), so a test can tell that each image a
notebook shows was made here and not edited by hand. A notebook run again replaces its own figures only.

Only the project's own outputs are tagged: generated faces, curves and diagrams, never dataset images or answers.
The notebooks themselves are read, executed in memory and written back with their preview cells only; their
executed copies go to runs/figures/ for reading, and they share one run folder, runs/figures/course (or
$GAN_LIB_RUN_DIR), as they share one on Colab's Drive: notebook 04 and the capstone go on from notebook 03's run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = (*sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9]*.ipynb")),
             "final/capstone.ipynb")
FIGURES = ROOT / "img" / "notebooks"
MANIFEST = FIGURES / "figures.json"
TAG = re.compile(r"figure:([a-z0-9-]+)$")
PREVIEW_TAG = "figure-preview"  # the markdown cell above a figure cell, written here
# where the committed figures are served from, so that GitHub, Colab and Kaggle show them in a notebook's markdown
URL = "https://raw.githubusercontent.com/anime-face-gan/anime-face-gan/main/img/notebooks/"


def figure_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(index, NAME) of every code cell tagged figure:NAME."""
    found = []
    for index, cell in enumerate(nb.cells):
        names = [m.group(1) for tag in cell.get("metadata", {}).get("tags", []) if (m := TAG.match(tag))]
        if cell.cell_type == "code" and names:
            found.append((index, names[0]))
    return found


def pngs(cell: nbformat.NotebookNode) -> list[bytes]:
    """The PNG images a code cell's outputs hold, in order (after any clear_output, as the notebook shows them)."""
    return [base64.b64decode(out["data"]["image/png"]) for out in cell.get("outputs", [])
            if "image/png" in out.get("data", {})]


def file_names(name: str, count: int) -> list[str]:
    return [f"{name}.png"] if count == 1 else [f"{name}-{k}.png" for k in range(1, count + 1)]


def machine() -> str:
    """The machine a run came from, in words: the GPU if one trained, else the CPU's model and cores."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores"


def commit() -> str:
    """HEAD, marked "+changes" where the working tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {"notebooks": {}, "figures": {}}


def run(notebook: str, data: str) -> nbformat.NotebookNode:
    """Execute a notebook in full in its own folder, as "Run all" does, and keep the executed copy in runs/figures."""
    from nbclient import NotebookClient

    path = ROOT / notebook
    nb = nbformat.read(path, as_version=4)
    os.environ["GAN_LIB_DATA"] = data  # the kernel inherits it
    folder = {"metadata": {"path": str(path.parent)}}
    NotebookClient(nb, timeout=None, kernel_name="python3", resources=folder).execute()
    executed = ROOT / "runs" / "figures" / path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed)
    return nb


def keep(notebook: str, nb: nbformat.NotebookNode, about: dict, manifest: dict) -> list[str]:
    """Write the figures of an executed notebook and record them, replacing that notebook's earlier ones."""
    for name, entry in list(manifest["figures"].items()):
        if entry["notebook"] == notebook:
            (FIGURES / name).unlink(missing_ok=True)
            del manifest["figures"][name]
    written = []
    for index, name in figure_cells(nb):
        images = pngs(nb.cells[index])
        if not images:
            print(f"{notebook}: the cell tagged figure:{name} drew no PNG this time; its preview is left out")
        for file, png in zip(file_names(name, len(images)), images):
            (FIGURES / file).write_bytes(png)
            manifest["figures"][file] = {"notebook": notebook, "tag": f"figure:{name}",
                                         "sha256": hashlib.sha256(png).hexdigest()}
            written.append(file)
    manifest["notebooks"][notebook] = about
    return written


def caption(about: dict) -> str:
    return (f"*Before you run it: what the next cell draws in a full run of this notebook (`make figures`: "
            f"{about['data']}, {about['machine']}, {about['date']}). Your run draws its own under that cell.*")


def preview_source(notebook: str, name: str, manifest: dict) -> str | None:
    """The preview cell's markdown for figure NAME of `notebook`, or None when no figure of that name was made."""
    files = sorted((file for file, entry in manifest["figures"].items()
                    if entry["notebook"] == notebook and entry["tag"] == f"figure:{name}"),
                   key=lambda file: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", file)])
    if not files:
        return None
    images = [f"![{file[:-4]}]({URL}{file})" for file in files]
    return "\n".join([caption(manifest["notebooks"][notebook]), "", *images])


def with_previews(nb: nbformat.NotebookNode, notebook: str, manifest: dict) -> nbformat.NotebookNode:
    """The notebook with one preview cell above each figure cell that has figures, and no other preview cell."""
    nb.cells = [cell for cell in nb.cells if PREVIEW_TAG not in cell.get("metadata", {}).get("tags", [])]
    for index, name in reversed(figure_cells(nb)):
        if (source := preview_source(notebook, name, manifest)) is not None:
            nb.cells.insert(index, nbformat.v4.new_markdown_cell(source, id=f"figure-{name}",
                                                                 metadata={"tags": [PREVIEW_TAG]}))
    return nb


def write_previews(notebooks: tuple[str, ...], manifest: dict) -> None:
    for notebook in notebooks:
        path = ROOT / notebook
        nb = with_previews(nbformat.read(path, as_version=4), notebook, manifest)
        path.write_text(nbformat.writes(nb) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS), metavar="NOTEBOOK",
                        help="notebooks to run (default: all, in course order)")
    parser.add_argument("--data", default=os.environ.get("GAN_LIB_DATA", "anime-faces"),
                        help="what the notebooks train on: the Anime Face Dataset (anime-faces) or its folder")
    parser.add_argument("--previews", action="store_true", help="only rewrite the preview cells from the manifest")
    args = parser.parse_args(argv)
    unknown = [n for n in args.notebooks if n not in NOTEBOOKS]
    if unknown:
        parser.error(f"not a course notebook: {', '.join(unknown)} (choose from {', '.join(NOTEBOOKS)})")
    manifest = load_manifest()
    if args.previews:
        write_previews(tuple(args.notebooks), manifest)
        return 0
    if os.environ.get("GAN_LIB_TINY", "0") not in ("", "0"):
        parser.error("GAN_LIB_TINY is set: the figures come from full runs; `unset GAN_LIB_TINY` and run again")
    os.environ.pop("GAN_LIB_SHOW_SOLUTIONS", None)  # a learner's "Run all": no answer in any output
    if Path(args.data).exists():
        args.data = str(Path(args.data).resolve())  # the notebooks run in their own folders
    else:
        from gan_lib.data.datasets import NAMED_DATASETS, why_unavailable

        if args.data not in NAMED_DATASETS or (why := why_unavailable(args.data)):
            parser.error(f"--data {args.data}: {why if args.data in NAMED_DATASETS else 'no such folder'}; "
                         "the figures need the real faces: pass a folder of them (make figures DATA=FOLDER)")
    FIGURES.mkdir(parents=True, exist_ok=True)
    # one run folder for every notebook, as Colab's Drive folder is: 04 and the capstone go on from 03's run
    os.environ.setdefault("GAN_LIB_RUN_DIR", str(ROOT / "runs" / "figures" / "course"))
    for notebook in args.notebooks:
        started = time.monotonic()
        print(f"{notebook}: running in full on {args.data} ...", flush=True)
        nb = run(notebook, args.data)
        named = args.data in ("anime-faces", "synthetic")
        about = {"data": args.data if named else "/".join(Path(args.data).parts[-2:]),
                 "machine": machine(), "date": date.today().isoformat(), "commit": commit(),
                 "minutes": round((time.monotonic() - started) / 60, 1)}
        written = keep(notebook, nb, about, manifest)
        MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        print(f"{notebook}: {len(written)} figures in {about['minutes']} min: {', '.join(written)}", flush=True)
    write_previews(tuple(args.notebooks), manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
