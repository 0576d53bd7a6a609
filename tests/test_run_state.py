"""What an output folder holds (fresh, killed training, killed pictures, finished; the demo replacing its
own), one run per output folder (the lock, a stale lock taken over), and one-line errors for a path
that cannot be written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import model_training_and_visualization as script
from visconvnets.run import state as run_state
from visconvnets.settings import outputs

from .conftest import report_links, tiny_script_command

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
            "import sys, time; from visconvnets.run import state; "
            "state.acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)",
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
    from visconvnets.run import workflow

    def full_disk(*_arguments, **_options):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / outputs.MODEL))

    monkeypatch.setattr(workflow, "run", full_disk)
    assert script.main(["--demo", "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error
        == f"error: No space left on device: {tmp_path / 'out' / outputs.MODEL} (is --output writable, with room left?)"
    )


# Runs the training script (argv[1:]) with the page writer replaced by one that writes half a page and
# kills its own process with SIGKILL: a kill -9 at exactly that moment (no handler, no clean-up runs).
KILLED_IN_THE_PAGE = """
import os, runpy, signal, sys
from visconvnets.render import report
def write_half_then_die(out_dir):
    (out_dir / "index.html.tmp").write_text("<!DOCTYPE html><html><body><h1>VisConvNets")
    os.kill(os.getpid(), signal.SIGKILL)
report.write_report = write_half_then_die
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _kill_when(command: list[str], ready, timeout: float = 300) -> bool:
    """Start ``command``, ``kill -9`` it as soon as ``ready()`` holds; False when it finished first."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    finished = process.poll() is not None
    process.kill()
    process.wait()
    return not finished


@pytest.mark.parametrize(
    "moment", ["in the first epoch, then in the second", "between the phases", "in the pictures, then in the report"]
)
def test_kill_9_at_a_moment_then_the_same_command_completes(moment, tiny_split, tmp_path):
    """A real ``kill -9`` (no handler runs, the lock stays behind), then the same command again: the run
    completes, its report links only to files that exist, and ``history.csv`` has every epoch once. Killed
    in the first epoch, the run that starts again is killed in its second; killed in the pictures, the run
    that finishes them is killed too, while it writes the page."""

    output = tmp_path / "out"
    epochs = ["--epochs", "2"]
    if moment == "between the phases":  # a backbone weights file: head, then fine_tune, one epoch each
        import keras

        weights = tmp_path / "vgg16.weights.h5"
        keras.applications.VGG16(include_top=False, weights=None, input_shape=(75, 75, 3)).save_weights(weights)
        epochs = ["--weights", str(weights), "--epochs", "1", "--fine-tune-epochs", "1"]
    command = [flag for flag in tiny_script_command(tiny_split, output, *epochs) if flag != "--no-gradcam"]
    history = output / outputs.HISTORY
    progress = output / outputs.TRAINING_STATE / "progress.json"

    def ready() -> bool:
        if moment.startswith("in the first epoch"):
            return history.exists() and len(history.read_text().splitlines()) >= 2  # epoch 1 written
        if moment == "between the phases":
            return progress.exists() and "head" in progress.read_text()  # the head phase finished
        return (output / outputs.TRAINING_SUMMARY).exists()  # the model saved: pictures under way

    if moment.startswith("in the first epoch"):  # killed once training began, before any epoch ended
        assert _kill_when(command, lambda: (output / outputs.TRAINING_STATE).exists())
        assert (output / outputs.LOCK).exists() and not history.exists()
    if not _kill_when(command, ready):
        pytest.skip(f"the run finished before it could be killed {moment}")
    assert (output / outputs.LOCK).exists() and not (output / outputs.REPORT).exists()
    if moment.startswith("in the pictures"):  # the run that finishes them: SIGKILL half-way through the page
        page_run = [sys.executable, "-c", KILLED_IN_THE_PAGE, *command[1:]]
        killed = subprocess.run(page_run, capture_output=True, text=True, timeout=600, check=False)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert (output / (outputs.REPORT + ".tmp")).exists() and "finishing its pictures" in killed.stdout
        assert (output / outputs.LOCK).exists() and not (output / outputs.REPORT).exists()
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "taking over" in again.stdout  # the killed run's lock
    if moment == "between the phases":  # the finished phase is not trained again
        assert "phase head: already finished in an earlier run, skipped" in again.stdout
    if moment.startswith("in the pictures"):  # the saved model explained, not trained again
        assert "finishing its pictures" in again.stdout and "phase scratch" not in again.stdout
        metrics = json.loads((output / outputs.METRICS).read_text())
        assert metrics["training"]["epochs_run"] == 2 and metrics["test"]["count"] > 0
    rows = [line.split(",")[0] for line in history.read_text().splitlines()[1:]]
    assert rows == ["1", "2"]
    links = report_links(output / outputs.REPORT)
    assert links and all((output / link).exists() for link in links)
    assert not (output / outputs.LOCK).exists() and not (output / (outputs.REPORT + ".tmp")).exists()


def test_a_backup_cut_short_falls_back_to_the_one_before_or_is_dropped(tmp_path):
    import keras
    import numpy as np

    from visconvnets.models import keras_internals

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    backup_dir = tmp_path / "backup"
    backup = keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True, delete_checkpoint=False)
    data = (np.zeros((8, 4), np.float32), np.zeros(8, np.int64))
    model.fit(*data, epochs=2, verbose=0, callbacks=[backup])  # two backups: latest and the one before (.bkp)
    assert keras_internals.repair_backup(backup_dir) is None  # readable: left alone
    latest = backup_dir / "latest.weights.h5"
    latest.write_bytes(latest.read_bytes()[:100])  # as a kill -9 mid-write leaves it
    assert "resuming from the one before it" in keras_internals.repair_backup(backup_dir)
    assert keras_internals.repair_backup(backup_dir) is None  # repaired: readable again
    for name in ("latest.weights.h5", "latest.weights.h5.bkp"):
        (backup_dir / name).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 20)
    assert "its phase starts again" in keras_internals.repair_backup(backup_dir)
    assert not backup_dir.exists()


def test_a_lock_being_written_is_waited_for_before_it_counts_as_abandoned(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_state, "FRESH_LOCK_SECONDS", 0.5)
    lock = tmp_path / outputs.LOCK
    lock.write_text("")  # created by a run starting this instant, its record not written yet
    started = time.monotonic()
    path = run_state.acquire(tmp_path)
    assert time.monotonic() - started >= 0.4  # read again until it was old enough to be abandoned
    assert "taking over" in capsys.readouterr().out
    run_state.release(path)
    lock.write_text("")
    os.utime(lock, (time.time() - 60, time.time() - 60))  # unreadable and a minute old: abandoned now
    started = time.monotonic()
    run_state.release(run_state.acquire(tmp_path))
    assert time.monotonic() - started < 0.4
