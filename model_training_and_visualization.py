"""Fine-tune InceptionV3 on a split folder, evaluate it, and draw what it learned.

Examples:
    python model_training_and_visualization.py --data flowers_split --output outputs
    python model_training_and_visualization.py --data flowers_split --weights none --epochs 20
    python model_training_and_visualization.py --model outputs/model.keras --data flowers_split --output again
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from visconvnets.config import SCHEDULES, SCRATCH_BATCH_NORM_MOMENTUM, STRATEGIES, RunConfig, config_from_mapping

DEFAULTS = RunConfig()

DESCRIPTION = """\
Train an InceptionV3 flower classifier on DEST (as written by create_train_val_test.py),
evaluate it on DEST/test, and write everything to --output:

  model.keras + classes.json   the trained model (raw RGB 0-255 in; scaling to [-1, 1] is inside)
  history.csv                  one row per epoch; `epoch` counts on across phases and resumes
  metrics.json                 classes, test accuracy/loss/confusion matrix, per-class P/R/F1
  config.json                  resolved settings and library versions
  test_predictions.csv         every test image's true and predicted class and probabilities
  training_curves.png, confusion_matrix.png, checkpoints/best.weights.h5
  activations/<image>/NNN_<layer>.jpg   every channel of every conv/activation layer
  filters/<layer>.jpg          8x8 filter patterns (gradient ascent with jitter, blur, octaves)
  gradcam/<image>.jpg          input | heatmap | overlay (receptive-field aligned)
  misclassified/<image>.jpg    Grad-CAM for the predicted class beside the true class

Recipe: with pretrained weights, phase 1 trains the head (Dense 256 + dropout + softmax) with the
backbone frozen; phase 2 unfreezes --fine-tune-from's inception block and everything above it at a
low learning rate, BatchNormalization frozen. With --weights none everything trains from the start.

Bad images in DEST are skipped and reported (every file is decoded before training), never a
crash mid-epoch. Killing a run and starting the same command again resumes from the last
finished epoch.
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser(with_defaults: bool = True) -> argparse.ArgumentParser:
    """The command line. With ``with_defaults=False`` every option's default is ``argparse.SUPPRESS``,
    so a parsed namespace holds only the options given (see ``explicit_settings``)."""

    def default(value):
        return value if with_defaults else argparse.SUPPRESS

    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--demo",
        action="store_true",
        default=default(False),
        help="no data needed: generate the built-in synthetic flowers, split them, train InceptionV3 from scratch at "
        "150 px for 6 epochs, visualise, score Grad-CAM by the pointing game, write outputs/demo/index.html (about 2 "
        "minutes on a 2-core CPU); any flag given overrides the demo's value",
    )
    parser.add_argument(
        "--demo-images-per-class",
        type=int,
        default=default(DEFAULTS.demo_images_per_class),
        help=f"synthetic pictures per class for --demo (default: {DEFAULTS.demo_images_per_class})",
    )
    _add_data_options(parser.add_argument_group("data and outputs"), default)
    _add_model_options(parser.add_argument_group("model"), default)
    _add_training_options(parser.add_argument_group("training"), default)
    _add_picture_options(parser.add_argument_group("visualization (after training, or of --model)"), default)
    _add_hardware_options(parser.add_argument_group("hardware"), default)
    return parser


def _add_data_options(group, default) -> None:
    group.add_argument(
        "--data",
        type=Path,
        default=default(None),
        help="split folder with train/ validation/ test/ (from create_train_val_test.py)",
    )
    group.add_argument(
        "--output", type=Path, default=default(DEFAULTS.output), help=f"output folder (default: {DEFAULTS.output})"
    )
    group.add_argument(
        "--model",
        type=Path,
        default=default(None),
        help="a saved model.keras: skip training, evaluate (with --data) and visualise it",
    )
    group.add_argument(
        "--boxes",
        type=Path,
        default=default(None),
        help="boxes.csv (path,class,x0,y0,x1,y1 per source image): score Grad-CAM with the pointing game",
    )
    group.add_argument(
        "--no-check-images",
        dest="check_images",
        action="store_false",
        default=default(True),
        help="skip the up-front decode check of every image (faster start; a corrupt file then stops training with "
        "TensorFlow's decode error instead of being skipped and reported)",
    )
    group.add_argument(
        "--cache-limit-mb",
        type=float,
        default=default(DEFAULTS.cache_limit_mb),
        help=f"cache decoded images in memory up to this size (default: {DEFAULTS.cache_limit_mb:g})",
    )


def _add_model_options(group, default) -> None:
    group.add_argument(
        "--weights",
        default=default(DEFAULTS.weights),
        help="imagenet (default; downloaded once into Keras's cache), none (train from scratch), or a "
        "path to a .h5/.weights.h5 file",
    )
    group.add_argument(
        "--image-size",
        type=int,
        default=default(DEFAULTS.image_size),
        help=f"input side in pixels, at least 75 (default: {DEFAULTS.image_size}, the blog's)",
    )
    group.add_argument(
        "--dense-units",
        type=int,
        default=default(DEFAULTS.dense_units),
        help=f"hidden dense layer width (default: {DEFAULTS.dense_units})",
    )
    group.add_argument(
        "--dropout",
        type=float,
        default=default(DEFAULTS.dropout),
        help=f"dropout before the classifier (default: {DEFAULTS.dropout})",
    )
    group.add_argument(
        "--batch-norm-momentum",
        type=float,
        default=default(None),
        help=f"BatchNormalization momentum (default: {SCRATCH_BATCH_NORM_MOMENTUM} from scratch, "
        "Keras's 0.99 otherwise)",
    )


def _add_training_options(group, default) -> None:
    group.add_argument(
        "--epochs",
        type=_positive_int,
        default=default(DEFAULTS.epochs),
        help=f"phase 1 epochs, or all epochs from scratch (default: {DEFAULTS.epochs}, the blog's)",
    )
    group.add_argument(
        "--fine-tune-epochs",
        type=_positive_int,
        default=default(DEFAULTS.fine_tune_epochs),
        help=f"phase 2 epochs with pretrained weights (default: {DEFAULTS.fine_tune_epochs})",
    )
    group.add_argument(
        "--batch-size",
        type=int,
        default=default(DEFAULTS.batch_size),
        help=f"global batch size (default: {DEFAULTS.batch_size}, the blog's)",
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        default=default(DEFAULTS.learning_rate),
        help=f"Adam learning rate for phase 1 or from scratch (default: {DEFAULTS.learning_rate:g})",
    )
    group.add_argument(
        "--fine-tune-learning-rate",
        type=float,
        default=default(DEFAULTS.fine_tune_learning_rate),
        help=f"Adam learning rate for phase 2 (default: {DEFAULTS.fine_tune_learning_rate:g})",
    )
    group.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        default=default(DEFAULTS.lr_schedule),
        help=f"learning-rate schedule per phase (default: {DEFAULTS.lr_schedule})",
    )
    group.add_argument(
        "--fine-tune-from",
        default=default(DEFAULTS.fine_tune_from),
        help=f"phase 2 trains this layer's inception block and above (default: "
        f"{DEFAULTS.fine_tune_from}, the top two blocks)",
    )
    group.add_argument(
        "--patience",
        type=_positive_int,
        default=default(DEFAULTS.patience),
        help=f"early-stopping patience on validation accuracy (default: {DEFAULTS.patience})",
    )
    group.add_argument(
        "--no-validation",
        dest="validation",
        action="store_false",
        default=default(True),
        help="no validation pass per epoch (faster; disables best checkpoint and early stopping)",
    )
    group.add_argument(
        "--rotation",
        type=float,
        default=default(DEFAULTS.rotation),
        help=f"augmentation rotation in degrees (default: {DEFAULTS.rotation:g})",
    )
    group.add_argument(
        "--shift",
        type=float,
        default=default(DEFAULTS.shift),
        help=f"augmentation width/height shift fraction (default: {DEFAULTS.shift:g})",
    )
    group.add_argument(
        "--zoom",
        type=float,
        default=default(DEFAULTS.zoom),
        help=f"augmentation zoom fraction (default: {DEFAULTS.zoom:g}; 0 for the blog's exact settings)",
    )
    group.add_argument(
        "--no-flip",
        dest="horizontal_flip",
        action="store_false",
        default=default(True),
        help="no horizontal-flip augmentation",
    )
    group.add_argument(
        "--seed", type=int, default=default(DEFAULTS.seed), help=f"random seed (default: {DEFAULTS.seed})"
    )
    group.add_argument(
        "--restart",
        action="store_true",
        default=default(False),
        help="discard an unfinished or finished run in --output and train again",
    )


def _add_picture_options(group, default) -> None:
    group.add_argument(
        "--images",
        type=Path,
        nargs="+",
        default=default(None),
        help="images to explain (default: --images-per-class test images per class, chosen reproducibly)",
    )
    group.add_argument(
        "--images-per-class",
        type=_positive_int,
        default=default(DEFAULTS.images_per_class),
        help=f"test images per class to explain (default: {DEFAULTS.images_per_class})",
    )
    group.add_argument(
        "--no-activations", dest="activations", action="store_false", default=default(True), help="no activation grids"
    )
    group.add_argument(
        "--layers",
        nargs="+",
        default=default(None),
        help="grid layers by name, glob or type, e.g. mixed7 'conv2d_*' Activation (default: every "
        "Conv2D and Activation layer)",
    )
    group.add_argument(
        "--activation-images",
        type=_positive_int,
        default=default(DEFAULTS.activation_images),
        help=f"grids for the first N chosen images, one per class first (default: {DEFAULTS.activation_images})",
    )
    group.add_argument(
        "--images-per-row",
        type=int,
        default=default(DEFAULTS.images_per_row),
        help=f"grid tiles per row (default: {DEFAULTS.images_per_row}); every channel is shown",
    )
    group.add_argument(
        "--colormap",
        default=default(DEFAULTS.colormap),
        help=f"grid colormap (default: {DEFAULTS.colormap}, as the blog)",
    )
    group.add_argument(
        "--no-filters", dest="filters", action="store_false", default=default(True), help="no filter patterns"
    )
    group.add_argument(
        "--filter-layers",
        nargs="+",
        default=default(None),
        help="layers for filter patterns (default: the 3rd, 8th and 40th Conv2D layers, as the blog)",
    )
    group.add_argument(
        "--filters",
        dest="filter_count",
        type=int,
        default=default(DEFAULTS.filter_count),
        help=f"first N filters per layer (default: {DEFAULTS.filter_count}, an 8x8 grid)",
    )
    group.add_argument(
        "--filter-size",
        type=int,
        default=default(DEFAULTS.filter_size),
        help=f"pattern side in pixels (default: {DEFAULTS.filter_size})",
    )
    group.add_argument(
        "--filter-steps",
        type=_positive_int,
        default=default(DEFAULTS.filter_steps),
        help=f"gradient-ascent steps (default: {DEFAULTS.filter_steps}; env VISCONVNETS_MAX_STEPS caps it)",
    )
    group.add_argument(
        "--filter-step-size",
        type=float,
        default=default(DEFAULTS.filter_step_size),
        help=f"ascent step in pixels, gradient normalised (default: {DEFAULTS.filter_step_size:g})",
    )
    group.add_argument(
        "--filter-jitter",
        type=_positive_int,
        default=default(DEFAULTS.filter_jitter),
        help=f"random roll of up to N pixels per step, against high-frequency noise (default: "
        f"{DEFAULTS.filter_jitter})",
    )
    group.add_argument(
        "--filter-blur-every",
        type=_positive_int,
        default=default(DEFAULTS.filter_blur_every),
        help=f"mild Gaussian blur every N steps, 0 never (default: {DEFAULTS.filter_blur_every})",
    )
    group.add_argument(
        "--filter-octaves",
        type=int,
        default=default(DEFAULTS.filter_octaves),
        help=f"optimise at N scales 1.4x apart, smallest first (default: {DEFAULTS.filter_octaves})",
    )
    group.add_argument(
        "--no-gradcam",
        dest="gradcam",
        action="store_false",
        default=default(True),
        help="no Grad-CAM panels and no failure gallery",
    )
    group.add_argument(
        "--cam-method",
        choices=("gradcam", "gradcam++"),
        default=default(DEFAULTS.cam_method),
        help=f"class activation map method (default: {DEFAULTS.cam_method})",
    )
    group.add_argument(
        "--gradcam-layer",
        default=default(None),
        help="layer to explain (default: mixed10 for InceptionV3, as the blog; mixed7 localises better at small sizes)",
    )
    group.add_argument(
        "--max-misclassified",
        type=_positive_int,
        default=default(DEFAULTS.max_misclassified),
        help=f"cap on the failure gallery (default: {DEFAULTS.max_misclassified})",
    )


def _add_hardware_options(group, default) -> None:
    group.add_argument(
        "--distribute",
        choices=STRATEGIES,
        default=default(DEFAULTS.distribute),
        help="none (default); mirrored: all local GPUs (or logical CPUs); multiworker: "
        "MultiWorkerMirroredStrategy from TF_CONFIG",
    )
    group.add_argument(
        "--logical-cpus",
        type=_positive_int,
        default=default(0),
        help="split the CPU into N logical devices (to try --distribute mirrored without GPUs)",
    )
    group.add_argument(
        "--mixed-precision", action="store_true", default=default(False), help="train in mixed_float16 (GPUs)"
    )
    group.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=default(DEFAULTS.verbose),
        help="Keras progress: 0 silent, 1 bar (default), 2 a line per epoch",
    )


def parse_args(argv=None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def explicit_settings(argv=None) -> set[str]:
    """Names (dest) of the options present on the command line, so --demo does not override them."""
    return set(vars(build_parser(with_defaults=False).parse_args(argv)))


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from visconvnets import workflow  # here, not at the top: --help and argument errors need no TensorFlow

    try:
        metrics = workflow.run(config_from_mapping(vars(args)), explicit_settings(argv))
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"outputs in {args.output}")
    if "test" in metrics:
        print(f"test accuracy: {metrics['test']['accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
