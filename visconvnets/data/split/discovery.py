"""Finding the classes and their files under a source folder (sorted, hidden entries skipped)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from .columns import FileList

# Extensions (lower case) that are looked at; anything else is skipped as "not an image file".
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")

# Folder names that never hold a class.
IGNORED_FOLDERS = ("__pycache__", ".ipynb_checkpoints")


def _is_hidden_or_ignored(folder_name: str) -> bool:
    return folder_name.startswith(".") or folder_name in IGNORED_FOLDERS


def _has_image_files(folder: Path) -> bool:
    return any(entry.is_file() and entry.suffix.lower() in IMAGE_EXTENSIONS for entry in folder.iterdir())


def find_class_folders(source: Path) -> tuple[Path, list[str]]:
    """Find the class folders under ``source``.

    Args:
        source: Folder holding one sub-folder per class. When it holds exactly one folder and no
            images (the Kaggle zip's ``flowers/flowers/daisy``), that folder is used as the root.

    Returns:
        (root, class names): the folder that holds the classes, and their names sorted.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: ``source`` is not a folder, or holds no class folders.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"source folder {str(source)!r} does not exist")
    if not source.is_dir():
        raise ValueError(f"source {str(source)!r} is a file; give the folder that holds one folder per class")
    root = source
    while True:
        folders = sorted(entry for entry in root.iterdir() if entry.is_dir() and not _is_hidden_or_ignored(entry.name))
        if len(folders) == 1 and not _has_image_files(root) and not _has_image_files(folders[0]):
            root = folders[0]  # doubled root: descend one level
            continue
        break
    if not folders:
        raise ValueError(
            f"no class folders in {str(source)!r}: expected one sub-folder per class "
            "(for example daisy/ dandelion/ rose/ sunflower/ tulip/)"
        )
    return root, [folder.name for folder in folders]


def _sorted_files(folder: Path, relative: str) -> Iterator[str]:
    """Relative paths (``relative`` + name) of the files under ``folder``, recursively, hidden entries and
    ignored folders skipped, in the order ``sorted`` puts whole paths in: a folder's name sorts as
    ``name/`` among its siblings. Holds one folder's names at a time, not the whole tree's; like
    ``os.walk``, folders that cannot be listed are passed over and symbolic links to folders not followed."""
    try:
        with os.scandir(folder) as scan:
            entries = [(entry.name, entry.is_dir(), entry.is_symlink()) for entry in scan]
    except OSError:
        return
    entries.sort(key=lambda entry: entry[0] + "/" if entry[1] else entry[0])
    for name, is_folder, is_link in entries:
        skipped = _is_hidden_or_ignored(name) if is_folder else name.startswith(".")
        if skipped:
            continue
        if not is_folder:
            yield relative + name
        elif not is_link:
            yield from _sorted_files(folder / name, f"{relative}{name}/")


def list_class_files(root: Path, class_names: Sequence[str]) -> FileList:
    """All files under each class folder (recursively, hidden entries skipped), sorted by path.

    Returns:
        [(relative path with forward slashes, class name)] as a ``FileList`` (columns, not tuples:
        100,000 paths in a few MB).
    """
    found = FileList(class_names)
    for class_name in sorted(class_names, key=lambda name: name + "/"):  # the order of their paths
        for relative in _sorted_files(Path(root) / class_name, f"{class_name}/"):
            found.append(relative, class_name)
    return found
