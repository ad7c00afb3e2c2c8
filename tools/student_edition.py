"""Build the student edition: the course's notebooks with every cell tagged "solution" removed (solution cells, the
SHOW_SOLUTIONS switch, the collapsed answers of the open questions) and no outputs, into one folder.

    python tools/student_edition.py [OUT] [--force] [--colab OWNER/REPO/blob/BRANCH/FOLDER]
    (default: student/; `make student [COLAB=...]` runs it)

The implement-it cells are stubs in the course's own notebooks already (`return None  # your code`), so removing
the solutions is all it takes; their checks then say "not answered yet" until the learner writes the code. The
cell tag is Jupyter's own metadata (JupyterLab's property inspector shows and edits it; Colab keeps it), and
nbconvert's TagRemovePreprocessor does the removal.

It replaces only what it built: OUT/.student-edition lists the files it wrote, with their SHA-256. A rebuild
replaces or removes only those and keeps every other file (one a user added to OUT/notebooks, say); it refuses,
naming it, a file it would replace or remove that is not as it wrote it (changed since, or added where it writes),
and a non-empty OUT without the list. --force replaces OUT/notebooks and OUT/final whole. Nothing is written or
deleted through a symbolic link in OUT.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

from gan_lib.support.errors import GanLibError, printable
from gan_lib.support.files import atomic_path, check_writable

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("notebooks", "final")
COMPANIONS = ("notebooks/GLOSSARY.md", "notebooks/NEXT.md")  # linked from the notebooks
NOTE = ("*Student edition: the solutions are not in this copy of the notebook; your instructor has them. Each check "
        "cell still runs your code and says \"right\" or \"not yet\".*")
# the course's words about its solutions and its Colab links, as the student edition says them: its solutions are the
# instructor's, and a Colab badge would open the full notebook from the repository
STUDENT_WORDS = ((re.compile(r"(open|compare with) the solution"), r"\1 your instructor's answer"),
                 (re.compile(r"its solution shows"), "your instructor's solution shows"),
                 (re.compile(r",\s+shown\s+with\s+their\s+solutions"), ""))
UPLOAD = "*To run it on Colab: File > Upload notebook.*"
BADGE = re.compile(r"\[!\[Open In Colab\]\(([^)]*)\)\]\(https://colab\.research\.google\.com/[^)]*\)")
MARKER = ".student-edition"  # a line "SHA256  RELATIVE/PATH" per file built, as sha256sum writes them
LISTED = re.compile(r"([0-9a-f]{64})  ((?:notebooks|final)/[^/.][^/]*)")


def student_notebook(path: Path, colab: str = "") -> nbformat.NotebookNode:
    """The notebook at `path` without its solution cells and outputs, a note on what was removed under its title; its
    Colab badge opens the student copy published at github.com/`colab` (OWNER/REPO/blob/BRANCH/FOLDER), or without
    `colab` gives way to a line on uploading it."""
    nb = nbformat.read(path, as_version=4)
    resources: dict = {}
    nb, _ = TagRemovePreprocessor(remove_cell_tags={"solution"}, enabled=True).preprocess(nb, resources)
    nb, _ = ClearOutputPreprocessor(enabled=True).preprocess(nb, resources)
    where = f"https://colab.research.google.com/github/{colab.strip('/')}/{path.parent.name}/{path.name}"

    def badge(found: re.Match) -> str:
        return f"[![Open In Colab]({found.group(1)})]({where})" if colab else UPLOAD

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for pattern, words in STUDENT_WORDS:
                cell.source = pattern.sub(words, cell.source)
            cell.source = BADGE.sub(badge, cell.source)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(NOTE, id="student-edition-note"))  # the same on every build
    return nb


def edition(colab: str = "") -> dict[str, bytes]:
    """The student edition's files (the student notebooks and their companions) by their path relative to OUT."""
    files = {f"{source}/{path.name}": (nbformat.writes(student_notebook(path, colab)) + "\n").encode()
             for source in SOURCES for path in sorted((ROOT / source).glob("*.ipynb"))}
    return files | {companion: (ROOT / companion).read_bytes() for companion in COMPANIONS}


def sha256(data: bytes) -> str:
    """The SHA-256 of `data` in hex, as the marker lists it."""
    return hashlib.sha256(data).hexdigest()


def or_force(out: Path) -> str:
    """The end of a refusal: what --force would do instead."""
    return f"or pass --force to replace {out / 'notebooks'} and {out / 'final'} whole"


def check_target(out: Path) -> None:
    """Refuse the course's own folders, an OUT that is a file, and an OUT/notebooks or OUT/final that is a file or
    a symbolic link."""
    if out.resolve() in {ROOT, *(ROOT / s for s in SOURCES)}:
        raise GanLibError(f"refusing to build the student edition into {out}: choose an empty or new folder")
    if out.exists() and not out.is_dir():
        raise GanLibError(f"{out} is a file, not a folder: choose a new folder for the student edition")
    for target in (out / source for source in SOURCES):
        if target.is_symlink():
            raise GanLibError(f"{target} is a symbolic link, and the student edition is never written through one: "
                              "remove the link or choose another folder")
        if target.exists() and not target.is_dir():
            raise GanLibError(f"{target} is a file, not a folder: move it away or choose another folder")


def earlier_build(out: Path) -> dict[str, str]:
    """The files an earlier build wrote into `out` with their SHA-256, from its marker; {} for an empty or new OUT."""
    marker = out / MARKER
    if not os.path.lexists(marker):
        if out.is_dir() and any(out.iterdir()):
            raise GanLibError(f"{out} is not empty and no student edition was built there (it has no {MARKER}): "
                              f"choose an empty or new folder, {or_force(out)}")
        return {}
    lines = marker.read_text(errors="replace").splitlines() if marker.is_file() and not marker.is_symlink() else [""]
    listed = [LISTED.fullmatch(line) for line in lines]
    if not all(listed):
        raise GanLibError(f"{marker} is not the list a student edition writes: choose another folder, {or_force(out)}")
    return {match[2]: match[1] for match in listed}


def ours(path: Path, digests: set[str | None]) -> bool:
    """Whether replacing or removing `path` loses nothing: it is absent, or a plain file whose SHA-256 is in
    `digests`."""
    if not os.path.lexists(path):
        return True
    return path.is_file() and not path.is_symlink() and sha256(path.read_bytes()) in digests


def build(out: Path, force: bool = False, colab: str = "") -> list[Path]:
    """Write the student edition into `out`, replacing only an earlier build there (with force, OUT/notebooks and
    OUT/final whole), and return its notebooks."""
    check_target(out)
    earlier = {} if force else earlier_build(out)
    check_writable(out, "the student edition's folder", "choose a folder you can write to")
    files = edition(colab)
    # a file that already holds what this build writes is ours too: a rebuild that was interrupted can run again
    changed = sorted(rel for rel in earlier.keys() | files.keys()
                     if not ours(out / rel, {earlier.get(rel), sha256(files[rel]) if rel in files else None}))
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise GanLibError(f"{out / changed[0]}{more} was changed or added since the student edition was built there: "
                          f"move it away, {or_force(out)}")
    for target in (out / source for source in SOURCES):
        if force and target.is_dir():
            shutil.rmtree(target)  # not a link (check_target); the links inside it are removed, never followed
        target.mkdir(exist_ok=True)
    for rel in earlier.keys() - files.keys():
        (out / rel).unlink(missing_ok=True)
    for rel, data in files.items():
        with atomic_path(out / rel) as tmp:
            tmp.write_bytes(data)
    with atomic_path(out / MARKER) as tmp:
        tmp.write_text("".join(f"{sha256(data)}  {rel}\n" for rel, data in sorted(files.items())))
    return [out / rel for rel in files if rel.endswith(".ipynb")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "student", help="where to write it (student/)")
    parser.add_argument("--force", action="store_true", help="replace OUT/notebooks and OUT/final whatever they hold")
    parser.add_argument("--colab", default="", metavar="OWNER/REPO/blob/BRANCH/FOLDER",
                        help="where on GitHub you publish OUT: the Colab badges then open those copies (default: no "
                             "badge, a line on uploading the notebook to Colab)")
    args = parser.parse_args(argv)
    try:
        built = build(args.out, force=args.force, colab=args.colab)
    except (GanLibError, OSError) as exc:  # one line, as the CLI's run_script prints it (it would import torch)
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    print(f"student edition: {len(built)} notebooks in {printable(str(args.out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
