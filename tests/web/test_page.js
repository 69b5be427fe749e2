// Browser test of nic serve's page: Debian's chromium, driven by playwright-core.
//   node test_page.js BASE_URL IMAGE.png SCREENSHOT.png [FILE.nic]
// Uploads IMAGE, picks the 4 KB preset, waits for the server's result and the
// in-browser (WebAssembly) decode, checks the numbers, moves the comparison
// slider, checks the download, and takes a screenshot. With FILE.nic, also
// opens that file on the page and checks that the browser's pixels are those
// of POST /v1/decode. Exit status 1 on any failed check. CHROMIUM overrides the browser binary (default: chromium).
'use strict';
const fs = require('fs');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

let checks = 0, failures = 0;
function check(cond, what) {
  checks++;
  if (!cond) { failures++; console.error('FAIL: ' + what); }
}

function whichChromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ['chromium', 'chromium-browser']) {
    try { return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim(); } catch (e) { /* next */ }
  }
  throw new Error('chromium not found');
}

async function main() {
  const [base, image, shot, nicFile] = process.argv.slice(2);
  if (!shot) throw new Error('usage: node test_page.js BASE_URL IMAGE SCREENSHOT');
  const browser = await chromium.launch({ executablePath: whichChromium(), headless: true,
                                          args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
    const logs = [];
    page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`page error: ${e.message}`));
    const external = [];
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:')) external.push(r.url()); });

    await page.goto(base + '/');
    await page.waitForSelector('body[data-state="idle"]', { timeout: 30000 });
    check(await page.locator('#model option').count() >= 1, 'the model list is empty');
    check((await page.textContent('#about')).startsWith('Decoding runs in this page'),
          'the page does not offer in-browser decoding: ' + await page.textContent('#about'));

    await page.click('#presets button[data-bytes="8000"]');
    await page.click('#presets button[data-bytes="4000"]');
    check(await page.inputValue('#budget') === '4000', 'the 4 KB preset did not set the slider');
    await page.setInputFiles('#file', image);
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 300000 });
    const status = await page.textContent('#status');
    check(await page.getAttribute('body', 'data-state') === 'done', 'the page reports: ' + status);

    const text = async (id) => (await page.textContent(id)).trim();
    const bytes = Number(await text('#stat-bytes'));
    const bpp = Number(await text('#stat-bpp'));
    const psnr = Number(await text('#stat-psnr'));
    const msssim = Number(await text('#stat-msssim'));
    const size = await text('#stat-size');
    const [w, h] = size.split(/[×,]/).slice(0, 2).map(Number);
    console.log(`page: ${bytes} bytes, ${bpp} bpp, PSNR ${psnr} dB, MS-SSIM ${msssim}, ${size}`);
    console.log(`page: decoded ${await text('#stat-decode')}; ${await text('#stat-match')}`);
    check(bytes > 0 && bytes <= 4000, `file of ${bytes} bytes for a 4000-byte budget`);
    check(Math.abs(bpp - bytes * 8 / (w * h)) < 1e-3, `bpp ${bpp} is not ${bytes} * 8 / (${w} × ${h})`);
    check(psnr > 15 && psnr < 60, `PSNR ${psnr} is not plausible`);
    check(msssim > 0.5 && msssim <= 1, `MS-SSIM ${msssim} is not plausible`);
    check((await text('#stat-decode')).startsWith('in your browser'), 'not decoded in the browser');
    check((await text('#stat-match')).startsWith('identical'),
          'browser and server pixels differ: ' + await text('#stat-match'));
    const canvas = await page.evaluate(() => {
      const c = document.getElementById('result');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
      return { w: c.width, h: c.height, mean: sum / (d.length / 4 * 3) };
    });
    check(canvas.w === w && canvas.h === h, `result canvas ${canvas.w}×${canvas.h}, image ${w}×${h}`);
    check(canvas.mean > 5 && canvas.mean < 250, `result canvas is blank (mean ${canvas.mean})`);

    // the comparison slider moves the boundary
    await page.fill('#wipe', '20');
    const clip = await page.evaluate(() => document.getElementById('result').style.clipPath);
    check(clip.includes('20%'), `comparison slider: clip-path '${clip}'`);

    // the download is the .nic the server made
    const dl = await page.evaluate(async () => {
      const a = document.getElementById('download');
      const b = new Uint8Array(await (await fetch(a.href)).arrayBuffer());
      return { name: a.download, size: b.length, magic: [b[0], b[1]] };
    });
    check(dl.name.endsWith('.nic') && dl.size === bytes, `download ${dl.name}: ${dl.size} bytes`);
    check(dl.magic[0] === 0x4e && dl.magic[1] === 0xc9, 'the download is not a .nic file');
    check(external.length === 0, 'the page loaded external assets: ' + external.join(' '));

    await page.fill('#wipe', '50');
    await page.screenshot({ path: shot, fullPage: true });
    console.log('page: screenshot ' + shot);

    if (nicFile) { // a .nic from elsewhere, decoded on the page only
      const body = fs.readFileSync(nicFile);
      const r = await fetch(base + '/v1/decode', { method: 'POST', body,
                                                   headers: { 'Content-Type': 'application/x-nic' } });
      const serverCrc = r.headers.get('x-nic-decoded-crc32');
      await page.setInputFiles('#file', nicFile);
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 300000 });
      check(await page.getAttribute('body', 'data-state') === 'done', 'opening the .nic: ' + await text('#status'));
      const match = await text('#stat-match');
      console.log(`page: opened ${nicFile}: ${await text('#stat-size')}, ${match}; server CRC-32 ${serverCrc}`);
      check(r.ok && match.includes(serverCrc), `browser ${match}, POST /v1/decode ${serverCrc}`);
      check(Number(await text('#stat-bytes')) === body.length, 'the .nic size shown is wrong');
    }
    if (failures) console.error(logs.join('\n'));
  } finally {
    await browser.close();
  }
  console.log(`test_page: ${checks - failures} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
