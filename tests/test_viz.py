import torch
from PIL import Image

from gan_lib.measure.viz import grid, make_gif, plot_history, save_grid
from gan_lib.models import interpolate
from gan_lib.support.pixels import to_uint8


def test_to_uint8_maps_the_range_ends():
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0, 3.0])).tolist() == [0, 128, 255, 255]


def test_grid_and_saved_png(tmp_path):
    images = torch.rand(10, 3, 32, 32) * 2 - 1
    picture = grid(images)
    assert picture.dtype == torch.uint8 and picture.shape == (3, 3 * 34 + 2, 4 * 34 + 2)  # 4 columns, 3 rows
    path = save_grid(images, tmp_path / "a" / "grid.png")
    assert Image.open(path).size == (138, 104)


def test_gif_has_every_frame(tmp_path):
    frames = [torch.full((3, 16, 16), v) for v in (-1.0, 0.0, 1.0)]
    path = make_gif(frames, tmp_path / "p.gif")
    assert Image.open(path).n_frames == 3
    assert make_gif([], tmp_path / "none.gif") is None


def test_interpolation_endpoints_and_slerp_norm():
    a, b = torch.randn(100), torch.randn(100)
    for spherical in (True, False):
        path = interpolate(a, b, 5, spherical)
        assert path.shape == (5, 100)
        assert torch.allclose(path[0], a, atol=1e-4) and torch.allclose(path[-1], b, atol=1e-4)
    middle_lerp, middle_slerp = interpolate(a, b, 3, False)[1], interpolate(a, b, 3, True)[1]
    assert middle_slerp.norm() > middle_lerp.norm()  # slerp does not cut through the low-norm centre


def test_history_plot_is_written(tmp_path):
    history = [{"step": i, "loss_d": 1.0, "loss_g": 2.0, "d_real": 0.6, "d_fake": 0.3} for i in range(1, 30)]
    plot_history(history, tmp_path / "losses.png")
    assert Image.open(tmp_path / "losses.png").size[0] > 500


def test_the_history_plot_shows_the_logged_values_behind_their_average_and_where_d_cannot_tell():
    from gan_lib.losses import WassersteinGP

    history = [{"step": 5 * i, "loss_d": float(i % 2), "loss_g": 2.0, "d_real": 0.6, "d_fake": 0.3 + 0.01 * (i % 3)}
               for i in range(1, 201)]
    losses, scores = plot_history(history).axes
    faint = [line for line in losses.get_lines() if line.get_alpha() == 0.2]
    assert len(faint) == 2 and list(faint[0].get_ydata()[:4]) == [1.0, 0.0, 1.0, 0.0]  # as logged
    average = losses.get_lines()[0].get_ydata()
    assert 0.4 < average[-1] < 0.6 and "averaged over 20 steps" in losses.get_title()  # 4 logs of 5 steps
    assert [line.get_ydata()[0] for line in scores.get_lines() if line.get_linestyle() == ":"] == [0.5]
    critic = plot_history(history, scores=WassersteinGP.scores).axes[1]
    assert not [line for line in critic.get_lines() if line.get_linestyle() == ":"]  # a critic's score has no 0.5


def test_learning_curves_are_drawn_with_their_floor(tmp_path):
    from gan_lib.measure.viz import plot_learning_curves

    fig = plot_learning_curves({"a": [(100, 30.0), (200, 20.0)], "b": [(100, 40.0), (200, 25.0)]}, 9.0,
                               tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["a", "b", "floor, real vs real (9.0)"]
