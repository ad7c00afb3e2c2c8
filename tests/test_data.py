import io

import pytest
import torch
from PIL import Image

import gan_lib.data as data
import gan_lib.data.image_cache as image_cache
from gan_lib.data import DeviceBatches, prepare_folder
from gan_lib.data.images import find_images
from gan_lib.support.errors import GanLibError
from gan_lib.support.files import cache_dir


def _save(path, image, fmt):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt)


@pytest.fixture
def messy_folder(tmp_path):
    """Mixed sizes and modes, nested folders, upper-case extensions, a corrupt JPEG, a truncated PNG, a text file."""
    root = tmp_path / "messy"
    _save(root / "a.jpg", Image.new("RGB", (120, 90), (200, 30, 30)), "JPEG")
    _save(root / "nested" / "deeper" / "B.JPG", Image.new("RGB", (96, 110), (30, 200, 30)), "JPEG")
    _save(root / "nested" / "c.PNG", Image.new("RGBA", (64, 64), (0, 0, 255, 0)), "PNG")
    _save(root / "gray.png", Image.new("L", (40, 50), 128), "PNG")
    _save(root / "palette.png", Image.new("RGB", (70, 70), (10, 120, 240)).convert("P"), "PNG")
    _save(root / "pic.webp", Image.new("RGB", (80, 80), (90, 90, 10)), "WEBP")
    _save(root / "old.Bmp", Image.new("RGB", (33, 60), (5, 5, 5)), "BMP")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buffer, "PNG")
    (root / "nested" / "truncated.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (root / "notes.txt").write_text("not an image")
    return root


def test_messy_folder_keeps_every_good_image_and_counts_the_bad(messy_folder, capsys):
    before = sorted(p.name for p in messy_folder.rglob("*"))
    prepared = prepare_folder(messy_folder, 32, workers=2)
    assert "; skipped 2: 2 unreadable (e.g. corrupt.jpg)" in capsys.readouterr().err  # one line, no UserWarning
    assert prepared.images.shape == (7, 3, 32, 32) and prepared.images.dtype == torch.uint8
    assert sorted(prepared.summary["skipped"]["unreadable"]) == ["corrupt.jpg", "nested/truncated.png"]
    assert prepared.summary["modes"] == {"RGB": 4, "RGBA": 1, "L": 1, "P": 1}
    assert sorted(p.name for p in messy_folder.rglob("*")) == before  # nothing written into the data folder


def test_colours_survive_and_transparency_becomes_white(messy_folder):
    prepared = prepare_folder(messy_folder, 32, workers=1)
    files = [p.relative_to(messy_folder).as_posix() for p in find_images(messy_folder)]
    good = [f for f in files if f not in prepared.summary["skipped"]["unreadable"]]
    pixel = {f: prepared.images[i, :, 16, 16].tolist() for i, f in enumerate(good)}
    assert pixel["nested/c.PNG"] == [255, 255, 255]
    assert pixel["gray.png"] == [128, 128, 128]
    assert abs(pixel["a.jpg"][0] - 200) < 8 and pixel["a.jpg"][1] < 40


def test_second_run_reads_the_cache_without_decoding(messy_folder, monkeypatch):
    first = prepare_folder(messy_folder, 32)

    def no_pool(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(image_cache, "ProcessPoolExecutor", no_pool)
    second = prepare_folder(messy_folder, 32)
    assert torch.equal(first.images, second.images)


def test_a_changed_folder_rebuilds_the_cache(messy_folder):
    assert len(prepare_folder(messy_folder, 32)) == 7
    _save(messy_folder / "new.png", Image.new("RGB", (50, 50)), "PNG")
    assert len(prepare_folder(messy_folder, 32)) == 8
    assert len(list(cache_dir().glob("*.u8"))) == 1  # the stale cache is gone


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(GanLibError, match=r"no folder at .*nowhere.*--data synthetic"):
        prepare_folder(tmp_path / "nowhere")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(GanLibError, match=r"no images found under .*empty.*--data synthetic"):
        prepare_folder(tmp_path / "empty")


def test_a_folder_of_only_broken_files_is_an_error(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(GanLibError, match="none of the 1"):
        prepare_folder(tmp_path, 32, workers=1)


def test_sampler_batches_are_reproducible_and_cover_each_epoch():
    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1).expand(40, 3, 2, 2).contiguous()
    sampler = DeviceBatches(images, 8, seed=1, flip=False)
    again = DeviceBatches(images, 8, seed=1, flip=False)
    assert torch.equal(sampler.batch(3), again.batch(3))
    seen = torch.cat([sampler.batch(step)[:, 0, 0, 0] for step in range(5)])
    assert sorted(((seen + 1) * 127.5).round().int().tolist()) == list(range(40))
    assert not torch.equal(sampler.batch(5), sampler.batch(0))  # the next epoch is reshuffled
    assert seen.min() >= -1 and seen.max() <= 1


def test_sampler_flips_about_half_the_images():
    image = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    image[..., 0] = 255  # a white left column
    sampler = DeviceBatches(image.expand(400, 3, 4, 4), 400, seed=0)
    flipped = (sampler.batch(0)[:, 0, 0, 3] > 0).float().mean()
    assert 0.4 < flipped < 0.6


def test_too_few_images_for_a_batch_is_a_clear_error():
    with pytest.raises(GanLibError, match="lower --batch-size"):
        DeviceBatches(torch.zeros(4, 3, 2, 2, dtype=torch.uint8), 8, seed=0)



def _faces_folder(root, count, duplicates_of=()):
    """count small distinct PNGs in two subfolders, plus byte-identical copies of the files named."""
    for i in range(count):
        _save(root / f"part{i % 2}" / f"{i:03d}.png", Image.new("RGB", (8, 8), (i, 255 - i, (7 * i) % 256)), "PNG")
    for i in duplicates_of:
        source = root / f"part{i % 2}" / f"{i:03d}.png"
        (root / "copies").mkdir(exist_ok=True)
        (root / "copies" / f"copy-of-{i:03d}.png").write_bytes(source.read_bytes())
    return root


def test_holdout_split_is_stable_disjoint_and_keeps_copies_together(tmp_path):
    import shutil

    root = _faces_folder(tmp_path / "faces", 200, duplicates_of=range(0, 200, 10))
    prepared = prepare_folder(root, 32, workers=1)
    train, held = prepared.split(8)
    assert len(train) + len(held) == len(prepared) == 220
    assert 10 <= len(held) <= 45  # one in eight, give or take chance
    assert not set(train.keys) & set(held.keys)
    assert (train.part, held.part, train.holdout) == ("train", "held-out", 8)
    # a byte-identical copy falls on the side of its original: nothing held out was trained on
    held_pixels = {tuple(x.flatten().tolist()) for x in held.images}
    assert not any(tuple(x.flatten().tolist()) in held_pixels for x in train.images)
    # the same split elsewhere (keys are relative paths), and with duplicates dropped
    shutil.copytree(root, tmp_path / "moved")
    again_train, again_held = prepare_folder(tmp_path / "moved", 32, workers=1).split(8)
    assert again_held.keys == held.keys and torch.equal(again_held.images, held.images)
    dropped_train, dropped_held = prepare_folder(root, 32, workers=1, drop_duplicates=True).split(8)
    assert set(dropped_held.keys) == set(held.keys) and len(dropped_train) + len(dropped_held) == 200


def test_a_split_needs_enough_images_and_happens_once(tmp_path):
    prepared = prepare_folder(_faces_folder(tmp_path / "one", 1), 32, workers=1)
    with pytest.raises(GanLibError, match="too few to hold one in 8 out"):
        prepared.split(8)
    with pytest.raises(GanLibError, match="at least 2"):
        prepared.split(1)
    train, _ = data.synthetic_set(32, 64).split(4)
    with pytest.raises(GanLibError, match="already one part"):
        train.split(4)


def test_reference_samples_compare_held_out_with_training_images():
    faces = data.synthetic_set(32, 400)
    train, held = faces.split(8)
    real, other = data.reference_samples(faces, 8, n=1000)
    assert len(real) == len(other) == min(len(train), len(held))  # n is capped by the smaller part
    held_set = {x.numpy().tobytes() for x in held.images}
    assert all(x.numpy().tobytes() in held_set for x in real)
    assert not any(x.numpy().tobytes() in held_set for x in other)
    again, _ = data.reference_samples(faces, 8, n=1000)
    assert torch.equal(again, real)


def test_batches_come_in_the_memory_format_the_models_use():
    images = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    plain = DeviceBatches(images, 4, seed=0).batch(0)
    channels_last = DeviceBatches(images, 4, seed=0, memory_format=torch.channels_last).batch(0)
    assert plain.is_contiguous() and channels_last.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(plain, channels_last)
