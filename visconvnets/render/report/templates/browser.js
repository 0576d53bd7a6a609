// The activation section's layer browser. Data (the JSON script "browser-data"): {"images": [{"name", "files"}],
// "layers": [{"name", "shape", "dead" (per image), "picture" [h, w], "tiles" [top, height, width], "tile" [h, w]}],
// "minimum_tile"}.
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
