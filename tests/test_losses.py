import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from gan_lib import losses, theory
from gan_lib.toy import train_toy_gan
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


class Hinge:
    """A loss the library does not have, to show that the step asks its loss and nothing else."""

    def discriminator(self, logits_real, logits_fake):
        return F.relu(1 - logits_real).mean() + F.relu(1 + logits_fake).mean()

    def generator(self, logits_fake):
        return -logits_fake.mean()


def test_a_new_loss_trains_without_a_change_to_the_step(tiny_cfg, tiny_data):
    trainer = Trainer(replace(tiny_cfg, log_every=1), tiny_data, device="cpu")
    trainer.loss = Hinge()
    seen = []
    discriminator = trainer.d_forward
    trainer.d_forward = lambda x: seen.append(discriminator(x)) or seen[-1]
    history = trainer.fit(1, progress=False)
    logits_real, logits_fake = seen[0].detach(), seen[1].detach()
    expected = F.relu(1 - logits_real).mean() + F.relu(1 + logits_fake).mean()
    assert history[0]["loss_d"] == pytest.approx(float(expected), rel=1e-5)
    assert history[0]["loss_g"] == pytest.approx(float(-seen[2].detach().mean()), rel=1e-5)
