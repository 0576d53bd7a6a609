"""The --demo's data: the built-in synthetic flowers, generated and split under OUT/data once."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from ..data import synthetic
from ..data.split import split_dataset
from ..settings import outputs
from ..settings.backbones import Backbone, get_backbone
from ..settings.config import DEMO_PHOTO_SIZE, RunConfig


def demo_settings(config: RunConfig, backbone: Backbone | None = None) -> RunConfig:
    """A demo run's settings (``config.demo``; its recipe is already in ``config``: ``settings.config.demo_preset``,
    which ``--demo`` applies before the command line is read) pointed at the synthetic data set under OUT/data
    that ``make_demo_data`` writes, the maps at the backbone's demo layer. Writes nothing: every setting is
    checked before any data is made.

    Args:
        config: The settings as given.
        backbone: The backbone trained (its demo layer draws the maps); None: ``config.backbone``'s.
    """
    config = with_demo_layer(config, backbone)
    source = Path(config.output) / outputs.DEMO_DATA / "flowers"
    return dataclasses.replace(config, data=source.parent / "split", boxes=source / synthetic.BOXES_FILE)


def make_demo_data(config: RunConfig) -> None:
    """For a demo run, the synthetic flowers generated and split under OUT/data, unless already there
    (a run of anything else: nothing)."""
    if not config.demo or (Path(config.data) / outputs.SPLIT_CSV).exists():
        return
    source = Path(config.boxes).parent  # the paths demo_settings chose: OUT/data/flowers, OUT/data/split
    shutil.rmtree(source.parent, ignore_errors=True)
    print(f"generating {config.demo_images_per_class} synthetic flowers per class in {source}")
    size = max(config.image_size, DEMO_PHOTO_SIZE)  # drawn larger than trained on: the overlays show at this size
    synthetic.generate_flowers(source, config.demo_images_per_class, size=size, seed=config.seed)
    split_dataset(source, Path(config.data))


def with_demo_layer(config: RunConfig, backbone: Backbone | None = None) -> RunConfig:
    """The backbone's demo layer for the maps (InceptionV3: mixed2), unless a layer is given (--gradcam-layer);
    None (the adaptive choice) for backbones without one."""
    if config.gradcam_layer is not None or config.model is not None:
        return config
    return dataclasses.replace(config, gradcam_layer=get_backbone(backbone or config.backbone).demo_cam_layer or None)
