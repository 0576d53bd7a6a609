"""Every use of Keras internals (names that start with an underscore), in one place.

Checked on Keras 3.7.0 to 3.15.1 (the wheels' sources read, the tests run on 3.15.1). Each internal
is here because the public API does not give what it gives:

* ``Functional._run_through_graph(inputs, operation_fn, call_fn)``: Keras's own walk of a functional
  model's graph, with ``call_fn`` called in place of each layer. ``keras.Model(model.inputs,
  layer.output)`` gives a sub-model of a *flat* model, but fails with "Graph disconnected" for a layer
  inside a nested backbone, cannot read a softmax layer as its logits, and cannot carry values that are
  not tensors (``geometry.receptive_field`` pushes stride/offset pairs through the same walk). Every
  technique (activations, filters, CAMs, receptive fields) depends on it.
* ``KerasTensor._keras_history.operation``: the layer that produced a model's output (to read the
  class scores before the softmax).
* ``Layer._inbound_nodes[i].parent_nodes[j].operation``: the edges of the graph, to find where an
  inception block starts (``--fine-tune-from``); Keras has no public "parents of a layer".
* ``Trainer._initial_epoch``: ``BackupAndRestore`` stores the restored epoch there and ``fit`` uses it
  in place of its ``initial_epoch`` argument. It is not reset after ``fit``, so the next phase's
  ``fit`` would start at the wrong epoch; we reset it. If Keras renamed it, resume would silently
  count epochs wrong, hence ``verify``.
* ``Trainer._symbolic_build(data_batch=)``: creates the optimizer's and the metrics' variables from the
  shapes of a batch, as ``fit`` does itself under a distribution strategy. Without it they are
  created inside the first train step, and ``tf.function`` then traces that step twice (a step that
  creates variables is traced once to create them and again to run), a second trace per phase
  (BENCHMARKS.md: its cost). If it went missing, we fall back to building the optimizer only.
* ``Trainer._maybe_symbolic_build``: ``fit`` and ``evaluate`` first build the model from one batch,
  which under a strategy they get by ``strategy.reduce("MEAN", (x, y))`` of the first distributed
  batch; ``MultiWorkerMirroredStrategy`` with two or more workers cannot reduce a structure and fails
  with "Attempt to convert a value (PerReplica ...) to a Tensor" (Keras issue #20329). Once
  ``_symbolic_build`` has built everything from the dataset's ``element_spec`` that step has nothing
  to do, so ``without_batch_build`` skips it for the duration of ``fit``.
* ``BackupAndRestore._weights_path`` / ``_training_metadata_path`` (and their ``_prev_`` copies): where
  the backup lives. A ``kill -9`` while the backup is written leaves it unreadable; Keras falls back
  to the previous copy only for unreadable weights and only if a previous copy exists (not at the
  first epoch), so ``repair_backup`` checks both files before ``fit`` and falls back or starts the
  phase again itself.
* ``keras.src.legacy.saving.legacy_h5_format``: writes weights in the legacy HDF5 layout of Keras's
  ImageNet files (the tests make such a file; Keras 3's ``save_weights`` writes only ``.weights.h5``).

``verify()`` checks all of them and raises ``KerasInternalsError`` with the explanation above when a
Keras upgrade has removed or renamed one; the test suite calls it.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import keras

CHECKED_KERAS_VERSIONS = ("3.7.0", "3.15.1")  # oldest and newest Keras whose internals were checked


class KerasInternalsError(RuntimeError):
    """A Keras internal this project relies on is missing or changed."""


def run_through_graph(model, value, call_fn: Callable):
    """Push ``value`` through a functional ``model``'s graph, ``call_fn(layer, *args, **kwargs)``
    standing in for every layer call. Returns the model's output structure."""
    return model._run_through_graph(value, operation_fn=lambda operation: operation, call_fn=call_fn)


def producing_layer(tensor):
    """The layer (operation) that produced a symbolic Keras tensor."""
    return tensor._keras_history.operation


def parent_layer_names(layer) -> list[str]:
    """Sorted names of the layers feeding ``layer`` in its (flat) functional model."""
    return sorted({parent.operation.name for node in layer._inbound_nodes for parent in node.parent_nodes})


def clear_restored_epoch(model) -> None:
    """Forget the epoch ``BackupAndRestore`` restored, so the next ``fit`` starts where it is told."""
    model._initial_epoch = None


def build_training_state(model, element_spec) -> None:
    """Create a compiled model's optimizer and metric variables before ``fit`` (one trace of the step).

    Args:
        element_spec: ``dataset.element_spec`` of the training data: (images, labels) specs.
    """
    build = getattr(model, "_symbolic_build", None)
    if build is not None:
        build(data_batch=element_spec)
    elif not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


@contextlib.contextmanager
def without_batch_build(model, skip: bool = True):
    """Within the block, ``model``'s ``fit``/``evaluate`` do not build the model from a reduced first batch
    (call ``build_training_state`` first). ``skip=False`` leaves Keras as it is."""
    if not skip or not hasattr(model, "_maybe_symbolic_build"):
        yield
        return
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None  # on the instance only
    try:
        yield
    finally:
        del model._maybe_symbolic_build  # the class's method again


def _backup_readable(weights: Path, metadata: Path) -> bool:
    try:
        with h5py.File(weights, "r"):
            pass
        return isinstance(json.loads(metadata.read_text(encoding="utf-8")).get("epoch"), int)
    except (OSError, ValueError, AttributeError):
        return False


def repair_backup(backup_dir: Path) -> str | None:
    """Leave ``BackupAndRestore(backup_dir)`` a backup it can load: the current one if readable, else the
    previous copy, else none (the phase starts again). Returns what was done, or None if nothing was."""
    current, previous = _backup_files(backup_dir)
    if not any(path.exists() for path in current) or _backup_readable(*current):
        return None
    if _backup_readable(*previous):
        _copy_over(previous, current)
        return f"the backup in {backup_dir} was cut short by a kill; resuming from the one before it"
    shutil.rmtree(backup_dir, ignore_errors=True)
    return f"the only backup in {backup_dir} was cut short by a kill; its phase starts again"


def _copy_over(sources: tuple[Path, Path], targets: tuple[Path, Path]) -> None:
    """The previous backup's weights and metadata copied over the current ones."""
    for source, target in zip(sources, targets):
        shutil.copyfile(source, target)


def _backup_files(backup_dir: Path) -> tuple[tuple[Path, Path], tuple[Path, Path]]:
    probe = keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True)  # only reads its names
    return (
        (Path(probe._weights_path), Path(probe._training_metadata_path)),
        (Path(probe._prev_weights_path), Path(probe._prev_training_metadata_path)),
    )


def backup_epoch(backup_dir: Path, previous: bool = False) -> int:
    """The epoch the (``previous``) backup in ``backup_dir`` would resume from; -1 when there is none."""
    weights, metadata = _backup_files(backup_dir)[1 if previous else 0]
    if not _backup_readable(weights, metadata):
        return -1
    return int(json.loads(metadata.read_text(encoding="utf-8"))["epoch"])


def step_back_backup(backup_dir: Path, epoch: int) -> None:
    """Make the backup resume from ``epoch`` (the previous copy when it is that epoch), else drop it."""
    current, previous = _backup_files(backup_dir)
    if epoch >= 0 and backup_epoch(backup_dir, previous=True) == epoch:
        _copy_over(previous, current)
    else:
        shutil.rmtree(backup_dir, ignore_errors=True)


def save_legacy_h5_weights(model, path) -> None:
    """Write ``model``'s weights in the legacy HDF5 layout (that of Keras's ImageNet weight files)."""
    # Imported here, not at the top: only the tests write this format.
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)


def _fail(what: str, why: str) -> None:
    raise KerasInternalsError(
        f"Keras {keras.__version__} no longer has {what}, which visconvnets needs: {why} "
        f"(checked on Keras {CHECKED_KERAS_VERSIONS[0]} to {CHECKED_KERAS_VERSIONS[1]}; "
        "see visconvnets/models/keras_internals.py, or install a Keras in that range)"
    )


def verify() -> None:
    """Check every internal above on a two-layer model.

    Raises:
        KerasInternalsError: one is missing or changed, with what it is needed for.
    """
    inputs = keras.Input((4, 4, 1))
    hidden = keras.layers.Conv2D(2, 3, name="probe_conv")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D(name="probe_pool")(hidden)
    model = keras.Model(inputs, outputs)
    walk = getattr(model, "_run_through_graph", None)
    if walk is None or "call_fn" not in inspect.signature(walk).parameters:
        _fail("Functional._run_through_graph(..., call_fn=)", "the graph walk behind every picture")
    seen = []
    run_through_graph(
        model, keras.ops.zeros((1, 4, 4, 1)), lambda layer, *args, **kwargs: seen.append(layer.name) or layer(*args)
    )
    if seen != ["probe_conv", "probe_pool"]:
        _fail("a call_fn called once per layer in graph order", f"the graph walk (it called {seen})")
    if getattr(getattr(outputs, "_keras_history", None), "operation", None) is not model.get_layer("probe_pool"):
        _fail("KerasTensor._keras_history.operation", "reading a softmax output as its logits")
    try:
        parents = parent_layer_names(model.get_layer("probe_pool"))
    except AttributeError:
        parents = None
    if parents != ["probe_conv"]:
        _fail("Layer._inbound_nodes[...].parent_nodes[...].operation", "finding where --fine-tune-from's block starts")
    if not hasattr(model, "_initial_epoch") or "_initial_epoch" not in inspect.getsource(
        keras.callbacks.BackupAndRestore
    ):
        _fail("Trainer._initial_epoch set by BackupAndRestore", "resuming a killed run at the right epoch")
    if "data_batch" not in inspect.signature(getattr(model, "_symbolic_build", lambda: None)).parameters:
        _fail("Trainer._symbolic_build(data_batch=)", "building the optimizer and metrics before the first step")
    if "iterator" not in inspect.signature(getattr(model, "_maybe_symbolic_build", lambda: None)).parameters:
        _fail("Trainer._maybe_symbolic_build(iterator=)", "training with two or more workers (multiworker)")
    backup = keras.callbacks.BackupAndRestore("unused_backup_folder", double_checkpoint=True)
    if not str(getattr(backup, "_prev_weights_path", "")).endswith(".bkp") or not hasattr(
        backup, "_prev_training_metadata_path"
    ):
        _fail("BackupAndRestore._prev_weights_path / _prev_training_metadata_path", "resuming after a kill -9")
    if "double_checkpoint" not in inspect.signature(keras.callbacks.BackupAndRestore).parameters:
        _fail("BackupAndRestore(double_checkpoint=)", "a backup that survives a kill while it is written")
