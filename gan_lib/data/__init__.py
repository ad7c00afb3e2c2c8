"""The data wing: named datasets and their downloads, local folders decoded and cached, the built-in synthetic
faces, and the batches each training step sees. Its face hands on the names the notebooks use."""

from .loading import (
    HOLDOUT_EVERY,
    MAX_SYNTHETIC,
    SYNTHETIC_COUNT,
    DeviceBatches,
    ImageSet,
    channel_stats,
    check_condition,
    describe,
    duplicate_groups,
    folder_labels,
    load_images,
    prepare_folder,
    reference_samples,
    synthetic_set,
)

__all__ = ["HOLDOUT_EVERY", "MAX_SYNTHETIC", "SYNTHETIC_COUNT", "DeviceBatches", "ImageSet", "channel_stats",
           "check_condition", "describe", "duplicate_groups", "folder_labels", "load_images", "prepare_folder",
           "reference_samples", "synthetic_set"]
