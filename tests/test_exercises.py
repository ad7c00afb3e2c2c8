import torch
import torch.nn.functional as F
from torch import nn

from gan_lib import losses
from gan_lib.exercises import (
    check,
    check_d_loss,
    check_discriminator_block,
    check_ema,
    check_frechet_distance,
    check_g_loss,
    check_generator_block,
    check_slerp,
    check_sliced_wasserstein,
    check_train_step,
    check_wasserstein_1d,
    verdict,
)


def test_right_wrong_and_unanswered_each_say_so():
    assert verdict("1", 8, 8) == "1: right"
    assert verdict("2", 0.7499, 0.75, tolerance=1e-3) == "2: right"
    assert verdict("3", [8, 4], (8, 4)) == "3: right" and verdict("4", " Three ", "three") == "4: right"
    assert verdict("5", 7, 8, hint="count the overlap") == "5: not yet, 7 is not it. Hint: count the overlap"
    assert verdict("6", None, 8).startswith("6: not answered yet")
    assert verdict("7", "eight", 8).startswith("7: not yet") and verdict("8", [8], (8, 4)).startswith("8: not yet")
    assert verdict("9", True, True) == "9: right" and verdict("10", False, True).startswith("10: not yet")


def test_check_prints_the_verdict_and_returns_nothing_to_display(capsys):
    assert check("1", 7, 8) is None
    assert capsys.readouterr().out == "1: not yet, 7 is not it.\n"


def _d_loss_right(logits_real, logits_fake, label_smoothing):
    real = F.binary_cross_entropy_with_logits(logits_real, torch.full_like(logits_real, 1 - label_smoothing))
    return real + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


D_LOSS_MISTAKES = {
    "smoothing on both sides": lambda r, f, a: _bce(r, 1 - a) + _bce(f, a),
    "no smoothing": lambda r, f, a: _bce(r, 1.0) + _bce(f, 0.0),
    "the wrong sign": lambda r, f, a: -(_bce(r, 1 - a) + _bce(f, 0.0)),
    "real and fake swapped": lambda r, f, a: _bce(r, 0.0) + _bce(f, 1 - a),
    "the mean of the two terms": lambda r, f, a: (_bce(r, 1 - a) + _bce(f, 0.0)) / 2,
}


def test_the_d_loss_check_accepts_the_right_loss_and_names_each_typical_mistake(capsys):
    check_d_loss(_d_loss_right)
    assert capsys.readouterr().out == "D's loss: right\n"
    for mistake, d_loss in D_LOSS_MISTAKES.items():
        check_d_loss(d_loss)
        out = capsys.readouterr().out
        assert out.startswith("D's loss: not yet, this looks like " + mistake), out


def test_the_g_loss_check_names_the_saturating_loss_and_the_wrong_sign(capsys):
    check_g_loss(lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)))
    assert capsys.readouterr().out == "G's loss: right\n"
    check_g_loss(lambda f: -F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
    assert "this looks like the saturating loss" in capsys.readouterr().out
    check_g_loss(lambda f: F.logsigmoid(f).mean())
    assert "this looks like the wrong sign" in capsys.readouterr().out


def test_an_implement_it_check_never_raises_and_says_what_went_wrong(capsys):
    check_g_loss(lambda f: None)
    assert "not answered yet" in capsys.readouterr().out
    check_g_loss(lambda f: F.binary_cross_entropy(f, torch.ones_like(f)))  # logits where probabilities go
    assert capsys.readouterr().out.startswith("G's loss: not yet, case 1 raised ")
    check_g_loss(lambda f: f.mean() * 0)
    out = capsys.readouterr().out
    assert out.startswith("G's loss: not yet, case 1 gives 0.0000 where ") and out.endswith(" is expected\n"), out


# --- Implement-it checks of 02, 03 and 04: the right answer, and each typical mistake named ----------------------

def _g_block(*, bn=True, bias=False, act=lambda: nn.ReLU(True), act_first=False, kernel=4):
    def build(c_in, c_out):
        conv = nn.ConvTranspose2d(c_in, c_out, kernel, 2, 1, bias=bias)
        rest = [nn.BatchNorm2d(c_out)] * bn + [act()]
        return nn.Sequential(conv, *(rest[::-1] if act_first else rest))
    return build


def _d_block(*, bn=True, bias=False, act=lambda: nn.LeakyReLU(0.2, True), act_first=False):
    def build(c_in, c_out):
        rest = [nn.BatchNorm2d(c_out)] * bn + [act()]
        return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias), *(rest[::-1] if act_first else rest))
    return build


def _verdicts(check_fn, answers, capsys):
    said = {}
    for label, answer in answers.items():
        check_fn(answer)
        said[label] = capsys.readouterr().out.strip()
    return said


def test_the_block_checks_copy_gan_libs_weights_in_and_name_each_mistake(capsys):
    said = _verdicts(check_generator_block, {
        "right": _g_block(), "a block without BatchNorm": _g_block(bn=False), "a bias": _g_block(bias=True),
        "LeakyReLU in G": _g_block(act=lambda: nn.LeakyReLU(0.2)), "the activation before": _g_block(act_first=True),
        "parameters where": _g_block(kernel=3), "not answered": lambda i, o: None,
        "it returns a list": lambda i, o: [nn.ReLU()]}, capsys)
    said |= _verdicts(check_discriminator_block, {
        "right ": _d_block(), "a block without BatchNorm ": _d_block(bn=False), "a bias ": _d_block(bias=True),
        "default slope 0.01": _d_block(act=nn.LeakyReLU), "ReLU in D": _d_block(act=nn.ReLU),
        "the activation before ": _d_block(act_first=True), "building it raised": lambda i, o: nn.Conv2d(i)}, capsys)
    for label, line in said.items():
        wrong = "not yet" in line or "not answered" in line
        assert label.strip() in line and wrong != (label.strip() == "right"), line


def _step(*, detach=True, zero="before", g_first=False, g_loss=losses.generator_non_saturating, fake_label=0.0,
          recompute=False):
    """A learner's training step, written as a learner would, with one thing changed."""
    def train_step(G, D, opt_g, opt_d, real, z, smoothing):
        fake = G(z)

        def update_d():
            if zero == "before":
                opt_d.zero_grad()
            loss = losses.discriminator_bce(D(real), D(fake.detach() if detach else fake), 1 - smoothing, fake_label)
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
        return update_d(), update_g()
    return train_step


def test_the_training_step_check_runs_beside_trainer_train_step_and_names_each_mistake(capsys):
    said = _verdicts(check_train_step, {
        "right": _step(), "fake.detach()": _step(detach=False), "zero_grad never called": _step(zero="never"),
        "zero_grad between backward and step": _step(zero="after"), "G updated before D": _step(g_first=True),
        "the saturating G loss": _step(g_loss=losses.generator_saturating),
        "smoothing on both sides": _step(fake_label=0.1), "G run twice": _step(recompute=True),
        "not answered": lambda *args: None}, capsys)
    for label, line in said.items():
        assert label in line and ("not yet" in line or "not answered" in line) != (label == "right"), line


def test_the_ema_check_follows_the_trainers_average_and_names_a_swapped_decay(capsys):
    said = _verdicts(check_ema, {"right": lambda avg, w, d: d * avg + (1 - d) * w,
                                 "swapped": lambda avg, w, d: (1 - d) * avg + d * w,
                                 "the new weights themselves": lambda avg, w, d: w,
                                 "differs from the Trainer's EMA": lambda avg, w, d: avg}, capsys)
    for label, line in said.items():
        assert label in line, line


def _w1(a, b):
    return (a.sort().values - b.sort().values).abs().mean()


def _w2_squared(a, b):
    return ((a.sort().values - b.sort().values) ** 2).mean()


def _frechet(m1, c1, m2, c2, *, square=True, factor=2, elementwise=False):
    root = (c1 @ c2).diagonal().sqrt().sum() if elementwise else torch.linalg.eigvals(c1 @ c2).sqrt().real.sum()
    shift = (m1 - m2).pow(2).sum() if square else (m1 - m2).norm()
    return shift + c1.trace() + c2.trace() - factor * root


def test_the_results_checks_use_closed_forms_and_gan_lib_and_name_each_mistake(capsys):
    from gan_lib.models import lerp, slerp

    said = _verdicts(check_slerp, {"right": slerp, "lerp": lerp,
                                   "swapped": lambda a, b, t: slerp(a, b, 1 - t)}, capsys)
    said |= _verdicts(check_wasserstein_1d, {"right ": _w1, "no sorting": lambda a, b: (a - b).abs().mean(),
                                             "W2 squared": _w2_squared,
                                             "sum over the samples": lambda a, b: _w1(a, b) * len(a)}, capsys)
    said |= _verdicts(check_sliced_wasserstein, {
        "right  ": lambda a, b, d: torch.stack([_w1(a @ u, b @ u) for u in d]).mean(),
        "max-sliced": lambda a, b, d: torch.stack([_w1(a @ u, b @ u) for u in d]).max(),
        "sum over the directions": lambda a, b, d: torch.stack([_w1(a @ u, b @ u) for u in d]).sum()}, capsys)
    said |= _verdicts(check_frechet_distance, {
        "right   ": _frechet, "not squared": lambda *g: _frechet(*g, square=False),
        "without its factor 2": lambda *g: _frechet(*g, factor=1),
        "element-wise square root": lambda *g: _frechet(*g, elementwise=True)}, capsys)
    for label, line in said.items():
        assert label.strip() in line and ("not yet" in line) != (label.strip() == "right"), line
