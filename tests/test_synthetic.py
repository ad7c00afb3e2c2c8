import numpy as np
import torch

from gan_lib.data.synthetic import ATTRIBUTES, HAIR_COLORS, draw_face, make_faces


def test_deterministic_from_seed_and_parallel_equals_serial():
    a, attrs_a = make_faces(300, 32, seed=7, workers=1)
    b, attrs_b = make_faces(300, 32, seed=7, workers=2)
    assert torch.equal(a, b)
    assert all(torch.equal(attrs_a[k], attrs_b[k]) for k in ATTRIBUTES)
    c, _ = make_faces(300, 32, seed=8, workers=1)
    assert not torch.equal(a, c)


def test_sizes_and_dtype():
    for size in (32, 64, 128):
        images, attrs = make_faces(3, size, workers=1)
        assert images.shape == (3, 3, size, size) and images.dtype == torch.uint8
        assert set(attrs) == set(ATTRIBUTES)


def test_every_attribute_value_appears_and_faces_vary():
    images, attrs = make_faces(600, 32, workers=1)
    for name, values in ATTRIBUTES.items():
        assert set(attrs[name].tolist()) == set(range(len(values))), name
    assert len({bytes(img.numpy()) for img in images}) == 600
    assert images.float().std() > 40


def test_reported_hair_colour_is_the_drawn_one():
    """The hair cap, at the top centre of the head, is nearest in colour to the reported hair colour."""
    palette = torch.tensor(list(HAIR_COLORS.values()), dtype=torch.float)
    hits = 0
    for index in range(100):
        image, attrs = draw_face(seed=3, index=index, size=64)
        patch = torch.from_numpy(np.asarray(image)[13:16, 29:35].reshape(-1, 3).astype(np.float32)).mean(0)
        hits += int(torch.cdist(patch[None], palette).argmin()) == attrs["hair_color"]
    assert hits >= 90
