"""Settings files (issue 31): every run writes its resolved settings to OUT/config.toml by stage; ``--config`` reads
such a file back (the command line wins), ``--print-config`` shows the resolved settings, and a bad file is refused
before any work with the file, the line and the fix."""

from __future__ import annotations

import dataclasses

import pytest

import model_training_and_visualization as script
from visconvnets.settings import outputs
from visconvnets.settings.config import RunConfig
from visconvnets.settings.files import SECTIONS, read_settings_file, to_toml


def test_every_setting_is_in_exactly_one_section():
    names = [name for section in SECTIONS.values() for name in section]
    assert len(names) == len(set(names))
    assert set(names) == {field.name for field in dataclasses.fields(RunConfig)}


def test_a_file_gives_back_the_settings_it_was_written_from(tmp_path):
    """Paths, lists, tuples, floats in exponent form, None (a comment) and inf all come back equal."""
    config = RunConfig(
        data=tmp_path / "split with spaces",
        filter_layers=["mixed2", "conv2d_*"],
        sanity_methods=("gradcam", "rise"),
        fine_tune_learning_rate=1e-05,
        cache_limit_mb=float("inf"),
        gradient_clip=1.0,
    )
    path = tmp_path / "settings.toml"
    path.write_text(to_toml(config), encoding="utf-8")
    assert "# occlusion_patch = (not set)" in path.read_text(encoding="utf-8")
    assert RunConfig(**read_settings_file(path)) == config


def test_a_run_replays_from_its_config_toml_and_flags_win(trained_run, tmp_path, capsys):
    output, _ = trained_run
    written = (output / outputs.SETTINGS_FILE).read_text(encoding="utf-8")
    assert "\n[training]\n" in written and "\nepochs = 2\n" in written  # the tiny run's
    again = tmp_path / "again"
    assert script.main(["--config", str(output / outputs.SETTINGS_FILE), "--output", str(again), "--print-config"]) == 0
    printed = capsys.readouterr().out
    differing = [pair for pair in zip(written.splitlines(), printed.splitlines()) if pair[0] != pair[1]]
    assert len(written.splitlines()) == len(printed.splitlines())
    assert differing == [(f"output = {str(output)!r}".replace("'", '"'), f'output = "{again}"')]
    assert not again.exists()  # --print-config runs nothing
    argv = ["--config", str(output / outputs.SETTINGS_FILE), "--epochs", "3", "--print-config"]
    assert script.main(argv) == 0
    assert "\nepochs = 3\n" in capsys.readouterr().out  # the command line over the file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[training]\nepochs = 2\nepoch = 3\n",
            r"line 3: unknown setting 'epoch' in \[training\]; did you mean 'epochs",
        ),
        ("[training]\nepochs = 'ten'\n", r"line 2: 'epochs' in \[training\] must be a whole number.*got 'ten'"),
        ("[trainig]\nepochs = 2\n", r"line 1: unknown section \[trainig\]; did you mean 'training'"),
        ("[model]\nepochs = 2\n", r"line 2: 'epochs' belongs in \[training\], not \[model\]"),
        ("epochs = 2\n", r"line 1: 'epochs' is outside a section; put it under \[training\]"),
        ("[training\nepochs = 2\n", r"is not valid TOML: .*line 1"),
        ("data = 'split'\n", r"line 1: 'data' is outside a section; put it under \[data\]"),
    ],
)
def test_a_bad_file_is_refused_before_any_work(tmp_path, capsys, text, message):
    import re

    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    output = tmp_path / "out"
    assert script.main(["--config", str(path), "--data", str(tmp_path), "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and re.search(message, error), error
    assert not output.exists()


def test_each_stage_owns_its_defaults():
    """Every setting is a field of exactly one stage's frozen class; RunConfig and VisualizationConfig only compose
    them (no field written again there)."""
    import inspect

    from visconvnets.settings.config import VisualizationConfig
    from visconvnets.settings.stages import STAGES

    for composed in (RunConfig, VisualizationConfig):
        assert inspect.get_annotations(composed) == {}, composed
    names = [field.name for kind in STAGES.values() for field in dataclasses.fields(kind)]
    assert sorted(names) == sorted(field.name for field in dataclasses.fields(RunConfig))
    for kind in (*STAGES.values(), RunConfig):
        with pytest.raises(dataclasses.FrozenInstanceError):
            kind().seed = 1  # a stage without a seed field refuses it too: frozen takes no new attribute
    assert {name: tuple(field.name for field in dataclasses.fields(kind)) for name, kind in STAGES.items()} == SECTIONS


def test_what_a_file_cannot_hold_or_must_not_repeat(tmp_path, capsys):
    """A replay never repeats --restart (written false); DEL and a byte-order mark survive; a file name that is not
    UTF-8 is left out, said so; a value the flags would refuse (a negative count) is refused from a file too;
    --occlusion-patch is checked against a loaded model's own side, not --image-size's."""
    config = RunConfig(data=tmp_path / "a\x7fb", restart=True)
    written = to_toml(config)
    assert "\nrestart = false  # an action" in written
    path = tmp_path / "settings.toml"
    path.write_bytes(b"\xef\xbb\xbf" + written.encode("utf-8"))  # with a byte-order mark
    assert RunConfig(**read_settings_file(path)) == dataclasses.replace(config, restart=False)
    unwritable = to_toml(RunConfig(data=tmp_path / "name\udcff"))
    assert "# data = (a file name that is not UTF-8" in unwritable
    path.write_text("[training]\npatience = -1\n", encoding="utf-8")
    assert script.main(["--config", str(path), "--data", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    assert "--patience must be 0 or more, got -1" in capsys.readouterr().err
    model_file = tmp_path / "model.keras"
    model_file.write_bytes(b"")  # validate only checks that it exists
    RunConfig(model=model_file, occlusion_patch=400).validate()  # a 512-px model may take it: checked once loaded
