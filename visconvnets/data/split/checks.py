"""The image checks: every file read once, hashed (SHA-256) and fully decoded with Pillow, in parallel.

Used by the split and, openly, by ``data.scan_split_folder`` for the split folder it trains on.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from ..workers import ordered_results, process_pool, progress_bar
from .columns import CheckTable, FileCheck, FileList
from .discovery import IMAGE_EXTENSIONS
from .near_duplicates import difference_hash

# Pillow formats that TensorFlow's decode_image reads as they are (checked on TF 2.21). WEBP is read by
# TF >= 2.18 only, and TIFF never, so both are converted to keep DEST readable by any TF 2.x.
TF_READABLE_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP")

# TF's BMP decoder rejects 1-bit and compressed BMPs; these Pillow modes are the ones it reads.
TF_READABLE_BMP_MODES = ("RGB", "RGBA", "L", "P")

# Pillow's own limit (about 89 megapixels); larger images are skipped as decompression bombs.
DEFAULT_MAX_PIXELS = 89_478_485

# Why a file whose name is not valid UTF-8 (a name from an old Windows or Latin-1 system) is skipped:
# TensorFlow, split.csv and the report all need text.
NOT_UTF8 = "file name is not valid UTF-8: rename it (for example with `convmv -f latin1 -t utf8`)"

CHUNK_SIZE = 64  # files a worker checks per task: large enough to amortise the hand-over, small for progress


def _decode_problem(data: bytes, max_pixels: int, hash_pixels: bool = False) -> tuple[str, bool, tuple, int | None]:
    """Fully decode ``data`` with Pillow. Returns (problem or "", needs_conversion, (width, height),
    difference hash of the pixels when ``hash_pixels`` and the image decoded, else None)."""
    pixel_hash = None
    if not data:
        return "empty file (0 bytes)", False, (0, 0), None
    previous_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, mode, size = image.format, image.mode, image.size
                image.load()  # decodes every pixel; truncated or corrupt data raises here
                if hash_pixels and size[0] > 0 and size[1] > 0:
                    pixel_hash = difference_hash(image)  # from the same decode, no second read
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return f"decompression bomb: {error}", False, (0, 0), None
    except Image.UnidentifiedImageError:
        return "not an image Pillow can identify", False, (0, 0), None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return f"corrupt or truncated image: {error}", False, (0, 0), None
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit
    if size[0] < 1 or size[1] < 1:
        return f"image has no pixels ({size[0]}x{size[1]})", False, (0, 0), None
    readable = image_format in TF_READABLE_FORMATS and (image_format != "BMP" or mode in TF_READABLE_BMP_MODES)
    return "", not readable, size, pixel_hash


def is_utf8(text: str) -> bool:
    """Whether a path from ``os`` was valid UTF-8 (else it holds ``surrogateescape`` stand-ins)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def staged_name(relative_path: str) -> str:
    """Name under which ``check_file`` stages a copy of a source file (unique per source path)."""
    return hashlib.sha1(relative_path.encode("utf-8")).hexdigest()


def check_file(
    root: Path,
    relative_path: str,
    class_name: str,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    stage_into: Path | None = None,
    hash_pixels: bool = False,
) -> FileCheck:
    """Read, hash and fully decode one file.

    Args:
        root: The source root.
        relative_path: The file's path relative to ``root``.
        class_name: Its class.
        max_pixels: Images with more pixels are skipped as decompression bombs.
        stage_into: When given, a usable TF-readable image's bytes (already in memory) are written
            there as ``staged_name(relative_path)``, so copy mode never reads a file twice.
        hash_pixels: Also compute the decoded image's difference hash (for near-duplicates).

    Returns:
        A FileCheck; ``problem`` is "" for a usable image.
    """
    if not relative_path.isascii() and not is_utf8(relative_path):
        return FileCheck(relative_path, class_name, "", NOT_UTF8)
    suffix = Path(relative_path).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        shown = suffix or "(no extension)"
        return FileCheck(relative_path, class_name, "", f"not an image file: extension {shown}")
    try:
        data = (root / relative_path).read_bytes()
    except OSError as error:
        return FileCheck(relative_path, class_name, "", f"cannot be read: {error}")
    digest = hashlib.sha256(data).hexdigest()
    problem, needs_conversion, size, pixel_hash = _decode_problem(data, max_pixels, hash_pixels)
    if stage_into is not None and not problem and not needs_conversion:
        (Path(stage_into) / staged_name(relative_path)).write_bytes(data)
    return FileCheck(relative_path, class_name, digest, problem, needs_conversion, size, pixel_hash)


def _check_chunk(arguments: tuple[str, list[tuple[str, str]], int, str | None, bool]) -> list[FileCheck]:
    root, items, max_pixels, stage_into, hash_pixels = arguments
    stage_path = Path(stage_into) if stage_into else None
    return [
        check_file(Path(root), relative, class_name, max_pixels, stage_path, hash_pixels)
        for relative, class_name in items
    ]


def check_files(
    root: Path,
    files: Sequence[tuple[str, str]],
    workers: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
    stage_into: Path | None = None,
    hash_pixels: bool = False,
) -> CheckTable:
    """Check many files, in ``workers`` processes (default: every core), in input order.

    Args:
        root: The source root.
        files: [(relative path, class name)] as from ``list_class_files`` (a ``FileList`` is shared by the
            result, not copied).
        workers: Processes to use; 1 checks in this process.
        max_pixels: Decompression-bomb limit in pixels.
        progress: Show a progress bar on stderr.
        stage_into: Folder to stage copies of usable images in (see ``check_file``).
        hash_pixels: Also compute each image's difference hash (see ``check_file``).

    Returns:
        A ``CheckTable``: a ``FileCheck`` per file, in input order, stored as columns.
    """
    workers = workers or os.cpu_count() or 1
    listing = files if isinstance(files, FileList) else FileList.from_pairs(files)
    staged = str(stage_into) if stage_into else None
    jobs = (
        (str(root), listing[start : start + CHUNK_SIZE], max_pixels, staged, hash_pixels)
        for start in range(0, len(listing), CHUNK_SIZE)
    )
    table = CheckTable(listing)
    bar = progress_bar(len(listing), "checking images", progress)
    try:
        if workers == 1 or len(listing) <= CHUNK_SIZE:
            for job in jobs:
                table.extend(_check_chunk(job))
                bar.update(len(job[1]))
        else:
            with process_pool(workers) as pool:
                for checked in ordered_results(pool, _check_chunk, jobs, window=4 * workers):
                    table.extend(checked)
                    bar.update(len(checked))
    finally:
        bar.close()
    return table
