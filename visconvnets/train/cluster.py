"""Training on several workers (``--distribute multiworker``): what ``model.fit`` needs beyond Keras 3.

Keras 3's ``fit`` under ``MultiWorkerMirroredStrategy`` with two or more workers fails twice before the
first step (the reduce of a whole batch, and a reduce along axis 0 of scalar numbers); and workers
killed a moment apart can hold backups of different epochs, which would leave one waiting for the
others forever. Each is handled here; a single process goes straight to ``fit``.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from ..models import keras_internals


def fit_phase(model, strategy, train_dataset, validation_dataset, initial_epoch: int, epochs: int, callbacks, verbose):
    """``model.fit`` for one phase (``callbacks[-1]`` its ``BackupAndRestore``); on several workers with the
    Keras 3 work-arounds they need and one resume epoch for all."""
    several_workers = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if several_workers:
        _logs_as_vectors(model)
        _agree_on_backup(strategy, callbacks[-1].backup_dir)
    with keras_internals.without_batch_build(model, skip=several_workers):  # built in _prepare_phase
        return model.fit(
            train_dataset,
            validation_data=validation_dataset,
            epochs=initial_epoch + epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )  # shuffled in tf.data


def _agree_on_backup(strategy, backup_dir: str) -> None:
    """Every worker resumes from the same epoch: the earliest any of them has a backup of (workers killed a
    moment apart can have saved different epochs; a worker ahead steps back to its previous copy, and
    with none of that epoch the phase starts again on every worker)."""
    mine = keras_internals.backup_epoch(Path(backup_dir))
    epochs = strategy.gather(strategy.experimental_distribute_values_from_function(lambda _: tf.constant([mine])), 0)
    earliest = int(tf.reduce_min(epochs))
    if mine != earliest:
        print(f"note: another worker's backup is of epoch {earliest}, this one's of {mine}: resuming from {earliest}")
        keras_internals.step_back_backup(Path(backup_dir), earliest)


def _logs_as_vectors(model) -> None:
    """Make ``model``'s train and test steps return each number as a (1,) vector. Keras 3 averages the
    steps' numbers over two or more workers with ``strategy.reduce("MEAN", value, axis=0)``, which fails on
    a scalar ("Invalid reduction dimension 0 for input with 0 dimensions"); a (1,) vector per replica
    reduces to the scalar mean. Overrides the public ``train_step``/``test_step`` on this instance."""
    if getattr(model, "_steps_return_vectors", False):
        return
    plain_train, plain_test = model.train_step, model.test_step

    def as_vectors(logs):
        return {key: tf.reshape(value, [1]) for key, value in logs.items()}

    model.train_step = lambda data: as_vectors(plain_train(data))
    model.test_step = lambda data: as_vectors(plain_test(data))
    model._steps_return_vectors = True
