import os
import random
import re

import numpy as np
import pytest
import torch

# The CPU's bf16 decision, fixed for the whole run, its processes and its notebook kernels: every test sees a CPU
# without native bf16 whatever machine runs it, except those that take `cpu_default`, which run both ways.
os.environ["GAN_LIB_NATIVE_BF16"] = "0"


@pytest.fixture(params=["0", "1"], ids=["fp32-cpu", "native-bf16-cpu"])
def cpu_default(request, monkeypatch):
    """The training, resume and torchrun tests in both CPU defaults, whatever this machine's: fp32 (no native bf16)
    and bf16 autocast (native bf16: recent Intel with AMX, AMD with AVX512-BF16; emulated, and slower, elsewhere)."""
    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", request.param)
    return request.param


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty cache folder, never the user's ~/.cache."""
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def classifier():
    """The attribute classifier as `evaluate --metric modes` trains it, trained once for the whole test run."""
    from gan_lib.measure import attributes
    return attributes.train_attribute_classifier()


@pytest.fixture
def tiny_cfg():
    from gan_lib.config import Config

    return Config(image_size=32, g_width=8, d_width=8, latent_dim=16, batch_size=8, log_every=2, sample_every=4,
                  checkpoint_every=4)


@pytest.fixture
def tiny_data():
    from gan_lib.data import synthetic_set

    return synthetic_set(32, 64)


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def resumed_equals_straight(cfg, data, tmp_path, steps: int):
    """Train `steps` steps straight and, from the same config, half of them, a checkpoint, a resume and the rest:
    assert G's and D's weights end bit-identical, and return the resumed Trainer."""
    from gan_lib.runs.run_folder import TrainingRun
    from gan_lib.train import Trainer

    straight = Trainer(cfg, data, device="cpu")
    straight.fit(steps, progress=False)
    first = TrainingRun(cfg, data, tmp_path / "run", device="cpu")
    first.fit(steps // 2, progress=False)
    resumed = TrainingRun.resume(first.save_checkpoint(), data, device="cpu")
    resumed.fit(steps, progress=False)
    for a, b in ((straight.G, resumed.G), (straight.D, resumed.D)):
        assert same_tensors(a.state_dict(), b.state_dict())
    return resumed


@pytest.fixture
def tiny_notebook_env(tmp_path, monkeypatch, classifier):
    """What a notebook needs to run in tiny mode in a test: GAN_LIB_TINY=1 and a cache holding the session's
    attribute classifier (so that no notebook trains its own)."""
    from gan_lib.measure import attributes
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path / "cache"))
    attributes.classifier_path().parent.mkdir()
    torch.save(classifier.state_dict(), attributes.classifier_path())
    monkeypatch.setenv("GAN_LIB_TINY", "1")
    return monkeypatch


VERDICT = re.compile(r"^[^:\n]+: (right|not yet|not answered yet)\b")


def verdicts(cell) -> list[str]:
    """The verdicts ('right', 'not yet', 'not answered yet') an executed cell printed."""
    return [m.group(1) for out in cell.outputs for line in out.get("text", "").splitlines()
            if (m := VERDICT.match(line))]


def said(check_fn, answer, capsys) -> str:
    """The one verdict line a check prints for an answer; the check must leave global state as it found it."""
    before = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.random.get_rng_state(), random.getstate(),
              np.random.get_state()[1].tolist(), torch.get_num_threads())
    check_fn(answer)
    after = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.random.get_rng_state(), random.getstate(),
             np.random.get_state()[1].tolist(), torch.get_num_threads())
    assert before[:2] == after[:2] and torch.equal(before[2], after[2]) and before[3:] == after[3:]
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # one verdict line, nothing else
    return out.strip()
