"""The figures the notebooks show before they are run: every one made by `make figures` (tools/figures.py) from a
full run, recorded with its SHA-256, and shown by a preview cell the tool wrote."""

import base64
import copy
import hashlib
import io
import re
import sys
from pathlib import Path

import matplotlib
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import figures  # noqa: E402

SHOWN = re.compile(re.escape(figures.URL) + r"([^)\s]+)")


def _notebook(notebook: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / notebook, as_version=4)


def _png(colour: str) -> bytes:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_facecolor(colour)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _executed(*cells: tuple[str, list[bytes]]) -> nbformat.NotebookNode:
    """A notebook as the tool gets it back: code cells with tags and PNG outputs."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("## A section"))
    for tag, images in cells:
        cell = nbformat.v4.new_code_cell("draw()", metadata={"tags": [tag]} if tag else {})
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png).decode()})
                        for png in images]
        nb.cells.append(cell)
    return nb


def test_every_figure_a_notebook_shows_was_made_by_make_figures():
    manifest = figures.load_manifest()
    for notebook in figures.NOTEBOOKS:
        nb = _notebook(notebook)
        for cell in nb.cells:
            for file in SHOWN.findall(cell.source) if cell.cell_type == "markdown" else []:
                entry = manifest["figures"].get(file)
                assert entry and entry["notebook"] == notebook, f"{notebook} shows {file}, not made for it"
                made = figures.FIGURES / file
                assert hashlib.sha256(made.read_bytes()).hexdigest() == entry["sha256"], f"{file} changed since made"
        # the preview cells are the tool's, word for word: none edited, none missing, none left over
        expected = figures.with_previews(copy.deepcopy(nb), notebook, manifest)
        assert [c.source for c in nb.cells] == [c.source for c in expected.cells], notebook


def test_every_figure_made_is_in_its_notebook_and_nothing_else_is_kept():
    manifest = figures.load_manifest()
    tagged = {(notebook, f"figure:{name}") for notebook in figures.NOTEBOOKS
              for _, name in figures.figure_cells(_notebook(notebook))}
    assert {(e["notebook"], e["tag"]) for e in manifest["figures"].values()} <= tagged
    kept = {p.name for p in figures.FIGURES.iterdir()} - {figures.MANIFEST.name} if figures.FIGURES.is_dir() else set()
    assert kept == set(manifest["figures"])
    assert set(manifest["notebooks"]) == {e["notebook"] for e in manifest["figures"].values()}


def test_every_notebook_shows_a_full_runs_figures_before_it_is_run():
    manifest = figures.load_manifest()
    for notebook in figures.NOTEBOOKS:
        assert figures.figure_cells(_notebook(notebook)), f"{notebook} tags no figure cell"
        assert notebook in manifest["notebooks"], f"{notebook}: no figures made yet (make figures)"
        assert SHOWN.search((ROOT / notebook).read_text()), f"{notebook} shows no figure"


def test_figure_cells_are_the_course_s_own_never_a_solution():
    for notebook in figures.NOTEBOOKS:
        nb = _notebook(notebook)
        for index, name in figures.figure_cells(nb):
            assert "solution" not in nb.cells[index].metadata.get("tags", []), (notebook, name)


def test_the_tool_keeps_tagged_pngs_and_replaces_only_the_rerun_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "FIGURES", tmp_path)
    red, green, blue = _png("red"), _png("green"), _png("blue")
    manifest = {"notebooks": {}, "figures": {}}
    about = {"data": "d", "machine": "m", "date": "2026-01-01", "commit": "abc", "minutes": 1.0}
    first = _executed(("figure:a-one", [red]), ("", [green]), ("figure:a-two", [green, blue]))
    assert figures.keep("a.ipynb", first, about, manifest) == ["a-one.png", "a-two-1.png", "a-two-2.png"]
    figures.keep("b.ipynb", _executed(("figure:b-one", [blue])), about, manifest)
    assert (tmp_path / "a-two-2.png").read_bytes() == blue
    assert manifest["figures"]["a-one.png"]["sha256"] == hashlib.sha256(red).hexdigest()
    again = _executed(("figure:a-one", [blue]), ("figure:a-two", []))  # a-two drew nothing this time
    assert figures.keep("a.ipynb", again, about, manifest) == ["a-one.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-one.png", "b-one.png"]
    assert set(manifest["figures"]) == {"a-one.png", "b-one.png"}

    shown = figures.with_previews(again, "a.ipynb", manifest)
    twice = figures.with_previews(copy.deepcopy(shown), "a.ipynb", manifest)
    assert [c.source for c in twice.cells] == [c.source for c in shown.cells]
    kinds = [(c.cell_type, c.metadata.get("tags", [])) for c in shown.cells]
    assert kinds == [("markdown", []), ("markdown", [figures.PREVIEW_TAG]), ("code", ["figure:a-one"]),
                     ("code", ["figure:a-two"])]
    assert f"{figures.URL}a-one.png" in shown.cells[1].source and "2026-01-01" in shown.cells[1].source


def test_the_tool_refuses_tiny_mode_and_data_it_cannot_find(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GAN_LIB_TINY", "1")
    with pytest.raises(SystemExit) as stopped:
        figures.main(["--data", str(tmp_path)])
    assert stopped.value.code == 2 and "unset GAN_LIB_TINY" in capsys.readouterr().err
    monkeypatch.delenv("GAN_LIB_TINY")
    with pytest.raises(SystemExit) as stopped:
        figures.main(["--data", str(tmp_path / "no-such-folder")])
    assert stopped.value.code == 2 and "make figures DATA=FOLDER" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        figures.main(["notebooks/07_nothing.ipynb"])
    assert stopped.value.code == 2 and "not a course notebook" in capsys.readouterr().err


def test_the_readme_states_each_notebook_s_own_run_time():
    readme = (ROOT / "README.md").read_text()
    stated = dict(re.findall(r"\]\(((?:notebooks|final)/[^)]+\.ipynb)\) \| [^|]+ \| ([^|]+) \|$", readme, re.M))
    assert set(stated) == set(figures.NOTEBOOKS)
    for notebook in figures.NOTEBOOKS:
        opening = _notebook(notebook).cells[0].source
        measured = re.search(r"\*\*Run time\*\*: (?:about )?([\d,]+ min(?: [\d]+ s)?|[\d]+ s)", opening)
        assert measured and stated[notebook].startswith(measured.group(1)), (notebook, stated[notebook])
