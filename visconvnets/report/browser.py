"""The activation section: a layer browser (one grid at a time, a slider and previous/next keys over
the layers in depth order, one image or every image at the same layer), inline script, no network."""

from __future__ import annotations

import json
from pathlib import Path

from .. import outputs
from .markup import escape

MINIMUM_TILE_PIXELS = 48  # every channel at least this wide on screen (nearest-neighbour upscaling)

# The browser's behaviour. Data: {"images": [{"name", "files"}], "layers": [{"name", "shape",
# "dead" (per image), "picture" [h, w], "tiles" [top, height, width], "tile" [h, w]}], "minimum_tile"}.
SCRIPT = """
(() => {
  const data = JSON.parse(document.getElementById('browser-data').textContent);
  const browser = document.getElementById('layer-browser');
  const slider = document.getElementById('browser-slider');
  const choice = document.getElementById('browser-image');
  const pictures = document.getElementById('browser-pictures');
  function scaleFor(layer, available) {  // integer upscaling to the minimum tile, else shrink to fit
    const tile = Math.max(1, Math.min(layer.tile[0], layer.tile[1]));
    const need = data.minimum_tile / tile;
    if (need > 1) return Math.ceil(need);
    return Math.max(need, Math.min(1, available / layer.tiles[2]));
  }
  function panel(imageIndex, layerIndex, available) {
    const layer = data.layers[layerIndex], scale = scaleFor(layer, available);
    const figure = document.createElement('figure');
    const frame = document.createElement('div');  // shows the tiles, hides the picture's text band
    frame.className = 'frame';
    frame.style.width = layer.tiles[2] * scale + 'px';
    frame.style.height = layer.tiles[1] * scale + 'px';
    const picture = document.createElement('img');
    picture.src = data.images[imageIndex].files[layerIndex];
    picture.alt = layer.name + ', ' + data.images[imageIndex].name;
    picture.style.width = layer.picture[1] * scale + 'px';
    picture.style.marginTop = -layer.tiles[0] * scale + 'px';
    picture.style.imageRendering = scale >= 1 ? 'pixelated' : 'auto';
    picture.dataset.scale = scale;
    frame.appendChild(picture);
    const caption = document.createElement('figcaption');
    caption.textContent = data.images[imageIndex].name + ': ' + layer.dead[imageIndex] + ' dead channel(s) of ' +
      layer.shape[2];
    figure.append(frame, caption);
    return figure;
  }
  function show() {
    const layerIndex = Number(slider.value), layer = data.layers[layerIndex];
    document.getElementById('browser-layer').textContent = layer.name + ': output ' + layer.shape.join(' x ');
    document.getElementById('browser-position').textContent =
      'layer ' + (layerIndex + 1) + ' of ' + data.layers.length;
    const shown = choice.value === 'all' ? data.images.map((_, index) => index) : [Number(choice.value)];
    const available = Math.max(200, pictures.clientWidth - 4);
    pictures.replaceChildren(...shown.map(index => panel(index, layerIndex, available)));
  }
  function step(delta) {
    slider.value = Math.min(data.layers.length - 1, Math.max(0, Number(slider.value) + delta));
    show();
  }
  slider.addEventListener('input', show);
  choice.addEventListener('change', show);
  document.getElementById('browser-previous').addEventListener('click', () => step(-1));
  document.getElementById('browser-next').addEventListener('click', () => step(1));
  document.addEventListener('keydown', event => {  // left/right keys while the browser is on screen
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(event.target.tagName)) return;
    const box = browser.getBoundingClientRect();
    if (box.bottom < 0 || box.top > window.innerHeight) return;
    const delta = {ArrowLeft: -1, ArrowRight: 1}[event.key];
    if (delta) { step(delta); event.preventDefault(); }
  });
  show();
})();
"""


def _browser_data(out_dir: Path, folders: list[Path]) -> dict:
    """The grids of every image folder, layers in depth order (the first image's index.json); a layer
    missing from any image, or written by an older version (no tile area recorded), is left out."""
    indexes = [
        {item["layer"]: item for item in json.loads((folder / outputs.GRID_INDEX).read_text(encoding="utf-8"))}
        for folder in folders
    ]
    names = [name for name, item in indexes[0].items() if all("tile" in index.get(name, {}) for index in indexes)]
    layers = [
        {key: indexes[0][name][key] for key in ("shape", "picture", "tiles", "tile")}
        | {"name": name, "dead": [index[name]["dead"] for index in indexes]}
        for name in names
    ]
    images = [
        {
            "name": folder.name,
            "files": [(folder / index[name]["file"]).relative_to(out_dir).as_posix() for name in names],
        }
        for folder, index in zip(folders, indexes)
    ]
    return {"images": images, "layers": layers, "minimum_tile": MINIMUM_TILE_PIXELS}


def _controls(data: dict) -> str:
    options = "".join(
        f"<option value='{index}'>{escape(item['name'])}</option>" for index, item in enumerate(data["images"])
    )
    options += "<option value='all'>every image, same layer</option>"
    return (
        "<div id='layer-browser' class='browser'><div class='controls'>"
        f"<label>Image <select id='browser-image'>{options}</select></label> "
        "<button id='browser-previous' type='button'>&#9664; previous</button> "
        f"<input id='browser-slider' type='range' min='0' max='{len(data['layers']) - 1}' value='0' "
        "aria-label='layer (depth order)'> "
        "<button id='browser-next' type='button'>next &#9654;</button> <span id='browser-position'></span></div>"
        "<p id='browser-layer' class='layer-name'></p><div id='browser-pictures'></div></div>"
    )


def activation_section(out_dir: Path) -> list[str]:
    """The layer browser over ``OUT/activations/<image>/`` plus plain links to every grid file."""
    root = out_dir / outputs.ACTIVATIONS
    parts = [
        "<h2 id='activations'>Activation grids</h2>",
        "<p>Every channel of a layer's output for one image, one layer at a time in depth order: drag the slider "
        "or press the left/right arrow keys. Each channel is standardised (mean 128, 64 per standard deviation) and "
        f"drawn at least {MINIMUM_TILE_PIXELS} px wide; dead channels (constant output) are dark tiles with a red "
        "cross. Choose 'every image, same layer' to compare images.</p>",
    ]
    folders = sorted(path for path in root.iterdir() if (path / outputs.GRID_INDEX).is_file()) if root.exists() else []
    if not folders:
        return parts + ["<p>None.</p>"]
    data = _browser_data(out_dir, folders)
    if not data["layers"]:
        return parts + ["<p>None (the grids were written by an older version; run again).</p>"]
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    parts += [
        _controls(data),
        f"<script type='application/json' id='browser-data'>{payload}</script>",
        f"<script>{SCRIPT}</script>",
    ]
    links = "".join(
        f"<li>{escape(image['name'])}: "
        + ", ".join(
            f"<a href='{escape(file)}'>{escape(layer['name'])}</a>"
            for file, layer in zip(image["files"], data["layers"])
        )
        + "</li>"
        for image in data["images"]
    )
    parts.append(
        f"<details><summary>Every grid as a file ({len(data['layers'])} layers per image)</summary>"
        f"<ul class='files'>{links}</ul></details>"
    )
    return parts
