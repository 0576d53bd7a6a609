"""Near-duplicate photos: the same picture re-encoded, resized or lightly edited, which an exact
(SHA-256) comparison cannot see. Each decoded image gets a 64-bit difference hash (dHash); images
whose hashes differ in at most ``distance`` bits are near-duplicates, and near-duplicates of
near-duplicates join one group, which the split keeps in one part like byte-identical files.

The pairs are found without comparing every pair: two 64-bit hashes within ``distance`` bits agree
exactly on at least one of ``distance + 1`` bands (pigeonhole), so only hashes sharing a band value
are compared. Pure NumPy; no TensorFlow.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import sparse
from scipy.sparse import csgraph

DEFAULT_DISTANCE = 4  # bits of 64: re-encoded and resized copies differ by 0-4; unrelated photos by ~32
HASH_ROWS, HASH_COLUMNS = 8, 9  # the grey thumbnail: 8 rows of 9, giving 8 x 8 left-right comparisons


def difference_hash(image: Image.Image) -> int:
    """dHash of a decoded image: a 9 x 8 grey thumbnail, one bit per pixel brighter than its right
    neighbour, read row by row as a 64-bit integer (the first pixel pair is the top bit)."""
    # Lanczos over the whole picture: on the 150 sample photos, copies at 60% size and JPEG quality 60
    # stayed within 3 bits, unrelated photos 13 or more apart (a reducing_gap shortcut gave copies 2-15)
    grey = image.convert("L").resize((HASH_COLUMNS, HASH_ROWS), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.int16)  # (8, 9)
    bits = pixels[:, :-1] > pixels[:, 1:]  # (8, 8)
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (uint8 on NumPy >= 2.0: an eighth of int64's memory)."""
    if hasattr(np, "bitwise_count"):  # NumPy >= 2.0
        return np.bitwise_count(values)
    return np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def _bands(distance: int) -> list[tuple[int, int]]:
    """(shift, width) of ``distance + 1`` bands that tile the 64 bits (widths differ by at most one)."""
    count = distance + 1
    widths = [64 // count + (1 if index < 64 % count else 0) for index in range(count)]
    shifts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    return [(int(shift), width) for shift, width in zip(shifts, widths)]


def _same_key_pairs(keys: np.ndarray):
    """Yield (k, 2) index arrays of entries with equal ``keys``: every pair of every run of equal keys,
    one offset at a time (offset k pairs each entry with the one k places later in its sorted run), so
    memory stays proportional to the entries, not to the pairs."""
    index = np.int32 if len(keys) < 2**31 else np.int64  # int32 positions: half the memory of int64
    order = np.argsort(keys, kind="stable").astype(index)
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]])).astype(index)
    del ordered
    lengths = np.diff(np.concatenate([starts, np.array([len(keys)], index)]))
    run_start = np.repeat(starts, lengths)  # for each sorted position, where its run starts
    left = np.repeat(lengths, lengths)  # later entries in the same run:
    left -= np.arange(len(keys), dtype=index) - run_start + 1
    del run_start, starts, lengths
    positions, offset = np.flatnonzero(left > 0).astype(index), 1
    while positions.size:
        yield np.stack([order[positions], order[positions + offset]], axis=1)
        offset += 1
        positions = positions[left[positions] >= offset]


def near_duplicate_pairs(hashes: np.ndarray, distance: int) -> np.ndarray:
    """Every pair of hashes at most ``distance`` bits apart.

    Args:
        hashes: (n,) uint64 difference hashes.
        distance: Largest Hamming distance that counts, 0-31 (0: identical hashes only).

    Returns:
        (k, 2) int64 index pairs (i < j), each pair once, sorted.
    """
    if not 0 <= distance < 32:
        raise ValueError(f"near-duplicate distance must be 0-31 bits of 64, got {distance}")
    hashes = np.asarray(hashes, dtype=np.uint64)
    found = [np.empty((0, 2), np.int64)]
    for shift, width in _bands(distance):
        keys = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        for candidates in _same_key_pairs(keys):  # compared as they come: only close pairs are kept
            close = _popcount(hashes[candidates[:, 0]] ^ hashes[candidates[:, 1]]) <= distance
            found.append(np.sort(candidates[close], axis=1))
    pairs = np.concatenate(found).astype(np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def connected_groups(count: int, pairs: np.ndarray) -> np.ndarray:
    """(count,) group label of each item: the smallest index of its connected component under ``pairs``
    (``scipy.sparse.csgraph.connected_components`` on the pairs as an undirected graph)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = sparse.coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    _, component = csgraph.connected_components(graph, directed=False)
    smallest = np.full(component.max(initial=-1) + 1, count, dtype=np.int64)
    np.minimum.at(smallest, component, np.arange(count))
    return smallest[component]


def group_keys(digests: np.ndarray, hashes: np.ndarray, hashed: np.ndarray, distance: int) -> np.ndarray:
    """Each file's group: the smallest of the files' digests (their first 64 bits) among the files it is
    tied to, by identical bytes always and, with ``distance`` > 0, by difference hashes at most
    ``distance`` apart (transitively). Content-based, so independent of file names and listing order.

    Args:
        digests: (n,) uint64, the first 64 bits of each file's SHA-256 (``CheckTable.digest_prefixes``).
        hashes: (n,) uint64 difference hash of each file.
        hashed: (n,) bool, False where a file has no difference hash (compared by bytes only).
        distance: Largest Hamming distance of a near-duplicate, 0 for byte-identical files only.

    Returns:
        (n,) uint64 group keys; ``f"{key:016x}"`` (the digest's first 16 hex digits) is how ``split.csv``
        writes one.
    """
    count = len(digests)
    if count == 0:
        return np.empty(0, np.uint64)
    _, first = np.unique(digests, return_inverse=True)  # same bytes -> same index
    first = first.reshape(-1)
    representative = np.full(first.max() + 1, -1)
    representative[first[::-1]] = np.arange(count)[::-1]  # the first file of each content
    tied = np.flatnonzero(representative[first] != np.arange(count))  # files with an earlier identical one
    pairs = [np.stack([tied, representative[first[tied]]], axis=1)]
    del first, representative
    rows = np.flatnonzero(hashed)
    if distance > 0 and rows.size > 1:
        pairs.append(rows[near_duplicate_pairs(np.asarray(hashes, np.uint64)[rows], distance)])
    labels = connected_groups(count, np.concatenate(pairs))
    smallest = np.full(count, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(smallest, labels, np.asarray(digests, np.uint64))
    return smallest[labels]
