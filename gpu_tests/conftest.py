"""The CUDA checks of `make gpu-check`: outside the CPU test command, and an error (not a skip) without a GPU."""

import pytest
import torch

if not torch.cuda.is_available():
    raise pytest.UsageError("make gpu-check needs a CUDA GPU, and PyTorch sees none (torch.cuda.is_available() is "
                            "False): run it on a GPU machine; `make test` is the CPU test command")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def cfg():
    from gan_lib.config import Config

    return Config(image_size=64, batch_size=64, log_every=5, sample_every=10, checkpoint_every=10)


@pytest.fixture
def faces():
    from gan_lib.data import synthetic_set

    return synthetic_set(64, 512)
