"""Which images the pictures, the probes and the scores use: seeded, every class in turn, only boxed ones when
the run has boxes. ``choose_image_sets`` works them all out once, before any model is built."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from ..settings import outputs
from .folders import SplitFiles, relative_paths
from .split.audit import read_split_csv
from .synthetic import read_boxes


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """Images chosen for one purpose, as aligned lists.

    Attributes:
        paths: The image files.
        labels: Each image's class index (None for an image given by path, whose class is unknown).
        boxes: (x0, y0, x1, y1) of each image's object in original-image pixels; None when the run has no boxes.
        sizes: (width, height) of each original image, beside ``boxes``; None without boxes.
    """

    paths: list[Path]
    labels: list
    boxes: list | None = None
    sizes: list | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, indices: Sequence[int]) -> ImageSet:
        """The images at ``indices``, in that order."""

        def pick(column):
            return None if column is None else [column[index] for index in indices]

        return ImageSet(pick(self.paths), pick(self.labels), pick(self.boxes), pick(self.sizes))


@dataclasses.dataclass(frozen=True)
class ImageSets:
    """Every image set a run uses, chosen once (``choose_image_sets``) and carried on the run's job.

    Attributes:
        pictures: The panels' images: ``--images``, else ``--images-per-class`` test images of each class.
        probes: The epoch pictures' probes (validation images, test when there are none); None when not drawn.
        scored: The map scores' test images (boxed ones with ``--boxes``); None when the maps are not scored.
        pointing: Every boxed test image, for the pointing game; None without ``--boxes``.
    """

    pictures: ImageSet
    probes: ImageSet | None = None
    scored: ImageSet | None = None
    pointing: ImageSet | None = None


def choose_images(paths: Sequence[Path], labels: Sequence[int], per_class: int, seed: int) -> list[int]:
    """Indices of up to ``per_class`` images per class, seeded and independent of listing order."""
    per_label = []
    for label in sorted(set(labels)):
        members = sorted((str(paths[i]), i) for i in range(len(paths)) if labels[i] == label)
        random.Random(f"{seed}:{label}").shuffle(members)
        per_label.append([index for _, index in members[:per_class]])
    # interleaved: the first image of every class, then the second of every class...
    return [group[rank] for rank in range(per_class) for group in per_label if rank < len(group)]


def boxed_images(split_files: SplitFiles, boxes_path: Path, part: str = "test") -> ImageSet:
    """The ``part`` images (test, validation, train) that have a box in ``boxes_path``, with their boxes and
    original sizes.

    Raises:
        FileNotFoundError: the split folder has no ``split.csv`` to find each image's source.
        ValueError: no ``part`` image has a box.
    """
    boxes = read_boxes(boxes_path)
    split_csv = split_files.root / outputs.SPLIT_CSV
    if not split_csv.exists():
        raise FileNotFoundError(
            f"--boxes needs {str(split_csv)!r} (written by create_train_val_test.py) to find each image's source"
        )
    source_of = {row["destination"]: row["source"] for row in read_split_csv(split_csv) if row["destination"]}
    found = []
    part_paths = split_files.paths[part]
    for path, relative, label in zip(
        part_paths, relative_paths(part_paths, split_files.root), split_files.labels[part]
    ):
        source = source_of.get(relative)
        if source in boxes:
            with Image.open(path) as picture:
                found.append((path, label, boxes[source], picture.size))
    if not found:
        raise ValueError(f"no {part} image has a box in {str(boxes_path)!r}")
    return ImageSet(*(list(column) for column in zip(*found)))


def chosen_images(
    split_files: SplitFiles,
    boxes_path: Path | None,
    part: str,
    seed: int,
    per_class: int | None = None,
    limit: int | None = None,
) -> ImageSet:
    """``part`` images, seeded, every class in turn: ``per_class`` of each (default: enough for ``limit``), at
    most ``limit``; only boxed images (with their boxes) when ``boxes_path`` is given."""
    if boxes_path:
        candidates = boxed_images(split_files, boxes_path, part)
    else:
        candidates = ImageSet(split_files.paths[part], split_files.labels[part])
    return chosen_from(candidates, seed, per_class, limit)


def chosen_from(candidates: ImageSet, seed: int, per_class: int | None = None, limit: int | None = None) -> ImageSet:
    """``candidates`` chosen as ``chosen_images`` chooses (seeded, every class in turn)."""
    per_class = per_class or math.ceil(limit / max(1, len(set(candidates.labels))))
    return candidates.take(choose_images(candidates.paths, candidates.labels, per_class, seed)[:limit])


def probe_part(split_files: SplitFiles) -> str:
    """Where probes come from: validation images (never trained on, never the test), else test."""
    return "validation" if split_files.paths["validation"] else "test"


def choose_image_sets(
    split_files: SplitFiles | None,
    seed: int,
    *,
    images: list[Path] | None,
    images_per_class: int,
    probes_per_class: int,
    boxes: Path | None,
    scored_images: int,
) -> ImageSets:
    """Every image set the run will use, from its split folder (None: ``--model`` without ``--data``: only
    ``images``): the pictures' (``images``, else ``images_per_class`` test images per class), the epoch probes
    (``probes_per_class``; 0: none), the pointing game's (``boxes``' images) and the scored ones
    (``scored_images``; 0: none), each chosen with ``seed``. Fails here, before any training, when ``boxes``
    matches no image."""
    if images:
        pictures = ImageSet([Path(path) for path in images], [None] * len(images))
    elif split_files is not None:
        pictures = chosen_images(split_files, None, "test", seed, per_class=images_per_class)
    else:
        pictures = ImageSet([], [])
    if split_files is None:
        return ImageSets(pictures)
    probes = scored = None
    if probes_per_class > 0:
        probes = chosen_images(split_files, boxes, probe_part(split_files), seed, per_class=probes_per_class)
    pointing = boxed_images(split_files, boxes) if boxes else None  # read once, scored from it too
    if scored_images > 0:
        test = pointing or ImageSet(split_files.paths["test"], split_files.labels["test"])
        scored = chosen_from(test, seed, limit=scored_images)
    return ImageSets(pictures, probes, scored, pointing)
