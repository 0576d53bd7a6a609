"""The --demo's data: the built-in synthetic flowers, generated and split under OUT/data once."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from . import outputs, synthetic
from .backbones import get_backbone
from .config import DEMO_PHOTO_SIZE, RunConfig, with_demo_settings
from .split import split_dataset


def prepare_demo(config: RunConfig, explicit: set[str] = frozenset()) -> RunConfig:
    """Demo settings (except those given explicitly), and the synthetic data set generated and split
    under OUT/data (reused when already there); the returned settings point at both."""
    config = with_demo_layer(with_demo_settings(config, explicit), explicit)
    data_root = Path(config.output) / outputs.DEMO_DATA
    source, split = data_root / "flowers", data_root / "split"
    if not (split / outputs.SPLIT_CSV).exists():
        shutil.rmtree(data_root, ignore_errors=True)
        print(f"generating {config.demo_images_per_class} synthetic flowers per class in {source}")
        size = max(config.image_size, DEMO_PHOTO_SIZE)  # drawn larger than trained on: the overlays show at this size
        synthetic.generate_flowers(source, config.demo_images_per_class, size=size, seed=config.seed)
        split_dataset(source, split)
    return dataclasses.replace(config, data=split, boxes=source / synthetic.BOXES_FILE)


def with_demo_layer(config: RunConfig, explicit: set[str] = frozenset()) -> RunConfig:
    """The backbone's demo layer for the maps (InceptionV3: mixed2), unless --gradcam-layer was given;
    None (the adaptive choice) for backbones without one."""
    if "gradcam_layer" in explicit or config.model is not None:
        return config
    return dataclasses.replace(config, gradcam_layer=get_backbone(config.backbone).demo_cam_layer or None)
