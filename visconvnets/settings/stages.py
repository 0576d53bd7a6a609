"""Every setting's home: one small frozen class per stage (``STAGES``: data, model, training, pictures, maps,
scores, run, hardware), each the one place its defaults, their reasons (comments) and their help (``setting``'s
metadata) are written, and the filter patterns' gradient ascent (``AscentSettings``). ``config.RunConfig``
composes the stages; ``files`` writes them by stage; ``flags`` makes the command line from them.

Standard library only, like the rest of ``settings``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

from .backbones import BACKBONES, PREPROCESSING
from .names import CAM_METHOD_NAMES, OBJECTIVES, PARAMETERIZATIONS, PRECISIONS, REMOVALS, SCHEDULES, STRATEGIES

SCRATCH_BATCH_NORM_MOMENTUM = 0.9  # from scratch on few steps Keras's 0.99 cannot keep up; 0.9 can


def plain_type(wanted):
    """X of a field typed ``X | None`` (None is never written), else the type itself."""
    if typing.get_origin(wanted) in (typing.Union, types.UnionType):
        return next(argument for argument in typing.get_args(wanted) if argument is not type(None))
    return wanted


def setting(default, help: str, **flag):
    """A field with its default and the command line's help (``{default}`` in it shows the default); ``flag``:
    what ``flags.add_setting_flags`` needs beyond the field's name and type:

    * ``common=True``: shown by ``--help`` (every flag is shown by ``--help-all``); ``brief``: a shorter help there;
    * ``flag``: the flag when it is not the field's name (``--filters`` for ``filter_count``; a boolean's flag is
      ``--name`` when it defaults to False, ``--no-name`` when True);
    * ``count=True``: a whole number, 0 or more; ``choices``, ``metavar`` as argparse takes them.
    """
    return dataclasses.field(default=default, metadata={"help": help, **flag})


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
    # pass the gradient that would raise its input (units blocked by ReLUs below them). Off: with off_slope the
    # tutorial CNN's, a random VGG16's and the demo's patterns came out the same (blank, share at the 99th,
    # pinned values) without it, which cost 1.12-1.40x the ascent's time (BENCHMARKS.md); on for a model where
    # whole lower layers are off for the starting noise
    redirect_relu: bool = False
    # the gradient the unit's own ReLU (fused or a ReLU layer) passes where the unit is off: 0, the plain ReLU
    # (a unit off on the starting image never moves: 70 of a tutorial CNN's 112 patterns stayed 0; cells that
    # never fire are left as they are); 1, the value before the ReLU (an edge unit is pushed to cancel its
    # falling edges too: its pattern drove it 3x less). 0.1: none blank, every pattern at the 99th (BENCHMARKS.md)
    off_slope: float = 0.1


DEMO_HELP = (
    "no data needed: generate the built-in synthetic flowers, split them, train InceptionV3 from scratch at 128 px for "
    "6 epochs, explain probe images every epoch, visualise, score every CAM method, write outputs/demo/index.html "
    "(its time: BENCHMARKS.md); any flag given overrides the demo's value"
)
BACKBONE_HELP = (
    "keras.applications family to train, case-insensitive (default: {default}, the blog's). Each takes raw RGB "
    "0-255; its own preprocessing is inside the model: "
    + "; ".join(
        f"{', '.join(backbone.name for backbone in BACKBONES.values() if backbone.preprocessing == kind)}: {text}"
        for kind, text in PREPROCESSING.items()
    )
)
CAM_METHOD_HELP = (
    "map method of the panels, the failure gallery and the epoch pictures (default: {default}, the blog's). "
    "Class activation maps: gradcam, gradcam++, layercam (per-position positive gradients), hirescam (gradient x "
    "activation), scorecam (masked-input scores of the 32 most active channels; no gradients, slower), eigencam "
    "(first principal component; no class). Pixel attributions, at the input's resolution: saliency (|gradient|), "
    "smoothgrad (mean gradient of noisy copies), integrated_gradients (path from a black image), occlusion "
    "(score drop under a sliding patch), rise (random masks, probability-weighted), guided_backprop (sharp, but "
    "blind to the weights: see the randomisation check). Baselines a method must beat: random, centre, sobel "
    "(edges). What each costs: BENCHMARKS.md; a run's own: metrics.json faithfulness.methods.*.seconds"
)
PRECISION_HELP = (
    "number format of the model's computations (default: {default}: mixed_float16 with a GPU, mixed_bfloat16 on a "
    "CPU with bfloat16 units such as AVX-512 BF16 or AMX, else float32; config.json records what was used). "
    "Mixed: weights and the softmax stay float32, layers compute in 16 bits (speed and accuracy: BENCHMARKS.md)"
)


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """The data stage: the split folder, the images each use gets, how images are read."""

    # generate the built-in synthetic flowers, split, train from scratch, report
    demo: bool = setting(
        False, DEMO_HELP, common=True, brief="no data needed: the built-in synthetic flowers, end to end"
    )
    demo_images_per_class: int = setting(  # 60 train, 14 validation, 18 test
        92, "synthetic pictures per class for --demo (default: {default})"
    )
    data: Path | None = setting(  # written by create_train_val_test.py
        None, "split folder with train/ validation/ test/ (from create_train_val_test.py)", metavar="DEST", common=True
    )
    boxes: Path | None = setting(  # the pointing game scores the maps against them
        None, "boxes.csv (path,class,x0,y0,x1,y1 per source image): score Grad-CAM with the pointing game"
    )
    images: list[Path] | None = setting(  # None: --images-per-class test images per class
        None,
        "images to explain (default: --images-per-class test images per class, chosen reproducibly)",
        metavar="IMAGE",
        common=True,
    )
    images_per_class: int = setting(2, "test images per class to explain (default: {default})", count=True)
    check_images: bool = setting(  # bad files are skipped and reported, never a crash mid-epoch
        True,
        "skip the up-front decode check of every image (faster start; a corrupt file then stops training with "
        "TensorFlow's decode error instead of being skipped and reported)",
    )
    cache_limit_mb: float = setting(4096.0, "cache decoded images in memory up to this size (default: {default})")
    cache_dir: Path | None = setting(  # data larger than memory
        None,
        "cache decoded images in files in this folder instead of memory, for data larger than memory (written "
        "during the first epoch, read in the later ones; default: none)",
    )


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """The model stage: the backbone built (or the saved model loaded) and its input side."""

    model: Path | None = setting(  # skip training, evaluate/visualise it
        None,
        "a saved single-input image classifier (.keras or legacy .h5; ours or any Keras model): skip training, "
        "evaluate it (with --data) and visualise it; class names from classes.json beside it, else --data's class "
        "folders, else class_0...",
        metavar="FILE",
        common=True,
        brief="a saved Keras classifier to evaluate and explain instead of training one",
    )
    backbone: str = setting(  # the blog's; any name of backbones.BACKBONES, case-insensitive
        "InceptionV3", BACKBONE_HELP, common=True, brief="keras.applications family to train (default: {default})"
    )
    weights: str = setting(  # imagenet | none | PATH to a .h5/.weights.h5 backbone file
        "imagenet",
        "imagenet (default; downloaded once into Keras's cache), none (train from scratch), or a path to a "
        ".h5/.weights.h5 file",
        common=True,
        brief="imagenet (default), none (from scratch) or a weights file",
    )
    image_size: int = setting(  # the blog's 299x299
        299,
        "input side in pixels, at least the backbone's minimum: InceptionV3 75, Xception 71, the others 32; with "
        "--model, the size fed to a model of any input size (default: {default}, the blog's)",
        metavar="PX",
        common=True,
        brief="input side in pixels (default: {default})",
    )
    dense_units: int = setting(256, "hidden dense layer width (default: {default})")  # the blog's Dense(256, relu)
    dropout: float = setting(0.5, "dropout before the classifier (default: {default})")
    batch_norm_momentum: float | None = setting(  # None: SCRATCH_BATCH_NORM_MOMENTUM from scratch, else Keras's
        None,
        f"BatchNormalization momentum (default: {SCRATCH_BATCH_NORM_MOMENTUM} from scratch, Keras's 0.99 otherwise)",
    )


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """The training stage: epochs, batches, learning rates, augmentation, resume."""

    epochs: int = setting(  # the blog's 10
        10,
        "phase 1 epochs, or all epochs from scratch (default: {default}, the blog's)",
        count=True,
        metavar="N",
        common=True,
    )
    fine_tune_epochs: int = setting(
        5, "phase 2 epochs with pretrained weights (default: {default})", count=True, metavar="N", common=True
    )
    batch_size: int = setting(  # the blog's 32 (global batch under a distribution strategy)
        32, "global batch size (default: {default}, the blog's)", metavar="N", common=True
    )
    learning_rate: float = setting(1e-3, "Adam learning rate for phase 1 or from scratch (default: {default})")
    fine_tune_learning_rate: float = setting(  # low, so the pretrained features are not wrecked
        1e-5, "Adam learning rate for phase 2 (default: {default})"
    )
    lr_schedule: str = setting(  # cosine decays to 0 over each phase
        "constant", "learning-rate schedule per phase (default: {default})", choices=SCHEDULES
    )
    gradient_clip: float | None = setting(  # None: not (the blog's)
        None,
        "clip the gradients to this global norm before each Adam step (default: none, the blog's; the demo uses "
        "1.0 against rare huge gradients when training from scratch)",
    )
    fine_tune_from: str | None = setting(  # None: the backbone's last stage
        None,
        "phase 2 trains this layer's block and above (default: the backbone's last stage: "
        + ", ".join(f"{backbone.name} {backbone.fine_tune_from}" for backbone in BACKBONES.values())
        + ")",
    )
    patience: int = setting(  # best weights restored
        5, "early-stopping patience on validation accuracy (default: {default})", count=True
    )
    backup_every: float = setting(  # resume backups at epoch ends; 0: every epoch
        60.0,
        "seconds of training between the backups a killed run resumes from, written at epoch ends (default: "
        "{default}; 0: every epoch). Each backup takes time (BENCHMARKS.md), so short epochs are not all backed "
        "up; a phase's last epoch never is (its weights are saved right after). Several workers: every epoch",
    )
    validation: bool = setting(  # needed for the best checkpoint and early stopping
        True, "no validation pass per epoch (faster; disables best checkpoint and early stopping)"
    )
    rotation: float = setting(20.0, "augmentation rotation in degrees (default: {default})")  # the blog's
    shift: float = setting(0.2, "augmentation width/height shift fraction (default: {default})")  # the blog's
    zoom: float = setting(  # ours; the blog had none
        0.1, "augmentation zoom fraction (default: {default}; 0 for the blog's exact settings)"
    )
    horizontal_flip: bool = setting(True, "no horizontal-flip augmentation", flag="--no-flip")  # the blog's
    restart: bool = setting(  # an action of one command: written false to config.toml (files.ACTIONS)
        False, "discard an earlier run in --output and train again", common=True
    )
    epoch_pictures: bool = setting(  # OUT/epochs/, history.csv columns
        True,
        "do not explain probe images at the end of every epoch (OUT/epochs/: a panel per image and epoch, a strip "
        "and a GIF per image; cam_drift, probe_accuracy, pointing_game columns in history.csv)",
    )
    probe_images: int = setting(  # from validation/ (test/ when it is empty)
        1, "probe images per class for the epoch pictures (default: {default})"
    )
    tensorboard: bool = setting(  # Keras's scalars, the probe panels and their numbers
        False,
        "also write OUT/tensorboard/ (Keras's scalars, the probe panels and numbers): tensorboard --logdir "
        "OUT/tensorboard",
    )


@dataclasses.dataclass(frozen=True)
class PictureSettings:
    """The pictures of what the model computes: activation grids, filter patterns, concepts."""

    activations: bool = setting(True, "no activation grids")  # OUT/activations/<image>/NNN_<layer>.jpg
    layers: list[str] | None = setting(  # None: every Conv2D and Activation
        None,
        "grid layers by name, glob or type, e.g. mixed7 'conv2d_*' Activation (default: every Conv2D and "
        "Activation layer)",
    )
    images_per_row: int = setting(16, "grid tiles per row (default: {default}); every channel is shown")
    colormap: str = setting("viridis", "grid colormap (default: {default}, as the blog)")  # the blog: viridis/plasma
    activation_images: int = setting(  # one per class first; 188 JPEGs each for InceptionV3
        5, "grids for the first N chosen images, one per class first (default: {default})", count=True
    )
    filters: bool = setting(True, "no filter patterns")  # OUT/filters/<layer>.jpg
    filter_layers: list[str] | None = setting(  # None: the model's own choice (the blog's for InceptionV3)
        None,
        "layers for filter patterns (default: three convolutions at the blog's fractions of the depth: "
        "InceptionV3's 3rd, 8th and 40th)",
    )
    filter_count: int = setting(64, "first N filters per layer (default: {default}, an 8x8 grid)", flag="--filters")
    filter_size: int = setting(150, "pattern side in pixels (default: {default})")
    # the ascent's own settings (AscentSettings holds their defaults and reasons; ``ascent_settings`` builds it)
    filter_steps: int = setting(
        AscentSettings.steps,
        "gradient-ascent steps (default: {default}; env VISCONVNETS_MAX_STEPS caps it)",
        count=True,
    )
    filter_step_size: float = setting(
        AscentSettings.step_size, "ascent step in pixels, gradient normalised (default: {default})"
    )
    filter_jitter: int = setting(
        AscentSettings.jitter,
        "random roll of up to N pixels per step, against high-frequency noise (default: {default})",
        count=True,
    )
    filter_blur_every: int = setting(
        AscentSettings.blur_every, "mild Gaussian blur every N steps, 0 never (default: {default})", count=True
    )
    filter_octaves: int = setting(
        AscentSettings.octaves, "optimise at N scales 1.4x apart, smallest first (default: {default})"
    )
    filter_parameterization: str = setting(
        AscentSettings.parameterization,
        "what the ascent optimises: pixel (the image, with blur and octaves; the blog's), fourier (the spectrum "
        "scaled by 1/frequency, colours decorrelated: lucid's), maco (the spectrum's phase only, the magnitude of "
        "natural photos: Fel et al. 2023) (default: {default}, chosen by measurement: its patterns drive their "
        "unit past the 99th percentile of the test images far more often than pixel's or maco's; BENCHMARKS.md)",
        choices=PARAMETERIZATIONS,
    )
    filter_objective: str = setting(
        AscentSettings.objective,
        "channel: the filter's mean over its map (default: {default}); neuron: its centre cell only",
        choices=OBJECTIVES,
    )
    # every pattern is also scored against the test images (its percentile), in the same one pass
    filter_examples: int = setting(
        9,
        "test-image crops (each the unit's receptive field around its strongest cell) drawn beside each pattern, "
        "those exciting the unit most; one pass over the test split for every layer, which also scores each "
        "pattern's percentile among the test images (default: {default}; 0: percentiles only)",
        count=True,
    )
    concepts: bool = setting(  # OUT/concepts/<class>.jpg: what each class is recognised by
        True,
        "no concepts per class (OUT/concepts/: non-negative factors of a layer's activations over crops of each "
        "class's test images, ranked by gradient x concept importance, CRAFT-style)",
    )
    concept_count: int = setting(6, "concepts per class (default: {default})")  # NMF components
    concept_layer: str | None = setting(  # None: the CAM layer the run chose
        None, "layer the concepts are found at (default: the CAM layer the run chose)"
    )
    concept_images: int = setting(  # the first, in the split's order
        24, "test images per class factorised, the first in the split (default: {default})"
    )
    concept_crops: int = setting(  # half the image's side, resized to the model's input
        8, "random crops of each, half its side, resized to the input (default: {default})"
    )


@dataclasses.dataclass(frozen=True)
class MapSettings:
    """The maps: the method and layer of the panels, the failure gallery, the pixel methods' cost."""

    gradcam: bool = setting(True, "no Grad-CAM panels and no failure gallery")  # OUT/gradcam/, OUT/misclassified/
    cam_method: str = setting(  # the blog's Grad-CAM
        "gradcam",
        CAM_METHOD_HELP,
        choices=CAM_METHOD_NAMES,
        metavar="METHOD",
        common=True,
        brief="map method of the panels and the failure gallery: " + ", ".join(CAM_METHOD_NAMES) + " (default: "
        "{default})",
    )
    # None: the run's adaptive choice (models.layer_choice): the deepest layer every path to the classifier
    # passes through, or the deepest such layer with at least 5x5 cells when that one has fewer
    gradcam_layer: str | None = setting(
        None,
        "layer to explain (default: the deepest block output with at least 5x5 cells: mixed10 for InceptionV3 at "
        "299 px, as the blog; mixed7 at 150 px); the report says which and why",
    )
    max_misclassified: int = setting(24, "cap on the failure gallery (default: {default})", count=True)
    compare_cams: bool = setting(  # OUT/compare/<image>.jpg
        False,
        "also draw every map method (CAMs, pixel attributions) and baseline side by side for each explained image "
        "(OUT/compare/)",
    )
    # what the pixel attributions cost in the run, per scored image (their seconds: metrics.json, README)
    ig_steps: int = setting(
        32,
        "integrated gradients' path points: one forward+backward pass each per scored image (default: {default})",
    )
    smoothgrad_samples: int = setting(
        16, "SmoothGrad's noisy copies: one forward+backward pass each per scored image (default: {default})"
    )
    occlusion_patch: int | None = setting(  # None: the side / 8 (15 x 15 = 225 forwards)
        None,
        "occlusion's square in pixels, moved by half its side (default: the image side / 8: 225 forward passes per "
        "image)",
    )
    rise_masks: int = setting(500, "RISE's random masks: one forward pass each per scored image (default: {default})")


@dataclasses.dataclass(frozen=True)
class ScoreSettings:
    """The scores of the maps: faithfulness and the randomisation check."""

    faithfulness: bool = setting(  # every CAM method and baseline scored, and the randomisation check
        True,
        "skip the scores of the maps (deletion/insertion, ROAD, pointing game per method and baseline) and the "
        "randomisation check",
        common=True,
        brief="skip the maps' scores and the randomisation check",
    )
    # enough for a paired test to decide (the run's comparisons are Holm-corrected together: at 8 images no
    # signed-rank test can); the other methods, whose maps cost up to hundreds of passes, on fewer
    faithfulness_images: int = setting(
        32, "test images the run's method (--cam-method) and the baselines are scored on (default: {default})"
    )
    method_images: int = setting(
        8,
        "test images every other map method is scored on: the first of those (default: {default}; what each "
        "method's maps cost: BENCHMARKS.md)",
        count=True,
    )
    # what deletion and insertion put in place of removed pixels; the run measures every removal on its model
    # first (the class left when every pixel is removed) and says when its removal keeps most of the class
    removal: str = setting(
        "mean",
        "what deletion and insertion put in place of removed pixels: blur (the image blurred), mean (the scored "
        "images' mean colour), black, impute (ROAD's fill from the pixels kept) (default: {default}). Each run "
        "measures all four on its model and says when its removal keeps most of the class",
        choices=REMOVALS,
    )
    # each point removes or reveals 1/steps of the pixels
    faithfulness_steps: int = setting(10, "deletion/insertion curve steps (default: {default})")
    sanity_steps: int = setting(  # the head and the top 11 blocks
        12, "randomisation steps from the top: head, then blocks (default: {default})"
    )
    # a CAM, a path method and the one Adebayo et al. (2018) found blind to the weights; one curve each
    sanity_methods: tuple[str, ...] = setting(
        ("gradcam", "integrated_gradients", "guided_backprop"),
        "methods the randomisation check re-computes at every step, one curve each; --cam-method is checked too "
        "(default: gradcam integrated_gradients guided_backprop)",
        choices=CAM_METHOD_NAMES,
        metavar="METHOD",
    )


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The run as a whole: where it writes, its seed, how much it prints."""

    output: Path = setting(Path("outputs"), "output folder (default: {default})", metavar="OUT", common=True)
    # seeds everything random: Python, NumPy, TensorFlow, the shuffle, the images chosen, the patterns
    seed: int = setting(42, "random seed (default: {default})", metavar="N", common=True)
    verbose: int = setting(
        1, "Keras progress: 0 silent, 1 bar (default), 2 a line per epoch", choices=(0, 1, 2), common=True
    )


@dataclasses.dataclass(frozen=True)
class HardwareSettings:
    """The hardware: devices, distribution, number format, eager mode."""

    distribute: str = setting(
        "none",
        "none (default); mirrored: all local GPUs (or logical CPUs); multiworker: MultiWorkerMirroredStrategy from "
        "TF_CONFIG",
        choices=STRATEGIES,
    )
    logical_cpus: int = setting(  # tests MirroredStrategy on a CPU
        0, "split the CPU into N logical devices (to try --distribute mirrored without GPUs)", count=True
    )
    precision: str = setting(
        "auto",
        PRECISION_HELP,
        choices=PRECISIONS,
        metavar="FORMAT",
        common=True,
        brief="number format: auto (default: 16-bit where the machine gains), float32, mixed_bfloat16, mixed_float16",
    )
    run_eagerly: bool = setting(  # Keras's eager mode: no train-step tracing, slower steps
        False,
        "train without compiling the step to a graph (Keras's run_eagerly): no tracing before the first step "
        "(BENCHMARKS.md: its cost), but every step is slower; for tiny runs and debugging",
    )


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
