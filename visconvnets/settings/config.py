"""A run's settings as one object: ``RunConfig`` composes the stages' classes (``stages``: each the one place its
defaults are written), checks them before any work, and is saved resolved to ``OUT/config.json`` and, by stage,
``OUT/config.toml``; the settings resume compares, the demo's preset (the names a setting may take: ``names``).

This module imports nothing of the project's (and no TensorFlow): settings sit at the bottom of the
house, and every other module reads them from here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .names import CAM_METHOD_NAMES, OBJECTIVES, PARAMETERIZATIONS, PRECISIONS, REMOVALS, SCHEDULES, STRATEGIES
from .stages import (
    SCRATCH_BATCH_NORM_MOMENTUM,
    AscentSettings,
    DataSettings,
    HardwareSettings,
    MapSettings,
    ModelSettings,
    PictureSettings,
    RunOptions,
    ScoreSettings,
    TrainingSettings,
)

PICTURE_BATCH_SIZE = 32  # images per forward/backward pass when drawing and scoring maps (fewer passes, less overhead)


def _check_not_negative(settings, names) -> None:
    """The flags' own ``0 or more`` check (argparse's ``_count``), for values a ``--config`` file or a caller gives;
    NaN fails it too."""
    for name in names:
        if not getattr(settings, name) >= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(settings, name)}")


@dataclasses.dataclass(frozen=True)
class VisualizationConfig(RunOptions, ScoreSettings, MapSettings, PictureSettings, DataSettings):
    """The settings of the pictures (of a trained or a loaded model): the data, pictures, maps, scores and run
    stages together (each stage's class holds its defaults)."""

    def ascent_settings(self) -> AscentSettings:
        """The gradient-ascent settings these flags describe."""
        return AscentSettings(
            steps=self.filter_steps,
            step_size=self.filter_step_size,
            jitter=self.filter_jitter,
            blur_every=self.filter_blur_every,
            octaves=self.filter_octaves,
            parameterization=self.filter_parameterization,
            objective=self.filter_objective,
        )

    def pixel_options(self) -> dict[str, dict]:
        """{method: {option: value}} the run hands the pixel methods (``cams.CamPass.options``)."""
        options = {
            "integrated_gradients": {"steps": self.ig_steps},
            "smoothgrad": {"samples": self.smoothgrad_samples},
            "rise": {"masks": self.rise_masks},
        }
        if self.occlusion_patch is not None:
            options["occlusion"] = {"patch": self.occlusion_patch}
        return options

    def validate_pictures(self) -> None:
        """Every check on picture settings that needs no model, with the received value."""
        _check_not_negative(self, ("images_per_class", "activation_images", "max_misclassified", "method_images"))
        if self.images_per_row < 1:
            raise ValueError(f"--images-per-row must be at least 1, got {self.images_per_row}")
        if self.filter_octaves < 1 or self.filter_jitter < 0 or self.filter_blur_every < 0:
            raise ValueError(
                f"--filter-octaves must be >= 1, --filter-jitter and --filter-blur-every >= 0, got "
                f"{self.filter_octaves}, {self.filter_jitter}, {self.filter_blur_every}"
            )
        if self.filter_parameterization not in PARAMETERIZATIONS or self.filter_objective not in OBJECTIVES:
            raise ValueError(
                f"--filter-parameterization must be one of {', '.join(PARAMETERIZATIONS)} and "
                f"--filter-objective one of {', '.join(OBJECTIVES)}, got {self.filter_parameterization!r}, "
                f"{self.filter_objective!r}"
            )
        if self.filter_examples < 0 or self.concept_count < 1 or self.concept_images < 1 or self.concept_crops < 1:
            raise ValueError(
                f"--filter-examples must be >= 0, --concept-count, --concept-images and --concept-crops >= 1, got "
                f"{self.filter_examples}, {self.concept_count}, {self.concept_images}, {self.concept_crops}"
            )
        if self.filter_count < 1 or self.filter_size < 16 or self.filter_steps < 0:
            raise ValueError(
                f"--filters must be >= 1, --filter-size >= 16 and --filter-steps >= 0, got "
                f"{self.filter_count}, {self.filter_size}, {self.filter_steps}"
            )
        if self.faithfulness_images < 1 or self.faithfulness_steps < 1 or self.sanity_steps < 1:
            raise ValueError(
                f"--faithfulness-images, --faithfulness-steps and --sanity-steps must be at least 1, got "
                f"{self.faithfulness_images}, {self.faithfulness_steps}, {self.sanity_steps}"
            )
        for name in ("ig_steps", "smoothgrad_samples", "rise_masks", "occlusion_patch"):
            value = getattr(self, name)
            if value is not None and not value >= 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.removal not in REMOVALS:
            raise ValueError(f"--removal must be one of {', '.join(REMOVALS)}, got {self.removal!r}")
        unknown = [name for name in self.sanity_methods if name not in CAM_METHOD_NAMES]
        if unknown or not self.sanity_methods:
            raise ValueError(
                f"--sanity-methods takes one or more of {', '.join(CAM_METHOD_NAMES)}, got {list(self.sanity_methods)}"
            )
        for path in self.images or []:
            if not Path(path).is_file():
                raise FileNotFoundError(f"--images: {str(path)!r} does not exist")


@dataclasses.dataclass(frozen=True)
class RunConfig(HardwareSettings, TrainingSettings, ModelSettings, VisualizationConfig):
    """Every setting of model_training_and_visualization.py: every stage's (each stage's class holds its
    defaults; ``settings.files`` writes and reads them by stage)."""

    def to_json(self) -> dict:
        return {
            key: (str(value) if isinstance(value, Path) else value) for key, value in dataclasses.asdict(self).items()
        }

    def batch_norm_momentum_for(self, pretrained: bool) -> float | None:
        """The momentum to build with: the given one, else 0.9 from scratch, else None (Keras's 0.99)."""
        if self.batch_norm_momentum is not None or pretrained:
            return self.batch_norm_momentum
        return SCRATCH_BATCH_NORM_MOMENTUM

    def validate(self) -> None:
        """Every check on values that needs no file contents, model or TensorFlow, with the received value.

        Raises:
            ValueError: a value out of range; FileNotFoundError: --model or an --images file is missing.
        """
        counts = ("epochs", "fine_tune_epochs", "probe_images", "backup_every", "patience", "logical_cpus")
        _check_not_negative(self, counts)
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"--verbose must be 0, 1 or 2, got {self.verbose}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        for name in ("learning_rate", "fine_tune_learning_rate"):
            if not getattr(self, name) > 0:  # NaN fails this too
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.gradient_clip is not None and not self.gradient_clip > 0:
            raise ValueError(f"--gradient-clip must be positive, got {self.gradient_clip}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"--lr-schedule must be one of {', '.join(SCHEDULES)}, got {self.lr_schedule!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.distribute not in STRATEGIES:
            raise ValueError(f"--distribute must be one of {', '.join(STRATEGIES)}, got {self.distribute!r}")
        if self.model is None and self.data is None:
            raise ValueError(
                "give --data (a split folder) to train, --model (a saved model.keras) to visualise, "
                "or --demo to run everything on built-in synthetic flowers"
            )
        pretrained = str(self.weights).lower() != "none"
        if self.model is None and self.epochs == 0 and not (pretrained and self.fine_tune_epochs > 0):
            raise ValueError(
                f"--epochs 0{' --fine-tune-epochs 0' if pretrained else ''} trains nothing; give --epochs 1 or more, "
                "or --model OUT/model.keras to evaluate and visualise a saved model"
            )
        if self.model is None:  # a loaded model's own side is checked once it is known (workflow)
            self.check_image_side()
        if self.model is not None and not Path(self.model).is_file():
            raise FileNotFoundError(f"--model {str(self.model)!r} does not exist")
        self.validate_pictures()

    def check_image_side(self, source: str = "--image-size") -> None:
        """The checks that read the image side: in ``validate``, and again once a loaded model's own side is
        known (``source`` names where the side came from)."""
        if self.occlusion_patch is not None and self.occlusion_patch > self.image_size:
            raise ValueError(
                f"--occlusion-patch must be at most the image side ({self.image_size} px, {source}), got "
                f"{self.occlusion_patch}: give {self.image_size} or less, or leave it out (the side / 8)"
            )


# Settings that decide what training computes: a run may resume only when none of them changed.
TRAINING_KEYS = (
    "data",
    "backbone",
    "weights",
    "image_size",
    "dense_units",
    "dropout",
    "batch_norm_momentum",
    "epochs",
    "fine_tune_epochs",
    "batch_size",
    "learning_rate",
    "fine_tune_learning_rate",
    "lr_schedule",
    "gradient_clip",
    "fine_tune_from",
    "seed",
)

DEMO_OUTPUT = Path("outputs/demo")
# The demo's recipe for a 2-core CPU (README, BENCHMARKS.md): from scratch at 128 px (photos drawn at
# DEMO_PHOTO_SIZE), batch 32, Adam 1e-3, cosine decay over 6 epochs, gradients clipped to norm 1, no
# validation pass, BatchNormalization momentum 0.9; flips only (the photos already vary the flower's place,
# size and angle). At 96 px, with rotation/shift/zoom, or at batch 16 (BatchNormalization over 16 images:
# single batches' loss at 5-6) runs merged dandelion into sunflower (0.79-0.86); batch 32: 0.94-1.00.
# 24 filter patterns at 128 px, 40 steps; map scores and randomisation in 8 steps. Grad-CAM: the backbone's demo layer.
# The pixel methods with fewer passes: integrated gradients 16 steps, SmoothGrad 8 copies, occlusion 49 patches,
# RISE 128 masks per image.
DEMO_PHOTO_SIZE = 150
DEMO_SETTINGS = {
    "weights": "none",
    "image_size": 128,
    "epochs": 6,
    "batch_size": 32,
    "lr_schedule": "cosine",
    "gradient_clip": 1.0,
    "rotation": 0.0,
    "shift": 0.0,
    "zoom": 0.0,
    "validation": False,
    "batch_norm_momentum": SCRATCH_BATCH_NORM_MOMENTUM,
    # float32, not --precision auto: on an Intel CPU with AMX (this project's machines since 2026-12-03) two of
    # five bf16 demo runs ended in a NaN loss within the first epoch (BENCHMARKS.md); float32 costs about 45 s
    "precision": "float32",
    "output": DEMO_OUTPUT,
    "filter_steps": 40,
    "filter_count": 24,
    "filter_size": 128,
    "faithfulness_steps": 8,
    "sanity_steps": 8,  # head and mixed10 to mixed4: every block above the map's layer
    # the pixel methods, cheaper than a real run's defaults (their costs and scores: README, BENCHMARKS.md)
    "ig_steps": 16,
    "smoothgrad_samples": 8,
    "occlusion_patch": 32,  # 7 x 7 positions at 128 px
    "rise_masks": 128,
}


def demo_preset(**given) -> RunConfig:
    """The demo's settings (``DEMO_SETTINGS``, ``demo=True``) with ``given`` over them: the preset ``--demo``
    applies before the command line (and a ``--config`` file) is read over it."""
    return RunConfig(**{**DEMO_SETTINGS, "demo": True, **given})


def config_from_mapping(values: dict, base: RunConfig | None = None) -> RunConfig:
    """``base`` (the defaults when None; e.g. ``demo_preset()``) with the settings of a mapping over it (e.g.
    ``vars(argparse_namespace)``); keys that are not settings are ignored."""
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    return dataclasses.replace(base or RunConfig(), **{key: value for key, value in values.items() if key in fields})
