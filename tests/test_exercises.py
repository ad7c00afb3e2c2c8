import torch
import torch.nn.functional as F

from gan_lib.exercises import check, check_d_loss, check_g_loss, verdict


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
