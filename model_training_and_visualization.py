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
from visconvnets.settings.config import RunConfig, config_from_mapping, demo_preset
from visconvnets.settings.files import read_settings_file, to_toml
from visconvnets.settings.flags import add_setting_flags

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
  map_scores.csv, faithfulness.png, sanity.png   every method's scores per image, their curves, the
                               randomisation check (verdicts and findings: metrics.json, the report)

Recipe: with pretrained weights, phase 1 trains the head (Dense 256 + dropout + softmax) with the
backbone frozen; phase 2 unfreezes --fine-tune-from's block and everything above it (by default the
backbone's last stage) at a low learning rate, BatchNormalization frozen. With --weights none
everything trains from the start.

Bad images in DEST are skipped and reported (every file is decoded before training), never a
crash mid-epoch. Killing a run and starting the same command again resumes from the last
finished epoch.
"""


# the argument groups of --help, by the stage's section (settings.stages.STAGES)
GROUP_TITLES = {
    "data": "data",
    "model": "model",
    "training": "training",
    "pictures": "pictures (after training, or of --model)",
    "maps": "maps",
    "scores": "scores of the maps",
    "run": "run",
    "hardware": "hardware",
}


class _HelpAll(argparse.Action):
    """``--help-all``: every flag's help, then exit (``--help`` shows the common ones)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        build_parser(everything=True).print_help()
        parser.exit()


def build_parser(everything: bool = False) -> argparse.ArgumentParser:
    """The command line: a flag per setting, made from the settings' fields (``settings.flags``), every default
    ``argparse.SUPPRESS`` (a parsed namespace holds the flags given, nothing else); with ``everything``, the help
    of every flag and what a run writes (``--help-all``), else the common flags' (``--help``)."""
    parser = argparse.ArgumentParser(
        usage="%(prog)s (--demo | --data DEST | --model FILE | --config FILE) [options]",
        description=DESCRIPTION if everything else SHORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=None if everything else "--help-all: every flag (about 80), and what a run writes.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--help-all", action=_HelpAll, help="show every flag and what a run writes, then exit")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings from a TOML file, e.g. a run's OUT/config.toml (flags given here win)",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved settings as TOML, run nothing")
    groups = add_setting_flags(parser, everything, GROUP_TITLES)
    groups["hardware"].add_argument(
        "--mixed-precision",
        dest="precision",
        action="store_const",
        const="mixed_float16",
        help="same as --precision mixed_float16 (kept for older commands)" if everything else argparse.SUPPRESS,
    )
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    """The flags given (and only those: no defaults), ``--config`` and ``--print-config`` among them."""
    return build_parser().parse_args(argv)


def explicit_settings(argv=None) -> set[str]:
    """Names of the settings given on the command line."""
    return set(vars(parse_args(argv))) - {"config", "print_config"}


def settings_given(args: argparse.Namespace) -> RunConfig:
    """The settings, in layers: the defaults, then --demo's preset (``demo_preset``: when --demo is given here or
    in the file), then --config's file, then the flags given on the command line (``args``: ``parse_args``').

    Raises:
        ValueError, FileNotFoundError: --config's file is missing or bad (before any work).
    """
    on_command_line = {key: value for key, value in vars(args).items() if key not in ("config", "print_config")}
    config_file = getattr(args, "config", None)
    given = {**(read_settings_file(config_file) if config_file is not None else {}), **on_command_line}
    return config_from_mapping(given, demo_preset() if given.get("demo") else None)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = settings_given(args)  # a bad --config file fails here, before TensorFlow starts
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    start_tensorflow(config.verbose)  # TensorFlow's start-up lines kept off the console unless --verbose 2
    from visconvnets.run import workflow  # here, not at the top: --help and argument errors need no TensorFlow

    try:
        if getattr(args, "print_config", False):
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
