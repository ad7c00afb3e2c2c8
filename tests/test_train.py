import csv

import pytest
import torch
from PIL import Image

import gan_lib.train as train
from conftest import resumed_equals_straight, same_tensors
from gan_lib.runs.checkpoint import load_generator, read_checkpoint
from gan_lib.runs.run_folder import TrainingRun
from gan_lib.support.errors import GanLibError
from gan_lib.train import Trainer, TrainingDiverged


def test_a_short_run_changes_G_and_records_history(tiny_cfg, tiny_data):
    trainer = Trainer(tiny_cfg, tiny_data, device="cpu")
    before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    history = trainer.fit(6, progress=False)
    assert not same_tensors(before, trainer.G.state_dict())
    assert [h["step"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert all(0 < h["d_real"] < 1 and 0 < h["d_fake"] < 1 and h["loss_d"] > 0 for h in history)


def test_same_seed_same_weights(tiny_cfg, tiny_data):
    a, b = Trainer(tiny_cfg, tiny_data, device="cpu"), Trainer(tiny_cfg, tiny_data, device="cpu")
    a.fit(3, progress=False)
    b.fit(3, progress=False)
    assert same_tensors(a.G.state_dict(), b.G.state_dict()) and same_tensors(a.D.state_dict(), b.D.state_dict())


def test_label_smoothing_changes_the_run(tiny_cfg, tiny_data):
    from dataclasses import replace

    a, b = Trainer(tiny_cfg, tiny_data, device="cpu"), Trainer(replace(tiny_cfg, label_smoothing=0.0), tiny_data,
                                                               device="cpu")
    a.fit(2, progress=False)
    b.fit(2, progress=False)
    assert not same_tensors(a.D.state_dict(), b.D.state_dict())


def test_run_writes_checkpoint_samples_history_and_reports(tiny_cfg, tiny_data, tmp_path, cpu_default):
    TrainingRun(tiny_cfg, tiny_data, tmp_path, device="cpu").fit(8, progress=False)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_0000004.png", "step_0000008.png"]
    assert Image.open(tmp_path / "progress.gif").n_frames == 2
    assert Image.open(tmp_path / "losses.png").size[0] > 0
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert len(rows) == 8 and set(rows[0]) == {"step", "loss_d", "loss_g", "d_real", "d_fake"}
    state = read_checkpoint(tmp_path / "checkpoint.pt")
    assert state.step == 8 and state.config.g_width == 8


def test_checkpoint_round_trip(tiny_cfg, tiny_data, tmp_path):
    trainer = TrainingRun(tiny_cfg, tiny_data, tmp_path, device="cpu")
    trainer.fit(4, progress=False)
    restored = TrainingRun.resume(tmp_path / "checkpoint.pt", tiny_data, device="cpu")
    assert restored.cfg == trainer.cfg and restored.step == 4 and restored.history == trainer.history
    assert same_tensors(restored.G.state_dict(), trainer.G.state_dict())
    assert same_tensors(restored.D.state_dict(), trainer.D.state_dict())
    assert torch.equal(restored.fixed_noise, trainer.fixed_noise)
    assert same_tensors(restored.ema.state_dict(), trainer.ema.state_dict())
    G, cfg = load_generator(tmp_path / "checkpoint.pt", "cpu")
    assert cfg == trainer.cfg and not G.training
    assert same_tensors(G.state_dict(), trainer.sampling_generator.state_dict())


def test_resume_equals_the_uninterrupted_run_bit_for_bit(tiny_cfg, tiny_data, tmp_path, cpu_default):
    whole = Trainer(tiny_cfg, tiny_data, device="cpu")
    whole.fit(10, progress=False)  # 8 steps per epoch: the run crosses an epoch boundary
    first = TrainingRun(tiny_cfg, tiny_data, tmp_path, device="cpu")
    first.fit(4, progress=False)
    second = TrainingRun.resume(tmp_path / "checkpoint.pt", tiny_data, tmp_path, device="cpu")
    second.fit(10, progress=False)
    assert same_tensors(whole.G.state_dict(), second.G.state_dict())
    assert same_tensors(whole.D.state_dict(), second.D.state_dict())
    for a, b in ((whole.opt_g, second.opt_g), (whole.opt_d, second.opt_d)):
        for sa, sb in zip(a.state_dict()["state"].values(), b.state_dict()["state"].values()):
            assert same_tensors(sa, sb)
    assert whole.history == second.history


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tiny_cfg, tiny_data, tmp_path):
    trainer = TrainingRun(tiny_cfg, tiny_data, tmp_path, device="cpu")
    trainer.fit(4, progress=False)
    good = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    with torch.no_grad():
        next(trainer.D.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite at step 5.*checkpoint\.pt"):
        trainer.fit(8, progress=False)
    state = read_checkpoint(tmp_path / "checkpoint.pt")
    assert state.step == 4 and same_tensors(state.generator, good)


def test_a_crash_while_saving_leaves_the_previous_checkpoint(tiny_cfg, tiny_data, tmp_path, monkeypatch):
    trainer = TrainingRun(tiny_cfg, tiny_data, tmp_path, device="cpu")
    trainer.fit(4, progress=False)

    def dies_halfway(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(train.torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(8, progress=False)
    assert read_checkpoint(tmp_path / "checkpoint.pt").step == 4


def test_foreign_or_missing_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(GanLibError, match="no checkpoint at"):
        read_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(GanLibError, match="not a gan_lib checkpoint .it cannot be read as one"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(GanLibError, match="not a gan_lib checkpoint"):
        read_checkpoint(tmp_path / "other.pt")


def test_wrong_image_size_or_missing_gpu_are_clear_errors(tiny_cfg, tiny_data):
    from dataclasses import replace

    with pytest.raises(GanLibError, match="32 px but the config asks for 64 px"):
        Trainer(replace(tiny_cfg, image_size=64), tiny_data, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(GanLibError, match="no CUDA GPU"):
            Trainer(tiny_cfg, tiny_data, device="cuda")


def test_recipe_options_keep_resume_bit_exact(tiny_cfg, tiny_data, tmp_path):
    from dataclasses import replace

    cfg = replace(tiny_cfg, ema_decay=0.9, augment="color,translation,cutout", spectral_norm=True, lr_d=4e-4)
    whole = Trainer(cfg, tiny_data, device="cpu")
    whole.fit(6, progress=False)
    TrainingRun(cfg, tiny_data, tmp_path, device="cpu").fit(4, progress=False)
    resumed = TrainingRun.resume(tmp_path / "checkpoint.pt", tiny_data, device="cpu")
    resumed.fit(6, progress=False)
    assert same_tensors(whole.D.state_dict(), resumed.D.state_dict())
    assert same_tensors(whole.ema.state_dict(), resumed.ema.state_dict())


def test_ema_weights_are_used_for_samples_and_saved_generators(tiny_cfg, tiny_data, tmp_path):
    from dataclasses import replace

    trainer = TrainingRun(replace(tiny_cfg, ema_decay=0.5), tiny_data, tmp_path, device="cpu")
    plain = Trainer(replace(tiny_cfg, ema_decay=0.0), tiny_data, device="cpu")
    assert plain.ema is None and plain.sampling_generator is plain.G
    trainer.fit(4, progress=False)
    ema = dict(trainer.ema.module.named_parameters())
    assert not same_tensors(ema, dict(trainer.G.named_parameters()))
    G, _ = load_generator(tmp_path / "checkpoint.pt", "cpu")
    assert same_tensors(dict(G.named_parameters()), ema)
    z = torch.randn(2, tiny_cfg.latent_dim)
    with torch.no_grad():
        assert torch.equal(trainer.generate(z), G(z))


def test_the_ema_generator_samples_with_batchnorm_statistics_of_its_own(tiny_cfg, tiny_data):
    """The EMA's running statistics are an average of raw G's; the sampling generator's are measured on its own
    activations (update_bn on fixed noise), and measuring them changes nothing that training uses."""
    from dataclasses import replace

    from gan_lib.models import BATCHNORM_BATCHES, noise

    trainer = Trainer(replace(tiny_cfg, ema_decay=0.5), tiny_data, device="cpu")
    trainer.fit(4, progress=False)
    before = {k: v.clone() for k, v in trainer.ema.state_dict().items()}
    sampler = trainer.sampling_generator
    assert same_tensors(trainer.ema.state_dict(), before) and sampler is not trainer.ema.module
    assert sampler is trainer.sampling_generator  # measured once per step
    first_bn = next(m for m in trainer.ema.module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    inputs = []
    first_bn.register_forward_hook(lambda module, args, out: inputs.append(args[0]))
    with torch.no_grad():
        for i in range(BATCHNORM_BATCHES):
            trainer.ema.module(noise(tiny_cfg.batch_size, tiny_cfg, "batchnorm", i))
    own_mean = torch.cat(inputs).mean(dim=(0, 2, 3))
    sampler_bn = next(m for m in sampler.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert torch.allclose(sampler_bn.running_mean, own_mean, atol=1e-5)
    assert not torch.allclose(first_bn.running_mean, own_mean, atol=1e-3)  # the average of raw G's differs
    trainer.fit(5, progress=False)
    assert trainer.sampling_generator is not sampler  # a new step: measured again


def test_the_sampling_generator_of_a_cross_process_batchnorm_g_is_measured_in_one_process(tiny_cfg, tiny_data):
    """Under torchrun with --sync-batchnorm, process 0 alone samples: its BatchNorm must not wait for the others."""
    from gan_lib.support.runtime import CrossRankBatchNorm2d, sync_batchnorm

    trainer = Trainer(tiny_cfg, tiny_data, device="cpu")
    trainer.fit(2, progress=False)
    sync_batchnorm(trainer.ema.module, trainer.device)
    assert any(isinstance(m, CrossRankBatchNorm2d) for m in trainer.ema.module.modules())
    sampler = trainer.sampling_generator  # a CrossRankBatchNorm2d in train mode would all-reduce here
    assert not any(isinstance(m, CrossRankBatchNorm2d) for m in sampler.modules())
    assert trainer.generate().shape == (64, 3, tiny_cfg.image_size, tiny_cfg.image_size)


def test_cpu_runs_in_full_precision_in_channels_last_without_scaler(tiny_cfg, tiny_data):
    from dataclasses import replace

    trainer = Trainer(tiny_cfg, tiny_data, device="cpu")
    assert trainer.placement.amp_dtype is None and not trainer.scaler.is_enabled()
    assert trainer.placement.memory_format == torch.channels_last
    weight = next(p for p in trainer.G.parameters() if p.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last)
    off = Trainer(replace(tiny_cfg, channels_last="off"), tiny_data, device="cpu")
    assert off.placement.memory_format == torch.contiguous_format


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_with_finite_losses(tiny_cfg, tiny_data, amp):
    from dataclasses import replace

    trainer = Trainer(replace(tiny_cfg, amp=amp), tiny_data, device="cpu")
    assert trainer.scaler.is_enabled() == (amp == "fp16")
    history = trainer.fit(4, progress=False)
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in history)
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())  # weights stay fp32


@pytest.mark.parametrize(("capability", "expected"), [((7, 5), torch.float16), ((8, 0), torch.bfloat16),
                                                      ((9, 0), torch.bfloat16)])
def test_auto_precision_follows_the_gpus_compute_capability(monkeypatch, capability, expected):
    from gan_lib.support.runtime import amp_dtype

    # a T4 (7.5) answers True to is_bf16_supported() through emulation: the capability decides, not that answer
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *args, **kwargs: capability)
    assert amp_dtype("auto", torch.device("cuda")) is expected
    assert amp_dtype("auto", torch.device("cpu")) is None
    assert amp_dtype("bf16", torch.device("cuda")) is torch.bfloat16


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, monkeypatch):
    from gan_lib.support.runtime import native_bf16_cpu

    monkeypatch.delenv("GAN_LIB_NATIVE_BF16")  # the flags themselves, not the test run's fixed answer
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n")
    assert native_bf16_cpu(str(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n")  # AVX-512 but no bf16
    assert not native_bf16_cpu(str(cpuinfo))
    assert not native_bf16_cpu(str(tmp_path / "missing"))  # not Linux: no
    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", "1")  # said where the flags cannot be read (or are wrong)
    assert native_bf16_cpu(str(tmp_path / "missing"))


@pytest.mark.parametrize("native, dtype, said", [("1", torch.bfloat16, "cpu: bf16 autocast (native)"),
                                                 ("0", None, "cpu: fp32 (no native bf16 on this CPU)")])
def test_auto_precision_on_the_cpu_is_bf16_where_it_is_native_and_off_is_honoured(tiny_cfg, tiny_data, monkeypatch,
                                                                                   tmp_path, native, dtype, said):
    from dataclasses import replace

    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", native)
    trainer = Trainer(tiny_cfg, tiny_data, device="cpu")
    placed = trainer.placement
    assert placed.amp_dtype is dtype and placed.precision == said and not trainer.scaler.is_enabled()
    off = Trainer(replace(tiny_cfg, amp="off"), tiny_data, device="cpu")
    assert off.placement.amp_dtype is None and off.placement.precision == "cpu: fp32 (--amp off)"
    resumed_equals_straight(tiny_cfg, tiny_data, tmp_path, 6)  # exact resume in the precision auto picks


def test_the_command_line_says_once_which_precision_it_trains_in(tmp_path, monkeypatch, capsys):
    from gan_lib.runs.cli import main

    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", "1")
    tiny = ["train", "--data", "synthetic", "--synthetic-count", "64", "--g-width", "8", "--d-width", "8",
            "--batch-size", "16", "--steps", "2", "--quiet", "--device", "cpu"]
    assert main([*tiny, "--out", str(tmp_path / "auto")]) == 0
    assert main([*tiny, "--out", str(tmp_path / "off"), "--amp", "off"]) == 0
    err = capsys.readouterr().err
    assert err.count("cpu: bf16 autocast (native)") == 1 and err.count("cpu: fp32 (--amp off)") == 1


@pytest.mark.parametrize("trained, resumed", [("1", "0"), ("0", "1")])
def test_a_resume_on_a_cpu_of_the_other_bf16_answer_keeps_the_runs_precision_bit_for_bit(tmp_path, monkeypatch, capsys,
                                                                                       trained, resumed):
    """The precision is part of the run: resumed where auto would choose another, it goes on in its own, ends
    bit-identical to the run that was never interrupted, and the command says so."""
    from gan_lib.runs.cli import main

    tiny = ["train", "--data", "synthetic", "--synthetic-count", "64", "--g-width", "8", "--d-width", "8",
            "--batch-size", "16", "--checkpoint-every", "2", "--quiet", "--device", "cpu"]
    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", trained)
    assert main([*tiny, "--out", str(tmp_path / "straight"), "--steps", "4"]) == 0
    assert main([*tiny, "--out", str(tmp_path / "moved"), "--steps", "2"]) == 0
    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", resumed)  # another machine
    capsys.readouterr()
    assert main([*tiny, "--out", str(tmp_path / "moved"), "--steps", "4", "--resume"]) == 0
    own = "bf16 autocast" if trained == "1" else "fp32"
    other = "fp32" if trained == "1" else "bf16"
    assert f"cpu: {own} (kept from the checkpoint; this machine would choose {other})" in capsys.readouterr().err
    straight, moved = (read_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("straight", "moved"))
    assert straight.precision == moved.precision == ("bf16" if trained == "1" else "fp32")
    assert same_tensors(straight.generator, moved.generator)
    assert same_tensors(straight.discriminator, moved.discriminator)
    # naming the run's own precision on resume is no change; naming another is one, said in a line
    named = "bf16" if trained == "1" else "off"
    assert main([*tiny, "--out", str(tmp_path / "moved"), "--steps", "5", "--resume", "--amp", named]) == 0
    assert "resuming with" not in capsys.readouterr().err
    assert read_checkpoint(tmp_path / "moved" / "checkpoint.pt").precision == straight.precision
    changed = "off" if trained == "1" else "bf16"
    assert main([*tiny, "--out", str(tmp_path / "moved"), "--steps", "6", "--resume", "--amp", changed]) == 0
    assert f"resuming with amp 'auto' -> '{changed}'" in capsys.readouterr().err
    assert read_checkpoint(tmp_path / "moved" / "checkpoint.pt").precision == other


def test_an_older_checkpoint_without_its_precision_resumes_in_fp32_on_any_cpu(tmp_path, tiny_cfg, tiny_data,
                                                                              monkeypatch):
    from gan_lib.runs.run_folder import start_or_resume

    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", "0")
    start_or_resume(tiny_cfg, tiny_data, tmp_path).fit(2, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del state["precision"]  # as commits before the record wrote it
    torch.save(state, tmp_path / "checkpoint.pt")
    monkeypatch.setenv("GAN_LIB_NATIVE_BF16", "1")
    resumed = start_or_resume(tiny_cfg, tiny_data, tmp_path)
    assert resumed.placement.amp_dtype is None
    assert resumed.placement.precision == ("cpu: fp32 (as this older checkpoint trained on the CPU; this machine "
                                           "would choose bf16)")
    state["precision"] = "fp8"
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(GanLibError, match="damaged gan_lib checkpoint .*its precision is 'fp8'"):
        start_or_resume(tiny_cfg, tiny_data, tmp_path)


def test_a_precision_the_device_cannot_compute_in_is_refused_not_silently_fp32(monkeypatch):
    from gan_lib.support.runtime import autocast

    monkeypatch.setattr(torch, "autocast", lambda *args, **kwargs: type("Off", (), {"_enabled": False})())
    with pytest.raises(GanLibError, match="cpu cannot train in bf16 autocast .*pass --amp off"):
        autocast(torch.device("cpu"), torch.bfloat16)


def test_each_steps_noise_is_a_pure_function_of_seed_and_step(tiny_cfg, tiny_data):
    from gan_lib.models import noise

    trainer = Trainer(tiny_cfg, tiny_data, device="cpu")
    seen = []
    forward = trainer.g_forward
    trainer.g_forward = lambda z, labels=None: seen.append(z.clone()) or forward(z, labels)
    trainer.fit(3, progress=False)
    assert trainer.latent_rng.device == trainer.augment_rng.device == trainer.device  # drawn where the step runs
    for step, z in enumerate(seen):
        assert torch.equal(z, noise(tiny_cfg.batch_size, tiny_cfg, "z", step))


def test_checkpoint_records_the_data_it_trained_on(tiny_cfg, tiny_data, tmp_path):
    train_part, _ = tiny_data.split(8)
    TrainingRun(tiny_cfg, train_part, tmp_path, device="cpu").fit(1, progress=False)
    record = read_checkpoint(tmp_path / "checkpoint.pt").data
    assert record["name"] == "synthetic" and record["holdout"] == 8 and record["part"] == "train"
    assert record["images"] == len(train_part) and record["files"] == len(tiny_data)


def test_start_or_resume_continues_its_own_run_and_refuses_another_recipe_or_other_data(tmp_path, tiny_cfg, tiny_data):
    from dataclasses import replace

    from gan_lib.data import synthetic_set
    from gan_lib.runs.run_folder import start_or_resume
    from gan_lib.support.errors import GanLibError

    first = start_or_resume(tiny_cfg, tiny_data, tmp_path)
    first.fit(4, progress=False)
    assert start_or_resume(tiny_cfg, tiny_data, tmp_path).step == 4
    with pytest.raises(GanLibError, match=r"g_width 8 -> 16 \(only lr_g, lr_d, .* may change\)"):
        start_or_resume(replace(tiny_cfg, g_width=16), tiny_data, tmp_path)
    with pytest.raises(GanLibError, match="96 images"):
        start_or_resume(tiny_cfg, synthetic_set(32, 96), tmp_path)


def test_a_resumed_run_may_lower_its_learning_rates_and_its_optimisers_then_use_them(tmp_path, tiny_cfg, tiny_data,
                                                                                      capsys):
    """The advice after a divergence (resume with learning rates halved) can be followed."""
    from dataclasses import replace

    from gan_lib.runs.run_folder import start_or_resume

    start_or_resume(tiny_cfg, tiny_data, tmp_path).fit(2, progress=False)
    lower = replace(tiny_cfg, lr_g=tiny_cfg.lr_g / 2, lr_d=tiny_cfg.lr_d / 4)
    resumed = start_or_resume(lower, tiny_data, tmp_path)
    assert "resuming with lr_g 0.0002 -> 0.0001, lr_d 0.0002 -> 5e-05" in capsys.readouterr().err
    assert [g["lr"] for g in resumed.opt_g.param_groups] == [1e-4] and resumed.opt_d.param_groups[0]["lr"] == 5e-5
    assert resumed.step == 2 and resumed.opt_d.state  # Adam's moments came back with the run
    resumed.fit(3, progress=False)
    assert read_checkpoint(tmp_path / "checkpoint.pt").config.lr_d == 5e-5


def test_the_step_is_the_dcgan_algorithm_written_plainly(tiny_cfg, tiny_data):
    """Three steps of Trainer.train_step give exactly the weights of the plain loop, train.dcgan_step (notebook 03
    shows the two side by side): D on real and detached fake images (BCE, real target 1 - label_smoothing), then G
    through the updated D (non-saturating loss)."""
    from dataclasses import replace

    from gan_lib.models import noise
    from gan_lib.train import dcgan_step

    cfg = replace(tiny_cfg, ema_decay=0.0)
    trainer = Trainer(cfg, tiny_data, device="cpu")
    trainer.fit(3, progress=False)
    plain = Trainer(cfg, tiny_data, device="cpu")  # the same initial weights, batches and optimisers
    G, D = plain.G, plain.D
    for step in range(3):
        real, z = plain.batches.batch(step), noise(cfg.batch_size, cfg, "z", step)
        _, loss_g = dcgan_step(G, D, plain.opt_g, plain.opt_d, real, z, cfg.label_smoothing)
    assert same_tensors(trainer.G.state_dict(), G.state_dict()) and same_tensors(trainer.D.state_dict(), D.state_dict())
    assert trainer.history[-1]["loss_g"] == pytest.approx(loss_g.item(), rel=1e-6)


def _every_difference(a, b, path="checkpoint") -> list[str]:
    """Where two checkpoints (nested dicts, lists, tensors, numbers) differ at all."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = a.keys() | b.keys()
        return [d for k in sorted(keys, key=str) for d in _every_difference(a.get(k), b.get(k), f"{path}[{k!r}]")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _every_difference(x, y, f"{path}[{i}]")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.dtype == b.dtype and torch.equal(a, b) else [path]
    return [] if a == b else [path]


def test_a_resumed_runs_checkpoint_is_the_straight_runs_in_every_tensor(tmp_path, cpu_default):
    """Resumed at a step where only the first run sampled and saved, the file ends the same: weights, optimisers,
    EMA, history, fixed noise and the global RNG state (sampling no longer draws from it)."""
    from gan_lib.runs.cli import main

    tiny = ["train", "--data", "synthetic", "--synthetic-count", "64", "--image-size", "32", "--g-width", "8",
            "--d-width", "8", "--batch-size", "16", "--quiet", "--device", "cpu", "--checkpoint-every", "2",
            "--sample-every", "2"]
    assert main([*tiny, "--out", str(tmp_path / "straight"), "--steps", "6"]) == 0
    assert main([*tiny, "--out", str(tmp_path / "resumed"), "--steps", "3"]) == 0
    assert main([*tiny, "--out", str(tmp_path / "resumed"), "--steps", "6", "--resume"]) == 0
    straight, resumed = (read_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("straight", "resumed"))
    assert _every_difference(straight.state, resumed.state) == []
    assert straight.ema and straight.state["opt_d"]["state"]  # the parts compared are there


def test_slow_training_on_a_shared_cpu_is_said_once_with_what_to_try(monkeypatch, capsys):
    import os
    import types

    from gan_lib.support import runtime
    clock = iter([0.0, 40.0, 80.0, 120.0])
    monkeypatch.setattr(runtime.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(runtime.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (5.0, 5.0, 5.0))  # 3 cores' worth of other work on 2 cores
    note = runtime.SlowCpuNote(torch.device("cpu"))
    for step in (10, 20, 30, 40):  # 4 s a step, after 40 s
        note(types.SimpleNamespace(step=step))
    said = capsys.readouterr().err.strip().splitlines()
    assert said == ["note: 4.0 s a step, and other work is keeping about 3 of this machine's 2 cores busy (load 5.0); "
                    "training runs several times faster on cores of its own: stop the other work, or run with fewer "
                    "threads than its 2 (OMP_NUM_THREADS=1)"]
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 2.0, 2.0))  # its own two threads alone: nothing to say
    quiet = runtime.SlowCpuNote(torch.device("cpu"))
    clock = iter([0.0, 40.0])
    for step in (10, 20):
        quiet(types.SimpleNamespace(step=step))
    assert capsys.readouterr().err == ""
