import pytest
import torch
from torch import nn

from gan_lib.config import Config
from gan_lib.models import Discriminator, Generator
from gan_lib.networks import build_models
from gan_lib.support.errors import GanLibError


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("dense", [False, True])
def test_shapes_for_every_size(size, dense):
    cfg = Config(image_size=size, g_width=8, d_width=8, latent_dim=20, dense_projection=dense)
    G, D = build_models(cfg)
    images = G(torch.randn(5, 20))
    assert images.shape == (5, 3, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert D(images).shape == (5,)


def test_widths_follow_the_seeds_layout_at_64px():
    G, D = Generator(Config()), Discriminator(Config())
    g_convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in g_convs] == [512, 256, 128, 64, 3]
    d_convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in d_convs] == [64, 128, 256, 512, 1]
    assert isinstance(D.net[1], nn.LeakyReLU)  # no BatchNorm on D's first layer
    assert isinstance(list(G.modules())[-1], nn.Tanh)


def test_dense_projection_starts_with_a_linear_layer():
    G = Generator(Config(dense_projection=True, g_width=128))
    assert isinstance(G.project[0], nn.Linear)
    assert G.project[0].out_features == 4 * 4 * 1024  # a dense layer to 4x4x1024


def test_init_statistics():
    G, D = build_models(Config())
    for model in (G, D):
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.numel() > 10_000:
                assert abs(m.weight.mean().item()) < 0.002
                assert m.weight.std().item() == pytest.approx(0.02, rel=0.05)
            if isinstance(m, nn.BatchNorm2d):
                assert m.weight.mean().item() == pytest.approx(1.0, abs=0.01)
                assert torch.all(m.bias == 0)


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = (build_models(Config(image_size=32, g_width=8, d_width=8, seed=s))[0] for s in (1, 1, 2))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.project[1].weight, c.project[1].weight)


def test_unsupported_size_is_a_clear_error():
    with pytest.raises(GanLibError, match="32, 64, 128"):
        Config(image_size=48)


def test_generate_samples_in_batches_in_eval_mode_and_leaves_the_mode_as_it_was():
    from gan_lib.config import Config
    from gan_lib.models import Generator, generate

    G = Generator(Config(image_size=32, g_width=8, latent_dim=16))
    z = torch.randn(7, 16)
    with torch.no_grad():
        expected = G.eval()(z)
    G.train()
    images = generate(G, z, batch=3)
    assert G.training and images.shape == (7, 3, 32, 32) and images.dtype == torch.float32
    assert torch.allclose(images, expected, atol=1e-6)
