"""The training script's command line: defaults from RunConfig, explicit flags detected without argparse internals."""

from __future__ import annotations

import dataclasses

import pytest

import model_training_and_visualization as script
from visconvnets.settings.config import DEMO_SETTINGS, RunConfig, config_from_mapping


def test_parsed_defaults_are_the_run_config_defaults():
    """The namespace holds the flags given and nothing else; no flag given: every setting's own default."""
    assert vars(script.parse_args([])) == {} and script.settings_given(script.parse_args([])) == RunConfig()
    given = vars(script.parse_args(["--config", "x.toml", "--print-config", "--epochs", "3"]))
    assert given == {"config": script.Path("x.toml"), "print_config": True, "epochs": 3}


def test_explicit_settings_are_only_the_flags_given():
    argv = ["--demo", "--epochs", "3", "--no-filters", "--filters=4", "--no-flip", "--output", "elsewhere"]
    assert script.explicit_settings(argv) == {"demo", "epochs", "filters", "filter_count", "horizontal_flip", "output"}
    assert script.explicit_settings([]) == set()
    config = script.settings_given(script.parse_args(argv))  # the demo's preset, the flags given over it
    assert config.demo and config.epochs == 3 and str(config.output) == "elsewhere"  # given: kept
    assert config.image_size == DEMO_SETTINGS["image_size"] and config.weights == "none"  # not given: the demo's


def test_the_unit_and_concept_flags_reach_the_settings():
    argv = ["--filter-examples", "0", "--no-concepts", "--concept-count", "4", "--concept-layer", "mixed5"]
    argv += ["--concept-images", "10", "--concept-crops", "3", "--filter-parameterization", "maco"]
    config = config_from_mapping(vars(script.parse_args(argv)))
    assert (config.filter_examples, config.concepts, config.concept_count) == (0, False, 4)
    assert (config.concept_layer, config.concept_images, config.concept_crops) == ("mixed5", 10, 3)
    assert config.ascent_settings().parameterization == "maco"
    assert RunConfig().ascent_settings().parameterization == "fourier"  # the default, by measurement
    assert "chosen by measurement" in " ".join(script.build_parser(everything=True).format_help().split())
    with pytest.raises(SystemExit):
        script.parse_args(["--filter-examples", "-1"])


def test_bad_values_are_refused_before_any_work(tmp_path, capsys):
    output = ["--output", str(tmp_path / "out")]
    assert script.main(["--data", str(tmp_path / "nowhere"), "--batch-size", "0", *output]) == 2
    assert "--batch-size must be at least 1, got 0" in capsys.readouterr().err
    assert script.main(["--data", str(tmp_path), "--images-per-row", "0", *output]) == 2
    assert "--images-per-row must be at least 1, got 0" in capsys.readouterr().err
    assert script.main(["--data", str(tmp_path), "--backbone", "ResNet51", *output]) == 2
    assert "--backbone 'ResNet51' is not one of InceptionV3, ResNet50V2" in capsys.readouterr().err
    assert script.main(["--data", str(tmp_path), "--backbone", "vgg16", "--image-size", "31", *output]) == 2
    assert "--image-size must be at least 32 for VGG16, got 31" in capsys.readouterr().err
    assert script.main(["--data", str(tmp_path), "--faithfulness-images", "0", *output]) == 2
    assert "--faithfulness-images, --faithfulness-steps and --sanity-steps must be at least 1, got 0" in (
        capsys.readouterr().err
    )
    assert script.main(["--data", str(tmp_path), "--ig-steps", "0", *output]) == 2
    assert "--ig-steps must be at least 1, got 0" in capsys.readouterr().err
    assert script.main(["--data", str(tmp_path), "--occlusion-patch", "300", *output]) == 2
    assert "--occlusion-patch must be at most the image side (299 px, --image-size), got 300" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"--sanity-methods takes one or more of gradcam, .*, got \['lime'\]"):
        RunConfig(data=tmp_path, sanity_methods=("lime",)).validate()  # the library's way in (argparse: choices)
    assert script.main(["--demo", "--backup-every", "-1", *output]) == 2  # the demo too: before its data is made
    assert "--backup-every must be 0 or more, got -1.0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before OUT was made
    with pytest.raises(SystemExit):
        script.parse_args(["--epochs", "-1"])


def test_nothing_to_train_and_a_file_as_data_are_refused(tmp_path, capsys):
    output = ["--output", str(tmp_path / "out")]
    assert script.main(["--data", str(tmp_path), "--weights", "none", "--epochs", "0", *output]) == 2
    assert "--epochs 0 trains nothing" in capsys.readouterr().err
    assert script.main(["--data", str(tmp_path), "--epochs", "0", "--fine-tune-epochs", "0", *output]) == 2
    assert "--epochs 0 --fine-tune-epochs 0 trains nothing" in capsys.readouterr().err
    listing = tmp_path / "some_file.txt"
    listing.write_text("not a folder")
    assert script.main(["--data", str(listing), "--weights", "none", *output]) == 2
    assert f"--data {str(listing)!r} is a file" in capsys.readouterr().err


def test_console_is_quiet_before_the_first_line_of_our_own(tmp_path):
    """TensorFlow's native start-up lines (absl, oneDNN, CUDA stubs, cuInit) stay off the console unless
    --verbose 2; the user sees our error first."""
    import subprocess
    import sys

    command = [sys.executable, str(script.__file__), "--data", str(tmp_path / "nowhere"), "--weights", "none"]
    quiet = subprocess.run([*command, "--output", str(tmp_path / "a")], capture_output=True, text=True, cwd=tmp_path)
    assert quiet.returncode == 2
    lines = (quiet.stdout + quiet.stderr).strip().splitlines()
    assert lines[0].startswith("error: ") and "nowhere" in lines[0], lines[:3]
    assert not any(marker in quiet.stderr for marker in ("absl::InitializeLog", "I0000", "oneDNN", "cuInit"))
    loud = subprocess.run([*command, "--output", str(tmp_path / "b"), "--verbose", "2"], capture_output=True, text=True)
    assert "error: " in loud.stderr and loud.returncode == 2


def test_demo_explains_the_backbones_demo_layer_unless_told_otherwise():
    from visconvnets.run.demo import with_demo_layer
    from visconvnets.settings.backbones import get_backbone

    assert get_backbone("InceptionV3").demo_cam_layer == "mixed2" and get_backbone("VGG16").demo_cam_layer == ""
    given = RunConfig(demo=True, gradcam_layer="mixed5")
    assert with_demo_layer(given).gradcam_layer == "mixed5"
    assert with_demo_layer(RunConfig(demo=True)).gradcam_layer == "mixed2"
    assert with_demo_layer(RunConfig(demo=True, backbone="VGG16")).gradcam_layer is None  # adaptive for the others


def test_help_fits_a_screen_and_help_all_has_every_flag_once():
    """--help: the common flags, at most 60 lines at 80 columns; --help-all: every flag, no measured timings (they
    live in BENCHMARKS.md); every setting has exactly one flag (--mixed-precision: an alias kept for older
    commands) and every flag sets a setting."""
    import collections
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    script_path = Path(script.__file__)
    environment = {**os.environ, "COLUMNS": "80"}
    shown = {}
    for flag in ("--help", "--help-all"):
        done = subprocess.run(
            [sys.executable, str(script_path), flag], capture_output=True, text=True, env=environment, check=True
        )
        shown[flag] = done.stdout
    assert len(shown["--help"].splitlines()) <= 60, len(shown["--help"].splitlines())
    flags = script.build_parser(everything=True).setting_flags
    assert all(flag in shown["--help-all"] for flag in flags)
    assert "--filter-steps" in flags and "--filter-steps" not in shown["--help"]  # hidden from --help, still works
    assert script.explicit_settings(["--filter-steps", "3"]) == {"filter_steps"}
    timings = re.findall(r"\d(?:\.\d+)? ?(?:s|seconds|minutes)\b|\d(?:\.\d+)?x (?:faster|slower)", shown["--help-all"])
    assert timings == []
    per_setting = collections.Counter(dest for flag, dest in flags.items() if flag != "--mixed-precision")
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    assert set(per_setting) == fields and set(per_setting.values()) == {1}, per_setting.most_common(3)


def test_flags_take_their_type_and_choices_from_the_settings_fields():
    """Paths, lists, counts, choices and booleans as the fields declare them; a field's help shows its default."""
    from pathlib import Path

    argv = ["--images", "a.jpg", "b.jpg", "--sanity-methods", "gradcam", "rise", "--cache-limit-mb", "10"]
    argv += ["--no-check-images", "--compare-cams", "--verbose", "2", "--occlusion-patch", "12"]
    config = script.settings_given(script.parse_args(argv))
    assert config.images == [Path("a.jpg"), Path("b.jpg")] and config.sanity_methods == ("gradcam", "rise")
    assert (config.cache_limit_mb, config.check_images, config.compare_cams) == (10.0, False, True)
    assert (config.verbose, config.occlusion_patch) == (2, 12)
    for wrong in (["--sanity-methods", "gradcam", "lrp"], ["--verbose", "3"], ["--patience", "-2"], ["--seed", "x"]):
        with pytest.raises(SystemExit):
            script.parse_args(wrong)
    every = " ".join(script.build_parser(everything=True).format_help().split())
    assert "cache decoded images in memory up to this size (default: 4096)" in every
    assert "random seed (default: 42)" in every and "(default: 0.001)" in every  # the fields' own defaults
