"""The solutions wait until the learner asks, and the student edition (`make student`) runs with every check saying
"not answered yet" to its stubs."""

import ast
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import student_edition  # noqa: E402
from test_reliability import unwritable  # noqa: E402

from conftest import verdicts  # noqa: E402
from gan_lib.support.errors import GanLibError  # noqa: E402

NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("final/*.ipynb"))
HIDDEN = {"cellView": "form", "jupyter": {"source_hidden": True}}


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_check_and_solution_cell_is_collapsed_and_every_solution_waits_for_show_solutions(path):
    for cell in _cells(path):
        source, tags = _source(cell), cell["metadata"].get("tags", [])
        if source.startswith(("# @title Check", "# @title Solution")):
            assert {k: cell["metadata"].get(k) for k in HIDDEN} == HIDDEN, source.splitlines()[0]
        if source.startswith("# @title Solution"):
            assert "solution" in tags, source.splitlines()[0]
            statements = ast.parse(source).body
            assert len(statements) == 1 and ast.unparse(statements[0].test) == "SHOW_SOLUTIONS", source
            assert ast.unparse(statements[0].orelse[0]) == "print(SOLUTION_HIDDEN)", source
        if cell["cell_type"] == "markdown" and source.count("<details>") > source.count(MEASURED):  # an answer
            assert "solution" in tags and source.startswith("<details>"), source
        if "solution" in tags and cell["cell_type"] == "code" and not source.startswith("# @title Solution"):
            assert "SHOW_SOLUTIONS = show_solutions()" in source, source  # the switch, off unless asked


MEASURED = "<details><summary>Our run's numbers"  # a collapsed note of measured numbers, not an answer: kept


# gan_lib's functions that a notebook's implement-it exercises ask the learner to write
# (02 shows Generator and Discriminator above its exercises: their repeated blocks, which exercise 5 asks for, are
# the functions generator_block and discriminator_block, whose bodies it does not show)
ASKED = {"02_architecture.ipynb": {"discriminator_bce", "generator_non_saturating", "generator_block",
                                   "discriminator_block"},
         "03_training.ipynb": {"update_parameters", "get_ema_multi_avg_fn", "train_step", "dcgan_step"},
         "04_results.ipynb": {"slerp", "sliced_distance", "fid_from_features"},
         "05_beyond_dcgan.ipynb": {"critic_wasserstein", "gradient_penalty", "discriminator_hinge", "inputs",
                                   "forward"},  # Generator.inputs and Discriminator.forward: exercises 5 and 6
         "06_style_based_generator.ipynb": {"truncate", "MappingNetwork", "NoiseInjection", "adain", "styles_mixed"}}


@pytest.mark.parametrize("name", sorted(ASKED))
def test_no_source_of_an_answer_is_shown_before_the_exercises_that_ask_for_it(name):
    cells = _cells(ROOT / "notebooks" / name)
    start = next(i for i, c in enumerate(cells) if "## Exercises" in _source(c))
    shown = {m.split(".")[-1] for c in cells[:start] for m in re.findall(r"getsource\(([\w.]+)\)", _source(c))}
    assert not shown & ASKED[name], shown & ASKED[name]


def test_the_student_edition_drops_every_solution_and_keeps_every_check(tmp_path):
    built = student_edition.build(tmp_path / "student")
    assert sorted(p.relative_to(tmp_path / "student").as_posix() for p in built) == sorted(
        p.relative_to(ROOT).as_posix() for p in NOTEBOOKS)
    for path, original in zip(sorted(built), sorted(NOTEBOOKS, key=lambda p: p.relative_to(ROOT).as_posix())):
        cells, source_cells = _cells(path), _cells(original)
        assert not any("solution" in c["metadata"].get("tags", []) for c in cells)
        shown = json.dumps(cells)
        assert "SHOW_SOLUTIONS" not in shown and shown.count("<details>") == shown.count(MEASURED)  # no answer
        text = " ".join(_source(c) for c in cells if c["cell_type"] == "markdown")
        for words in ("open the solution", "compare with the solution", "its solution", "their solutions",
                      "colab.research.google.com/github"):
            assert words not in " ".join(text.split()), (path.name, words)  # the solutions are the instructor's
        checks = [_source(c) for c in cells if _source(c).startswith("# @title Check")]
        assert checks == [_source(c) for c in source_cells if _source(c).startswith("# @title Check")]
    assert (tmp_path / "student" / "notebooks" / "GLOSSARY.md").exists()
    with pytest.raises(GanLibError, match="refusing"):
        student_edition.build(ROOT / "notebooks")


def _refused(capsys, *args) -> str:
    """Run the builder's command line, which must refuse: exit status 2 and one line on stderr, which it returns."""
    assert student_edition.main([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_folder_the_builder_did_not_make_is_refused_and_kept_and_force_replaces_its_notebooks(tmp_path, capsys):
    out = tmp_path / "handout"
    (out / "notebooks").mkdir(parents=True)
    (out / "notebooks" / "mine.ipynb").write_text("{}")
    (out / "README.md").write_text("mine")
    assert f"{out} is not empty" in _refused(capsys, out) and "--force" in _refused(capsys, out / "notebooks")
    assert sorted(p.name for p in out.rglob("*")) == ["README.md", "mine.ipynb", "notebooks"]
    assert student_edition.main([str(out), "--force"]) == 0
    assert not (out / "notebooks" / "mine.ipynb").exists() and (out / "README.md").read_text() == "mine"
    assert (out / "notebooks" / "01_data_exploration.ipynb").exists() and (out / ".student-edition").exists()


def test_a_rebuild_replaces_only_the_files_its_marker_lists_and_refuses_one_changed_since(tmp_path, capsys):
    out = tmp_path / "student"
    student_edition.build(out)
    marker = (out / ".student-edition").read_text()
    (out / "notebooks" / "mine.txt").write_text("a learner's file")
    dropped = out / "notebooks" / "00_dropped_from_the_course.ipynb"  # built by an earlier version of the course
    dropped.write_text("{}")
    (out / ".student-edition").write_text(marker + f"{student_edition.sha256(b'{}')}  notebooks/{dropped.name}\n")
    student_edition.build(out)
    assert (out / "notebooks" / "mine.txt").read_text() == "a learner's file" and not dropped.exists()
    assert (out / ".student-edition").read_text() == marker
    edited = out / "final" / "capstone.ipynb"
    edited.write_text(edited.read_text() + "an instructor's edit")
    assert f"{edited} was changed" in _refused(capsys, out)
    assert edited.read_text().endswith("an instructor's edit")


@pytest.mark.parametrize("target", ["OUT a file", "notebooks a file", "notebooks a link", "final a link"])
def test_a_target_that_is_a_file_or_a_link_is_refused_in_one_line_and_left_as_it_was(target, tmp_path, capsys):
    out, elsewhere = tmp_path / "student", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.ipynb").write_text("{}")
    name, kind = target.split(" a ")
    bad = out if name == "OUT" else out / name
    bad.parent.mkdir(exist_ok=True)
    if kind == "file":
        bad.write_text("mine")
    else:
        bad.symlink_to(elsewhere)
    for force in ([], ["--force"]):
        line = _refused(capsys, out, *force)
        assert f"{bad} is a {'symbolic link' if kind == 'link' else 'file'}" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "student"]
    assert [p.name for p in elsewhere.iterdir()] == ["keep.ipynb"]
    assert bad.is_symlink() if kind == "link" else bad.read_text() == "mine"
    assert not (out / ".student-edition").exists()


def test_a_folder_that_cannot_be_written_is_refused_in_one_line(tmp_path, capsys):
    with unwritable(tmp_path / "student") as out:
        assert "cannot write the student edition's folder" in _refused(capsys, out)


@pytest.mark.parametrize("name", [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_the_student_edition_runs_in_tiny_mode_and_every_check_says_not_answered_yet(name, tmp_path,
                                                                                     tiny_notebook_env):
    """Run all of a student notebook in tiny mode, without the solutions' switch: no cell raises, and every check
    cell's verdicts say "not answered yet" to the stubs."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    tiny_notebook_env.delenv("GAN_LIB_SHOW_SOLUTIONS", raising=False)
    student_edition.build(tmp_path / "student")
    path = tmp_path / "student" / name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("# @title Check"):
            said = verdicts(cell)
            assert said and set(said) == {"not answered yet"}, (cell.source, cell.outputs)


def test_the_student_editions_colab_badges_open_the_instructors_copies(tmp_path):
    built = student_edition.build(tmp_path / "student", colab="a-school/gan-course/blob/main/student")
    first = {path.name: _source(_cells(path)[0]) for path in built}
    assert ("(https://colab.research.google.com/github/a-school/gan-course/blob/main/student/notebooks/"
            "03_training.ipynb)") in first["03_training.ipynb"]
    assert all("anime-face-gan/anime-face-gan" not in text for text in first.values())
