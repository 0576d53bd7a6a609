"""How well a classifier classifies: one prediction pass, every number computed from it (scikit-learn's
confusion matrix and precision, recall and F1)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

from ..models.forward import probabilities
from ..models.heads import class_count


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, loss, confusion matrix and per-class precision/recall/F1 from predictions.

    Args:
        probabilities: (n, num_classes) class probabilities (``predict``; independent for a multi-label head).
        labels: (n,) true class indices.
        classes: Class names, in label order.

    Returns:
        {"count", "accuracy", "loss" (mean cross-entropy, probabilities clipped at 1e-7 as Keras
        does), "confusion_matrix" (rows = true class, columns = predicted), "per_class": {name:
        {"precision", "recall", "f1", "support"}}, "macro_f1"}.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.shape[0] or probabilities.shape[1] != len(classes):
        raise ValueError(
            f"probabilities {probabilities.shape} do not match {labels.shape[0]} labels and {len(classes)} classes"
        )
    predicted = probabilities.argmax(axis=1)
    everyone = np.arange(len(classes))  # every class a row and a column, even one the test split lacks
    if labels.size:
        confusion = metrics.confusion_matrix(labels, predicted, labels=everyone)
        precision, recall, f1, support = metrics.precision_recall_fscore_support(
            labels, predicted, labels=everyone, zero_division=0.0
        )
    else:  # no test images (scikit-learn refuses empty inputs): nothing counted
        confusion = np.zeros((len(classes),) * 2, np.int64)
        precision = recall = f1 = support = np.zeros(len(classes))
    # mean -log p(true class) by hand, not metrics.log_loss: that renormalises each row to sum to 1, which a
    # multi-label head's independent probabilities must not be
    picked = np.clip(probabilities[np.arange(labels.size), labels], 1e-7, 1.0)
    return {
        "count": int(labels.size),
        "accuracy": float((predicted == labels).mean()) if labels.size else float("nan"),
        "loss": float(-np.log(picked).mean()) if labels.size else float("nan"),
        "confusion_matrix": confusion.tolist(),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "macro_f1": float(f1.mean()),
    }


def predict(model, dataset) -> np.ndarray:
    """(n, num_classes) probabilities for a dataset of (images, labels) batches, in dataset order, read as the
    model's head says (``heads.probabilities_from_outputs``: logits softmaxed, a one-output binary head as two
    classes, sigmoid outputs as independent probabilities), batch by batch through the model's traced inference
    call (``forward.probabilities``: traced once per model and shared with every later pass of the run, where
    Keras's ``predict`` traces a function of its own: 2-3 s for InceptionV3)."""
    found = [probabilities(model, images.numpy()) for images, _ in dataset]
    if not found:
        return np.zeros((0, class_count(model)), np.float64)
    return np.concatenate(found)
