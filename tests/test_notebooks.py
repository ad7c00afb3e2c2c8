"""The notebooks are committed clean and open on Colab from the repository that pyproject.toml names."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from conftest import verdicts

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("final/*.ipynb"))
REPOSITORY = re.search(r'^Repository = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def test_the_course_is_complete():
    names = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]
    assert names == ["notebooks/01_data_exploration.ipynb", "notebooks/02_architecture.ipynb",
                     "notebooks/03_training.ipynb", "notebooks/04_results.ipynb", "notebooks/05_beyond_dcgan.ipynb",
                     "notebooks/06_style_based_generator.ipynb", "final/capstone.ipynb"]


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


DRAWS = re.compile(r"\b(show_grid|show_rows|show_noise|plot_\w+|LiveView|LatentExplorer|ax\.plot)\(|display\(Image\(")


def _sections(path: Path) -> list[tuple[str, list[dict]]]:
    """(title, cells) of each "## " section, the heading's cell first."""
    sections = []
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and source.startswith("## "):
            sections.append((source.splitlines()[0][3:], []))
        if sections:
            sections[-1][1].append({**cell, "source": source})
    return sections


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_section_opens_with_a_plain_lead_and_says_what_you_should_see_where_it_draws(path):
    sections = [(title, cells) for title, cells in _sections(path) if title != "Exercises"]
    assert sections, path
    for title, cells in sections:
        # the lead: the heading's first paragraph, one or two sentences of plain words (no code, maths or link)
        lead = cells[0]["source"].split("\n", 1)[1].strip().split("\n\n")[0]
        sentences = len(re.findall(r"[.!?](?:\s|$)", lead))
        assert lead and len(lead.split()) <= 50 and sentences <= 2, (path.name, title, lead)
        assert not re.search(r"`|\$|\]\(", lead), (path.name, title, lead)
        draws = any(c["cell_type"] == "code" and DRAWS.search(c["source"]) for c in cells)
        said = any(c["cell_type"] == "markdown" and "**What you should see**" in c["source"] for c in cells)
        assert said or not draws, f"{path.name}, {title}: draws a figure and never says what you should see"


D_AND_G_LOSSES = """import torch.nn.functional as F

def d_loss(real, fake, a):
    return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - a))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))

def g_loss(fake):
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))"""

# A wrong answer with every side effect a learner's function can have on the notebook: grad mode off, float64 by
# default, one thread, the global RNG reseeded, its input changed in place. The check must restore all of it, so
# the notebook's next cells (and the right answer's check on the same cases) run as if it had never run.
SIDE_EFFECTS = ("def d_loss(real, fake, a):\n", "def d_loss(real, fake, a):\n    torch.set_grad_enabled(False)\n"
                "    torch.set_default_dtype(torch.float64)\n    torch.set_num_threads(1)\n    torch.manual_seed(0)\n"
                "    real.add_(1)\n")

BLOCKS = """def generator_block(c_in, c_out):
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

def discriminator_block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))"""

TRAIN_STEP = """def my_train_step(G, D, opt_g, opt_d, real, z, label_smoothing):
    fake = G(z)
    loss_d = losses.discriminator_bce(D(real), D(FAKE), 1 - label_smoothing)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = losses.generator_non_saturating(D(fake))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g"""

SLERP = """def my_slerp(a, b, t):
    omega = torch.acos(torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1, 1)).unsqueeze(-1)
    omega = omega.clamp_min(1e-4)  # a latent and itself: no division by sin(0)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)"""

WASSERSTEIN = """def wasserstein_1d(a, b):
    return (a.sort().values - b.sort().values).abs().mean()

def sliced_distance(a, b, directions):
    return torch.stack([wasserstein_1d(a @ d, b @ d) for d in directions]).mean()"""

EMA = "def ema_update(average, weights, decay):\n    return {}"

FRECHET = """def frechet_distance(mu1, cov1, mu2, cov2):
    return ((mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace()
            - FACTOR * torch.linalg.eigvals(cov1 @ cov2).sqrt().real.sum())"""

PENALTY = """def my_gradient_penalty(critic, real, fake, rng):
    alpha = torch.rand(len(real), 1, 1, 1, generator=rng)
    between = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    return (NORM - 1).pow(2).mean()"""
MAPPING = """class MyMappingNetwork(torch.nn.Module):
    def __init__(self, latent_dim, layers, lr_mul):
        super().__init__()
        self.weights = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(latent_dim, latent_dim) / lr_mul)
                                               for _ in range(layers)])
        self.biases = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(latent_dim)) for _ in range(layers)])
        self.scale, self.lr_mul = lr_mul / latent_dim**0.5, lr_mul

    def forward(self, z):
        x = NORMALISED
        for weight, bias in zip(self.weights, self.biases):
            x = torch.nn.functional.leaky_relu(x @ (weight * self.scale).T + bias * self.lr_mul, 0.2)
        return x"""

NOISE = """class MyNoiseInjection(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.strength = torch.nn.Parameter(STRENGTH)

    def forward(self, x, noise=None, rng=None):
        if noise is None:
            noise = torch.randn(len(x), 1, *x.shape[2:], generator=rng, dtype=x.dtype, device=x.device)
        return x + self.strengthVIEW * noise"""

ADAIN = """def my_adain(x, scale, bias):
    mean, var = x.mean(DIMS, keepdim=True), x.var(DIMS, keepdim=True, unbiased=False)
    return scale[:, :, None, None] * (x - mean) / (var + 1e-5).sqrt() + bias[:, :, None, None]"""

STYLE_MIX = """def my_style_mix(G, w1, w2, crossover):
    ws = w1[:, None, :].repeat(1, G.num_ws, 1)
    ws[:, CROSS:] = w2[:, None, :]
    return G.synthesis(ws)"""

# For every exercise with a self-check, in tiny mode (GAN_LIB_TINY=1's config): the start of its answer cell, a
# plausible wrong answer, and a right one.
ANSWERS = {
    "01_data_exploration.ipynb": {
        "images_without_duplicates = None": ('images_without_duplicates = data.summary["duplicates"]',
                                             'images_without_duplicates = len(data) - data.summary["duplicates"]'),
        "red_mean_in_model_units = None": ("red_mean_in_model_units = float(mean[0])",
                                           "red_mean_in_model_units = float(2 * mean[0] - 1)"),
        "share_enlarged = None": ("share_enlarged = 1.0", "share_enlarged = 0.0"),
    },
    "02_architecture.ipynb": {
        "first_side = None": ("first_side, second_side, first_layer_weights = 1, 4, 100 * 64",
                              "first_side, second_side, first_layer_weights = 4, 8, 100 * 64 * 16"),
        "checkerboard_kernel = None": ("checkerboard_kernel, upsample_even = 4, False",
                                       "checkerboard_kernel, upsample_even = 3, True"),
        "best_d = None": ("best_d, best_d_smoothed = 0.5, 0.45", "best_d, best_d_smoothed = 0.75, 0.675"),
        "def d_loss(": (D_AND_G_LOSSES.replace(*SIDE_EFFECTS).replace("torch.ones_like(fake))",
                                                                   "torch.zeros_like(fake)) * -1"), D_AND_G_LOSSES),
        "def generator_block(": (BLOCKS.replace(" nn.BatchNorm2d(c_out),", ""), BLOCKS),
    },
    "03_training.ipynb": {
        "def my_train_step(": (TRAIN_STEP.replace("FAKE", "fake"), TRAIN_STEP.replace("FAKE", "fake.detach()")),
        "def ema_update(": (EMA.format("(1 - decay) * average + decay * weights"),
                            EMA.format("decay * average + (1 - decay) * weights")),
        "modes_with_seed_1 = None": (
            'modes_with_seed_1 = modes_covered(toy_runs["latent 8"].snapshots[settings.toy_steps])[0]',
            "modes_with_seed_1 = modes_covered(train_toy_gan(settings.toy_steps, latent_dim=8, seed=1)"
            ".snapshots[settings.toy_steps])[0]"),
        "floor_with_all = None": ('floor_with_all = "higher"', 'floor_with_all = "lower"'),
    },
    "04_results.ipynb": {
        "lerp_midpoint_norm = None": ("lerp_midpoint_norm = 10.0", "lerp_midpoint_norm = 7.07"),
        "def my_slerp(": ("def my_slerp(a, b, t):\n    return a + (b - a) * t",
                          SLERP),
        "def wasserstein_1d(": (WASSERSTEIN.replace("a.sort().values - b.sort().values", "a - b"), WASSERSTEIN),
        "def frechet_distance(": (FRECHET.replace("FACTOR", "1"), FRECHET.replace("FACTOR", "2")),
    },
    "05_beyond_dcgan.ipynb": {
        "def my_critic_loss(": ("def my_critic_loss(r, f):\n    return r.mean() - f.mean()",
                                "def my_critic_loss(r, f):\n    return f.mean() - r.mean()"),
        "def my_gradient_penalty(": (PENALTY.replace("NORM", "grad.norm()"),
                                     PENALTY.replace("NORM", "grad.flatten(1).norm(dim=1)")),
        "def my_hinge_loss(": ("def my_hinge_loss(r, f):\n    return (1 - r).mean() + (1 + f).mean()",
                               "def my_hinge_loss(r, f):\n    return torch.relu(1 - r).mean()"
                               " + torch.relu(1 + f).mean()"),
        "def my_one_hot(": ("def my_one_hot(y, k):\n    return torch.nn.functional.one_hot(y).float()",
                            "def my_one_hot(y, k):\n    return torch.eye(k)[y]"),
        "def my_generator_input(": ("def my_generator_input(z, y, k):\n    return torch.cat([torch.eye(k)[y], z], 1)",
                                    "def my_generator_input(z, y, k):\n"
                                    "    return torch.cat([z, torch.eye(k, dtype=z.dtype)[y]], 1)"),
        "def my_projection(": ("def my_projection(f, e):\n    return (e * f.mean((2, 3))).sum(1)",
                               "def my_projection(f, e):\n    return torch.einsum('nchw,nc->n', f, e)"),
    },
    "06_style_based_generator.ipynb": {
        "def my_truncate(": ("def my_truncate(ws, w_avg, psi):\n    return ws * psi",
                             "def my_truncate(ws, w_avg, psi):\n    psi = torch.as_tensor(psi, dtype=ws.dtype)\n"
                             "    psi = psi.reshape(-1, *[1] * (ws.dim() - 1)) if psi.dim() else psi\n"
                             "    return w_avg + psi * (ws - w_avg)"),
        "class MyMappingNetwork(": (MAPPING.replace("NORMALISED", "z"),
                                    MAPPING.replace("NORMALISED",
                                                    "z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()")),
        "class MyNoiseInjection(": (NOISE.replace("STRENGTH", "torch.zeros(1)").replace("VIEW", ""),
                                    NOISE.replace("STRENGTH", "torch.zeros(channels)")
                                    .replace("VIEW", ".view(1, -1, 1, 1)")),
        "def my_adain(": (ADAIN.replace("DIMS", "(0, 2, 3)"), ADAIN.replace("DIMS", "(2, 3)")),
        "def my_style_mix(": (STYLE_MIX.replace("CROSS", "crossover + 1"), STYLE_MIX.replace("CROSS", "crossover")),
    },
}


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_every_check_says_not_yet_to_a_wrong_answer_and_right_to_the_right_one(name, tmp_path, tiny_notebook_env):
    """Run the notebook in tiny mode with a wrong answer in every answer cell, and after each check the right answer
    and the check again: each check must say "not yet" to the first and "right" to the second, and every solution
    cell's verdicts must say "right"."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    tiny_notebook_env.setenv("GAN_LIB_SHOW_SOLUTIONS", "1")  # every solution cell's own verdicts must say "right"
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    checks = [i for i, cell in enumerate(nb.cells) if cell.source.startswith("# @title Check")]
    assert len(checks) == len(ANSWERS[name]), "every check cell needs a wrong and a right answer here"
    for check_index in reversed(checks):
        answer_cell = next(c for c in reversed(nb.cells[:check_index]) if c.cell_type == "code"
                           and not c.source.startswith("# @title"))
        blank = next(b for b in ANSWERS[name] if answer_cell.source.startswith(b))
        wrong, right = ANSWERS[name][blank]
        answer_cell.source = wrong
        nb.cells[check_index].metadata["answer"] = "wrong"
        again = nbformat.v4.new_code_cell(nb.cells[check_index].source, metadata={"answer": "right"})
        nb.cells[check_index + 1:check_index + 1] = [nbformat.v4.new_code_cell(right), again]
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()

    for cell in (c for c in nb.cells if c.cell_type == "code"):
        said = verdicts(cell)
        if cell.metadata.get("answer") == "wrong":
            assert said and set(said) == {"not yet"}, (cell.source, cell.outputs)
        elif cell.metadata.get("answer") == "right" or cell.source.startswith("# @title Solution"):
            assert set(said) <= {"right"} and (said or "answer" not in cell.metadata), (cell.source, cell.outputs)


def test_notebook_01_runs_to_the_end_offline_without_kaggle_credentials(tmp_path, monkeypatch):
    """A learner's first notebook, not in tiny mode, on a machine with no Kaggle token and no dataset: the set-up
    says so in one line and the notebook goes on with the synthetic faces to its last cell."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    for name in ("GAN_LIB_TINY", "GAN_LIB_DATA", "GAN_LIB_RUN_DIR", "KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-token"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "no-kagglehub"))
    monkeypatch.setenv("GAN_LIB_DATA_DIR", str(tmp_path / "no-datasets"))
    nb = nbformat.read(ROOT / "notebooks" / "01_data_exploration.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = [line for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
               for line in out.get("text", "").splitlines()]
    said = [line for line in printed if line.startswith("anime-faces: it is not on disk")]
    assert len(said) == 1 and "uses the synthetic faces" in said[0], printed
    assert any(line.startswith("data: synthetic | image size:") for line in printed), printed


def test_a_notebook_cell_that_prints_nan_or_a_warning_fails_the_test_command():
    spec = importlib.util.spec_from_file_location("notebook_outputs", ROOT / "conftest.py")
    outputs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(outputs)

    def said(*texts, name="stdout"):
        return outputs.alarming_line([{"output_type": "stream", "name": name, "text": t} for t in texts])

    assert said("SWD 19.64 (floor 8.91)", "a nanny; infinite; Info: 0.5 ± 0.1") == ""
    assert "not a number" in said("score nan ± nan")
    assert "not a number" in said("entanglement: -inf")
    assert "not a number" in outputs.alarming_line([{"output_type": "execute_result", "data": {"text/plain": "NaN"}}])
    assert "warning" in said("x.py:3: UserWarning: careful", name="stderr")
    assert said("UserWarning is a class name", name="stdout") == ""  # only stderr carries warnings
