import pytest

from gan_lib.config import Config, derive_seed
from gan_lib.errors import GanLibError


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(0, "z", 5) == derive_seed(0, "z", 5)
    assert len({derive_seed(0, "z", s) for s in range(1000)}) == 1000
    assert 0 <= derive_seed(1, "x") < 2**63


def test_round_trip_ignores_unknown_keys():
    cfg = Config(image_size=32, ema_decay=0.99)
    assert Config.from_dict({**cfg.to_dict(), "from_a_newer_version": 1}) == cfg


@pytest.mark.parametrize("bad, message", [
    ({"amp": "fp8"}, "amp must be one of"), ({"augment": "blur"}, "unknown augmentation"),
    ({"ema_decay": 1.0}, "ema_decay"), ({"batch_size": 0}, "batch_size"), ({"label_smoothing": 0.7}, "smoothing"),
])
def test_bad_values_are_clear_errors(bad, message):
    with pytest.raises(GanLibError, match=message):
        Config(**bad)
