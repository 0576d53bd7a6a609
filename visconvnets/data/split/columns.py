"""One row per file, stored as columns: 100,000 files in a few MB instead of one Python object each.

The listing (``FileList``) and the checks (``CheckTable``) look like the sequences of tuples and
``FileCheck`` records they replace (indexing builds one row on demand), while holding each column in
one buffer: the paths end to end in one UTF-8 byte string, digests as 32 raw bytes, sizes and
difference hashes in typed arrays, the rare problems in a dictionary by row.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Iterable, Sequence

import numpy as np

HAS_DIGEST, NEEDS_CONVERSION, HAS_PIXEL_HASH = 1, 2, 4  # bits of CheckTable's flags column
DIGEST_BYTES = 32  # SHA-256


@dataclasses.dataclass(frozen=True, slots=True)  # built per row read; the table holds columns
class FileCheck:
    """What checking one source file found.

    Attributes:
        relative_path: Path relative to the source root, with forward slashes.
        class_name: Name of the class folder the file is in.
        sha256: Hex digest of the file's bytes ("" when it could not be read).
        problem: Why the file is unusable, or "" when it decoded fully.
        needs_conversion: True when Pillow reads it but TensorFlow would not (written as RGB PNG).
        size: (width, height) in pixels, (0, 0) when unusable.
        pixel_hash: 64-bit difference hash of the decoded image (``near_duplicates.difference_hash``)
            when asked for, else None.
    """

    relative_path: str
    class_name: str
    sha256: str
    problem: str = ""
    needs_conversion: bool = False
    size: tuple[int, int] = (0, 0)
    pixel_hash: int | None = None


class RowSequence(Sequence):
    """A sequence that compares equal to any sequence with the same items (a list included)."""

    def _row(self, index: int):
        raise NotImplementedError

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._row(position) for position in range(*index.indices(len(self)))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"row {index} of {len(self)}")
        return self._row(position)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == len(self) and all(mine == theirs for mine, theirs in zip(self, other))

    __hash__ = None  # mutable, compared by value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self)} rows>"


class TextColumn(RowSequence):
    """Strings end to end in one UTF-8 buffer: each costs its length plus 8 bytes (a ``str`` costs 50 more).
    File names that are not valid UTF-8 round-trip through ``surrogateescape``, as ``os`` gives them."""

    def __init__(self, texts: Iterable[str] = ()):
        self._buffer = bytearray()
        self._ends = array("q")
        for text in texts:
            self.append(text)

    def append(self, text: str) -> None:
        self._buffer += text.encode("utf-8", "surrogateescape")
        self._ends.append(len(self._buffer))

    def __len__(self) -> int:
        return len(self._ends)

    def _row(self, index: int) -> str:
        start = self._ends[index - 1] if index else 0
        return self._buffer[start : self._ends[index]].decode("utf-8", "surrogateescape")

    def is_sorted(self) -> bool:
        """Whether the strings are in ascending order (as ``sorted`` would put them)."""
        previous = None
        for text in self:
            if previous is not None and text < previous:
                return False
            previous = text
        return True


class FileList(RowSequence):
    """[(relative path, class name)] of a source folder, a row each, in listing order.

    Args:
        class_names: The classes the rows may name (more are added as rows name them).
    """

    def __init__(self, class_names: Sequence[str] = ()):
        self.class_names: list[str] = []
        self._class_index: dict[str, int] = {}
        self.paths = TextColumn()
        self.class_ids = array("i")
        for name in class_names:
            self._class_id(name)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> FileList:
        listing = cls()
        for relative_path, class_name in pairs:
            listing.append(relative_path, class_name)
        return listing

    def _class_id(self, class_name: str) -> int:
        if class_name not in self._class_index:
            self._class_index[class_name] = len(self.class_names)
            self.class_names.append(class_name)
        return self._class_index[class_name]

    def append(self, relative_path: str, class_name: str) -> None:
        self.paths.append(relative_path)
        self.class_ids.append(self._class_id(class_name))

    def __len__(self) -> int:
        return len(self.paths)

    def _row(self, index: int) -> tuple[str, str]:
        return self.paths[index], self.class_names[self.class_ids[index]]


class CheckTable(RowSequence):
    """What checking each file of a ``FileList`` found, a row per file in the same order; a row reads as a
    ``checks.FileCheck``. Per file about 60 bytes plus its path (a ``FileCheck`` takes about 370).

    Args:
        files: The listing the rows belong to (shared, not copied).
    """

    def __init__(self, files: FileList):
        self.files = files
        self._digests = bytearray()  # DIGEST_BYTES a row, zeros when the file could not be read
        self._flags = bytearray()  # HAS_DIGEST | NEEDS_CONVERSION | HAS_PIXEL_HASH
        self._sizes = array("I")  # width, height of each row
        self._pixel_hashes = array("Q")  # 0 when absent
        self.problems: dict[int, str] = {}  # row -> why the file is unusable (rows not here decoded fully)

    @classmethod
    def from_checks(cls, checks: Iterable[FileCheck]) -> CheckTable:
        """A table of ``FileCheck`` records, in their order."""
        checks = list(checks)
        table = cls(FileList.from_pairs((check.relative_path, check.class_name) for check in checks))
        table.extend(checks)
        return table

    def extend(self, checks: Iterable[FileCheck]) -> None:
        """Fill the next rows with ``FileCheck`` records of the listing's next files, in order."""
        for check in checks:
            row = len(self._flags)
            digest = bytes.fromhex(check.sha256)
            self._digests += digest or bytes(DIGEST_BYTES)
            has_hash = check.pixel_hash is not None
            flags = (HAS_DIGEST if digest else 0) | (NEEDS_CONVERSION if check.needs_conversion else 0)
            self._flags.append(flags | (HAS_PIXEL_HASH if has_hash else 0))
            self._sizes.extend(check.size)
            self._pixel_hashes.append(check.pixel_hash if has_hash else 0)
            if check.problem:
                self.problems[row] = check.problem

    def __len__(self) -> int:
        return len(self._flags)

    def _row(self, index: int) -> FileCheck:
        relative_path, class_name = self.files[index]
        flags = self._flags[index]
        return FileCheck(
            relative_path,
            class_name,
            self.digest_hex(index),
            self.problems.get(index, ""),
            bool(flags & NEEDS_CONVERSION),
            (self._sizes[2 * index], self._sizes[2 * index + 1]),
            self._pixel_hashes[index] if flags & HAS_PIXEL_HASH else None,
        )

    def digest_hex(self, index: int) -> str:
        """The SHA-256 hex digest of a row, "" when its file could not be read."""
        if not self._flags[index] & HAS_DIGEST:
            return ""
        return self._digests[DIGEST_BYTES * index : DIGEST_BYTES * (index + 1)].hex()

    def digest_prefixes(self) -> np.ndarray:
        """(n,) uint64: the first 64 bits of each SHA-256 digest (0 for unreadable files), ordered as the
        digests are. Files are told apart by these (by chance two of a million files share one with a
        probability of about 3 in 100 million); a label conflict is confirmed on the whole digest."""
        rows = np.frombuffer(self._digests, dtype=">u8").reshape(len(self), DIGEST_BYTES // 8)
        return rows[:, 0].astype(np.uint64)

    def flags(self) -> np.ndarray:
        """(n,) uint8 flags of each row (``HAS_DIGEST``, ``NEEDS_CONVERSION``, ``HAS_PIXEL_HASH``), a copy."""
        return np.frombuffer(bytes(self._flags), dtype=np.uint8)

    def pixel_hashes(self) -> np.ndarray:
        """(n,) uint64 difference hashes (0 where the flags say there is none), a copy."""
        return np.array(self._pixel_hashes, dtype=np.uint64)

    def class_ids(self, class_names: Sequence[str]) -> np.ndarray:
        """(n,) int32 index of each row's class in ``class_names``.

        Raises:
            ValueError: a row's class is not in ``class_names``.
        """
        unknown = sorted(set(self.files.class_names) - set(class_names))
        if unknown:
            raise ValueError(f"checked files name classes {unknown} that are not among {list(class_names)}")
        mapping = np.array([list(class_names).index(name) for name in self.files.class_names], dtype=np.int32)
        return mapping[np.frombuffer(self.files.class_ids, dtype=np.int32)] if len(self) else mapping[:0]

    def sorted_by_path(self) -> CheckTable:
        """This table when its rows are already in path order, else a copy in path order."""
        if self.files.paths.is_sorted():
            return self
        return CheckTable.from_checks(sorted(self, key=lambda check: check.relative_path))


def distinct_counts(keys: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """(size,) how many distinct ``values`` the rows of each key have (keys are ints in [0, size)).

    Args:
        keys: (n,) non-negative ints.
        values: (n,) non-negative ints.
    """
    width = int(np.max(values, initial=0)) + 1
    pairs = np.unique(np.asarray(keys, np.int64) * width + values)
    return np.bincount(pairs // width, minlength=size)
