"""The style-based generator: mapping network, AdaIN, noise, truncation, mixing, and a run of it through the same
Trainer, checkpoints, resume, generate, evaluate and explorer as the DCGAN."""

import pytest
import torch

from gan_lib.config import Config
from gan_lib.networks import build_models
from gan_lib.runs.cli import main
from gan_lib.style import EqualLinear, MappingNetwork, NoiseInjection, StyleGenerator, adain
from gan_lib.support.errors import GanLibError

TINY = ["--data", "synthetic", "--synthetic-count", "64", "--image-size", "32", "--g-width", "8", "--d-width", "8",
        "--batch-size", "16", "--quiet", "--device", "cpu", "--arch", "style"]


def style_cfg(**changes) -> Config:
    return Config(**{"image_size": 32, "g_width": 8, "d_width": 8, "latent_dim": 16, "batch_size": 8,
                     "arch": "style", **changes})


def test_the_mapping_network_reads_z_normalised():
    mapping = MappingNetwork(16, 4, 0.01)
    z = torch.randn(5, 16)
    assert torch.allclose(mapping(z), mapping(3 * z), atol=1e-6)  # only z's direction reaches w
    assert not torch.allclose(mapping(z[:1]), mapping(z[1:2]))


def test_the_learning_rate_multiplier_makes_adams_steps_that_much_smaller():
    """One Adam step moves an equalised layer's effective weights lr_mul times less (StyleGAN's 0.01 on mapping)."""
    moved = {}
    for lr_mul in (1.0, 0.01):
        torch.manual_seed(0)
        layer = EqualLinear(16, 16, lr_mul)
        before = (layer.weight * layer.weight_gain).detach().clone()
        optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
        layer(torch.randn(4, 16)).square().sum().backward()
        optimizer.step()
        moved[lr_mul] = ((layer.weight * layer.weight_gain).detach() - before).abs().mean()
    assert moved[0.01] / moved[1.0] == pytest.approx(0.01, rel=1e-3)


def test_adain_gives_each_image_and_channel_the_styles_mean_and_spread():
    x = torch.randn(3, 4, 8, 8) * 5 + 2
    scale, bias = torch.rand(3, 4) + 0.5, torch.randn(3, 4)
    out = adain(x, scale, bias)
    assert torch.allclose(out.mean((2, 3)), bias, atol=1e-4)
    assert torch.allclose(out.std((2, 3), unbiased=False), scale, atol=1e-3)


def test_noise_has_a_strength_per_channel_that_starts_at_zero_and_a_fresh_map_per_image():
    inject = NoiseInjection(4)
    x, noise = torch.randn(2, 4, 8, 8), torch.randn(2, 1, 8, 8)
    assert torch.equal(inject(x, noise), x)  # strength 0 at first
    inject.strength.data = torch.tensor([0.0, 1.0, 2.0, 3.0])
    added = inject(x, noise) - x
    assert torch.allclose(added[:, 3], 3 * noise[:, 0]) and torch.equal(added[:, 0], torch.zeros(2, 8, 8))
    G = StyleGenerator(style_cfg()).train()
    for layer in G.layers:
        layer.noise.strength.data.fill_(1.0)
    ws = G.map(torch.zeros(1, 16)).expand(2, -1)[:, None].expand(-1, G.num_ws, -1)  # two images, one w
    random = G.synthesis(ws)
    assert not torch.allclose(random[0], random[1])  # the same style, different noise: fresh per image
    const, none = G.synthesis(ws, "const"), G.synthesis(ws, "none")
    assert torch.equal(const[0], const[1]) and not torch.allclose(const, none)
    with pytest.raises(GanLibError, match="noise_mode must be one of"):
        G.synthesis(ws, "loud")


def test_truncation_moves_w_towards_the_tracked_average_and_eval_mode_is_repeatable():
    G = StyleGenerator(style_cfg()).train()
    z = torch.randn(64, 16)
    G(z)
    assert G.w_avg.abs().sum() > 0  # tracked while training
    tracked = G.w_avg.clone()
    G.eval()
    z = torch.randn(6, 16)
    plain = G(z)
    assert torch.equal(G.w_avg, tracked) and torch.equal(plain, G(z))  # not tracked, no fresh noise in eval mode
    ws = G.map(z)[:, None].expand(-1, G.num_ws, -1)
    G.psi = 0.0
    average = G(z)
    # every face the average face: the same w for each, but a convolution's rounding can differ with the image's
    # place in the batch (up to 1.9e-6 measured on a CPU without AVX-512)
    assert torch.equal(G.truncate(ws, 0.0), G.w_avg.expand_as(ws))
    assert torch.allclose(average, average[:1].expand_as(average), atol=1e-5)
    G.psi = 0.5
    assert torch.allclose(G.truncate(ws, 0.5), tracked + 0.5 * (ws - tracked), atol=1e-6)


def test_style_mixing_gives_the_later_layers_another_zs_w():
    G = StyleGenerator(style_cfg(style_mixing=1.0)).train()
    G.draws = torch.Generator().manual_seed(1)
    z = torch.randn(32, 16)
    ws = G.map(z)[:, None].expand(-1, G.num_ws, -1)
    mixed = G.mix(ws)
    own = (mixed == ws).all(-1)  # (N, num_ws): the layers that kept the image's own w
    assert own[:, 0].all() and not own[:, -1].any()  # the first layer always its own, the last always another's
    cuts = own.sum(1)
    assert (own == (torch.arange(G.num_ws)[None] < cuts[:, None])).all()  # one cut-off per image
    assert len(set(cuts.tolist())) > 1  # at random
    G.mixing = 0.0
    assert torch.equal(G.mix(ws), ws)


def test_a_style_run_resumes_exactly_and_generate_evaluate_and_the_explorer_read_it(tmp_path, capsys):
    from gan_lib.course.widgets import LatentExplorer
    from gan_lib.measure.directions import Directions
    from gan_lib.runs.checkpoint import load_generator, read_checkpoint

    assert main(["train", *TINY, "--out", str(tmp_path / "straight"), "--steps", "6"]) == 0
    assert "training a style-based G" in capsys.readouterr().err
    assert main(["train", *TINY, "--out", str(tmp_path / "resumed"), "--steps", "3"]) == 0
    assert main(["train", *TINY, "--out", str(tmp_path / "resumed"), "--steps", "6", "--resume"]) == 0
    straight, resumed = (read_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("straight", "resumed"))
    for part in ("generator", "discriminator", "ema"):
        ours, theirs = getattr(straight, part), getattr(resumed, part)
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), part
    assert straight.history == resumed.history
    assert any(k.endswith("w_avg") for k in straight.generator)

    checkpoint = str(tmp_path / "straight" / "checkpoint.pt")
    for psi in ("1", "0.7"):
        out = tmp_path / f"faces{psi}.png"
        assert main(["generate", "--checkpoint", checkpoint, "--out", str(out), "--n", "4", "--truncation", psi]) == 0
        assert out.stat().st_size > 0
    assert main(["evaluate", "--checkpoint", checkpoint, "--n", "16"]) == 0
    assert "real-vs-real floor" in capsys.readouterr().out
    G, cfg = load_generator(checkpoint)
    assert isinstance(G, StyleGenerator) and cfg.arch == "style"
    explorer = LatentExplorer(G, Directions(torch.eye(cfg.latent_dim)[:2], ["a", "b"]), torch.zeros(cfg.latent_dim))
    assert explorer.widget is not None


def test_what_the_style_generator_does_not_do_is_refused_in_one_line(tmp_path, capsys):
    from gan_lib.measure.directions import sefa_directions

    assert main(["train", *TINY, "--out", str(tmp_path / "c"), "--steps", "1", "--conditional"]) == 2
    assert "style-based generator is unconditional" in capsys.readouterr().err
    assert main(["train", *TINY, "--out", str(tmp_path / "d"), "--steps", "1", "--style-mixing", "1.5"]) == 2
    assert "style_mixing must be a probability" in capsys.readouterr().err
    dcgan = [arg for arg in TINY if arg not in ("--arch", "style")]
    assert main(["train", *dcgan, "--out", str(tmp_path / "e"), "--steps", "1"]) == 0
    assert main(["generate", "--checkpoint", str(tmp_path / "e" / "checkpoint.pt"), "--out", str(tmp_path / "f.png"),
                 "--truncation", "0.5"]) == 2
    assert "needs a style-based G" in capsys.readouterr().err
    with pytest.raises(GanLibError, match="InterFaceGAN"):
        sefa_directions(build_models(style_cfg())[0])


def test_the_explorer_moves_in_w_and_its_truncation_draws_towards_the_average_w():
    from gan_lib.course.widgets import LatentExplorer
    from gan_lib.measure.directions import Directions
    from gan_lib.style import InW

    torch.manual_seed(0)
    G = StyleGenerator(Config(image_size=32, latent_dim=8, g_width=4, arch="style", mapping_layers=2)).eval()
    G.w_avg.copy_(torch.randn(8))
    start = G.mapping(torch.randn(1, 8))[0].detach()
    explorer = LatentExplorer(InW(G), Directions(torch.eye(8)[:2], ["first", "second"]), start)
    broadcast = start[None, None].expand(1, G.num_ws, -1)
    assert torch.equal(explorer.latent(), start) and torch.equal(InW(G)(start[None]), G.synthesis(broadcast))
    explorer.truncation.value = 0.0
    assert torch.allclose(explorer.latent(), G.w_avg)  # the average face, not w = 0
    before = explorer.image.value
    explorer.sliders[1].value = 2.0
    assert explorer.image.value != before and torch.allclose(explorer.latent(), G.w_avg + 2 * torch.eye(8)[1])
    explorer._random_face()
    assert explorer.start.shape == (8,) and not torch.allclose(explorer.start, start)


def test_a_mixing_grid_takes_each_rows_coarse_layers_and_each_columns_fine_ones():
    G = StyleGenerator(style_cfg()).eval()
    with torch.no_grad():
        w_rows, w_columns = G.map(torch.randn(2, 16)), G.map(torch.randn(3, 16))
        grid = G.mixing_grid(w_rows, w_columns, 4)
        assert grid.shape == (6, 3, 32, 32)
        for i in range(2):
            for j in range(3):  # image (i, j), row by row, is row i's coarse layers with column j's fine ones
                assert torch.allclose(grid[3 * i + j], G.styles_mixed(w_rows[i:i + 1], w_columns[j:j + 1], 4)[0],
                                      atol=1e-4)  # a batch of 1 against 6: the convolutions round apart
        assert not torch.allclose(grid[0], grid[1])  # the columns' fine layers show


def test_the_truncation_sweep_trades_variety_for_the_average_face_and_puts_psi_back(classifier):
    from gan_lib.measure.disentanglement import truncation_sweep
    from gan_lib.models import generate

    G = StyleGenerator(style_cfg()).eval()
    G.psi = 0.9
    reference = generate(G, torch.randn(64, 16), as_uint8=True)
    sweep = truncation_sweep(G, torch.randn(64, 16), reference, (0.0, 1.0), classifier)
    assert G.psi == 0.9
    assert sweep[0.0]["diversity"] < 1e-6 < sweep[1.0]["diversity"]  # psi 0: every face the average face
    assert sweep[0.0]["covered"] <= sweep[1.0]["covered"]
    assert set(truncation_sweep(G, torch.randn(8, 16), reference[:8], (0.5,))[0.5]) == {"swd", "diversity"}


def test_show_noise_draws_fresh_noise_and_leaves_gs_draws_alone():
    from gan_lib.measure.viz import show_noise

    G = StyleGenerator(style_cfg()).eval()
    with torch.no_grad():
        for layer in G.layers:
            layer.noise.strength.fill_(0.5)
    kept = G.draws = torch.Generator()
    spread = show_noise(G, G.map(torch.randn(1, 16)), draws=4)
    assert G.draws is kept and spread.shape == (32, 32) and spread.max() > 0
    with torch.no_grad():
        for layer in G.layers:
            layer.noise.strength.zero_()
    assert show_noise(G, G.map(torch.randn(1, 16)), draws=4).max() == 0  # no noise strength: nothing varies


def test_a_race_trains_to_equal_steps_then_on_to_equal_time(tiny_data):
    from gan_lib.data import reference_samples
    from gan_lib.measure.race import Race
    from gan_lib.train import Trainer

    reference, _ = reference_samples(tiny_data, 8, 16)
    cfg = Config(image_size=32, g_width=8, d_width=8, latent_dim=16, batch_size=8)
    race = Race({"dcgan": Trainer(cfg, tiny_data), "style": Trainer(style_cfg(), tiny_data)}, reference, chunk=2)
    for name in race.runs:
        race.train(name, until_step=4)
        assert [step for step, _ in race.by_steps[name]] == [2, 4] and race.runs[name].step == 4
    # on to a training time past its own (the style G's, in the notebook; a first run's warm-up can make the DCGAN's
    # first steps slower than the style G's here, so the time is set rather than measured)
    target = race.seconds["dcgan"] + race.seconds["style"]
    race.train("dcgan", until_seconds=target)
    assert race.seconds["dcgan"] >= target and race.runs["dcgan"].step > 4
    seconds = [s for s, _ in race.by_seconds["dcgan"]]
    assert seconds == sorted(seconds) and len(seconds) == len(race.by_steps["dcgan"])
    assert race.score("style") == race.by_steps["style"][-1][1]  # the same latents every time
