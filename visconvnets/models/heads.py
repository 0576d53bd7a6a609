"""How a classifier's outputs read as class probabilities and class scores, for the heads Keras users build.

* ``softmax``: ``Dense(k, activation="softmax")`` or a ``Softmax`` layer: the outputs are probabilities;
  the class scores are the softmax's input.
* ``logits``: ``Dense(k)``, k >= 2, trained with ``from_logits=True``: the outputs are the scores, and
  the probabilities their softmax.
* ``binary``: one output (Keras's "image classification from scratch": ``Dense(1)``, a logit, or
  ``Dense(1, activation="sigmoid")``) read as two classes: p(second) = sigmoid(z), p(first) = 1 - p(second);
  the scores are (-z, z), so every class's probability is the sigmoid of its own score, and a map of the
  first class is the evidence against the second.
* ``multilabel``: k >= 2 sigmoid outputs: independent probabilities (each row need not sum to 1), each class
  explained by its own score before the sigmoid; never softmaxed.

Every method reads class scores (``forward(..., logits=True)``, always (n, classes)) and every number reads
probabilities (``probabilities_from_outputs`` / ``probabilities_from_scores``) through this one module.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from . import keras_internals
from .per_model import per_model_cache

HEAD_KINDS = ("softmax", "logits", "binary", "multilabel")


@dataclasses.dataclass(frozen=True)
class Head:
    """What a model's output layer is, for reading it.

    Attributes:
        kind: One of ``HEAD_KINDS``.
        outputs: The model's output units (1 for ``binary``).
        squashed: Whether the output is after a softmax or sigmoid (else raw scores).
    """

    kind: str
    outputs: int
    squashed: bool

    @property
    def classes(self) -> int:
        """Classes as the run reads them: 2 for a one-output binary head, else one per output."""
        return 2 if self.kind == "binary" else self.outputs

    @property
    def independent(self) -> bool:
        """Whether each class's probability is the sigmoid of its own score (binary and multi-label heads)."""
        return self.kind in ("binary", "multilabel")

    def describe(self) -> str:
        """The head in words, for the report and the console."""
        if self.kind == "binary":
            form = "a sigmoid probability" if self.squashed else "a logit"
            return (
                f"one output ({form}) read as two classes: p(second class) = sigmoid(z), p(first) = 1 - p(second); "
                "the first class's maps explain -z"
            )
        if self.kind == "multilabel":
            return f"{self.outputs} sigmoid outputs: independent probabilities, each class explained by its own score"
        if self.kind == "logits":
            return f"{self.outputs} logits, turned into probabilities by a softmax"
        return f"{self.outputs} softmax probabilities, explained by their logits"


def final_layer(model):
    """The layer producing the model's output (inside nested models too)."""
    if isinstance(model, keras.Sequential):
        last = model.layers[-1]
    else:
        last = keras_internals.producing_layer(model.outputs[0])
    return final_layer(last) if isinstance(last, keras.Model) else last


def squashing(function) -> str | None:
    """The name ``softmax`` or ``sigmoid`` when ``function`` is that activation, else None."""
    for name in ("softmax", "sigmoid"):
        if function is getattr(keras.activations, name) or getattr(function, "__name__", "") == name:
            return name
    return None


def layer_squashing(layer) -> str | None:
    """The softmax or sigmoid a layer applies: a ``Softmax`` layer, an ``Activation`` of one, or one fused
    into the layer (``Dense(k, activation="softmax")``); None otherwise."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    return squashing(getattr(layer, "activation", None))


@per_model_cache
def read_head(model) -> Head:
    """The model's ``Head``, from its output layer and output width.

    Raises:
        ValueError: one softmax output (always 1.0: nothing to read).
    """
    outputs = int(model.outputs[0].shape[-1])
    squash = layer_squashing(final_layer(model))
    if outputs == 1:
        if squash == "softmax":
            raise ValueError(
                f"model {model.name!r} ends in a softmax over one output, which is 1.0 for every image; a binary "
                "classifier needs Dense(1, activation='sigmoid') (or a logit) or Dense(2, activation='softmax')"
            )
        return Head("binary", 1, squash == "sigmoid")
    if squash == "sigmoid":
        return Head("multilabel", outputs, True)
    return Head("softmax", outputs, True) if squash == "softmax" else Head("logits", outputs, False)


def class_count(model) -> int:
    """Classes the model distinguishes as the run reads them (``Head.classes``)."""
    return read_head(model).classes


def softmax(logits: np.ndarray) -> np.ndarray:
    """(n, classes) class scores before the softmax -> probabilities, computed stably in NumPy."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def sigmoid(values: np.ndarray) -> np.ndarray:
    """Elementwise logistic function, stable for large magnitudes."""
    values = np.asarray(values, np.float64)
    return np.exp(-np.logaddexp(0.0, -values))


def probabilities_from_outputs(head: Head, outputs: np.ndarray) -> np.ndarray:
    """(n, outputs) what the model returned -> (n, classes) float64 probabilities, read as ``head`` says."""
    outputs = np.asarray(outputs, np.float64)
    if head.kind == "binary":
        second = outputs[:, :1] if head.squashed else sigmoid(outputs[:, :1])
        return np.concatenate([1.0 - second, second], axis=1)
    if head.kind == "multilabel" or head.kind == "softmax":
        return outputs
    return softmax(outputs)


def probabilities_from_scores(head: Head, scores: np.ndarray) -> np.ndarray:
    """(n, classes) class scores (``forward(..., logits=True)``) -> (n, classes) float64 probabilities."""
    scores = np.asarray(scores, np.float64)
    return sigmoid(scores) if head.independent else softmax(scores)


def scores_from_pre_activation(head: Head, values):
    """(n, outputs) tensor before the final softmax/sigmoid -> (n, classes) class scores: (-z, z) for a binary
    head, the values themselves otherwise."""
    if head.kind == "binary":
        return keras.ops.concatenate([-values, values], axis=-1)
    return values
