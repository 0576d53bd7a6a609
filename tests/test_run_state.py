"""What an output folder holds (fresh, killed training, killed pictures, finished; the demo replacing its
own), one run per output folder (the lock, a stale lock taken over), and one-line errors for a path
that cannot be written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import model_training_and_visualization as script
from visconvnets import outputs, run_state

SETTINGS = {"epochs": 2, "image_size": 75, "seed": 42}


def finished_folder(root: Path, demo: bool = False, report: bool = True) -> Path:
    """A folder as a run leaves it: config, model, training summary, pictures, history, data."""
    root.mkdir(parents=True)
    outputs.write_json(root / outputs.CONFIG, {"config": {**SETTINGS, "demo": demo}})
    for name in (outputs.MODEL, outputs.CLASSES, outputs.HISTORY, outputs.METRICS):
        (root / name).write_text("x")
    outputs.write_json(root / outputs.TRAINING_SUMMARY, {"training": {"epochs_run": 2}, "training_seconds": 9.5})
    if report:
        (root / outputs.REPORT).write_text("<html>")
    for folder in (outputs.EPOCHS, outputs.MISCLASSIFIED, outputs.DEMO_DATA):
        (root / folder).mkdir()
        (root / folder / "old.jpg").write_text("x")
    return root


def test_states_of_an_output_folder(tmp_path):
    assert run_state.check_resume(tmp_path / "new", SETTINGS, restart=False) == "fresh"
    killed_in_training = tmp_path / "training"
    (killed_in_training / outputs.TRAINING_STATE).mkdir(parents=True)
    outputs.write_json(killed_in_training / outputs.CONFIG, {"config": SETTINGS})
    assert run_state.check_resume(killed_in_training, SETTINGS, restart=False) == "resume"
    with pytest.raises(ValueError, match="unfinished run with other settings \\(epochs: 2 -> 3\\)"):
        run_state.check_resume(killed_in_training, {**SETTINGS, "epochs": 3}, restart=False)
    killed_in_pictures = finished_folder(tmp_path / "pictures", report=False)
    assert run_state.check_resume(killed_in_pictures, SETTINGS, restart=False) == "finish"
    with pytest.raises(ValueError, match="pictures were not finished with other settings"):
        run_state.check_resume(killed_in_pictures, {**SETTINGS, "image_size": 99}, restart=False)
    finished = finished_folder(tmp_path / "finished")
    with pytest.raises(ValueError, match="already holds a finished run"):
        run_state.check_resume(finished, SETTINGS, restart=False)
    assert (finished / outputs.REPORT).exists()  # refused: nothing removed


def test_restart_and_a_new_demo_remove_only_what_a_run_writes(tmp_path, capsys):
    demo = finished_folder(tmp_path / "demo", demo=True)
    (demo / "my_notes.txt").write_text("mine")
    assert run_state.check_resume(demo, SETTINGS, restart=False, replace_finished=True) == "fresh"
    assert "replacing the previous run" in capsys.readouterr().out
    left = sorted(path.name for path in demo.iterdir())
    assert left == [outputs.CONFIG, outputs.DEMO_DATA, "my_notes.txt"]  # data and unknown files kept
    restarted = finished_folder(tmp_path / "restart")
    assert run_state.check_resume(restarted, SETTINGS, restart=True) == "fresh"
    assert not (restarted / outputs.MODEL).exists() and not (restarted / outputs.EPOCHS).exists()


def test_one_run_per_output_folder(tmp_path):
    path = run_state.acquire(tmp_path)
    holder = json.loads(path.read_text())
    assert holder["pid"] == os.getpid() and path.name == outputs.LOCK
    with pytest.raises(RuntimeError, match=f"in use by another run \\(process {os.getpid()}, started"):
        run_state.acquire(tmp_path)
    run_state.release(path)
    assert not path.exists()


def test_a_stale_lock_is_taken_over(tmp_path, capsys):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer runs
    (tmp_path / outputs.LOCK).write_text(json.dumps({"pid": gone.pid, "host": os.uname().nodename, "started": "x"}))
    with run_state.holding(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert f"taking over {tmp_path / outputs.LOCK} from process {gone.pid}, which is gone" in capsys.readouterr().out
    assert not (tmp_path / outputs.LOCK).exists()


def test_second_run_on_the_same_output_stops_at_once(tmp_path, capsys):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from visconvnets import run_state; "
            "run_state.acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        code = script.main(["--data", str(tmp_path / "data"), "--weights", "none", "--output", str(tmp_path)])
        assert code == 2 and time.monotonic() - started < 30
        assert f"is in use by another run (process {holder.pid}" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_an_output_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert script.main(["--demo", "--output", str(blocker / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(blocker / "out") in error and "Traceback" not in error
    from visconvnets import workflow

    def full_disk(*_arguments, **_options):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / outputs.MODEL))

    monkeypatch.setattr(workflow, "run", full_disk)
    assert script.main(["--demo", "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error
        == f"error: No space left on device: {tmp_path / 'out' / outputs.MODEL} (is --output writable, with room left?)"
    )


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_a_run_killed_during_the_pictures_finishes_without_training(trained_run, tiny_split, tmp_path, capsys):
    from visconvnets import workflow

    from .conftest import SMALL_SCORES, tiny_config

    source, _ = trained_run
    output = tmp_path / "out"
    shutil.copytree(source, output)
    history = (output / outputs.HISTORY).read_text()
    for name in (outputs.REPORT, outputs.METRICS, outputs.MISCLASSIFIED, outputs.GRADCAM):  # as a kill leaves it
        target = output / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    capsys.readouterr()
    metrics = workflow.run(tiny_config(tiny_split, output, faithfulness=True, tensorboard=True, **SMALL_SCORES))
    printed = capsys.readouterr().out
    assert "finishing its pictures" in printed and "phase scratch" not in printed  # no training
    assert (output / outputs.HISTORY).read_text() == history  # every epoch once, none added
    assert (output / outputs.REPORT).exists() and any((output / outputs.GRADCAM).iterdir())
    assert metrics["training"]["epochs_run"] == 2 and "test" in metrics
    with pytest.raises(ValueError, match="already holds a finished run"):  # now finished: refused
        workflow.run(tiny_config(tiny_split, output, faithfulness=True, tensorboard=True, **SMALL_SCORES))
