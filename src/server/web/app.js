// nic's web page: upload an image, the server encodes it to a byte budget,
// and the browser decodes the .nic itself (worker.js, WebAssembly). Without
// the wasm decoder (a build without emscripten) it asks POST /v1/decode.
'use strict';
const $ = (id) => document.getElementById(id);
const ACCEPTED = ['image/png', 'image/jpeg', 'image/x-portable-pixmap', 'image/x-portable-graymap'];

const page = {
  file: null,        // the picked image (File)
  budget: 4000,
  nicUrl: null,      // object URL of the last .nic, for the download link
  worker: null,      // wasm decoder, or null when this build has none
  modelLoaded: null, // name of the model the worker holds
  models: [],
  nextId: 1,
  pending: new Map(),
};

function setStatus(text, cls) {
  $('status').textContent = text;
  $('status').className = 'row' + (cls ? ' ' + cls : '');
}

function fmtBytes(n) {
  return n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB' : n >= 1e3 ? (n / 1e3).toFixed(1) + ' KB' : n + ' B';
}

// ------------------------------------------------------------ budget and model

function setBudget(bytes) {
  page.budget = bytes;
  $('budget').value = bytes;
  $('budget-value').textContent = bytes;
  for (const b of $('presets').querySelectorAll('button'))
    b.classList.toggle('on', Number(b.dataset.bytes) === bytes);
}

$('presets').addEventListener('click', (e) => {
  if (e.target.dataset.bytes) setBudget(Number(e.target.dataset.bytes));
});
$('budget').addEventListener('input', () => setBudget(Number($('budget').value)));

async function loadModels() {
  const r = await fetch('/v1/models');
  const j = await r.json();
  page.models = j.models;
  $('model').innerHTML = '';
  for (const m of j.models) {
    const o = document.createElement('option');
    o.value = m.name;
    o.textContent = `${m.name} (${(m.parameters / 1e6).toFixed(1)} M weights)`;
    o.selected = !!m.default;
    $('model').appendChild(o);
  }
}

// ------------------------------------------------------------ the wasm decoder

async function startWorker() {
  const probe = await fetch('/nic-decoder.js', { method: 'HEAD' });
  if (!probe.ok) return null;
  const w = new Worker('/worker.js');
  w.onmessage = (e) => {
    const m = e.data;
    const key = m.type === 'ready' ? 'ready' : m.id;
    const p = page.pending.get(key);
    if (!p) return;
    page.pending.delete(key);
    if (m.type === 'error') p.reject(new Error(m.message));
    else p.resolve(m);
  };
  return w;
}

function ask(worker, key, msg, transfer) {
  return new Promise((resolve, reject) => {
    page.pending.set(key, { resolve, reject });
    worker.postMessage(msg, transfer || []);
  });
}

// The weights reach the browser once (the HTTP cache keeps them after).
async function ensureModel(name) {
  if (page.modelLoaded === name) return;
  const info = page.models.find((m) => m.name === name);
  setStatus(`Downloading the ${name} model for the in-browser decoder (${fmtBytes(info ? info.bytes : 0)}, once)…`);
  const r = await fetch(`/v1/models/${name}`);
  if (!r.ok) throw new Error(`model download failed: HTTP ${r.status}`);
  const bytes = await r.arrayBuffer();
  await ask(page.worker, 'ready', { type: 'model', name, bytes }, [bytes]);
  page.modelLoaded = name;
}

async function decodeInBrowser(nicBytes, model) {
  await ensureModel(model);
  setStatus('Decoding in your browser (WebAssembly)…');
  const id = page.nextId++;
  const copy = nicBytes.slice(0);
  const m = await ask(page.worker, id, { type: 'decode', id, nic: copy }, [copy]);
  if (!m.ok) throw new Error(m.error);
  return m;
}

async function decodeOnServer(nicBytes) {
  const t0 = performance.now();
  const r = await fetch('/v1/decode', { method: 'POST', headers: { 'Content-Type': 'application/x-nic' },
                                        body: nicBytes });
  if (!r.ok) throw new Error((await r.json()).error.message);
  const bmp = await createImageBitmap(await r.blob());
  return { bitmap: bmp, width: bmp.width, height: bmp.height, ms: performance.now() - t0,
           crc: r.headers.get('X-Nic-Decoded-Crc32') };
}

function drawPixels(canvas, d) {
  canvas.width = d.width;
  canvas.height = d.height;
  const ctx = canvas.getContext('2d');
  if (d.bitmap) { ctx.drawImage(d.bitmap, 0, 0); return; }
  const src = new Uint8Array(d.pixels);
  const img = ctx.createImageData(d.width, d.height);
  for (let i = 0, j = 0; i < d.width * d.height; i++, j += d.channels) {
    img.data[4 * i] = src[j];
    img.data[4 * i + 1] = src[d.channels === 3 ? j + 1 : j];
    img.data[4 * i + 2] = src[d.channels === 3 ? j + 2 : j];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

async function decodeAndShow(nicBytes, model, serverCrc) {
  let d, where;
  if (page.worker) {
    d = await decodeInBrowser(nicBytes, model);
    where = 'in your browser (WebAssembly)';
  } else {
    d = await decodeOnServer(nicBytes);
    where = 'on the server (this build has no WebAssembly decoder)';
  }
  drawPixels($('result'), d);
  $('stat-decode').textContent = `${where} in ${d.ms.toFixed(0)} ms`;
  const match = $('stat-match');
  if (!page.worker) {
    match.textContent = 'not checked (decoded on the server)';
    match.className = '';
  } else if (serverCrc) {
    const same = serverCrc === d.crc;
    match.textContent = same ? `identical (CRC-32 ${d.crc})` : `DIFFERENT: browser ${d.crc}, server ${serverCrc}`;
    match.className = same ? 'ok' : 'bad';
  } else {
    match.textContent = `CRC-32 ${d.crc} (no server result to compare)`;
  }
  return d;
}

// ------------------------------------------------------------ encode

async function encode() {
  if (!page.file) return;
  const model = $('model').value;
  $('encode').disabled = true;
  try {
    setStatus(`Compressing to at most ${page.budget} bytes on the server…`);
    const type = ACCEPTED.includes(page.file.type) ? page.file.type : 'application/octet-stream';
    const r = await fetch(`/v1/encode?max_bytes=${page.budget}&model=${encodeURIComponent(model)}&metrics=1`,
                          { method: 'POST', headers: { 'Content-Type': type }, body: page.file });
    if (!r.ok) {
      const j = await r.json().catch(() => null);
      throw new Error(j ? `${j.error.message} (${j.error.code})` : `HTTP ${r.status}`);
    }
    const h = (k) => r.headers.get(k);
    const nic = await r.arrayBuffer();
    const w = Number(h('X-Nic-Width')), ht = Number(h('X-Nic-Height'));
    $('stat-bytes').textContent = nic.byteLength;
    $('stat-budget').textContent = page.budget;
    $('stat-bpp').textContent = Number(h('X-Nic-Bpp')).toFixed(4);
    $('stat-psnr').textContent = h('X-Nic-Psnr') === 'null' ? 'n/a' : Number(h('X-Nic-Psnr')).toFixed(2);
    $('stat-msssim').textContent = h('X-Nic-Ms-Ssim') === 'null' ? 'n/a (under 176 pixels)'
                                                                 : Number(h('X-Nic-Ms-Ssim')).toFixed(4);
    const coded = `${h('X-Nic-Coded-Width')}×${h('X-Nic-Coded-Height')}`;
    $('stat-size').textContent = `${w}×${ht}` + (coded !== `${w}×${ht}` ? `, coded at ${coded} and scaled back` : '');
    $('stat-encode').textContent = `${h('X-Nic-Time-Ms')} ms, quality index ${h('X-Nic-Quality-Index')}`;
    if (page.nicUrl) URL.revokeObjectURL(page.nicUrl);
    page.nicUrl = URL.createObjectURL(new Blob([nic], { type: 'application/x-nic' }));
    $('download').href = page.nicUrl;
    $('download').download = (page.file.name.replace(/\.[^.]*$/, '') || 'image') + '.nic';
    $('out').hidden = false;
    await decodeAndShow(nic, model, h('X-Nic-Decoded-Crc32'));
    setStatus('Done.', 'ok');
    document.body.dataset.state = 'done';
  } catch (err) {
    setStatus('Error: ' + err.message, 'bad');
    document.body.dataset.state = 'error';
  } finally {
    $('encode').disabled = false;
  }
}

// ------------------------------------------------------------ files

async function showOriginal(file) {
  const bmp = await createImageBitmap(file);
  drawPixels($('original'), { bitmap: bmp, width: bmp.width, height: bmp.height });
}

async function pick(file) {
  if (!file) return;
  document.body.dataset.state = 'busy';
  if (/\.nic$/i.test(file.name)) { // decode a .nic the user has
    page.file = null;
    $('encode').disabled = true;
    try {
      const bytes = await file.arrayBuffer();
      $('out').hidden = false;
      const d = await decodeAndShow(bytes, page.models.length ? page.models[0].name : 'hyper', null);
      drawPixels($('original'), d.bitmap ? d : { ...d, pixels: d.pixels });
      $('stat-bytes').textContent = bytes.byteLength;
      $('stat-size').textContent = `${d.width}×${d.height}`;
      $('stat-bpp').textContent = (bytes.byteLength * 8 / (d.width * d.height)).toFixed(4);
      setStatus(`Decoded ${file.name}.`, 'ok');
      document.body.dataset.state = 'done';
    } catch (err) {
      setStatus('Error: ' + err.message, 'bad');
      document.body.dataset.state = 'error';
    }
    return;
  }
  page.file = file;
  try {
    await showOriginal(file);
  } catch (err) {
    // PPM and friends: the browser cannot show them, the server can still code them.
    $('original').width = $('original').height = 0;
  }
  $('encode').disabled = false;
  setStatus(`${file.name}: ${fmtBytes(file.size)}. Choose a budget and press Compress.`);
  await encode();
}

const drop = $('drop');
drop.addEventListener('click', () => $('file').click());
$('file').addEventListener('change', () => pick($('file').files[0]));
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  pick(e.dataTransfer.files[0]);
});
$('encode').addEventListener('click', encode);

// ------------------------------------------------------------ comparison slider

function wipe() {
  const v = Number($('wipe').value);
  $('result').style.clipPath = `inset(0 0 0 ${v}%)`;
  $('divider').style.left = v + '%';
}
$('wipe').addEventListener('input', wipe);
$('compare').addEventListener('pointermove', (e) => {
  if (e.buttons !== 1) return;
  const box = $('compare').getBoundingClientRect();
  $('wipe').value = Math.round(100 * (e.clientX - box.left) / box.width);
  wipe();
});
wipe();

(async () => {
  try {
    await loadModels();
    page.worker = await startWorker();
    const m = page.models[0];
    $('about').textContent = page.worker
      ? `Decoding runs in this page: the decoder is WebAssembly and the ${m.name} model's weights ` +
        `(${fmtBytes(m.bytes)}) are fetched once from /v1/models/${m.name}.`
      : 'This server was built without the WebAssembly decoder; results are decoded on the server.';
    document.body.dataset.state = 'idle';
  } catch (err) {
    setStatus('Error: ' + err.message, 'bad');
  }
})();
