"""Every setting's home: one small frozen class per stage (``STAGES``: data, model, training, pictures, maps,
scores, run, hardware), each the one place its defaults and their reasons are written, and the filter patterns'
gradient ascent (``AscentSettings``). ``config.RunConfig`` composes the stages; ``files`` writes them by stage.

Standard library only, like the rest of ``settings``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


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
