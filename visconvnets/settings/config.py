"""Every setting of a run, with its default and why, in one small frozen class per stage (``STAGES``: data,
model, training, pictures, maps, scores, run, hardware; each the one place its defaults are written);
``RunConfig`` composes them and is saved resolved to ``OUT/config.json`` and, by stage, ``OUT/config.toml``.

This module imports nothing of the project's (and no TensorFlow): settings sit at the bottom of the
house, and every other module reads them from here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

SCRATCH_BATCH_NORM_MOMENTUM = 0.9  # from scratch on few steps Keras's 0.99 cannot keep up; 0.9 can
PICTURE_BATCH_SIZE = 32  # images per forward/backward pass when drawing and scoring maps (fewer passes, less overhead)
SCHEDULES = ("constant", "cosine")
FILTER_PARAMETERIZATIONS = ("pixel", "fourier", "maco")  # explain.parameterizations.PARAMETERIZATIONS (a test)
OBJECTIVES = ("channel", "neuron")  # explain.filters.OBJECTIVES
STRATEGIES = ("none", "mirrored", "multiworker")
# Keras dtype policies; "auto" resolves per machine (devices.resolve_precision) and is saved resolved
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# visconvnets.explain registers these in one registry (a test keeps the lists equal): the CAMs, the pixel
# attributions, then the baselines a method must beat.
CAM_METHOD_NAMES = (
    "gradcam",
    "gradcam++",
    "layercam",
    "hirescam",
    "scorecam",
    "eigencam",
    "saliency",
    "smoothgrad",
    "integrated_gradients",
    "occlusion",
    "rise",
    "guided_backprop",
    "random",
    "centre",
    "sobel",
)


@dataclasses.dataclass(frozen=True)
class AscentSettings:
    """Gradient ascent for filter patterns (``filters.ascend``)."""

    steps: int = 80  # total gradient steps over all octaves (the blog's 80)
    step_size: float = 2.0  # pixels (0-255 scale) per step, gradient normalised to unit RMS per image
    jitter: int = 6  # random roll of up to this many pixels each step (at the final size)
    blur_every: int = 4  # blur the image every this many steps (0: never)
    blur_sigma: float = 0.5  # Gaussian sigma in pixels for that blur
    octaves: int = 3  # optimise at size / scale**(octaves-1), ..., size
    octave_scale: float = 1.4  # size ratio between octaves
    smallest_octave: int = 75  # no octave starts smaller than this side (InceptionV3's minimum input)
    border: float = 0.05  # fraction of the activation map excluded on each side of the mean (edge artefacts)
    # pixel (the blog's) | fourier (lucid's) | maco (explain.parameterizations). fourier: its patterns drive
    # their unit beyond the 99th percentile of real photos far more often than pixel's (BENCHMARKS.md)
    parameterization: str = "fourier"
    objective: str = "channel"  # channel: the filter's mean over its map; neuron: its centre cell
    # Adam's step on the fourier/maco parameters (lucid's 0.05 is for 512 steps). 0.2 pins far fewer pattern values
    # at 0 or 255 for the same share at the 99th percentile on the tutorial CNN and the demo (BENCHMARKS.md), but
    # hand-set units converge too slowly at it in a few dozen steps: kept at 0.5 until that is settled (issue 30)
    learning_rate: float = 0.5
    # lucid's redirected ReLU on every ReLU below the unit: where a ReLU lets no gradient through for an image,
    # pass the gradient that would raise its input (units blocked by ReLUs below them). On the tutorial CNN and
    # the demo it changed no score beyond off_slope's, at 1.2-1.35x the ascent's time (BENCHMARKS.md)
    redirect_relu: bool = True
    # the gradient the unit's own ReLU (fused or a ReLU layer) passes where the unit is off: 0, the plain ReLU
    # (a unit off on the starting image never moves: 70 of a tutorial CNN's 112 patterns stayed 0; cells that
    # never fire are left as they are); 1, the value before the ReLU (an edge unit is pushed to cancel its
    # falling edges too: its pattern drove it 3x less). 0.1: none blank, every pattern at the 99th (BENCHMARKS.md)
    off_slope: float = 0.1


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """The data stage: the split folder, the images each use gets, how images are read."""

    data: Path | None = None  # split folder written by create_train_val_test.py (train/ validation/ test/)
    boxes: Path | None = None  # boxes.csv of the source images (path,class,x0,y0,x1,y1): the pointing game
    images: list[Path] | None = None  # images to explain; None: --images-per-class test images per class
    images_per_class: int = 2  # test images per class chosen (seeded) when --images is not given
    check_images: bool = True  # fully decode every file before training; bad ones are skipped and reported
    cache_limit_mb: float = 4096.0  # cache decoded images in memory when they fit in this many MB
    cache_dir: Path | None = None  # cache decoded images on disk here instead (data larger than memory)
    demo: bool = False  # generate the built-in synthetic flowers, split, train from scratch, report
    demo_images_per_class: int = 92  # synthetic pictures per class (60 train, 14 validation, 18 test)


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """The model stage: the backbone built (or the saved model loaded) and its input side."""

    model: Path | None = None  # a saved OUT/model.keras: skip training, evaluate/visualise it
    backbone: str = "InceptionV3"  # the blog's; any name of backbones.BACKBONES, case-insensitive
    weights: str = "imagenet"  # imagenet | none | PATH to a .h5/.weights.h5 backbone file
    image_size: int = 299  # the blog's 299x299; InceptionV3 needs at least 75 (Xception 71, the others 32)
    dense_units: int = 256  # the blog's head: Dense(256, relu)
    dropout: float = 0.5  # dropout before the classifier
    batch_norm_momentum: float | None = None  # None: SCRATCH_BATCH_NORM_MOMENTUM from scratch, else Keras's 0.99


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """The training stage: epochs, batches, learning rates, augmentation, resume."""

    epochs: int = 10  # the blog's 10: phase 1 (head) with pretrained weights, all training from scratch
    fine_tune_epochs: int = 5  # phase 2 with pretrained weights
    batch_size: int = 32  # the blog's 32 (global batch under a distribution strategy)
    learning_rate: float = 1e-3  # Adam, phase 1 or from scratch
    fine_tune_learning_rate: float = 1e-5  # Adam, phase 2: low, so the pretrained features are not wrecked
    lr_schedule: str = "constant"  # constant | cosine (decays to 0 over each phase)
    gradient_clip: float | None = None  # gradients clipped to this global norm before Adam; None: not (the blog's)
    fine_tune_from: str | None = None  # phase 2 trains this layer's block and above; None: the backbone's last stage
    patience: int = 5  # early stopping on validation accuracy, best weights restored
    backup_every: float = 60.0  # seconds of training between resume backups (at epoch ends); 0: every epoch
    validation: bool = True  # evaluate on validation/ each epoch (needed for checkpoint and early stopping)
    rotation: float = 20.0  # augmentation: degrees (the blog's)
    shift: float = 0.2  # augmentation: width and height shift fraction (the blog's)
    zoom: float = 0.1  # augmentation: zoom fraction (ours; the blog had none)
    horizontal_flip: bool = True  # augmentation (the blog's)
    restart: bool = False  # discard an unfinished run's state in OUT and train from the start
    epoch_pictures: bool = True  # explain probe images at every epoch end: OUT/epochs/, history.csv columns
    probe_images: int = 1  # probe images per class, from validation/ (test/ when it is empty)
    tensorboard: bool = False  # OUT/tensorboard: Keras's scalars, the probe panels and their numbers


@dataclasses.dataclass(frozen=True)
class PictureSettings:
    """The pictures of what the model computes: activation grids, filter patterns, concepts."""

    activations: bool = True  # write OUT/activations/<image>/NNN_<layer>.jpg
    layers: list[str] | None = None  # names, globs or types for the grids; None: every Conv2D and Activation
    images_per_row: int = 16  # grid tiles per row
    colormap: str = "viridis"  # grid colormap (the blog used viridis/plasma)
    activation_images: int = 5  # grids for the first N chosen images (one per class first; 188 JPEGs each)
    filters: bool = True  # write OUT/filters/<layer>.jpg
    filter_layers: list[str] | None = None  # layer names; None: the model's own choice (the blog's for InceptionV3)
    filter_count: int = 64  # first N filters of each layer, 8 per row
    filter_size: int = 150  # pattern side in pixels
    filter_steps: int = AscentSettings.steps  # gradient-ascent steps, the blog's 80 (capped by $VISCONVNETS_MAX_STEPS)
    filter_step_size: float = AscentSettings.step_size  # see AscentSettings for these four
    filter_jitter: int = AscentSettings.jitter
    filter_blur_every: int = AscentSettings.blur_every
    filter_octaves: int = AscentSettings.octaves
    # the image as pixels (the blog's), or drawn from a spectrum (fourier: lucid's, the default by measurement;
    # maco: phase only, natural magnitude)
    filter_parameterization: str = AscentSettings.parameterization
    filter_objective: str = AscentSettings.objective  # channel (the blog's) or neuron (the centre cell)
    # test images' receptive-field crops beside each pattern, those exciting the unit most (0: none); every
    # pattern is also scored against the test images (its percentile), in the same one pass
    filter_examples: int = 9
    concepts: bool = True  # write OUT/concepts/<class>.jpg: what each class is recognised by (CRAFT-style)
    concept_count: int = 6  # concepts per class (NMF components)
    concept_layer: str | None = None  # the layer factorised; None: the CAM layer the run chose
    concept_images: int = 24  # test images per class factorised (the first, in the split's order)
    concept_crops: int = 8  # random crops of each, half the image's side, resized to the model's input


@dataclasses.dataclass(frozen=True)
class MapSettings:
    """The maps: the method and layer of the panels, the failure gallery, the pixel methods' cost."""

    gradcam: bool = True  # write OUT/gradcam/ and OUT/misclassified/
    cam_method: str = "gradcam"  # any of CAM_METHOD_NAMES (the blog's Grad-CAM)
    # None: the run's adaptive choice (models.layer_choice): the deepest layer every path to the classifier
    # passes through, or the deepest such layer with at least 5x5 cells when that one has fewer
    gradcam_layer: str | None = None
    max_misclassified: int = 24  # cap on the failure gallery
    compare_cams: bool = False  # also write OUT/compare/<image>.jpg: every method and baseline side by side
    # what the pixel attributions cost in the run, per scored image (their seconds: metrics.json, README)
    ig_steps: int = 32  # integrated gradients: points on the path, one forward+backward pass each
    smoothgrad_samples: int = 16  # SmoothGrad: noisy copies, one forward+backward pass each
    occlusion_patch: int | None = None  # occlusion's square, px; None: the side / 8 (15 x 15 = 225 forwards)
    rise_masks: int = 500  # RISE: random masks, one forward each


@dataclasses.dataclass(frozen=True)
class ScoreSettings:
    """The scores of the maps: faithfulness and the randomisation check."""

    faithfulness: bool = True  # score every CAM method and baseline, and run the randomisation check
    faithfulness_images: int = 8  # test images scored (what it costs: BENCHMARKS.md)
    faithfulness_steps: int = 10  # deletion/insertion curve points (each removes or reveals 1/steps of the pixels)
    sanity_steps: int = 12  # randomisation steps, top down: the head and the top 11 blocks
    # the randomisation check's methods (--cam-method is checked too): a CAM, a path method and the one
    # Adebayo et al. (2018) found blind to the weights; one curve each
    sanity_methods: tuple[str, ...] = ("gradcam", "integrated_gradients", "guided_backprop")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The run as a whole: where it writes, its seed, how much it prints."""

    output: Path = Path("outputs")  # everything a run writes goes here
    seed: int = 42  # seeds everything random: Python, NumPy, TensorFlow, the shuffle, the images chosen, the patterns
    verbose: int = 1  # Keras progress: 0 silent, 1 progress bar, 2 one line per epoch


@dataclasses.dataclass(frozen=True)
class HardwareSettings:
    """The hardware: devices, distribution, number format, eager mode."""

    distribute: str = "none"  # none | mirrored (all local GPUs, else logical CPUs) | multiworker (TF_CONFIG)
    logical_cpus: int = 0  # split the CPU into this many logical devices (tests MirroredStrategy on CPU)
    # auto: mixed_float16 with a GPU, mixed_bfloat16 on a CPU with bf16 units (AVX-512 BF16 or AMX), else float32
    precision: str = "auto"
    run_eagerly: bool = False  # Keras's eager mode: no train-step tracing (BENCHMARKS.md: its cost), slower steps


# Every stage's settings class, by the section of OUT/config.toml it is written to (settings.files).
STAGES = {
    "data": DataSettings,
    "model": ModelSettings,
    "training": TrainingSettings,
    "pictures": PictureSettings,
    "maps": MapSettings,
    "scores": ScoreSettings,
    "run": RunOptions,
    "hardware": HardwareSettings,
}


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
        for name in ("images_per_class", "activation_images", "max_misclassified"):
            if not getattr(self, name) >= 0:  # the flags' own check, for values a --config file gives
                raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if self.images_per_row < 1:
            raise ValueError(f"--images-per-row must be at least 1, got {self.images_per_row}")
        if self.filter_octaves < 1 or self.filter_jitter < 0 or self.filter_blur_every < 0:
            raise ValueError(
                f"--filter-octaves must be >= 1, --filter-jitter and --filter-blur-every >= 0, got "
                f"{self.filter_octaves}, {self.filter_jitter}, {self.filter_blur_every}"
            )
        if self.filter_parameterization not in FILTER_PARAMETERIZATIONS or self.filter_objective not in OBJECTIVES:
            raise ValueError(
                f"--filter-parameterization must be one of {', '.join(FILTER_PARAMETERIZATIONS)} and "
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
        for name in ("epochs", "fine_tune_epochs", "probe_images", "backup_every", "patience", "logical_cpus"):
            if not getattr(self, name) >= 0:  # NaN fails this too
                raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
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
            raise ValueError(f"--lr-schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.distribute not in STRATEGIES:
            raise ValueError(f"--distribute must be none, mirrored or multiworker, got {self.distribute!r}")
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


def config_from_mapping(values: dict) -> RunConfig:
    """A RunConfig from a mapping (e.g. ``vars(argparse_namespace)``); keys that are not settings are ignored."""
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    return RunConfig(**{key: value for key, value in values.items() if key in fields})
