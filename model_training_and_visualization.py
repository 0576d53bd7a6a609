"""Fine-tune InceptionV3 (or another keras.applications backbone) on a split folder, evaluate it, and draw
what it learned.

Examples:
    python model_training_and_visualization.py --data flowers_split --output outputs
    python model_training_and_visualization.py --data flowers_split --weights none --epochs 20
    python model_training_and_visualization.py --data flowers_split --backbone ResNet50V2 --image-size 224
    python model_training_and_visualization.py --model outputs/model.keras --data flowers_split --output again
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from visconvnets.run.console import start_tensorflow
from visconvnets.settings.backbones import BACKBONES, PREPROCESSING
from visconvnets.settings.config import (
    CAM_METHOD_NAMES,
    FILTER_PARAMETERIZATIONS,
    OBJECTIVES,
    PRECISIONS,
    SCHEDULES,
    SCRATCH_BATCH_NORM_MOMENTUM,
    STRATEGIES,
    RunConfig,
    config_from_mapping,
    demo_preset,
)
from visconvnets.settings.files import read_settings_file, to_toml

DEFAULTS = RunConfig()

SHORT_DESCRIPTION = """\
Train an image classifier (InceptionV3 by default) on DEST (from create_train_val_test.py), evaluate it on
DEST/test, and write the model, its scores and the pictures that explain it to --output, linked from
OUT/index.html. --demo needs no data; --model explains a saved model; --config replays OUT/config.toml.
"""

DESCRIPTION = """\
Train an image classifier (InceptionV3 by default, --backbone for others) on DEST (as written by
create_train_val_test.py), evaluate it on DEST/test, and write everything to --output:

  model.keras + classes.json   the trained model (raw RGB 0-255 in; the backbone's preprocessing inside)
  history.csv                  one row per epoch; `epoch` counts on across phases and resumes
  metrics.json                 classes, test accuracy/loss/confusion matrix, per-class P/R/F1
  config.json                  resolved settings and library versions
  config.toml                  the same by stage: --config OUT/config.toml --output NEW replays the run
  test_predictions.csv         every test image's true and predicted class and probabilities
  training_curves.png, confusion_matrix.png, checkpoints/best.weights.h5
  activations/<image>/NNN_<layer>.jpg   every channel of every conv/activation layer
  filters/<layer>.jpg          filter patterns (gradient ascent), each with its percentile among the test
                               images and beside the 9 test crops that excite its unit most; index.json
  concepts/<class>.jpg         the concepts each class is recognised by (NMF of a layer's activations over
                               crops), most important first: top crops and a map each; index.json
  gradcam/<image>.jpg          input | heatmap | overlay (receptive-field aligned)
  misclassified/<image>.jpg    Grad-CAM for the predicted class beside the true class

Recipe: with pretrained weights, phase 1 trains the head (Dense 256 + dropout + softmax) with the
backbone frozen; phase 2 unfreezes --fine-tune-from's block and everything above it (by default the
backbone's last stage) at a low learning rate, BatchNormalization frozen. With --weights none
everything trains from the start.

Bad images in DEST are skipped and reported (every file is decoded before training), never a
crash mid-epoch. Killing a run and starting the same command again resumes from the last
finished epoch.
"""


def _count(text: str) -> int:
    """A whole number, 0 or more (0 turns the thing off or counts nothing)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


# the flags --help shows (a screen); --help-all shows every flag
COMMON_FLAGS = {
    *("--demo", "--data", "--output", "--model", "--config", "--print-config"),
    *("--backbone", "--weights", "--image-size"),
    *("--epochs", "--fine-tune-epochs", "--batch-size", "--seed", "--restart"),
    *("--images", "--cam-method", "--no-faithfulness"),
    *("--precision", "--verbose"),
}


class _Options:
    """Adds options to an argument group; each option's default is the RunConfig field of the same name
    (``{default}`` in the help shows it), or ``argparse.SUPPRESS`` when ``with_defaults`` is False. Unless
    ``everything``, a flag outside ``COMMON_FLAGS`` is hidden from the help (it still works)."""

    def __init__(self, group, with_defaults: bool, everything: bool, flags: dict[str, str]):
        self.group, self.with_defaults, self.everything, self.flags = group, with_defaults, everything, flags

    def __call__(self, flag: str, description: str, dest: str | None = None, brief: str | None = None, **kwargs):
        """One flag; ``brief``: a shorter help for ``--help`` (``description`` for ``--help-all``)."""
        dest = dest or flag.removeprefix("--").removeprefix("no-").replace("-", "_")
        value = {"store_true": False, "store_false": True}.get(kwargs.get("action"), getattr(DEFAULTS, dest, None))
        shown = f"{value:g}" if isinstance(value, float) else value
        default = value if self.with_defaults else argparse.SUPPRESS
        if self.everything:
            text = description.format(default=shown)
        else:
            text = (brief or description).format(default=shown) if flag in COMMON_FLAGS else argparse.SUPPRESS
        self.group.add_argument(flag, dest=dest, default=default, help=text, **kwargs)
        self.flags[flag] = dest


class _HelpAll(argparse.Action):
    """``--help-all``: every flag's help, then exit (``--help`` shows the common ones)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        build_parser(everything=True).print_help()
        parser.exit()


def build_parser(with_defaults: bool = True, everything: bool = False) -> argparse.ArgumentParser:
    """The command line. With ``with_defaults=False`` every option's default is ``argparse.SUPPRESS``,
    so a parsed namespace holds only the options given (see ``explicit_settings``); with ``everything``, the
    help of every flag and what a run writes (``--help-all``), else the common flags' (``--help``)."""
    parser = argparse.ArgumentParser(
        usage=None if everything else "%(prog)s (--demo | --data DEST | --model FILE | --config FILE) [options]",
        description=DESCRIPTION if everything else SHORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=None if everything else "--help-all: every flag (about 80), and what a run writes.",
    )
    parser.add_argument("--help-all", action=_HelpAll, help="show every flag and what a run writes, then exit")

    parser.setting_flags = {}  # flag -> the RunConfig field it sets (a test: one flag per field)

    def options(group) -> _Options:
        return _Options(group, with_defaults, everything, parser.setting_flags)

    option = options(parser)
    option("--demo", DEMO_HELP, action="store_true", brief="no data needed: the built-in synthetic flowers, end to end")
    option("--demo-images-per-class", "synthetic pictures per class for --demo (default: {default})", type=int)
    unless_given = {} if with_defaults else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        **unless_given,
        help="settings from a TOML file, e.g. a run's OUT/config.toml (flags given here win)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved settings as TOML and run nothing",
        **unless_given,
    )
    _add_data_options(options(parser.add_argument_group("data and outputs")))
    _add_model_options(options(parser.add_argument_group("model")))
    _add_training_options(options(parser.add_argument_group("training")))
    _add_picture_options(options(parser.add_argument_group("visualization (after training, or of --model)")))
    _add_hardware_options(options(parser.add_argument_group("hardware")))
    return parser


DEMO_HELP = (
    "no data needed: generate the built-in synthetic flowers, split them, train InceptionV3 from scratch at 128 px for "
    "6 epochs, explain probe images every epoch, visualise, score every CAM method, write outputs/demo/index.html "
    "(its time: BENCHMARKS.md); any flag given overrides the demo's value"
)


PRECISION_HELP = (
    "number format of the model's computations (default: {default}: mixed_float16 with a GPU, mixed_bfloat16 on a "
    "CPU with bfloat16 units such as AVX-512 BF16 or AMX, else float32; config.json records what was used). "
    "Mixed: weights and the softmax stay float32, layers compute in 16 bits (speed and accuracy: BENCHMARKS.md)"
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
WEIGHTS_HELP = (
    "imagenet (default; downloaded once into Keras's cache), none (train from scratch), or a path to a "
    ".h5/.weights.h5 file"
)
DISTRIBUTE_HELP = (
    "none (default); mirrored: all local GPUs (or logical CPUs); "
    "multiworker: MultiWorkerMirroredStrategy from TF_CONFIG"
)


def _add_data_options(option: _Options) -> None:
    option(
        "--data",
        "split folder with train/ validation/ test/ (from create_train_val_test.py)",
        type=Path,
        metavar="DEST",
    )
    option("--output", "output folder (default: {default})", type=Path, metavar="OUT")
    option(
        "--model",
        "a saved single-input image classifier (.keras or legacy .h5; ours or any Keras model): skip training, "
        "evaluate it (with --data) and visualise it; class names from classes.json beside it, else --data's class "
        "folders, else class_0...",
        type=Path,
        metavar="FILE",
        brief="a saved Keras classifier to evaluate and explain instead of training one",
    )
    option(
        "--boxes",
        "boxes.csv (path,class,x0,y0,x1,y1 per source image): score Grad-CAM with the pointing game",
        type=Path,
    )
    option(
        "--no-check-images",
        "skip the up-front decode check of every image (faster start; a corrupt file then "
        "stops training with TensorFlow's decode error instead of being skipped and reported)",
        action="store_false",
    )
    option("--cache-limit-mb", "cache decoded images in memory up to this size (default: {default})", type=float)
    option(
        "--cache-dir",
        "cache decoded images in files in this folder instead of memory, for data larger than memory "
        "(written during the first epoch, read in the later ones; default: none)",
        type=Path,
    )


def _add_model_options(option: _Options) -> None:
    option("--backbone", BACKBONE_HELP, brief="keras.applications family to train (default: {default})")
    option("--weights", WEIGHTS_HELP, brief="imagenet (default), none (from scratch) or a weights file")
    option(
        "--image-size",
        "input side in pixels, at least the backbone's minimum: InceptionV3 75, Xception 71, the others 32; "
        "with --model, the size fed to a model of any input size (default: {default}, the blog's)",
        type=int,
        metavar="PX",
        brief="input side in pixels (default: {default})",
    )
    option("--dense-units", "hidden dense layer width (default: {default})", type=int)
    option("--dropout", "dropout before the classifier (default: {default})", type=float)
    option(
        "--batch-norm-momentum",
        f"BatchNormalization momentum (default: {SCRATCH_BATCH_NORM_MOMENTUM} from scratch, Keras's 0.99 otherwise)",
        type=float,
    )


def _add_training_options(option: _Options) -> None:
    option(
        "--epochs",
        "phase 1 epochs, or all epochs from scratch (default: {default}, the blog's)",
        type=_count,
        metavar="N",
    )
    option(
        "--fine-tune-epochs", "phase 2 epochs with pretrained weights (default: {default})", type=_count, metavar="N"
    )
    option("--batch-size", "global batch size (default: {default}, the blog's)", type=int, metavar="N")
    option("--learning-rate", "Adam learning rate for phase 1 or from scratch (default: {default})", type=float)
    option("--fine-tune-learning-rate", "Adam learning rate for phase 2 (default: {default})", type=float)
    option("--lr-schedule", "learning-rate schedule per phase (default: {default})", choices=SCHEDULES)
    option(
        "--fine-tune-from",
        "phase 2 trains this layer's block and above (default: the backbone's last stage: "
        + ", ".join(f"{backbone.name} {backbone.fine_tune_from}" for backbone in BACKBONES.values())
        + ")",
    )
    option(
        "--gradient-clip",
        "clip the gradients to this global norm before each Adam step (default: none, the blog's; the demo uses "
        "1.0 against rare huge gradients when training from scratch)",
        type=float,
    )
    option("--patience", "early-stopping patience on validation accuracy (default: {default})", type=_count)
    option(
        "--backup-every",
        "seconds of training between the backups a killed run resumes from, written at epoch ends (default: "
        "{default}; 0: every epoch). Each backup takes time (BENCHMARKS.md), so short epochs are not all backed "
        "up; a phase's last epoch never is (its weights are saved right after). Several workers: every epoch",
        type=float,
    )
    option(
        "--no-validation",
        "no validation pass per epoch (faster; disables best checkpoint and early stopping)",
        action="store_false",
    )
    option("--rotation", "augmentation rotation in degrees (default: {default})", type=float)
    option("--shift", "augmentation width/height shift fraction (default: {default})", type=float)
    option("--zoom", "augmentation zoom fraction (default: {default}; 0 for the blog's exact settings)", type=float)
    option("--no-flip", "no horizontal-flip augmentation", dest="horizontal_flip", action="store_false")
    option("--seed", "random seed (default: {default})", type=int, metavar="N")
    option("--restart", "discard an earlier run in --output and train again", action="store_true")
    option(
        "--no-epoch-pictures",
        "do not explain probe images at the end of every epoch (OUT/epochs/: a panel per image and epoch, a strip "
        "and a GIF per image; cam_drift, probe_accuracy, pointing_game columns in history.csv)",
        dest="epoch_pictures",
        action="store_false",
    )
    option("--probe-images", "probe images per class for the epoch pictures (default: {default})", type=int)
    option(
        "--tensorboard",
        "also write OUT/tensorboard/ (Keras's scalars, the probe panels and numbers): tensorboard --logdir "
        "OUT/tensorboard",
        action="store_true",
    )


def _add_picture_options(option: _Options) -> None:
    option(
        "--images",
        "images to explain (default: --images-per-class test images per class, chosen reproducibly)",
        type=Path,
        nargs="+",
        metavar="IMAGE",
    )
    option("--images-per-class", "test images per class to explain (default: {default})", type=_count)
    option("--no-activations", "no activation grids", action="store_false")
    option(
        "--layers",
        "grid layers by name, glob or type, e.g. mixed7 'conv2d_*' Activation (default: every Conv2D "
        "and Activation layer)",
        nargs="+",
    )
    option(
        "--activation-images",
        "grids for the first N chosen images, one per class first (default: {default})",
        type=_count,
    )
    option("--images-per-row", "grid tiles per row (default: {default}); every channel is shown", type=int)
    option("--colormap", "grid colormap (default: {default}, as the blog)")
    option("--no-filters", "no filter patterns", action="store_false")
    option(
        "--filter-layers",
        "layers for filter patterns (default: three convolutions at the blog's fractions of the depth: "
        "InceptionV3's 3rd, 8th and 40th)",
        nargs="+",
    )
    option("--filters", "first N filters per layer (default: {default}, an 8x8 grid)", dest="filter_count", type=int)
    option("--filter-size", "pattern side in pixels (default: {default})", type=int)
    option(
        "--filter-steps",
        "gradient-ascent steps (default: {default}; env VISCONVNETS_MAX_STEPS caps it)",
        type=_count,
    )
    option("--filter-step-size", "ascent step in pixels, gradient normalised (default: {default})", type=float)
    option(
        "--filter-jitter",
        "random roll of up to N pixels per step, against high-frequency noise (default: {default})",
        type=_count,
    )
    option("--filter-blur-every", "mild Gaussian blur every N steps, 0 never (default: {default})", type=_count)
    option("--filter-octaves", "optimise at N scales 1.4x apart, smallest first (default: {default})", type=int)
    option(
        "--filter-parameterization",
        "what the ascent optimises: pixel (the image, with blur and octaves; the blog's), fourier (the spectrum "
        "scaled by 1/frequency, colours decorrelated: lucid's), maco (the spectrum's phase only, the magnitude of "
        "natural photos: Fel et al. 2023) (default: {default}, chosen by measurement: its patterns drive their "
        "unit past the 99th percentile of the test images far more often than pixel's or maco's; BENCHMARKS.md)",
        choices=FILTER_PARAMETERIZATIONS,
    )
    option(
        "--filter-objective",
        "channel: the filter's mean over its map (default: {default}); neuron: its centre cell only",
        choices=OBJECTIVES,
    )
    option(
        "--filter-examples",
        "test-image crops (each the unit's receptive field around its strongest cell) drawn beside each pattern, "
        "those exciting the unit most; one pass over the test split for every layer, which also scores each "
        "pattern's percentile among the test images (default: {default}; 0: percentiles only)",
        type=_count,
    )
    option(
        "--no-concepts",
        "no concepts per class (OUT/concepts/: non-negative factors of a layer's activations over crops of each "
        "class's test images, ranked by gradient x concept importance, CRAFT-style)",
        dest="concepts",
        action="store_false",
    )
    option("--concept-count", "concepts per class (default: {default})", type=int)
    option("--concept-layer", "layer the concepts are found at (default: the CAM layer the run chose)")
    option(
        "--concept-images", "test images per class factorised, the first in the split (default: {default})", type=int
    )
    option(
        "--concept-crops", "random crops of each, half its side, resized to the input (default: {default})", type=int
    )
    option("--no-gradcam", "no Grad-CAM panels and no failure gallery", action="store_false")
    option(
        "--cam-method",
        CAM_METHOD_HELP,
        choices=CAM_METHOD_NAMES,
        metavar="METHOD",
        brief="map method of the panels and the failure gallery: "
        + ", ".join(CAM_METHOD_NAMES)
        + " (default: {default})",
    )
    option(
        "--gradcam-layer",
        "layer to explain (default: the deepest block output with at least 5x5 cells: mixed10 for InceptionV3 at "
        "299 px, as the blog; mixed7 at 150 px); the report says which and why",
    )
    option("--max-misclassified", "cap on the failure gallery (default: {default})", type=_count)
    option(
        "--compare-cams",
        "also draw every map method (CAMs, pixel attributions) and baseline side by side for each explained image "
        "(OUT/compare/)",
        action="store_true",
    )
    option(
        "--no-faithfulness",
        "skip the scores of the maps (deletion/insertion, ROAD, pointing game per method and baseline) and the "
        "randomisation check",
        action="store_false",
        brief="skip the maps' scores and the randomisation check",
    )
    option("--faithfulness-images", "test images the maps are scored on (default: {default})", type=int)
    option("--faithfulness-steps", "deletion/insertion curve steps (default: {default})", type=int)
    option("--sanity-steps", "randomisation steps from the top: head, then blocks (default: {default})", type=int)
    option(
        "--sanity-methods",
        "methods the randomisation check re-computes at every step, one curve each; --cam-method is checked too "
        "(default: gradcam integrated_gradients guided_backprop)",
        nargs="+",
        choices=CAM_METHOD_NAMES,
        metavar="METHOD",
    )
    option(
        "--ig-steps",
        "integrated gradients' path points: one forward+backward pass each per scored image (default: {default})",
        type=int,
    )
    option(
        "--smoothgrad-samples",
        "SmoothGrad's noisy copies: one forward+backward pass each per scored image (default: {default})",
        type=int,
    )
    option(
        "--occlusion-patch",
        "occlusion's square in pixels, moved by half its side (default: the image side / 8: 225 forward passes per "
        "image)",
        type=int,
    )
    option("--rise-masks", "RISE's random masks: one forward pass each per scored image (default: {default})", type=int)


def _add_hardware_options(option: _Options) -> None:
    option("--distribute", DISTRIBUTE_HELP, choices=STRATEGIES)
    option(
        "--logical-cpus",
        "split the CPU into N logical devices (to try --distribute mirrored without GPUs)",
        type=_count,
    )
    option(
        "--precision",
        PRECISION_HELP,
        choices=PRECISIONS,
        metavar="FORMAT",
        brief="number format: auto (default: 16-bit where the machine gains), float32, mixed_bfloat16, mixed_float16",
    )
    option(
        "--mixed-precision",
        "same as --precision mixed_float16 (kept for older commands)",
        dest="precision",
        action="store_const",
        const="mixed_float16",
    )
    option(
        "--run-eagerly",
        "train without compiling the step to a graph (Keras's run_eagerly): no tracing before the first step "
        "(BENCHMARKS.md: its cost), but every step is slower; for tiny runs and debugging",
        action="store_true",
    )
    option("--verbose", "Keras progress: 0 silent, 1 bar (default), 2 a line per epoch", type=int, choices=(0, 1, 2))


def parse_args(argv=None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def explicit_settings(argv=None) -> set[str]:
    """Names (dest) of the options present on the command line, so --demo does not override them."""
    return set(vars(build_parser(with_defaults=False).parse_args(argv)))


def settings_given(args: argparse.Namespace, argv=None) -> RunConfig:
    """The settings, in layers: the defaults, then --demo's preset (``demo_preset``: when --demo is given here or
    in the file), then --config's file, then the flags given on the command line.

    Raises:
        ValueError, FileNotFoundError: --config's file is missing or bad (before any work).
    """
    on_command_line = {key: value for key, value in vars(args).items() if key in explicit_settings(argv)}
    given = {**(read_settings_file(args.config) if args.config is not None else {}), **on_command_line}
    return config_from_mapping(given, demo_preset() if given.get("demo") else None)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = settings_given(args, argv)  # a bad --config file fails here, before TensorFlow starts
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    start_tensorflow(config.verbose)  # TensorFlow's start-up lines kept off the console unless --verbose 2
    from visconvnets.run import workflow  # here, not at the top: --help and argument errors need no TensorFlow

    try:
        if args.print_config:
            print(to_toml(workflow.resolve_settings(config)[0]), end="")
            return 0
        workflow.run(config)  # its last line names the report
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a read-only --output: one line naming the path, no traceback
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror or error}{where} (is --output writable, with room left?)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
