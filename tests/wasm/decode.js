// Decodes a .nic file with the WebAssembly decoder under node and writes the
// pixels as PPM/PGM, to be compared byte for byte with `nic decode`:
//   node decode.js BUILD/wasm/nic-decoder.js MODEL.safetensors IN.nic OUT.ppm
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
    const [decoderJs, modelFile, input, output] = process.argv.slice(2);
    if (!output) {
        console.error('usage: node decode.js nic-decoder.js MODEL.safetensors IN.nic OUT.ppm');
        process.exit(2);
    }
    const createNicDecoder = require(path.resolve(decoderJs));
    // Node's fetch does not read local files: hand the module its bytes.
    const wasmBinary = fs.readFileSync(decoderJs.replace(/\.js$/, '.wasm'));
    const m = await createNicDecoder({ wasmBinary });
    m.FS.mkdir('/models');
    m.FS.writeFile('/models/' + path.basename(modelFile), fs.readFileSync(modelFile));

    const dirBytes = m.lengthBytesUTF8('/models') + 1;
    const dirPtr = m._malloc(dirBytes);
    m.stringToUTF8('/models', dirPtr, dirBytes);
    const state = m._nicw_open(dirPtr);
    m._free(dirPtr);
    if (!state) throw new Error('nicw_open failed');

    const file = fs.readFileSync(input);
    const ptr = m._malloc(file.length);
    m.HEAPU8.set(file, ptr);
    const t0 = process.hrtime.bigint();
    const status = m._nicw_decode(state, ptr, file.length);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    m._free(ptr);
    if (status !== 0) {
        console.error(`wasm decode: ${input}: ${m.UTF8ToString(m._nicw_error(state))}`);
        process.exit(1);
    }
    const w = m._nicw_width(state), h = m._nicw_height(state), c = m._nicw_channels(state);
    const px = m._nicw_pixels(state);
    const pixels = Buffer.from(m.HEAPU8.subarray(px, px + w * h * c));
    const header = Buffer.from(`${c === 3 ? 'P6' : 'P5'}\n${w} ${h}\n255\n`, 'ascii');
    fs.writeFileSync(output, Buffer.concat([header, pixels]));
    m._nicw_close(state);
    console.log(`${output}: ${w}x${h}x${c} in ${ms.toFixed(0)} ms (wasm)`);
}

main().catch((e) => { console.error(e); process.exit(1); });
