"""A split folder (DEST/train, DEST/validation, DEST/test) read and checked: its classes and usable files."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from .split.checks import check_files
from .split.discovery import IGNORED_FOLDERS, IMAGE_EXTENSIONS, list_class_files
from .split.planned import SPLIT_NAMES

CONVERT_FIRST = "TensorFlow cannot decode this format; create_train_val_test.py converts it"


@dataclasses.dataclass
class SplitFiles:
    """The images of a split folder, checked.

    Attributes:
        root: The split folder (DEST).
        classes: Class names, sorted; label i is ``classes[i]``.
        paths: {split: [image path, ...]}.
        labels: {split: [class index, ...]}, aligned with ``paths``.
        skipped: [(path relative to root, reason)] for files left out.
    """

    root: Path
    classes: list[str]
    paths: dict[str, list[Path]]
    labels: dict[str, list[int]]
    skipped: list[tuple[str, str]]

    def print_skipped(self) -> None:
        for relative, reason in self.skipped:
            print(f"skipped (unusable): {relative}: {reason}")

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {class: images}}."""
        return {
            split: {name: self.labels[split].count(index) for index, name in enumerate(self.classes)}
            for split in self.paths
        }


def _class_folders(folder: Path) -> list[str]:
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in IGNORED_FOLDERS
    )


def scan_split_folder(
    data_dir: Path,
    splits: Sequence[str] = SPLIT_NAMES,
    check_images: bool = True,
    workers: int | None = None,
) -> SplitFiles:
    """List and check the images of a folder written by ``create_train_val_test.py``.

    Every check runs here, before any training: the folder and each split exist, every split has the
    same class folders, no split is empty. With ``check_images`` every file is fully decoded (Pillow,
    all cores); files that fail, or that TensorFlow cannot decode, are skipped and reported.

    Raises:
        FileNotFoundError: ``data_dir`` or one of its split folders is missing.
        ValueError: classes differ between splits, a split or class has no usable image.
    """
    data_dir = Path(data_dir)
    classes = _check_layout(data_dir, splits)
    files = [
        (f"{split}/{relative}", class_name)
        for split in splits
        for relative, class_name in list_class_files(data_dir / split, classes)
    ]
    usable, skipped = _usable_files(data_dir, files, check_images, workers)
    index = {name: position for position, name in enumerate(classes)}
    paths: dict[str, list[Path]] = {split: [] for split in splits}
    labels: dict[str, list[int]] = {split: [] for split in splits}
    for relative, class_name in usable:
        split = relative.split("/", 1)[0]
        paths[split].append(data_dir / relative)
        labels[split].append(index[class_name])
    result = SplitFiles(data_dir, list(classes), paths, labels, skipped)
    for split, per_class in result.counts().items():
        if not paths[split]:
            raise ValueError(f"split {split!r} in {str(data_dir)!r} has no usable images")
        empty = [name for name, count in per_class.items() if count == 0]
        if empty and split == "train":
            raise ValueError(
                f"class(es) {', '.join(empty)} have no usable training images in {str(data_dir / split)!r}"
            )
    return result


def _check_layout(data_dir: Path, splits: Sequence[str]) -> list[str]:
    """The class names, after checking the folder, its split folders and that every split has the same classes."""
    if data_dir.is_file():
        raise ValueError(
            f"--data {str(data_dir)!r} is a file; give the split folder (with train/ validation/ test/) that "
            f"`python create_train_val_test.py SOURCE DEST` writes"
        )
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data folder {str(data_dir)!r} does not exist; create it with "
            f"`python create_train_val_test.py SOURCE {data_dir}`"
        )
    missing = [split for split in splits if not (data_dir / split).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{str(data_dir)!r} has no {', '.join(missing)} folder(s); expected {', '.join(splits)} as written by "
            "create_train_val_test.py"
        )
    classes_by_split = {split: _class_folders(data_dir / split) for split in splits}
    reference = classes_by_split[splits[0]]
    if not reference:
        raise ValueError(f"{str(data_dir / splits[0])!r} has no class folders")
    for split, classes in classes_by_split.items():
        if classes != reference:
            only_here = sorted(set(classes) - set(reference))
            absent = sorted(set(reference) - set(classes))
            raise ValueError(
                f"classes differ between splits: {split}/ has extra {only_here or 'none'} and lacks "
                f"{absent or 'none'} compared with {splits[0]}/ ({', '.join(reference)})"
            )
    return reference


def _usable_files(data_dir: Path, files: list[tuple[str, str]], check_images: bool, workers: int | None):
    """(usable [(relative path, class)], skipped [(relative path, reason)]): decoded on all cores when
    ``check_images``, else by extension only."""
    if not check_images:
        return [(path, name) for path, name in files if Path(path).suffix.lower() in IMAGE_EXTENSIONS], []
    usable, skipped = [], []
    for check in check_files(data_dir, files, workers=workers):
        if check.problem:
            skipped.append((check.relative_path, check.problem))
        elif check.needs_conversion:
            skipped.append((check.relative_path, CONVERT_FIRST))
        else:
            usable.append((check.relative_path, check.class_name))
    return usable, skipped


def relative_paths(paths: Sequence[Path], root: Path) -> list[str]:
    """``paths`` relative to ``root``, with forward slashes (the form split.csv and the CSVs use)."""
    return [Path(path).relative_to(root).as_posix() for path in paths]
