"""Build the student edition: the course's notebooks with every cell tagged "solution" removed (solution cells, the
SHOW_SOLUTIONS switch, the collapsed answers of the open questions) and no outputs, into one folder.

    python tools/student_edition.py [OUT]      (default: student/; `make student` runs it)

The implement-it cells are stubs in the course's own notebooks already (`return None  # your code`), so removing
the solutions is all it takes; their checks then say "not answered yet" until the learner writes the code. The
cell tag is Jupyter's own metadata (JupyterLab's property inspector shows and edits it; Colab keeps it), and
nbconvert's TagRemovePreprocessor does the removal.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

from gan_lib.files import atomic_path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("notebooks", "final")
COMPANIONS = ("notebooks/GLOSSARY.md", "notebooks/NEXT.md")  # linked from the notebooks
NOTE = ("*Student edition: the solutions are not in this copy of the notebook; your instructor has them. Each check "
        "cell still runs your code and says \"right\" or \"not yet\".*")


def student_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at `path` without its solution cells and outputs, a note on what was removed under its title."""
    nb = nbformat.read(path, as_version=4)
    resources: dict = {}
    nb, _ = TagRemovePreprocessor(remove_cell_tags={"solution"}, enabled=True).preprocess(nb, resources)
    nb, _ = ClearOutputPreprocessor(enabled=True).preprocess(nb, resources)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(NOTE))
    return nb


def build(out: Path) -> list[Path]:
    """Write the student edition into `out` (replacing an earlier build there) and return its notebooks."""
    if out.resolve() in {ROOT.resolve(), *(ROOT / s for s in SOURCES)}:
        raise SystemExit(f"refusing to build the student edition into {out}: choose an empty or new folder")
    built = []
    for source in SOURCES:
        target = out / source
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for path in sorted((ROOT / source).glob("*.ipynb")):
            with atomic_path(target / path.name) as tmp:
                nbformat.write(student_notebook(path), tmp)
            built.append(target / path.name)
    for companion in COMPANIONS:
        with atomic_path(out / companion) as tmp:
            shutil.copy2(ROOT / companion, tmp)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "student", help="where to write it (student/)")
    args = parser.parse_args(argv)
    built = build(args.out)
    print(f"student edition: {len(built)} notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
