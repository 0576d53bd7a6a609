"""Everything that turns arrays into image files (the only module, with report.py, that writes them).

Matplotlib is used for plots with axes (curves, confusion matrix, Grad-CAM panels), headless (Agg),
each figure closed after saving; array pictures (grids) are written with Pillow directly.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(figure, path: Path, dpi: int = 100, top: float = 1.0, **options) -> Path:
    """Lay out (axes below ``top``, a fraction of the height, leaving room for a suptitle), save
    (format from the suffix) and close a matplotlib figure."""
    figure.tight_layout(rect=(0, 0, 1, top))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, **options)
    _pyplot().close(figure)
    return path


def save_training_curves(history_rows: Sequence[dict], path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, train vs validation, with phase boundaries marked. PNG."""
    plt = _pyplot()
    epochs = [int(row["epoch"]) for row in history_rows]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "o-"), ("val_", "s--")):
            values = [float(row[prefix + metric]) if row.get(prefix + metric) not in ("", None) else np.nan for row in history_rows]
            if not all(np.isnan(values)):
                axis.plot(epochs, values, style, label=("validation " if prefix else "train ") + metric)
        phases = [row["phase"] for row in history_rows]
        for index in range(1, len(phases)):
            if phases[index] != phases[index - 1]:
                axis.axvline(epochs[index] - 0.5, color="grey", linestyle=":")
                axis.text(epochs[index] - 0.4, axis.get_ylim()[1], phases[index], va="top", fontsize=8, color="grey")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return _save_figure(figure, path)


def save_confusion_matrix(confusion: Sequence[Sequence[int]], classes: Sequence[str], path: Path, title: str = "") -> Path:
    """Confusion matrix (rows = true, columns = predicted) with the count in every cell. PNG."""
    plt = _pyplot()
    matrix = np.asarray(confusion)
    size = max(4.0, 0.9 * len(classes) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), value in np.ndenumerate(matrix):
        axis.text(column, row, str(value), ha="center", va="center", color="white" if value > threshold else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_title(title or f"test confusion matrix ({matrix.sum()} images)")
    return _save_figure(figure, path)


# --- pictures built as arrays ------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _font(size: int = 12):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


HEADER_HEIGHT = 34  # pixels of the text band above a picture
HEADER_MIN_WIDTH = 360  # a picture with a header is at least this wide, so the text fits


def header_band(lines: Sequence[str], width: int, height: int = HEADER_HEIGHT, background=(20, 20, 20),
                colour=(240, 240, 240)) -> np.ndarray:
    """(height, width, 3) uint8: lines of light text on a dark band."""
    from PIL import Image, ImageDraw

    band = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(band)
    for row, text in enumerate(lines):
        draw.text((4, 2 + row * 15), text, fill=colour, font=_font(12))
    return np.asarray(band)


def add_header(picture: np.ndarray, lines: Sequence[str], height: int = HEADER_HEIGHT) -> np.ndarray:
    """``picture`` (h, w, 3) uint8 with a text band above it, at least HEADER_MIN_WIDTH wide
    (the picture left-aligned, padded with white)."""
    width = max(picture.shape[1], HEADER_MIN_WIDTH)
    if picture.shape[1] < width:
        picture = np.pad(picture, ((0, 0), (0, width - picture.shape[1]), (0, 0)), constant_values=255)
    return np.concatenate((header_band(lines, width, height), picture), axis=0)


def _interpolation_matrix(target: int, cells: int, centre_of_cell) -> np.ndarray:
    """(target, cells) linear-interpolation weights: row y mixes the two cells whose centres
    (``centre_of_cell(j)`` in target pixels) surround pixel y; constant beyond the outer centres."""
    centres = centre_of_cell(np.arange(cells, dtype=np.float64))
    position = np.interp(np.arange(target, dtype=np.float64), centres, np.arange(cells, dtype=np.float64))
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, cells - 1)
    fraction = position - lower
    matrix = np.zeros((target, cells))
    matrix[np.arange(target), lower] += 1 - fraction
    matrix[np.arange(target), upper] += fraction
    return matrix


def upsample_heatmap(heatmap: np.ndarray, output_shape: tuple[int, int], geometry=None, input_size=None) -> np.ndarray:
    """Upsample an (h, w) map to ``output_shape`` (H, W), bilinearly between cell centres.

    Without ``geometry`` the cells tile the output evenly (a plain resize). With ``geometry=(stride,
    offset)`` cell j is centred at model-input pixel ``stride * j + offset``, scaled from the model's
    ``input_size`` (default: the output size) to the output resolution.
    """
    height, width = heatmap.shape
    rows, columns = output_shape
    if geometry is None:
        row_matrix = _interpolation_matrix(rows, height, lambda j: (j + 0.5) * rows / height - 0.5)
        column_matrix = _interpolation_matrix(columns, width, lambda j: (j + 0.5) * columns / width - 0.5)
    else:
        stride, offset = float(geometry[0]), float(geometry[1])
        size_rows, size_columns = (input_size, input_size) if input_size else (rows, columns)
        row_matrix = _interpolation_matrix(rows, height, lambda j: (stride * j + offset + 0.5) * rows / size_rows - 0.5)
        column_matrix = _interpolation_matrix(columns, width, lambda j: (stride * j + offset + 0.5) * columns / size_columns - 0.5)
    return (row_matrix @ np.asarray(heatmap, np.float64) @ column_matrix.T).astype(np.float32)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4, colormap: str = "jet", geometry=None,
                    input_size: int | None = None) -> np.ndarray:
    """Blend a heatmap over an image at the image's own resolution.

    Args:
        image: (H, W, 3) RGB, uint8 or float in [0, 255], any resolution.
        heatmap: (h, w) in [0, 1], e.g. from ``gradcam``.
        alpha: Heatmap opacity.
        colormap: Matplotlib colormap for the heatmap.
        geometry: None for a plain smooth resize, or (stride, offset) from ``receptive_field`` so every
            cell lands on its receptive-field centre.
        input_size: Side of the model input the geometry refers to (default: the image's own size).

    Returns:
        (H, W, 3) uint8.
    """
    from .activations import colormap_lut

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be (height, width, 3), got shape {image.shape}")
    if np.ndim(heatmap) != 2:
        raise ValueError(f"heatmap must be (height, width), got shape {np.shape(heatmap)}")
    upsampled = upsample_heatmap(heatmap, image.shape[:2], geometry, input_size)
    coloured = colormap_lut(colormap)[np.clip(upsampled * 255, 0, 255).astype(np.uint8)].astype(np.float32)
    return np.clip((1 - alpha) * image + alpha * coloured, 0, 255).astype(np.uint8)


# --- files -------------------------------------------------------------------------------------


def save_jpeg(picture: np.ndarray, path: Path, quality: int = 90) -> Path:
    """Write an (h, w, 3) uint8 array as JPEG with Pillow."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(picture, np.uint8)).save(path, "JPEG", quality=quality)
    return path


def save_activation_grids(model, image, out_dir: Path, layer_names: Sequence[str] | None = None, images_per_row: int = 16,
                          colormap: str = "viridis", workers: int = 2) -> list[Path]:
    """One JPEG per layer for one image: ``NNN_<layer>.jpg`` in depth order, each with a header naming
    the layer, its output shape and its dead channels. All layers from one forward pass.

    Args:
        image: (H, W, 3) or (1, H, W, 3) in the model's input scale.

    Returns:
        The written paths, in depth order.
    """
    from .activations import layer_activations

    batch = np.asarray(image, np.float32)
    batch = batch[None] if batch.ndim == 3 else batch
    return write_activation_grids(layer_activations(model, batch[:1], layer_names), 0, out_dir, images_per_row, colormap, workers)


def write_activation_grids(activations: dict[str, np.ndarray], image_index: int, out_dir: Path, images_per_row: int = 16,
                           colormap: str = "viridis", workers: int = 2) -> list[Path]:
    """Grids of image ``image_index`` of a batch from ``layer_activations``, plus ``index.json``
    (layer, output shape, dead channels of each file, for the report). Pictures are encoded on
    ``workers`` threads (Pillow releases the GIL while encoding)."""
    from concurrent.futures import ThreadPoolExecutor

    from .activations import activation_grid, dead_channels

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def render(item):
        index, (name, activation) = item
        one = activation[image_index]  # (h, w, channels)
        dead = dead_channels(one)
        shape = "x".join(str(size) for size in one.shape)
        header = [f"{name}  ({shape})", f"{one.shape[-1]} channels, {dead} dead (constant, crossed)"]
        path = save_jpeg(activation_grid(one, images_per_row, colormap, header=header), out_dir / f"{index:03d}_{name}.jpg")
        return path, {"file": path.name, "layer": name, "shape": list(one.shape), "dead": dead}

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        rendered = list(pool.map(render, enumerate(activations.items())))
    (out_dir / "index.json").write_text(json.dumps([entry for _, entry in rendered], indent=1), encoding="utf-8")
    return [path for path, _ in rendered]


def save_filter_grid(patterns: np.ndarray, path: Path, columns: int = 8, margin: int = 5, title: str = "") -> Path:
    """Tile (n, s, s, 3) uint8 patterns into a grid with margins (8 per row), titled, as JPEG."""
    count, size = patterns.shape[0], patterns.shape[1]
    rows = -(-count // columns)
    canvas = np.full((rows * (size + margin) + margin, columns * (size + margin) + margin, 3), 255, np.uint8)
    for index in range(count):  # at most 64 tiles: a copy each, not a per-pixel loop
        row, column = divmod(index, columns)
        top, left = margin + row * (size + margin), margin + column * (size + margin)
        canvas[top:top + size, left:left + size] = patterns[index]
    if title:
        canvas = add_header(canvas, [title], height=20)
    return save_jpeg(canvas, path)


def save_cam_panel(image: np.ndarray, heatmaps: Sequence[np.ndarray], titles: Sequence[str], suptitle: str, path: Path,
                   geometry=None, input_size: int | None = None, alpha: float = 0.4) -> Path:
    """A row of panels: the input, then for each heatmap the map itself and its overlay. JPEG.

    ``image`` is the original-resolution RGB image; overlays are drawn at that resolution.
    """
    plt = _pyplot()
    panels = 1 + 2 * len(heatmaps)
    figure, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 3.6))
    axes[0].imshow(np.asarray(image, np.uint8))
    axes[0].set_title("input", fontsize=9)
    for number, (heatmap, title) in enumerate(zip(heatmaps, titles)):
        axes[1 + 2 * number].imshow(heatmap, cmap="jet", vmin=0, vmax=1)
        axes[1 + 2 * number].set_title(f"{title}\n({heatmap.shape[0]}x{heatmap.shape[1]} map)", fontsize=9)
        axes[2 + 2 * number].imshow(overlay_heatmap(image, heatmap, alpha, geometry=geometry, input_size=input_size))
        axes[2 + 2 * number].set_title(f"{title}: overlay", fontsize=9)
    for axis in axes:
        axis.axis("off")
    figure.suptitle(suptitle, fontsize=10)
    return _save_figure(figure, path, dpi=80, top=0.9, pil_kwargs={"quality": 90})
