"""Checks that cannot be gamed by construction: an answer right on the fixed cases only (a table of results, a cache
per shape) is refused on cases drawn afresh at every call, whose message shows no expected value; the side effects a
right answer does not have (backward() inside, a cuDNN switch, warnings filters, numpy's or Python's generator) are
named and undone; a right answer passes whatever default dtype an earlier cell chose."""

import functools
import random
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import said
from gan_lib.course.exercises import check_d_loss, check_hinge_loss, check_sliced_wasserstein, check_wasserstein_1d


def _d_loss(real, fake, label_smoothing):
    return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - label_smoothing))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def _remembering():
    """Right the first time it sees a shape and label smoothing, then the same result for ever."""
    seen = {}

    def d_loss(real, fake, label_smoothing):
        key = (real.shape, fake.shape, float(label_smoothing))
        seen.setdefault(key, _d_loss(real, fake, label_smoothing))
        return seen[key]
    return d_loss


def _then(effect):
    def d_loss(real, fake, label_smoothing):
        effect(real, fake)
        return _d_loss(real, fake, label_smoothing)
    return d_loss


def _backward(real, fake):
    _d_loss(real, fake, 0.0).backward(retain_graph=True)


SIDE_EFFECTS = {
    "calls backward() itself": _backward,
    "changes cuDNN's benchmark mode": lambda r, f: setattr(torch.backends.cudnn, "benchmark", True),
    "changes Python's warnings filters": lambda r, f: warnings.simplefilter("error"),
    "reseeds or draws from numpy's global random number generator": lambda r, f: np.random.seed(1),
    "reseeds or draws from Python's global random number generator": lambda r, f: random.random(),
}


def test_an_answer_that_remembers_its_results_is_refused_on_values_drawn_afresh(capsys):
    line = said(check_d_loss, _remembering(), capsys)
    assert "not yet, right on the fixed cases but not on case" in line and "drawn afresh" in line
    assert "expected" not in line  # where it is off, never what it should be
    assert said(check_d_loss, _d_loss, capsys) == "D's loss: right"


@pytest.mark.parametrize("named", sorted(SIDE_EFFECTS))
def test_a_side_effect_is_named_and_undone(named, capsys):
    cudnn, filters = torch.backends.cudnn.benchmark, list(warnings.filters)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    assert f"not yet, it {named}" in said(check_d_loss, _then(SIDE_EFFECTS[named]), capsys)
    assert torch.backends.cudnn.benchmark == cudnn and warnings.filters == filters
    assert np.array_equal(np.random.get_state()[1], numpy_state[1]) and random.getstate() == python_state


def test_right_answers_pass_after_an_earlier_cell_made_float64_the_default(capsys):
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        check_wasserstein_1d(lambda a, b: (a.sort().values - b.sort().values).abs().mean())
        check_sliced_wasserstein(lambda a, b, d: ((a @ d.T).sort(0).values - (b @ d.T).sort(0).values).abs().mean())
        check_hinge_loss(lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean())
        assert torch.get_default_dtype() == torch.float64  # the notebook's own choice, left as it was
    finally:
        torch.set_default_dtype(before)
    assert capsys.readouterr().out.splitlines() == ["1-D Wasserstein: right", "sliced Wasserstein: right",
                                                    "D's hinge loss: right"]


def _retains(real, fake, label_smoothing):
    real.retain_grad()  # raises where the input does not require grad
    return _d_loss(real, fake, label_smoothing)


def _sigmoid_then_bce(real, fake, label_smoothing):  # right while the logits are moderate
    return (F.binary_cross_entropy(torch.sigmoid(real), torch.full_like(real, 1 - label_smoothing))
            + F.binary_cross_entropy(torch.sigmoid(fake), torch.zeros_like(fake)))


def test_an_answer_right_only_with_inputs_that_require_grad_or_moderate_logits_is_refused_by_name(capsys):
    caught = [said(check_d_loss, _retains, capsys) for _ in range(3)]  # drawn afresh: caught at every call
    assert all("and inputs that do not require grad" in line for line in caught), caught
    assert "a sigmoid, then binary_cross_entropy" in said(check_d_loss, _sigmoid_then_bce, capsys)


def test_the_edges_a_right_answer_must_survive_are_cases(capsys):
    from gan_lib.course.exercises import check_ema, check_one_hot, check_slerp

    def slerp_unclamped(a, b, t):
        omega = torch.acos((a / a.norm(dim=-1, keepdim=True) * b / b.norm(dim=-1, keepdim=True)).sum(-1, keepdim=True))
        return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)

    assert "a latent and itself" in said(check_slerp, slerp_unclamped, capsys)
    assert "14 classes" in said(check_one_hot, lambda y, k: torch.eye(10)[y][:, :k], capsys)
    assert said(check_one_hot, lambda y, k: F.one_hot(y, k).float(), capsys).endswith(": right")
    capped = said(check_ema, lambda a, w, d: min(d, 0.9) * a + (1 - min(d, 0.9)) * w, capsys)
    assert "right at decay 0.9 but not at decay 0.99" in capped
    assert said(check_ema, lambda a, w, d: d * a + (1 - d) * w, capsys).endswith(": right")


def _plain_step(G, D, opt_g, opt_d, real, z, label_smoothing):
    fake = G(z)
    opt_d.zero_grad()
    loss_d = (F.binary_cross_entropy_with_logits(D(real), torch.full((len(real),), 1 - label_smoothing))
              + F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(len(real))))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = F.binary_cross_entropy_with_logits(D(fake), torch.ones(len(real)))
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g


def test_a_training_step_that_leaves_g_in_eval_mode_or_calls_gan_lib_s_step_is_named(capsys):
    from gan_lib.course.exercises import check_train_step
    from gan_lib.train import dcgan_step

    def step_then_eval(G, D, opt_g, opt_d, real, z, label_smoothing):
        G.train()
        losses = _plain_step(G, D, opt_g, opt_d, real, z, label_smoothing)
        G.eval()
        return losses

    assert said(check_train_step, _plain_step, capsys).endswith(": right")
    assert "leaves G or D in eval mode" in said(check_train_step, step_then_eval, capsys)
    assert "calls gan_lib's own train.dcgan_step" in said(check_train_step, dcgan_step, capsys)


def test_a_block_is_tried_at_other_channel_counts_and_its_forward_is_guarded(capsys):
    from torch import nn

    from gan_lib.course.exercises import check_generator_block

    def block(i, o):
        return nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU())

    def written_in(i, o):
        return block(32, 16)

    class Quiet(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.block = block(i, o)

        def forward(self, x):
            warnings.simplefilter("ignore")
            return self.block(x)

    cached = functools.lru_cache(block)  # one block per channel counts: equal blocks would share their weights
    shared = nn.Sequential(nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())

    def sharing(i, o):  # new containers around one layer
        return nn.Sequential(shared[0] if (i, o) == (32, 16) else block(i, o)[0], nn.BatchNorm2d(o), nn.ReLU())

    filters = list(warnings.filters)
    assert said(check_generator_block, block, capsys).endswith(": right")
    assert "share their weights (a cache of built blocks?)" in said(check_generator_block, cached, capsys)
    assert "share their weights" in said(check_generator_block, sharing, capsys)
    assert "right for 32 -> 16 channels but not for 24 -> 40" in said(check_generator_block, written_in, capsys)
    assert "its forward changes Python's warnings filters" in said(check_generator_block, Quiet, capsys)
    assert warnings.filters == filters


def test_labels_are_drawn_afresh_and_a_module_left_in_another_mode_is_named(capsys):
    from gan_lib.course.exercises import check_gradient_penalty, check_one_hot

    seen = {}

    def remembered_one_hot(labels, classes):
        return seen.setdefault((tuple(labels.shape), classes), F.one_hot(labels, classes).float())

    assert "drawn afresh" in said(check_one_hot, remembered_one_hot, capsys)

    def penalty(critic, real, fake, rng):
        alpha = torch.rand(len(real), *[1] * (real.dim() - 1), generator=rng, dtype=real.dtype)
        between = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
        return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()

    def penalty_in_eval_mode(critic, real, fake, rng):
        critic.eval()
        return penalty(critic, real, fake, rng)

    assert said(check_gradient_penalty, penalty, capsys).endswith(": right")
    assert "it leaves critic in eval mode" in said(check_gradient_penalty, penalty_in_eval_mode, capsys)


def test_a_training_step_that_clips_large_gradients_is_caught_where_they_are_large(capsys):
    from gan_lib.course.exercises import check_train_step

    def clipped_at(limit):
        def step(G, D, opt_g, opt_d, real, z, label_smoothing):
            original = opt_d.step, opt_g.step

            def clip_then(optimizer_step, model):
                def clipped_step():
                    torch.nn.utils.clip_grad_norm_(model.parameters(), limit)
                    return optimizer_step()
                return clipped_step

            opt_d.step, opt_g.step = clip_then(opt_d.step, D), clip_then(opt_g.step, G)
            try:
                return _plain_step(G, D, opt_g, opt_d, real, z, label_smoothing)
            finally:
                opt_d.step, opt_g.step = original
        return step

    assert "not with D's last layer 30 times larger" in said(check_train_step, clipped_at(100.0), capsys)
    assert "clipped" in said(check_train_step, clipped_at(10.0), capsys)


def test_the_third_adversary_s_classes_are_caught(capsys):
    """Answers right on small values, in eval mode or in float32 only, found by an adversary not shown these tests."""
    from torch import nn

    from gan_lib.course.exercises import (
        check_ema,
        check_g_loss,
        check_generator_block,
        check_projection,
        check_style_mixing,
        check_truncation,
    )

    def block(i, o, activation=nn.ReLU, momentum=0.1):
        return nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o, momentum=momentum),
                             activation())

    assert "caps large values" in said(check_generator_block, lambda i, o: block(i, o, nn.ReLU6), capsys)
    assert "in eval mode" in said(check_generator_block, lambda i, o: block(i, o).eval(), capsys)
    assert "running statistics" in said(check_generator_block, lambda i, o: block(i, o, momentum=0.5), capsys)
    assert "NaN or inf" in said(check_g_loss, lambda f: -torch.log(torch.sigmoid(f)).mean(), capsys)
    assert "float64 ws and a float32 w_avg" in said(check_truncation, lambda ws, a, p: (a + p * (ws - a)).to(a.dtype)
                                                    if not isinstance(p, torch.Tensor) else
                                                    a + p.view(-1, *[1] * (ws.dim() - 1)) * (ws - a), capsys)
    assert "for float64 weights it returns torch.float32" in said(check_ema, lambda a, w, d: (d * a + (1 - d) * w)
                                                                  .float(), capsys)
    assert "float64 features" in said(check_projection, lambda f, e: (e * f.sum((2, 3))).sum(1).float(), capsys)

    def mixed(G, w1, w2, crossover, **mode):
        ws = w1[:, None, :].repeat(1, G.num_ws, 1)
        ws[:, crossover:] = w2[:, None, :]
        return G.synthesis(ws, **mode)

    assert said(check_style_mixing, mixed, capsys).endswith(": right")
    assert "eval-mode noise forced" in said(check_style_mixing, lambda G, a, b, c: mixed(G, a, b, c,
                                                                                   noise_mode=G.noise_mode), capsys)
