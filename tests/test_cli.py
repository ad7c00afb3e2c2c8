import csv
import subprocess
import sys

import pytest
from PIL import Image

from gan_lib.runs.cli import main

TINY = ["--data", "synthetic", "--synthetic-count", "64", "--image-size", "32", "--g-width", "8", "--d-width", "8",
        "--batch-size", "16", "--sample-every", "2", "--quiet"]


def test_train_resume_generate_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "3"]) == 0
    for name in ("checkpoint.pt", "history.csv", "losses.png", "progress.gif"):
        assert (run / name).is_file(), name
    assert main(["train", "--data", "synthetic", "--synthetic-count", "64", "--out", str(run), "--steps", "5",
                 "--resume", "--quiet"]) == 0
    assert [int(r["step"]) for r in csv.DictReader(open(run / "history.csv"))] == [1, 2, 3, 4, 5]
    assert main(["generate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(tmp_path / "g.png"),
                 "--n", "4"]) == 0
    assert Image.open(tmp_path / "g.png").size == (2 * 34 + 2, 2 * 34 + 2)


def test_on_the_cpu_64_px_trains_widths_32_unless_others_are_given(tmp_path):
    from gan_lib.runs.checkpoint import read_checkpoint

    args = ["train", "--data", "synthetic", "--synthetic-count", "64", "--image-size", "64", "--batch-size", "16",
            "--steps", "1", "--device", "cpu", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "default")]) == 0
    assert main([*args, "--out", str(tmp_path / "given"), "--g-width", "8"]) == 0
    widths = {name: read_checkpoint(tmp_path / name / "checkpoint.pt").config for name in ("default", "given")}
    assert (widths["default"].g_width, widths["default"].d_width) == (32, 32)
    assert (widths["given"].g_width, widths["given"].d_width) == (8, 32)


def test_existing_run_needs_resume_and_resume_keeps_settings(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "1"]) == 0
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 2
    assert "already exists: pass --resume" in capsys.readouterr().err
    assert main(["train", *TINY, "--out", str(run), "--steps", "2", "--resume", "--g-width", "16"]) == 2
    assert "differ from its checkpoint: g_width 8 -> 16 (only lr_g, lr_d" in capsys.readouterr().err


def test_user_mistakes_give_one_line_and_exit_2(tmp_path, capsys):
    cases = [
        (["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")], "no folder at"),
        (["train", *TINY, "--out", str(tmp_path / "r"), "--image-size", "48"], "image size 48 is not supported"),
        (["train", *TINY, "--out", str(tmp_path / "r2"), "--batch-size", "128"], "lower --batch-size"),
        (["train", *TINY, "--out", str(tmp_path / "r3"), "--resume"], "no checkpoint at"),
        (["generate", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.png")], "train first"),
        (["prepare", "--data", str(tmp_path)], "no images found under"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1], (argv, err)


def test_prepare_reports_the_images(tmp_path, capsys):
    for i in range(3):
        Image.new("RGB", (40 + i, 50), (i * 50, 0, 0)).save(tmp_path / f"{i}.png")
    assert main(["prepare", "--data", str(tmp_path), "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "3 files under" in out and "3 images prepared at 32 px; none skipped" in out
    assert "exact duplicates (byte-identical files): 0" in out


def test_module_entry_point_exits_nonzero_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gan_lib", "train", "--data", str(tmp_path / "nope"), "--out",
                             str(tmp_path / "run")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: no folder at {tmp_path / 'nope'}: pass a folder of images, a dataset "
                                     "name (anime-faces, anime-faces-64, comic-faces), or --data synthetic to try "
                                     "without downloading")


def test_evaluate_prints_scores_and_explains_missing_weights(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2"]) == 0
    checkpoint = str(run / "checkpoint.pt")
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", checkpoint, "--data", "synthetic", "--n", "64"]) == 0
    captured = capsys.readouterr()
    assert "was not trained with --holdout" in captured.err  # its score compares with images it trained on
    assert captured.out.startswith("SWD x1e3 (") and "real-vs-real floor" in captured.out

    import gan_lib.measure.attributes as attributes

    monkeypatch.setattr(attributes, "attribute_classifier", lambda: attributes.AttributeClassifier().eval())
    assert main(["evaluate", "--checkpoint", checkpoint, "--metric", "modes", "--n", "64"]) == 0
    assert "modes: " in capsys.readouterr().out

    assert main(["evaluate", "--checkpoint", checkpoint, "--data", "synthetic", "--metric", "fid", "--n", "8",
                 "--inception-weights", str(tmp_path / "missing.pth")]) == 2
    assert "could not load the Inception weights" in capsys.readouterr().err


def test_modes_of_a_generator_trained_on_real_faces_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    import gan_lib.measure.attributes as attributes

    faces, run = tmp_path / "faces", tmp_path / "run"
    faces.mkdir()
    for i in range(16):
        Image.new("RGB", (32, 32), (i * 15, 100, 255 - i * 15)).save(faces / f"{i}.png")
    assert main(["train", "--data", str(faces), *TINY[4:], "--out", str(run), "--steps", "1"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(attributes, "attribute_classifier", lambda: pytest.fail("read real faces as synthetic"))
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--metric", "modes", "--n", "16"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --metric modes reads faces with a classifier of the synthetic faces' attributes")
    assert f"trained on {faces}" in err and "--metric swd, fid or kid" in err and "\n" not in err


def test_a_metric_added_to_the_table_is_offered_and_scored_by_evaluate(tmp_path, capsys, monkeypatch):
    from gan_lib.measure import metrics
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "1"]) == 0
    capsys.readouterr()

    def brightness(s: metrics.Scoring) -> str:
        fake, real = (float(metrics.to_float(images).mean()) for images in (s.fake, s.real))
        return f"brightness {fake:+.2f}, real {real:+.2f}"

    monkeypatch.setitem(metrics.METRICS, "brightness", metrics.Metric(brightness))
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--metric", "brightness", "--n", "16"]) == 0
    assert capsys.readouterr().out.startswith("brightness ")
    monkeypatch.delitem(metrics.METRICS, "brightness")
    with pytest.raises(SystemExit):
        main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--metric", "brightness"])
    assert "invalid choice: 'brightness'" in capsys.readouterr().err


def test_holdout_trains_on_part_and_evaluate_scores_on_the_rest_beside_the_floor(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY[:3], "400", *TINY[4:], "--out", str(run), "--steps", "2"]
    assert main([*argv, "--holdout"]) == 0
    err = capsys.readouterr().err
    held = int(err.split(" held out for evaluate")[0].rsplit("(", 1)[1])
    assert f"training on {400 - held} images ({held} held out for evaluate)" in err
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--n", "1000"]) == 0  # data from the record
    captured = capsys.readouterr()
    assert f"real images: {held} of the synthetic images held out of training (1 in 8)" in captured.err
    line = captured.out.strip()
    assert line.startswith(f"SWD x1e3 ({held} images, 32 px): ")
    score, floor = (float(part.split(" ")[0]) for part in (line.split("px): ")[1], line.split("floor ")[1]))
    assert floor < score  # two sets of real faces are far closer than an untrained G's faces are to them
    assert main([*argv, "--steps", "3", "--resume", "--holdout", "4"]) == 2
    assert "differ from its checkpoint: holdout 8 -> 4" in capsys.readouterr().err
    assert main([*argv, "--steps", "3", "--resume"]) == 0
    assert "(" + str(held) + " held out" in capsys.readouterr().err


def test_the_image_size_defaults_to_what_the_device_can_train(tmp_path, capsys, monkeypatch):
    import gan_lib.support.runtime as runtime
    import gan_lib.train as train

    argv = ["train", "--data", "synthetic", "--synthetic-count", "64", "--g-width", "8", "--d-width", "8",
            "--batch-size", "16", "--steps", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "cpu"), "--device", "cpu"]) == 0
    assert "at 32 px, cpu" in capsys.readouterr().err
    monkeypatch.setattr(runtime, "resolve_device", lambda name: runtime.torch.device("cuda"))

    def stop_with_the_size(self, cfg, *args, **kwargs):  # before anything touches the absent GPU
        raise SystemExit(cfg.image_size)

    monkeypatch.setattr(train.Trainer, "__init__", stop_with_the_size)
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(tmp_path / "gpu")])
    assert stop.value.code == 64


def test_train_takes_a_loss_and_the_checkpoint_records_it_with_ds_normalisation(tmp_path, capsys):
    from gan_lib.runs.checkpoint import read_checkpoint

    for loss, norm in (("hinge", "batch"), ("wgan-gp", "layer")):
        run = tmp_path / loss
        assert main(["train", *TINY, "--out", str(run), "--steps", "2", "--loss", loss]) == 0
        config = read_checkpoint(run / "checkpoint.pt").config
        assert config.loss == loss and config.d_norm == "auto" and config.discriminator_norm == norm
    assert main(["train", *TINY, "--out", str(tmp_path / "x"), "--loss", "lsgan"]) == 2
    assert "loss must be one of bce, hinge, wgan-gp" in capsys.readouterr().err
