// The WebAssembly decoder in a worker thread, so the page stays responsive.
// Messages in:  {type: 'model', name, bytes}   {type: 'decode', id, nic}
// Messages out: {type: 'ready'} {type: 'error', message}
//               {type: 'decoded', id, ok, width, height, channels, pixels, ms, crc, error}
'use strict';
let decoder = null;
let state = 0;
const ready = (async () => {
  importScripts('/nic-decoder.js');
  decoder = await createNicDecoder();
  decoder.FS.mkdir('/models');
})();

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xEDB88320 & -(c & 1));
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xFFFFFFFF;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xFF] ^ (c >>> 8);
  return ((c ^ 0xFFFFFFFF) >>> 0).toString(16).padStart(8, '0');
}

function withString(s, fn) {
  const n = decoder.lengthBytesUTF8(s) + 1;
  const p = decoder._malloc(n);
  decoder.stringToUTF8(s, p, n);
  try { return fn(p); } finally { decoder._free(p); }
}

onmessage = async (e) => {
  const msg = e.data;
  try {
    await ready;
    if (msg.type === 'model') {
      decoder.FS.writeFile('/models/' + msg.name + '.safetensors', new Uint8Array(msg.bytes));
      if (state) decoder._nicw_close(state);
      state = withString('/models', (p) => decoder._nicw_open(p));
      postMessage({ type: 'ready' });
    } else if (msg.type === 'decode') {
      const nic = new Uint8Array(msg.nic);
      const p = decoder._malloc(nic.length);
      decoder.HEAPU8.set(nic, p);
      const t0 = performance.now();
      const status = decoder._nicw_decode(state, p, nic.length);
      const ms = performance.now() - t0;
      decoder._free(p);
      if (status !== 0) {
        postMessage({ type: 'decoded', id: msg.id, ok: false,
                      error: decoder.UTF8ToString(decoder._nicw_error(state)) });
        return;
      }
      const w = decoder._nicw_width(state), h = decoder._nicw_height(state);
      const c = decoder._nicw_channels(state), px = decoder._nicw_pixels(state);
      const pixels = decoder.HEAPU8.slice(px, px + w * h * c);
      postMessage({ type: 'decoded', id: msg.id, ok: true, width: w, height: h, channels: c,
                    pixels: pixels.buffer, ms, crc: crc32(pixels) }, [pixels.buffer]);
    }
  } catch (err) {
    postMessage({ type: 'error', id: msg.id, message: String(err && err.message || err) });
  }
};
