import math
from dataclasses import replace

import pytest
import torch

from conftest import resumed_equals_straight
from gan_lib import losses
from gan_lib.course import theory
from gan_lib.course.toy import train_toy_gan
from gan_lib.runs.run_folder import TrainingRun
from gan_lib.train import Trainer

LOGITS_REAL = torch.tensor([2.0, -1.0, 0.5])
LOGITS_FAKE = torch.tensor([-3.0, 0.0, 1.5])


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_d_loss_is_the_negated_game_value_with_the_labels_it_is_given():
    real_label = 0.9
    expected = sum(-(real_label * _log_sigmoid(r) + (1 - real_label) * _log_sigmoid(-r)) for r in LOGITS_REAL) / 3
    expected += sum(-_log_sigmoid(-f) for f in LOGITS_FAKE) / 3  # -log(1 - D(G(z)))
    got = losses.discriminator_bce(LOGITS_REAL, LOGITS_FAKE, real_label=real_label)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_the_two_generator_losses():
    assert float(losses.generator_non_saturating(LOGITS_FAKE)) == pytest.approx(
        sum(-_log_sigmoid(f) for f in LOGITS_FAKE) / 3, rel=1e-6)  # -log D(G(z))
    assert float(losses.generator_saturating(LOGITS_FAKE)) == pytest.approx(
        sum(_log_sigmoid(-f) for f in LOGITS_FAKE) / 3, rel=1e-6)  # log(1 - D(G(z)))
    per_image = losses.generator_non_saturating(LOGITS_FAKE, reduction="none")
    assert per_image.shape == LOGITS_FAKE.shape


def test_the_config_chooses_the_labels(tiny_cfg):
    loss = losses.for_config(replace(tiny_cfg, label_smoothing=0.2, fake_label=0.1))
    assert (loss.real_label, loss.fake_label) == (pytest.approx(0.8), 0.1)
    assert torch.equal(loss.discriminator(LOGITS_REAL, LOGITS_FAKE),
                       losses.discriminator_bce(LOGITS_REAL, LOGITS_FAKE, 0.8, 0.1))


def test_the_theory_figures_use_the_same_generator_losses():
    d = torch.tensor([0.1, 0.5, 0.9])
    for name, (value, _) in theory.generator_losses(d).items():
        assert torch.allclose(value, losses.GENERATOR_LOSSES[name](torch.logit(d.double()), reduction="none"))


def test_the_toy_gan_refuses_a_loss_that_does_not_exist():
    with pytest.raises(ValueError, match="non-saturating, saturating"):
        train_toy_gan(steps=1, g_loss="hinge")


class LeastSquares(losses.AdversarialLoss):
    """A loss the library does not have (LSGAN), to show that the step asks its loss and nothing else."""

    def discriminator(self, logits_real, logits_fake):
        return (logits_real - 1).pow(2).mean() + logits_fake.pow(2).mean()

    def generator(self, logits_fake):
        return (logits_fake - 1).pow(2).mean()


def test_a_new_loss_trains_without_a_change_to_the_step(tiny_cfg, tiny_data):
    trainer = Trainer(replace(tiny_cfg, log_every=1), tiny_data, device="cpu")
    trainer.loss = LeastSquares()
    seen = []
    discriminator = trainer.d_forward
    trainer.d_forward = lambda x, labels=None: seen.append(discriminator(x, labels)) or seen[-1]
    history = trainer.fit(1, progress=False)
    logits_real, logits_fake = seen[0].detach(), seen[1].detach()
    expected = (logits_real - 1).pow(2).mean() + logits_fake.pow(2).mean()
    assert history[0]["loss_d"] == pytest.approx(float(expected), rel=1e-5)
    assert history[0]["loss_g"] == pytest.approx(float((seen[2].detach() - 1).pow(2).mean()), rel=1e-5)


def test_hinge_and_wasserstein_losses_match_their_formulas():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.5])
    assert float(losses.discriminator_hinge(real, fake)) == pytest.approx((0 + 0.5 + 2) / 3 + (0 + 1 + 2.5) / 3)
    assert float(losses.critic_wasserstein(real, fake)) == pytest.approx(fake.mean() - real.mean())
    assert float(losses.generator_mean_logit(fake)) == pytest.approx(-fake.mean())


def test_the_gradient_penalty_has_known_answers():
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    w = torch.full((3, 8, 8), 3.0 / (3 * 8 * 8) ** 0.5)  # a linear critic whose gradient has norm 3 everywhere
    assert float(losses.gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake)) == pytest.approx(4.0)
    w = w / 3  # norm 1: a 1-Lipschitz critic pays nothing
    assert float(losses.gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake)) == pytest.approx(0.0,
                                                                                                          abs=1e-10)
    x = torch.randn(5, 3, 8, 8)
    x = 2 * x / x.flatten(1).norm(dim=1).view(-1, 1, 1, 1)  # norm 2, real = fake: the gradient of |x|^2 / 2 is x
    penalty = losses.gradient_penalty(lambda v: 0.5 * v.flatten(1).pow(2).sum(1), x, x.clone())
    assert penalty.item() == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_every_loss_trains_and_resumes_exactly_on_the_cpu(loss, tiny_cfg, tiny_data, tmp_path):
    cfg = replace(tiny_cfg, loss=loss)
    resumed = resumed_equals_straight(cfg, tiny_data, tmp_path, 8)
    assert all(torch.isfinite(torch.tensor(row["loss_d"])) for row in resumed.history)


def test_wgan_gp_trains_a_critic_without_batchnorm_and_refuses_one_with_it():
    from gan_lib.config import Config
    from gan_lib.models import Discriminator
    from gan_lib.support.errors import GanLibError

    critic = Discriminator(Config(image_size=32, loss="wgan-gp"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
    assert isinstance(losses.for_config(Config(loss="wgan-gp", gp_weight=5.0)), losses.WassersteinGP)
    with pytest.raises(GanLibError, match="BatchNorm mixes the images"):
        Config(loss="wgan-gp", d_norm="batch")


def test_the_penalised_critic_maximises_its_objective_and_overshoots_by_w_squared_over_two_lambda():
    import torch

    from gan_lib.course.theory import penalised_critic

    for distance, weight in ((0.5, 10.0), (4.0, 10.0), (2.0, 1.0)):
        slopes = torch.linspace(0, 5, 500_001, dtype=torch.float64)
        best = slopes[(slopes * distance - weight * (slopes - 1) ** 2).argmax()]
        slope, estimate = penalised_critic(distance, weight)
        assert abs(slope - float(best)) < 1e-4 and abs(estimate - distance - distance**2 / (2 * weight)) < 1e-12


def test_each_loss_reports_diagnostics_that_mean_something_for_it(tmp_path, monkeypatch):
    """BCE's d_real and d_fake are D(x) and D(G(z)), probabilities; a critic's (hinge, WGAN-GP) are its mean scores,
    which a sigmoid would squash into numbers that mean nothing; the history and losses.png follow the loss."""
    from gan_lib.config import Config
    from gan_lib.data import synthetic_set

    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, -3.0])
    bce, hinge = losses.by_name("bce"), losses.by_name("hinge")
    assert [float(v) for v in bce.diagnostics(real, fake)] == pytest.approx([float(real.sigmoid().mean()),
                                                                             float(fake.sigmoid().mean())])
    assert [float(v) for v in hinge.diagnostics(real, fake)] == [3.0, -2.0]
    assert bce.scores.probabilities and not losses.by_name("wgan-gp").scores.probabilities
    monkeypatch.setattr(losses.WassersteinGP, "diagnostics", lambda self, r, f: (r.mean() * 0 + 7, f.mean() * 0 - 7))
    cfg = Config(image_size=32, g_width=8, d_width=8, latent_dim=16, batch_size=8, log_every=1, loss="wgan-gp")
    trainer = TrainingRun(cfg, synthetic_set(32, 32), tmp_path, device="cpu")
    history = trainer.fit(2, progress=False)
    assert [(h["d_real"], h["d_fake"]) for h in history] == [(7.0, -7.0)] * 2  # the step reports the loss's own
    assert (tmp_path / "losses.png").stat().st_size  # drawn with the critic's axis: not clipped to [0, 1]


def test_r1_is_the_mean_squared_gradient_at_the_real_images_and_any_loss_can_take_it():
    from gan_lib.config import Config
    from gan_lib.support.errors import GanLibError

    a = torch.randn(3, 8, 8, requires_grad=True)
    linear = lambda x: (x * a).flatten(1).sum(1)  # noqa: E731 (its gradient is a at every image)
    penalty = losses.r1_penalty(linear, torch.randn(5, 3, 8, 8))
    assert penalty.item() == pytest.approx(a.square().sum().item(), rel=1e-5)
    penalty.backward()  # differentiable: D learns to keep its slope at the real images small
    assert torch.allclose(a.grad, 2 * a)
    square = lambda x: 0.5 * x.flatten(1).square().sum(1)  # noqa: E731 (its gradient is x itself)
    x = torch.randn(4, 3, 8, 8)
    assert losses.r1_penalty(square, x).item() == pytest.approx(x.flatten(1).square().sum(1).mean().item(), rel=1e-5)

    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    for name in ("bce", "hinge", "wgan-gp"):
        plain, with_r1 = losses.by_name(name, seed=3), losses.for_config(Config(loss=name, seed=3, r1_gamma=2.0,
                                                                                 label_smoothing=0.0))
        assert isinstance(with_r1, losses.WithR1) and with_r1.loss == plain
        assert (with_r1.scores, with_r1.remedy) == (plain.scores, plain.remedy)
        assert with_r1.discriminator(LOGITS_REAL, LOGITS_FAKE) == plain.discriminator(LOGITS_REAL, LOGITS_FAKE)
        assert with_r1.generator(LOGITS_FAKE) == plain.generator(LOGITS_FAKE)
        expected = plain.penalty(linear, real, fake, (7,)) + 2.0 / 2 * a.square().sum()
        assert with_r1.penalty(linear, real, fake, (7,)).item() == pytest.approx(expected.item(), rel=1e-5)
    assert not isinstance(losses.for_config(Config()), losses.WithR1)  # off by default
    with pytest.raises(GanLibError, match="r1_gamma must be in"):
        Config(r1_gamma=-1.0)


def test_r1_on_d_trains_a_style_g_and_resumes_exactly_on_the_cpu(tiny_cfg, tiny_data, tmp_path):
    cfg = replace(tiny_cfg, arch="style", r1_gamma=1.0, log_every=1)
    plain = Trainer(replace(cfg, r1_gamma=0.0), tiny_data, device="cpu")
    plain.fit(4, progress=False)
    resumed = resumed_equals_straight(cfg, tiny_data, tmp_path, 4)
    # same seed and batches: D's loss differs by R1's term alone from the first step
    assert resumed.history[0]["loss_d"] > plain.history[0]["loss_d"]
