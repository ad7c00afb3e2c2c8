"""Every implement-it check: right answers in several forms are accepted; wrong answers of every class (a wrong value,
a cut graph, a detached input, an in-place change, a junk return, an error, a copied reference, a changed global
state) are refused with their mistake named; no check raises or leaves torch's global state changed."""

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import said
from gan_lib import losses, models
from gan_lib.config import Config
from gan_lib.course.exercises import (
    check,
    check_critic_loss,
    check_d_loss,
    check_discriminator_block,
    check_ema,
    check_frechet_distance,
    check_g_loss,
    check_generator_block,
    check_generator_input,
    check_gradient_penalty,
    check_hinge_loss,
    check_one_hot,
    check_projection,
    check_slerp,
    check_sliced_wasserstein,
    check_train_step,
    check_wasserstein_1d,
    verdict,
)
from gan_lib.measure import metrics
from gan_lib.models import Discriminator, Generator


def test_right_wrong_and_unanswered_each_say_so_without_showing_the_answer():
    assert verdict("1", 8, 8) == "1: right"
    assert verdict("2", 0.7499, 0.75, tolerance=1e-3) == "2: right"
    assert verdict("2b", torch.tensor(0.75), 0.75, tolerance=1e-3) == "2b: right"  # a 0-d tensor where a value goes
    assert verdict("3", [8, 4], (8, 4)) == "3: right" and verdict("4", " Three ", "three") == "4: right"
    assert verdict("5", 7, 8, hint="count the overlap") == "5: not yet, 7 is not it. Hint: count the overlap"
    assert verdict("6", None, 8).startswith("6: not answered yet")
    assert verdict("7", "eight", 8).startswith("7: not yet") and verdict("8", [8], (8, 4)).startswith("8: not yet")
    assert verdict("9", True, True) == "9: right" and verdict("10", False, True).startswith("10: not yet")
    assert verdict("11", 1, True).startswith("11: not yet") and verdict("12", True, 1).startswith("12: not yet")
    assert verdict("13", torch.ones(3), 8).startswith("13: not yet") and "8" not in verdict("14", 7, 8)


def test_check_prints_the_verdict_and_returns_nothing_to_display(capsys):
    assert check("1", 7, 8) is None
    assert capsys.readouterr().out == "1: not yet, 7 is not it.\n"


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _clamped_bce(r, f, a):
    p_real, p_fake = torch.sigmoid(r), torch.sigmoid(f)
    p_real.clamp_(1e-7, 1 - 1e-7)  # in place on the sigmoid's output, which its backward needs
    return F.binary_cross_entropy(p_real, torch.full_like(r, 1 - a)) + F.binary_cross_entropy(p_fake, 0 * f)


def _grad_off(r, f, a):
    torch.set_grad_enabled(False)
    return _bce(r, 1 - a) + _bce(f, 0.0)


def _float64_default(r, f, a):
    torch.set_default_dtype(torch.float64)
    return _bce(r, 1 - a) + _bce(f, 0.0)


def _reseeds(r, f, a):
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    return _bce(r, 1 - a) + _bce(f, 0.0)


def _patches_gan_lib(r, f, a):
    """Replace gan_lib's reference with a wrong loss, then return that wrong loss."""
    losses.discriminator_bce = lambda r, f, *_: _bce(r, 0.5) + _bce(f, 0.5)
    return losses.discriminator_bce(r, f)


class _Raising(torch.Tensor):
    """A tensor whose every operation raises."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("no")

    @staticmethod
    def answer(r, f, a):
        return (_bce(r, 1 - a) + _bce(f, 0.0)).as_subclass(_Raising)


D_LOSS = {
    "right": [lambda r, f, a: _bce(r, 1 - a) + _bce(f, 0.0),
              lambda r, f, a: (-(1 - a) * F.logsigmoid(r) - a * F.logsigmoid(-r)).mean() - F.logsigmoid(-f).mean(),
              lambda r, f, a: F.binary_cross_entropy_with_logits(torch.cat([r, f]), torch.cat(
                  [torch.full_like(r, 1 - a), torch.zeros_like(f)]), reduction="none").split([len(r), len(f)])[0].mean()
              + _bce(f, 0.0),
              lambda r, f, a: F.binary_cross_entropy_with_logits(r, torch.ones(len(r), dtype=r.dtype) * (1 - a))
              + F.binary_cross_entropy_with_logits(f, torch.zeros(len(f), dtype=f.dtype))],
    "smoothing on both sides": [lambda r, f, a: _bce(r, 1 - a) + _bce(f, a)],
    "no smoothing": [lambda r, f, a: _bce(r, 1.0) + _bce(f, 0.0)],
    "a fixed real target of 0.9": [lambda r, f, a: _bce(r, 0.9) + _bce(f, 0.0)],
    "label_smoothing itself as the real images' target": [lambda r, f, a: _bce(r, a) + _bce(f, 0.0)],
    "the wrong sign": [lambda r, f, a: -(_bce(r, 1 - a) + _bce(f, 0.0))],
    "real and fake swapped": [lambda r, f, a: _bce(r, 0.0) + _bce(f, 1 - a)],
    "the mean of the two terms": [lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0.0)) / 2],
    "a sigmoid before binary_cross_entropy_with_logits": [
        lambda r, f, a: _bce(torch.sigmoid(r), 1 - a) + _bce(torch.sigmoid(f), 0.0)],
    "sums over the batch": [lambda r, f, a: _bce(r, 1 - a) * len(r) + _bce(f, 0.0) * len(f)],
    "a sigmoid, then binary_cross_entropy": [  # right only while the logits are moderate
        lambda r, f, a: F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r) * (1 - a))
        + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))],
    "logits far from 0": [lambda r, f, a: _bce(r.clamp(-10, 10), 1 - a) + _bce(f.clamp(-10, 10), 0.0),
                          lambda r, f, a: -((1 - a) * torch.log(torch.sigmoid(r) + 1e-7)
                                            + a * torch.log(1 - torch.sigmoid(r) + 1e-7)).mean() + _bce(f, 0.0)],
    "where torch.float32, the inputs' dtype, is expected": [lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0.0)).double()],
    "where torch.float64, the inputs' dtype, is expected": [  # float32 targets make float64 logits' loss float32
        lambda r, f, a: F.binary_cross_entropy_with_logits(r, torch.ones(len(r)) * (1 - a))
        + F.binary_cross_entropy_with_logits(f, torch.zeros(len(f)))],
    "draws from torch's global random number generator": [
        lambda r, f, a: _bce(r, 1 - a) + _bce(f, 0.0) + 0 * torch.rand(())],
    "plain number": [lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0.0)).item(),
                     lambda r, f, a: float(_bce(r, 1 - a) + _bce(f, 0.0))],
    "autograd cannot follow": [lambda r, f, a: torch.tensor((_bce(r, 1 - a) + _bce(f, 0.0)).item()),
                               lambda r, f, a: _bce(r.detach(), 1 - a) + _bce(f.detach(), 0.0)],
    "no gradient reaches logits_fake": [lambda r, f, a: _bce(r, 1 - a) + _bce(f.detach(), 0.0)],
    "an in-place operation": [_clamped_bce, lambda r, f, a: _bce(r.sigmoid_(), 1 - a)],
    "turns grad mode off": [_grad_off],
    "it reseeds torch's global random number generator (torch.manual_seed)": [_reseeds],
    "default dtype": [_float64_default],
    "calls gan_lib's own losses.discriminator_bce": [lambda r, f, a: losses.discriminator_bce(r, f, 1 - a)],
    "shape (": [lambda r, f, a: F.binary_cross_entropy_with_logits(r, torch.full_like(r, 1 - a), reduction="none")],
    "a tuple of 1 (a trailing comma": [lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0.0),)],
    "a list of 2": [lambda r, f, a: [_bce(r, 1 - a), _bce(f, 0.0)]],
    "a string": [lambda r, f, a: "0.69"],
    "complex": [lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0.0)).to(torch.complex64)],
    "NaN or inf": [lambda r, f, a: -(torch.log(torch.sigmoid(r) * 0) + _bce(f, 0.0)),
                   lambda r, f, a: -((1 - a) * torch.log(torch.sigmoid(r)) + a * torch.log(1 - torch.sigmoid(r))).mean()
                   + _bce(f, 0.0)],  # log(0) where 1 - sigmoid rounds to 0
    "raised ZeroDivisionError": [lambda r, f, a: 1 / 0],
    "raised SystemExit": [lambda r, f, a: exit(1)],
    "replaces gan_lib's own losses.discriminator_bce": [_patches_gan_lib],
    "default device": [lambda r, f, a: torch.set_default_device("meta")],
    "number of threads": [lambda r, f, a: (torch.set_num_threads(torch.get_num_threads() + 1),
                                           _bce(r, 1 - a) + _bce(f, 0.0))[1]],
    "its result could not be read": [lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0.0)).to("meta"), _Raising.answer],
    "not answered yet": [lambda r, f, a: None],
}

G_LOSS = {
    "right": [lambda f: _bce(f, 1.0), lambda f: -F.logsigmoid(f).mean(), lambda f: F.softplus(-f).mean()],
    "the saturating loss": [lambda f: -_bce(f, 0.0), lambda f: torch.log(1 - torch.sigmoid(f)).mean()],
    "the wrong sign": [lambda f: F.logsigmoid(f).mean()],
    "a target below 1": [lambda f: _bce(f, 0.9)],
    "minus the mean logit": [lambda f: -f.mean()],
    "a sum over the batch": [lambda f: -F.logsigmoid(f).sum()],
    "logits far below 0": [lambda f: _bce(f.clamp(-15, 15), 1.0),
                           lambda f: -torch.log(torch.sigmoid(f) + 1e-7).mean(),
                           lambda f: torch.log1p(torch.exp(-f)).mean(),  # exp(120) overflows float32
                           lambda f: -torch.log(torch.sigmoid(f)).mean()],  # sigmoid(-120) rounds to 0
    "plain number": [lambda f: _bce(f, 1.0).item()],
    "autograd cannot follow": [lambda f: _bce(f.detach(), 1.0)],
    "calls gan_lib's own losses.generator_non_saturating": [lambda f: losses.generator_non_saturating(f)],
    "raised RuntimeError": [lambda f: F.binary_cross_entropy(f, torch.ones_like(f))],  # logits, not probabilities
    "not answered yet": [lambda f: None],
}


def _critic_numbers(r, f):
    return f.mean() - r.mean()


CRITIC = {
    "right": [_critic_numbers, lambda r, f: -(r.mean() - f.mean()), lambda r, f: f.sum() / len(f) - r.sum() / len(r),
              lambda r, f: torch.mean(f) + torch.mean(-r)],
    "the wrong sign": [lambda r, f: r.mean() - f.mean()],
    "the absolute value": [lambda r, f: (f.mean() - r.mean()).abs()],
    "BCE": [lambda r, f: losses.discriminator_bce(r, f)],
    "a sigmoid on the scores": [lambda r, f: torch.sigmoid(f).mean() - torch.sigmoid(r).mean()],
    "the sum over the batch": [lambda r, f: f.sum() - r.sum()],
    "G's loss": [lambda r, f: -f.mean()],
    "plain number": [lambda r, f: (f.mean() - r.mean()).item()],
    "calls gan_lib's own losses.critic_wasserstein": [losses.critic_wasserstein],
    "no gradient reaches logits_real": [lambda r, f: f.mean() - r.detach().mean()],
    "raised RuntimeError": [lambda r, f: (f - r).mean()],  # one batch of 7, one of 5
    "not answered yet": [lambda r, f: None],
}

HINGE = {
    "right": [lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean(),
              lambda r, f: torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean(),
              lambda r, f: F.relu(1 - r).mean() + torch.maximum(1 + f, torch.zeros_like(f)).mean()],
    "no hinge": [lambda r, f: (1 - r).mean() + (1 + f).mean()],
    "the margins swapped": [lambda r, f: F.relu(1 + r).mean() + F.relu(1 - f).mean()],
    "a margin of 0": [lambda r, f: F.relu(-r).mean() + F.relu(f).mean()],
    "the sum over the batch": [lambda r, f: F.relu(1 - r).sum() + F.relu(1 + f).sum()],
    "one hinge on the difference": [lambda r, f: F.relu(1 - r.mean() + f.mean())],
    "calls gan_lib's own losses.discriminator_hinge": [losses.discriminator_hinge],
    "autograd cannot follow": [lambda r, f: torch.tensor(float(F.relu(1 - r).mean() + F.relu(1 + f).mean()))],
}


def _penalty(*, order="real first", alpha_shape="image", at=None, norm="image", square=True, one=True,
             create_graph=True, total=torch.sum, requires_grad=True, use_rng=True):
    def penalty(critic, real, fake, rng):
        shape = {"image": (len(real), *[1] * (real.dim() - 1)), "batch": (1,), "pixel": real.shape}[alpha_shape]
        alpha = torch.rand(*shape, generator=rng) if use_rng else torch.rand(*shape)
        between = alpha * real + (1 - alpha) * fake if order == "real first" else alpha * fake + (1 - alpha) * real
        between = {"real": real, "fake": fake}.get(at, between).detach()
        if requires_grad:
            between.requires_grad_(True)
        grad, = torch.autograd.grad(total(critic(between)), between, create_graph=create_graph)
        size = grad.flatten(1).norm(dim=1) if norm == "image" else grad.norm()
        gap = size - 1 if one else size
        return (gap.pow(2) if square else gap.abs()).mean()
    return penalty


def _per_image(critic, real, fake, rng):
    alpha = torch.rand(len(real), *[1] * (real.dim() - 1), generator=rng)
    between = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    return torch.autograd.grad(critic(between).sum(), between, create_graph=True)[0].flatten(1).norm(dim=1)


def _flags_real(critic, real, fake, rng):
    """The right value, by a gradient taken through `real`, whose requires_grad flag it leaves set."""
    alpha = torch.rand(len(real), *[1] * (real.dim() - 1), generator=rng)
    real.requires_grad_(True)
    grad = torch.autograd.grad(critic(alpha * real + (1 - alpha) * fake).sum(), real, create_graph=True)[0] / alpha
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


PENALTY = {
    "right": [_penalty(), _penalty(order="fake first"),
              lambda c, r, f, g: _penalty()(c, r, f, g) * 1.0,
              lambda c, r, f, g: ((lambda gr: (gr.reshape(len(gr), -1).pow(2).sum(1).sqrt() - 1) ** 2)(
                  torch.autograd.grad(c(x := (lambda a: a * r + (1 - a) * f)(
                      torch.rand(len(r), *[1] * (r.dim() - 1), generator=g)).requires_grad_()).sum(), x,
                      create_graph=True)[0])).mean()],
    "the penalty at the real images": [_penalty(at="real")],
    "the penalty at the generated images": [_penalty(at="fake")],
    "one alpha for the whole batch": [_penalty(alpha_shape="batch")],
    "one alpha per pixel": [_penalty(alpha_shape="pixel")],
    "draws more or fewer numbers from the generator": [
        lambda c, r, f, g: (_penalty()(c, r, f, g), torch.rand(1, generator=g))[0]],
    "the norm of the whole batch's gradient": [_penalty(norm="batch")],
    "without the square": [_penalty(square=False)],
    "without the 1": [_penalty(one=False)],
    "the gradient of the mean score": [_penalty(total=torch.mean)],
    "a one-sided penalty": [lambda c, r, f, g: F.relu(_per_image(c, r, f, g) - 1).pow(2).mean(),
                            lambda c, r, f, g: (_per_image(c, r, f, g).clamp(min=1) - 1).pow(2).mean()],
    "changes its input real in place": [_flags_real],
    "autograd cannot follow": [_penalty(create_graph=False)],
    "not yet given .requires_grad_(True)": [_penalty(requires_grad=False)],
    "never draws from rng": [_penalty(use_rng=False)],
    "calls gan_lib's own losses.gradient_penalty": [losses.gradient_penalty],
    "not answered yet": [lambda c, r, f, g: None],
}


@pytest.mark.parametrize("check_fn, answers", [(check_d_loss, D_LOSS), (check_g_loss, G_LOSS),
                                               (check_critic_loss, CRITIC), (check_hinge_loss, HINGE),
                                               (check_gradient_penalty, PENALTY)],
                         ids=["d_loss", "g_loss", "critic", "hinge", "penalty"])
def test_a_loss_check_judges_value_and_gradients_and_names_each_class_of_mistake(check_fn, answers, capsys):
    for expected, forms in answers.items():
        for form in forms:
            line = said(check_fn, form, capsys)
            if expected == "right":
                assert line.endswith(": right"), line
            else:
                assert ": right" not in line and expected in line, (expected, line)


def test_a_check_leaves_grad_mode_and_the_default_dtype_as_the_notebook_had_them(capsys):
    torch.set_grad_enabled(False)
    try:
        assert said(check_d_loss, D_LOSS["right"][0], capsys).endswith(": right")  # judged with grad mode on
        assert not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)


# --- The blocks: any definition order; each typical mistake named ---------------------------------------------

def _g_block(*, bn=True, bias=False, act=lambda: nn.ReLU(True), act_first=False, kernel=4):
    def build(c_in, c_out):
        conv = nn.ConvTranspose2d(c_in, c_out, kernel, 2, 1, bias=bias)
        rest = [nn.BatchNorm2d(c_out)] * bn + [act()]
        return nn.Sequential(conv, *(rest[::-1] if act_first else rest))
    return build


class _Detached(nn.Module):
    """A block whose output is cut from the graph."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return self.block(x).detach()


class _Functional(nn.Module):
    """D's block with its activation written as a function in forward."""

    def __init__(self, conv, norm):
        super().__init__()
        self.conv, self.norm = conv, norm

    def forward(self, x):
        return F.leaky_relu(self.norm(self.conv(x)), 0.2)


class _NormFirst(nn.Module):
    """A block whose BatchNorm is defined before its convolution, though it runs after it."""

    def __init__(self, c_in, c_out, conv, act):
        super().__init__()
        self.norm = nn.BatchNorm2d(c_out)
        self.conv = conv(c_in, c_out, 4, 2, 1, bias=False)
        self.act = act

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


def _d_block(*, bn=True, bias=False, act=lambda: nn.LeakyReLU(0.2, True), act_first=False):
    def build(c_in, c_out):
        rest = [nn.BatchNorm2d(c_out)] * bn + [act()]
        return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias), *(rest[::-1] if act_first else rest))
    return build


def _verdicts(check_fn, answers, capsys):
    return {label: said(check_fn, answer, capsys) for label, answer in answers.items()}


def test_the_block_checks_copy_gan_libs_weights_in_by_layer_kind_and_name_each_mistake(capsys):
    said = _verdicts(check_generator_block, {
        "right": _g_block(), "right, BatchNorm defined first": lambda i, o: _NormFirst(i, o, nn.ConvTranspose2d,
                                                                                       nn.ReLU()),
        "right, as a list into Sequential": lambda i, o: nn.Sequential(*[nn.ConvTranspose2d(i, o, 4, 2, 1, bias=False),
                                                                         nn.BatchNorm2d(o), nn.ReLU()]),
        "a block without BatchNorm": _g_block(bn=False), "a bias": _g_block(bias=True),
        "LeakyReLU in G": _g_block(act=lambda: nn.LeakyReLU(0.2)), "the activation before": _g_block(act_first=True),
        "tanh in a middle block": _g_block(act=nn.Tanh),
        "a plain convolution": lambda i, o: nn.Sequential(nn.Conv2d(i, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o),
                                                          nn.ReLU()),
        "parameters where": _g_block(kernel=3), "not answered": lambda i, o: None,
        "it returns a list": lambda i, o: [nn.ReLU()], "turns grad mode off": lambda i, o: torch.set_grad_enabled(False)
        or _g_block()(i, o),
        "does not require grad": lambda i, o: _g_block()(i, o).requires_grad_(False),
        "gan_lib's own models.Generator":
            lambda i, o: Generator(Config(image_size=32, latent_dim=16, g_width=o)).upsample[:3],
        "gan_lib's own models.generator_block": models.generator_block,
        "the gradients through it are not": lambda i, o: _Detached(_g_block()(i, o))}, capsys)
    said |= _verdicts(check_discriminator_block, {
        "right ": _d_block(), "right, BatchNorm defined first ": lambda i, o: _NormFirst(i, o, nn.Conv2d,
                                                                                         nn.LeakyReLU(0.2)),
        "right, functional activation": lambda i, o: _Functional(nn.Conv2d(i, o, 4, 2, 1, bias=False),
                                                                 nn.BatchNorm2d(o)),
        "a block without BatchNorm ": _d_block(bn=False), "a bias ": _d_block(bias=True),
        "default slope 0.01": _d_block(act=nn.LeakyReLU), "ReLU in D": _d_block(act=nn.ReLU),
        "the activation before ": _d_block(act_first=True), "building it raised": lambda i, o: nn.Conv2d(i),
        "gan_lib's own models.Discriminator":
            lambda i, o: Discriminator(Config(image_size=32, d_width=i // 2)).net[2:5],
        "gan_lib's own models.discriminator_block": models.discriminator_block},
        capsys)
    for label, line in said.items():
        if label.startswith("right"):
            assert line.endswith(": right"), (label, line)
        else:
            assert label.strip() in line and ": right" not in line, (label, line)


# --- The training step and the EMA ------------------------------------------------------------------------------

def _step(*, detach=True, zero="before", g_first=False, g_loss=losses.generator_non_saturating, fake_label=0.0,
          recompute=False, fake_first=False, as_numbers=False, smoothing=None):
    """A learner's training step, written as a learner would, with one thing changed."""
    def train_step(G, D, opt_g, opt_d, real, z, label_smoothing):
        a = label_smoothing if smoothing is None else smoothing
        fake = G(z)

        def update_d():
            if zero == "before":
                opt_d.zero_grad()
            if fake_first:
                logits_fake = D(fake.detach() if detach else fake)
                logits_real = D(real)
            else:
                logits_real, logits_fake = D(real), D(fake.detach() if detach else fake)
            loss = losses.discriminator_bce(logits_real, logits_fake, 1 - a, fake_label)
            loss.backward()
            if zero == "after":
                opt_d.zero_grad()
            opt_d.step()
            return loss

        def update_g():
            if zero == "before":
                opt_g.zero_grad()
            loss = g_loss(D(G(z) if recompute else fake))
            loss.backward()
            if zero == "after":
                opt_g.zero_grad()
            opt_g.step()
            return loss

        if g_first:
            loss_g = update_g()
            return update_d().item(), loss_g.item()
        loss_d, loss_g = update_d(), update_g()
        return (loss_d.item(), float(loss_g)) if as_numbers else (loss_d, loss_g)
    return train_step


def test_the_training_step_check_runs_beside_trainer_train_step_and_names_each_mistake(capsys):
    said = _verdicts(check_train_step, {
        "right": _step(), "right, D sees the fake batch first": _step(fake_first=True),
        "right, losses returned as numbers": _step(as_numbers=True),
        "fake.detach()": _step(detach=False), "zero_grad never called": _step(zero="never"),
        "zero_grad between backward and step": _step(zero="after"), "G updated first": _step(g_first=True),
        "the saturating G loss": _step(g_loss=losses.generator_saturating),
        "smoothing on both sides": _step(fake_label=0.1), "no smoothing": _step(smoothing=0.0),
        "a fixed real target of 0.9": _step(smoothing=0.1),
        "G run twice": _step(recompute=True), "not answered": lambda *args: None,
        "where the pair (loss_d, loss_g) is expected": lambda *args: _step()(*args)[0],
        "its loss_d is a str": lambda *args: ("0.5", "0.7"),
        "turns grad mode off": lambda *args: (torch.set_grad_enabled(False), _step()(*args))[1],
        "raised KeyError": lambda *args: {}["x"]}, capsys)
    for label, line in said.items():
        if label.startswith("right"):
            assert line.endswith(": right"), (label, line)
        else:
            assert label in line and ": right" not in line, (label, line)


def _ema_in_place(average, weights, decay):
    return average.mul_(decay).add_(weights, alpha=1 - decay)


def test_the_ema_check_follows_the_trainers_average_and_names_its_mistakes(capsys):
    said = _verdicts(check_ema, {"right": lambda avg, w, d: d * avg + (1 - d) * w,
                                 "right, in place": _ema_in_place,
                                 "right, lerp": lambda avg, w, d: torch.lerp(avg, w, 1 - d),
                                 "swapped": lambda avg, w, d: (1 - d) * avg + d * w,
                                 "the new weights themselves": lambda avg, w, d: w,
                                 "the average as it was": lambda avg, w, d: avg,
                                 "is expected": lambda avg, w, d: d * avg + (1 - d) * w + 1e-3,
                                 "in place but returns None": lambda avg, w, d: (avg.mul_(d).add_(w, alpha=1 - d),
                                                                                None)[1],
                                 "a tuple of 1": lambda avg, w, d: (d * avg + (1 - d) * w,),
                                 "changes `weights` in place": lambda avg, w, d: w.mul_(1 - d).add_(avg, alpha=d),
                                 "torch.float64 where torch.float32": lambda avg, w, d: d * avg.double()
                                 + (1 - d) * w.double(),
                                 "a fixed decay of 0.999": lambda avg, w, d: 0.999 * avg + 0.001 * w,
                                 "returns a float": lambda avg, w, d: float(avg.mean()),
                                 "raised ValueError": lambda avg, w, d: int("x"),
                                 "not answered": lambda avg, w, d: None}, capsys)
    for label, line in said.items():
        assert label.removeprefix("right, ") in line if label.startswith("right") is False else line.endswith(
            ": right"), (label, line)


# --- Notebook 04's metrics ---------------------------------------------------------------------------------------

def _w1(a, b):
    return (a.sort().values - b.sort().values).abs().mean()


def _frechet(m1, c1, m2, c2, *, square=True, factor=2, elementwise=False, real=True):
    roots = torch.linalg.eigvals(c1 @ c2).sqrt()
    root = (c1 @ c2).diagonal().sqrt().sum() if elementwise else (roots.real.sum() if real else roots.sum())
    shift = (m1 - m2).pow(2).sum() if square else (m1 - m2).norm()
    return shift + c1.trace() + c2.trace() - factor * root


def _frechet_symmetric(m1, c1, m2, c2):
    """tr sqrt(C1 C2) = tr sqrt(C1^1/2 C2 C1^1/2), whose matrix is symmetric: eigh instead of eig."""
    values, vectors = torch.linalg.eigh(c1)
    root = vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root @ c2 @ root).clamp_min(0).sqrt().sum()
    return (m1 - m2).pow(2).sum() + c1.trace() + c2.trace() - 2 * cross


def _scipy_frechet(m1, c1, m2, c2):
    from scipy import linalg

    root = linalg.sqrtm((c1 @ c2).numpy()).real
    return float(((m1 - m2) ** 2).sum() + c1.trace() + c2.trace() - 2 * np.trace(root))


def _slerp_atan2(a, b, t):
    dot, cross = (a * b).sum(-1, keepdim=True), (a.norm(dim=-1) * b.norm(dim=-1)).unsqueeze(-1)
    omega = torch.atan2(torch.sqrt((cross**2 - dot**2).clamp_min(0)), dot).clamp_min(1e-4)  # a latent and itself
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def _slerp_by_hand(a, b, t):
    unit_a, unit_b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((unit_a * unit_b).sum(-1, keepdim=True).clamp(-1, 1)).clamp_min(1e-4)  # a latent and itself
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def test_the_results_checks_use_closed_forms_and_gan_lib_and_name_each_mistake(capsys):
    said = _verdicts(check_slerp, {"right": _slerp_by_hand, "right, by atan2": _slerp_atan2,
                                   "right, in float64 and back": lambda a, b, t: _slerp_by_hand(
                                       a.double(), b.double(), t.double()).float(),
                                   "ndarray where a torch Tensor": lambda a, b, t: _slerp_by_hand(a, b, t).numpy(),
                                   "float64 where torch.float32": lambda a, b, t: _slerp_by_hand(a, b, t).double(),
                                   "lerp": models.lerp, "swapped": lambda a, b, t: _slerp_by_hand(a, b, 1 - t),
                                   "calls gan_lib's own models.slerp": models.slerp,
                                   "a list of 5": lambda a, b, t: list(_slerp_by_hand(a, b, t)),
                                   "changes its input a in place": lambda a, b, t: _slerp_by_hand(a.mul_(1), b, t)
                                   if a.mul_(2) is not None else None}, capsys)
    said |= _verdicts(check_wasserstein_1d, {"right ": _w1,
                                             "right, with numpy": lambda a, b: float(np.abs(
                                                 np.sort(a.numpy()) - np.sort(b.numpy())).mean()),
                                             "right, sorted with torch.sort": lambda a, b: (torch.sort(a)[0]
                                                                                            - torch.sort(b)[0]).abs()
                                             .mean().item(),
                                             "no sorting": lambda a, b: (a - b).abs().mean(),
                                             "W2 squared": lambda a, b: ((a.sort().values - b.sort().values) ** 2)
                                             .mean(),
                                             "sum over the samples": lambda a, b: _w1(a, b) * len(a),
                                             "in place": lambda a, b: (a.copy_(a.sort()[0]) - b.sort()[0]).abs()
                                             .mean()},
                      capsys)
    said |= _verdicts(check_sliced_wasserstein, {
        "right  ": lambda a, b, d: torch.stack([_w1(a @ u, b @ u) for u in d]).mean(),
        "right, all directions at once": lambda a, b, d: ((a @ d.T).sort(0).values - (b @ d.T).sort(0).values)
        .abs().mean(),
        "right, a Python loop": lambda a, b, d: sum(float(_w1(a @ u, b @ u)) for u in d) / len(d),
        "max-sliced": lambda a, b, d: torch.stack([_w1(a @ u, b @ u) for u in d]).max(),
        "sum over the directions": lambda a, b, d: torch.stack([_w1(a @ u, b @ u) for u in d]).sum(),
        "calls gan_lib's own metrics.sliced_distance":
            lambda a, b, d: metrics.sliced_distance(a, b, len(d), torch.Generator())},
        capsys)
    said |= _verdicts(check_frechet_distance, {
        "right   ": _frechet, "right, scipy's sqrtm": _scipy_frechet,
        "right, symmetric form": _frechet_symmetric,
        "not squared": lambda *g: _frechet(*g, square=False),
        "without its factor 2": lambda *g: _frechet(*g, factor=1),
        "element-wise square root": lambda *g: _frechet(*g, elementwise=True),
        "complex": lambda *g: _frechet(*g, real=False)}, capsys)
    for label, line in said.items():
        if label.startswith("right"):
            assert line.endswith(": right"), (label, line)
        else:
            assert label.strip() in line and ": right" not in line, (label, line)


# --- Notebook 05's conditional DCGAN -----------------------------------------------------------------------------

def _one_hot_by_hand(labels, classes):
    out = torch.zeros(len(labels), classes)
    out[torch.arange(len(labels)), labels] = 1
    return out


def test_the_conditioning_checks_name_a_missing_class_count_a_wrong_order_and_a_pooled_mean(capsys):
    said = _verdicts(check_one_hot, {
        "right": lambda y, k: F.one_hot(y, k).float(), "right, by hand": _one_hot_by_hand,
        "right, from the identity": lambda y, k: torch.eye(k)[y],
        "without the number of classes": lambda y, k: F.one_hot(y).float(),
        "transposed": lambda y, k: F.one_hot(y, k).float().T, "integers": lambda y, k: F.one_hot(y, k),
        "the label as one number": lambda y, k: y[:, None].float(), "not answered": lambda y, k: None}, capsys)
    said |= _verdicts(check_generator_input, {
        "right ": lambda z, y, k: torch.cat([z, F.one_hot(y, k).to(z.dtype)], dim=1),
        "right, hstack": lambda z, y, k: torch.hstack([z, torch.eye(k, dtype=z.dtype)[y]]),
        "right, float one-hot": lambda z, y, k: torch.cat([z, F.one_hot(y, k).float()], 1),
        "the one-hot first": lambda z, y, k: torch.cat([F.one_hot(y, k).to(z.dtype), z], 1),
        "the label as one number beside z": lambda z, y, k: torch.cat([z, y[:, None].to(z.dtype)], 1),
        "shape (": lambda z, y, k: torch.cat([z, z], 0),
        "calls gan_lib's own models.Generator.inputs":
            lambda z, y, k: Generator.inputs(SimpleNamespace(classes=tuple(range(k))), z, y)}, capsys)
    said |= _verdicts(check_projection, {
        "right  ": lambda f, e: (e * f.sum((2, 3))).sum(1),
        "right, einsum": lambda f, e: torch.einsum("nchw,nc->n", f, e),
        "right, batched dot": lambda f, e: torch.bmm(f.flatten(2).sum(2, keepdim=True).transpose(1, 2),
                                                     e[:, :, None]).flatten(),
        "the mean over the positions": lambda f, e: (e * f.mean((2, 3))).sum(1),
        "the mean over the channels": lambda f, e: (e * f.sum((2, 3))).mean(1),
        "one number for the whole batch": lambda f, e: (e * f.sum((2, 3))).sum(),
        "every image against every image's class": lambda f, e: f.sum((2, 3)) @ e.T,
        "no gradient reaches class_embedding": lambda f, e: (e.detach() * f.sum((2, 3))).sum(1)}, capsys)
    for label, line in said.items():
        if label.startswith("right"):
            assert line.endswith(": right"), (label, line)
        else:
            assert label.strip() in line and ": right" not in line, (label, line)
