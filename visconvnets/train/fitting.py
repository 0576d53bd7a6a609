"""What the training script gives ``model.fit`` besides the model: the tf.data pipelines, the
``ExplainEachEpoch`` callback for probe images chosen from the split, and Keras's TensorBoard callback."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import keras

from ..data import pipelines
from ..data.folders import SplitFiles
from ..data.images import load_images
from ..data.selection import ImageSet
from ..settings import outputs
from .callbacks import CountTrainingPasses, ExplainEachEpoch
from .phase_summaries import ConfusionAtPhaseEnd


def disk_cache(cache_dir: Path, part: str, paths, image_size: int) -> Path:
    """Where ``part``'s decoded images are cached on disk: a prefix named after the files and the size (a
    changed data set or size gets a new cache). A cache a killed run left half-written (its TensorFlow
    lock file still there) is removed first; a cache directory is for one run at a time."""
    key = hashlib.sha1(f"{image_size}|{'|'.join(map(str, paths))}".encode()).hexdigest()[:16]
    prefix = Path(cache_dir) / f"{part}-{image_size}px-{key}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    if list(prefix.parent.glob(f"{prefix.name}*.lockfile")):
        print(f"note: removing the half-written cache {prefix}* of a run that was stopped")
        for stale in prefix.parent.glob(f"{prefix.name}*"):
            stale.unlink()
    return prefix


def datasets(
    files: SplitFiles,
    image_size: int,
    batch_size: int,
    *,
    augmenter,
    seed: int,
    validation: bool,
    cache_limit_mb: float,
    cache_dir: Path | None,
):
    """(train, validation or None: ``validation`` False) tf.data pipelines of (n, image_size, image_size, 3)
    batches; train's shuffled (``seed``) and augmented (``augmenter``: ``pipelines.make_augmenter``'s); decoded
    images cached in memory when they fit in ``cache_limit_mb``, on disk in ``cache_dir`` when given."""
    count = len(files.paths["train"]) + len(files.paths["validation"])
    shared = {"image_size": image_size, "batch_size": batch_size}
    in_memory = pipelines.cache_fits(count, image_size, cache_limit_mb)

    def cache_for(part: str):
        return disk_cache(cache_dir, part, files.paths[part], image_size) if cache_dir else in_memory

    train = pipelines.make_dataset(
        files.paths["train"],
        files.labels["train"],
        training=True,
        augmenter=augmenter,
        seed=seed,
        cache=cache_for("train"),
        **shared,
    )
    if not validation:
        return train, None
    validation = files.paths["validation"], files.labels["validation"]
    return train, pipelines.make_dataset(*validation, cache=cache_for("validation"), **shared)


def training_callbacks(
    model,
    split_files: SplitFiles,
    classes: list[str],
    out_dir: Path,
    layer: str | None,
    probes: ImageSet | None,
    *,
    image_size: int,
    batch_size: int,
    method: str,
    pixel_options: dict,
    tensorboard: bool,
) -> list:
    """The epoch pictures of ``probes`` at ``layer`` (None: none drawn) by ``method`` (a map method's name;
    ``pixel_options`` for the pixel methods) at ``image_size``, TensorBoard (``tensorboard``), and the count of
    the images trained on (the cost model's, ``models.passes``)."""
    callbacks = [CountTrainingPasses(len(split_files.paths["train"]), len(split_files.paths["validation"]))]
    tensorboard_dir = Path(out_dir) / outputs.TENSORBOARD if tensorboard else None
    if tensorboard_dir and importlib.util.find_spec("tensorboard") is None:
        raise RuntimeError(
            "--tensorboard needs the tensorboard package, which TensorFlow 2.21 no longer installs: "
            "pip install 'tensorboard>=2.18,<2.22' (or pip install -e '.[tensorboard]'), or leave out --tensorboard"
        )
    if tensorboard_dir:
        callbacks.append(keras.callbacks.TensorBoard(str(tensorboard_dir), write_graph=False))
        if split_files.paths["validation"]:  # the validation confusion matrix at each phase's end
            validation = pipelines.make_dataset(  # read once a phase: no second in-memory copy of the images
                split_files.paths["validation"],
                split_files.labels["validation"],
                image_size,
                batch_size,
                cache=False,
            )
            labels = split_files.labels["validation"]
            callbacks.append(ConfusionAtPhaseEnd(validation, labels, classes, tensorboard_dir / "phases"))
    if probes is not None and layer is not None:
        images = load_images(probes.paths, image_size)
        stems = [(Path(path).stem, classes[label]) for path, label in zip(probes.paths, probes.labels)]
        names = [stem if stem.startswith(name) else f"{name}_{stem}" for stem, name in stems]  # unique across classes
        probe = ExplainEachEpoch(
            images,
            probes.labels,
            out_dir,
            layer_name=layer,
            method=method,
            boxes=probes.boxes,
            tensorboard_dir=tensorboard_dir,
            class_names=classes,
            names=names,
            original_sizes=probes.sizes,
            options=pixel_options,
        )
        callbacks.insert(0, probe)  # first: its numbers reach the logs every later callback reads
    return callbacks
