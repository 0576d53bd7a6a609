"""TensorBoard's picture of each training phase's end: the validation confusion matrix.

Every ``fit`` is one phase of the recipe (head, fine_tune or scratch), so ``on_train_end`` is a
phase's end; the image is logged at the phase's last epoch, numbered as Keras counts epochs.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..render import pictures
from ..scores.classification import classification_metrics, predict

CONFUSION_TAG = "validation_confusion_matrix"  # the image's name in TensorBoard's Images tab


class ConfusionAtPhaseEnd(keras.callbacks.Callback):
    """At the end of every ``fit``: predict ``dataset`` and log its confusion matrix as an image.

    Args:
        dataset: Batches of (images, labels) in a fixed order (not shuffled), e.g. the validation split.
        labels: (n,) the true class of every image, in the dataset's order.
        class_names: Class names in label order.
        log_dir: Where the event file goes (``OUT/tensorboard/phases``).
    """

    def __init__(self, dataset, labels, class_names, log_dir: Path):
        super().__init__()
        self.dataset, self.labels, self.class_names = dataset, np.asarray(labels), list(class_names)
        self.log_dir, self.phase, self.last_epoch, self._writer = Path(log_dir), 0, None, None

    def on_train_begin(self, logs=None):
        self.phase, self.last_epoch = self.phase + 1, None

    def on_epoch_end(self, epoch, logs=None):
        self.last_epoch = epoch + 1

    def on_train_end(self, logs=None):
        if self.last_epoch is None:  # nothing trained in this fit (resumed past its end)
            return
        probabilities = predict(self.model, self.dataset)  # (n, classes), read as the model's head says
        metrics = classification_metrics(probabilities, self.labels, self.class_names)
        title = f"validation after phase {self.phase} (epoch {self.last_epoch}): accuracy {metrics['accuracy']:.3f}"
        picture = pictures.confusion_matrix_picture(metrics["confusion_matrix"], self.class_names, title)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))
        with self._writer.as_default(step=self.last_epoch):
            tf.summary.image(CONFUSION_TAG, picture[None], description=title)
            tf.summary.scalar("validation_accuracy_at_phase_end", metrics["accuracy"])
        self._writer.flush()
