"""The notebooks are committed clean and open on Colab from the repository that pyproject.toml names."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("final/*.ipynb"))
REPOSITORY = re.search(r'^Repository = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def test_the_course_is_complete():
    names = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]
    assert names == ["notebooks/01_data_exploration.ipynb", "notebooks/02_architecture.ipynb",
                     "notebooks/03_training.ipynb", "notebooks/04_results.ipynb", "final/capstone.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_and_setup_cell_use_the_repository(path):
    cells = json.loads(path.read_text())["cells"]
    slug = REPOSITORY.removeprefix("https://github.com/")
    badge = f"https://colab.research.google.com/github/{slug}/blob/main/{path.relative_to(ROOT).as_posix()}"
    assert badge in "".join(cells[0]["source"])
    setup = "".join(cells[1]["source"])
    assert f'REPOSITORY = "{REPOSITORY}"' in setup and 'if "google.colab" in sys.modules' in setup
    assert "torch" not in setup.split("pip install")[1] and "ipywidgets" not in setup.split("pip install")[1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_opens_with_objectives_and_a_measured_run_time_and_ends_with_exercises_or_a_rubric(path):
    cells = json.loads(path.read_text())["cells"]
    opening = "".join(cells[0]["source"])
    assert "**Prerequisites**" in opening and re.search(r"\*\*Run time\*\*: .*\d", opening), path
    assert "RUNTIME_" not in opening
    text = "".join("".join(c["source"]) for c in cells)
    if path.parent.name == "final":
        assert "**Rubric**" in text
    else:
        assert "## Exercises" in text and "Solution" in text


D_AND_G_LOSSES = """import torch.nn.functional as F

def d_loss(real, fake, a):
    return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - a))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))

def g_loss(fake):
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))"""

# The right answers to the exercises that have a self-check, in tiny mode (GAN_LIB_TINY=1's config).
RIGHT_ANSWERS = {
    "02_architecture.ipynb": {"first_side = None": "first_side, second_side, first_layer_weights = 4, 8, 100 * 64 * 16",
                              "checkerboard_kernel = None": "checkerboard_kernel, upsample_even = 3, True",
                              "best_d = None": "best_d, best_d_smoothed = 0.75, 0.675",
                              "def d_loss(": D_AND_G_LOSSES},
    "04_results.ipynb": {"lerp_midpoint_norm = None": "lerp_midpoint_norm = 7.07"},
}


@pytest.mark.parametrize("name", sorted(RIGHT_ANSWERS))
def test_the_self_checks_accept_the_right_answers(name, tmp_path, monkeypatch, classifier):
    """Run the notebook in tiny mode with the answers filled in: every check must say "right"."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    from gan_lib import attributes

    torch = pytest.importorskip("torch")
    cache = tmp_path / "cache"
    cache.mkdir()
    torch.save(classifier.state_dict(), cache / f"attribute-classifier-v{attributes.CLASSIFIER_VERSION}.pt")
    monkeypatch.setenv("GAN_LIB_CACHE", str(cache))
    monkeypatch.setenv("GAN_LIB_TINY", "1")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    answered = 0
    for cell in nb.cells:
        for blank, answer in RIGHT_ANSWERS[name].items():
            if cell.cell_type == "code" and cell.source.startswith(blank):
                cell.source, answered = answer, answered + 1
    assert answered == len(RIGHT_ANSWERS[name])
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    verdicts = [line for cell in nb.cells if cell.source.startswith("# @title Check")
                for out in cell.outputs for line in out.get("text", "").splitlines()]
    assert verdicts and all(line.endswith(": right") for line in verdicts), verdicts
