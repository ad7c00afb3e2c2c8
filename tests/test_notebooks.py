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
