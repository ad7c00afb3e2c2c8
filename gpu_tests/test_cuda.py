"""What only a GPU can show: mixed precision, channels_last, compile, checkpoints and resume on CUDA."""

from dataclasses import replace

import pytest
import torch

from gan_lib.runs.checkpoint import load_generator
from gan_lib.runs.run_folder import TrainingRun
from gan_lib.support.runtime import amp_dtype
from gan_lib.train import Trainer


def _finite(history: list[dict]) -> bool:
    return all(torch.isfinite(torch.tensor(list(row.values()))).all() for row in history)


def test_auto_precision_matches_this_gpu():
    expected = torch.bfloat16 if torch.cuda.get_device_capability() >= (8, 0) else torch.float16
    assert amp_dtype("auto", torch.device("cuda")) is expected


@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_mixed_precision_training_stays_finite(cfg, faces, amp):
    trainer = Trainer(replace(cfg, amp=amp), faces, device="cuda")
    assert trainer.scaler.is_enabled() == (amp == "fp16")
    assert _finite(trainer.fit(20, progress=False))
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())


def test_channels_last_and_fused_adam_are_on_by_default(cfg, faces):
    trainer = Trainer(cfg, faces, device="cuda")
    assert trainer.placement.memory_format == torch.channels_last
    assert trainer.opt_g.defaults["fused"] and trainer.opt_d.defaults["fused"]
    assert _finite(trainer.fit(10, progress=False))


def test_compiled_models_train(cfg, faces):
    trainer = Trainer(replace(cfg, compile=True), faces, device="cuda")
    assert _finite(trainer.fit(10, progress=False))


def test_the_training_step_copies_nothing_from_the_host(cfg, faces):
    from torch.profiler import ProfilerActivity, profile

    trainer = Trainer(cfg, faces, device="cuda")
    trainer.fit(3, progress=False)  # warm-up: cudnn autotuning, lazily created state
    batch = trainer.batches.batch(trainer.step)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(3):
            trainer.train_step(batch)
        torch.cuda.synchronize()
    copies = [e.name for e in prof.events() if "HtoD" in e.name]
    assert not copies, copies


def test_checkpoint_resume_and_cpu_loading(cfg, faces, tmp_path):
    trainer = TrainingRun(cfg, faces, tmp_path, device="cuda")
    trainer.fit(10, progress=False)
    resumed = TrainingRun.resume(tmp_path / "checkpoint.pt", faces, tmp_path, device="cuda")
    assert resumed.step == 10
    assert all(torch.equal(a, b) for a, b in zip(resumed.G.state_dict().values(), trainer.G.state_dict().values()))
    assert _finite(resumed.fit(20, progress=False)) and resumed.step == 20
    G, _ = load_generator(tmp_path / "checkpoint.pt", device="cpu")
    with torch.no_grad():
        assert torch.isfinite(G(torch.randn(4, cfg.latent_dim))).all()
