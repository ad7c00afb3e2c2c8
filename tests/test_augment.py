import pytest
import torch

from gan_lib.augment import color, cutout, diff_augment, parse_policy, translation
from gan_lib.support.errors import GanLibError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_policy_parsing():
    assert parse_policy("color, cutout") == ("color", "cutout")
    assert parse_policy("") == ()
    with pytest.raises(GanLibError, match="unknown augmentation"):
        parse_policy("rotate")


def test_augmentation_is_differentiable_deterministic_and_shape_preserving():
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    policy = parse_policy("color,translation,cutout")
    y = diff_augment(x, policy, gen())
    assert y.shape == x.shape and torch.equal(y, diff_augment(x, policy, gen()))
    assert not torch.equal(y, diff_augment(x, policy, gen(1)))
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_shifts_content_and_fills_with_zeros():
    x = torch.ones(64, 1, 8, 8)
    y = translation(x, gen())
    assert (y == 0).any() and set(y.unique().tolist()) <= {0.0, 1.0}
    assert (y == 1).float().mean() > 0.6  # at most one eighth of each side is shifted out


def test_cutout_removes_a_quarter_of_the_area_at_most():
    y = cutout(torch.ones(200, 3, 16, 16), gen())
    holes = (y[:, 0] == 0).float().mean((1, 2))
    assert holes.max() <= 0.25 + 1e-6 and holes.mean() > 0.1


def test_color_changes_brightness_per_image():
    x = torch.zeros(10, 3, 4, 4)
    means = color(x, gen()).mean((1, 2, 3))
    assert means.std() > 0.05
