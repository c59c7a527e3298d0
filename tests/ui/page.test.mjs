// page.test.mjs -- l2d's page (GET /) in Debian's Chromium, headless, driven
// by the pinned puppeteer-core, against a live l2d on a free loopback port.
//
// Files go in through the page's own file input: a safetensors checkpoint
// written here (every summed dtype, a skipped integer tensor, NaN, an empty
// tensor, a name with markup in it) and an .npz that numpy writes. Every row
// of the table is compared, exactly, with the service's JSON for the same
// bytes; the table is sorted by norm both ways; a dropped file goes as a
// picked one does; a 4 MiB upload under Chromium's upload throttle shows
// progress; a broken file and one over --max-body-bytes show the service's
// own problem detail; with a token configured the page asks for it; the
// tracked-models view must show what GET /tracked says after a ?track=
// request (and after the page's own "track as"). The page must run under its
// Content-Security-Policy without one violation and ask nothing of any host
// but the service. Screenshots go to the directory given.
//
// Usage: node tests/ui/page.test.mjs L2D_BINARY SHOT_DIR
// CHROMIUM names the browser (default /usr/bin/chromium), PYTHON an
// interpreter with numpy (default /usr/bin/python3). Every check runs;
// the exit status is 1 when any failed. The whole run is bounded in time.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';

const RUN_LIMIT_MS = 120000; // the whole test
const WAIT_MS = 15000; // one wait for the page
const MAX_BODY = 6 << 20; // the server's --max-body-bytes
const UPLOAD_BPS = 2 << 20; // upload throttle while progress is watched
const [binArg, shotArg] = process.argv.slice(2);
if (!binArg || !shotArg) {
    console.error('usage: node tests/ui/page.test.mjs L2D_BINARY SHOT_DIR');
    process.exit(2);
}
const L2D = resolve(binArg);
const SHOTS = resolve(shotArg);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PYTHON = process.env.PYTHON || '/usr/bin/python3';
const TYPES = {
    npy: 'application/x-npy',
    npz: 'application/x-npz',
    safetensors: 'application/x-safetensors',
};

const servers = [];
const origins = new Set(); // the servers' own: the only ones the page may ask
let browser = null;
const work = mkdtempSync(join(tmpdir(), 'l2d-ui.'));
const failures = [];
let checks = 0;

function cleanup() {
    for (const server of servers) if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
}

const limit = setTimeout(() => {
    console.error(`test-ui: FAIL: the run took longer than ${RUN_LIMIT_MS / 1000} s`);
    if (browser) browser.process()?.kill('SIGKILL');
    cleanup();
    process.exit(1);
}, RUN_LIMIT_MS);

function expect(cond, what) {
    if (!cond) throw new Error(what);
}

// Runs one named check; a failure is recorded and the next check runs.
async function check(name, fn) {
    checks++;
    try {
        await fn();
        console.log(`test-ui: ok   ${name}`);
    } catch (e) {
        failures.push(name);
        console.error(`test-ui: FAIL ${name}: ${e.message}`);
    }
}

// ---- the files ----------------------------------------------------------

// A safetensors file from [name, dtype, shape, element bytes] in data order.
function safetensors(tensors, metadata) {
    const header = {};
    if (metadata) header.__metadata__ = metadata;
    let offset = 0;
    for (const [name, dtype, shape, data] of tensors) {
        header[name] = { dtype, shape, data_offsets: [offset, offset + data.length] };
        offset += data.length;
    }
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, json, ...tensors.map((t) => t[3])]);
}

function f32(values) {
    return Buffer.from(new Float32Array(values).buffer);
}

function f64(values) {
    return Buffer.from(new Float64Array(values).buffer);
}

function u16(values) {
    return Buffer.from(new Uint16Array(values).buffer);
}

// Deterministic weights (a small LCG), so the file is the same every run.
function weights(n, seed, scale) {
    const out = [];
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        out.push(((s / 2 ** 32) * 2 - 1) * scale);
    }
    return out;
}

function writeFiles() {
    const files = {};
    files.safetensors = join(work, 'model.safetensors');
    writeFileSync(
        files.safetensors,
        safetensors(
            [
                ['encoder.layer.0.attention.query.weight', 'F32', [16, 24], f32(weights(384, 7, 0.05))],
                ['encoder.layer.0.attention.query.bias', 'F32', [24], f32(weights(24, 11, 0.001))],
                ['embeddings.position_ids', 'I64', [1, 4], Buffer.alloc(32)],
                ['head.weight', 'F64', [3, 2], f64([1e30, -2.5e29, 3, 0.125, -7, 1e-3])],
                ['norm.gamma', 'F16', [4], u16([0x3c00, 0xc000, 0x3800, 0x0001])],
                ['norm.beta', 'BF16', [2, 2], u16([0x3f80, 0x4040, 0xbf00, 0x0000])],
                ['scale', 'F64', [], f64([-0.75])],
                ['broken.<b>"weight"</b> & co', 'F32', [5], f32([1, NaN, 2, Infinity, -3])],
                ['empty', 'F32', [0, 4], Buffer.alloc(0)],
            ],
            { format: 'pt' },
        ),
    );
    files.npz = join(work, 'checkpoint.npz');
    execFileSync(PYTHON, [
        '-c',
        `import numpy as np, sys
rng = np.random.default_rng(5)
np.savez_compressed(sys.argv[1],
    conv1=rng.standard_normal((8, 3, 3, 3)).astype('<f4'),
    fc=rng.standard_normal((10, 7)).astype('>f8') * 1e-4,
    half=np.array([0.5, -1.5, 65504.0], dtype='<f2'),
    step=np.array(1234, dtype='<i8'),
    tiny=np.array(5e-320, dtype='<f8'))`,
        files.npz,
    ]);
    files.npy = join(work, 'single.npy');
    execFileSync(PYTHON, [
        '-c',
        `import numpy as np, sys
np.save(sys.argv[1], np.arange(-6, 6, dtype='<f4').reshape(3, 4) / 4)`,
        files.npy,
    ]);
    // 4 MiB, under the limit the test's server has; 8 MiB, over it.
    files.big = join(work, 'big.npy');
    files.huge = join(work, 'huge.npy');
    execFileSync(PYTHON, [
        '-c',
        `import numpy as np, sys
np.save(sys.argv[1], np.full(1 << 20, 0.5, dtype='<f4'))
np.save(sys.argv[2], np.zeros(1 << 21, dtype='<f4'))`,
        files.big,
        files.huge,
    ]);
    // Its header says 16 bytes of data; 8 follow.
    const broken = safetensors([['w', 'F64', [2], f64([1, 2])]]);
    files.broken = join(work, 'truncated.safetensors');
    writeFileSync(files.broken, broken.subarray(0, broken.length - 8));
    files.text = join(work, 'notes.txt');
    writeFileSync(files.text, 'not a checkpoint\n');
    return files;
}

// ---- the service --------------------------------------------------------

// Starts l2d with its defaults (no L2D_* of the caller's) and more flags;
// resolves to its base URL once it names the port it picked.
function startServer(...more) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('L2D_')) env[k] = v;
    const args = ['--bind', '127.0.0.1', '--port', '0', '--drain-timeout', '0', ...more];
    const server = spawn(L2D, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    servers.push(server);
    return new Promise((res, rej) => {
        let log = '';
        const timer = setTimeout(() => rej(new Error(`l2d did not report its port: ${log}`)), 10000);
        server.stderr.on('data', (d) => {
            log += d;
            const m = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(log);
            if (m) {
                clearTimeout(timer);
                origins.add(`http://127.0.0.1:${m[1]}`);
                res(`http://127.0.0.1:${m[1]}`);
            }
        });
        server.on('exit', (code) => rej(new Error(`l2d exited (${code}): ${log}`)));
    });
}

function typeOf(path) {
    return TYPES[/\.([a-z]+)$/.exec(path)[1]];
}

// The service's answer for a file's bytes, as the page asks for it.
async function api(base, path, query = 'nonfinite=count') {
    const res = await fetch(`${base}/l2_loss?${query}`, {
        method: 'POST',
        headers: { 'Content-Type': typeOf(path) },
        body: readFileSync(path),
        signal: AbortSignal.timeout(WAIT_MS),
    });
    return { status: res.status, json: await res.json() };
}

// ---- the page -----------------------------------------------------------

function shapeText(shape) {
    return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

// What the service's JSON says each row must show, in the file's order.
function expectedRows(answer, fileName) {
    if (!answer.tensors)
        return [{ name: fileName, dtype: answer.dtype, ...answer }];
    return Object.entries(answer.tensors).map(([name, t]) => ({ name, ...t }));
}

async function readTable(page) {
    return page.$$eval('#tensors tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
}

function sameNumber(cell, value, what) {
    expect(typeof value === 'number', `${what}: the API gave no number`);
    expect(Object.is(Number(cell), value), `${what}: the page shows ${cell}, the API says ${value}`);
}

function compareRow(cells, want, where) {
    expect(cells.length === 7, `${where}: ${cells.length} cells, not 7`);
    const [name, dtype, shape, count, norm, maxAbs, loss] = cells;
    expect(name === want.name, `${where}: name ${JSON.stringify(name)}, API ${JSON.stringify(want.name)}`);
    expect(dtype === want.dtype, `${where}: dtype ${dtype}, API ${want.dtype}`);
    expect(shape === shapeText(want.shape), `${where}: shape ${shape}, API ${JSON.stringify(want.shape)}`);
    sameNumber(count, want.count, `${where} count`);
    sameNumber(norm, want.norm, `${where} norm`);
    sameNumber(maxAbs, want.max_abs, `${where} max |w|`);
    sameNumber(loss, want.loss, `${where} l2 loss`);
}

async function upload(page, path) {
    const input = await page.$('#file');
    await input.uploadFile(path);
}

async function uploadAndCompare(page, base, path, shot) {
    const name = path.split('/').pop();
    await upload(page, path);
    await page.waitForFunction(
        (n) => !document.getElementById('result').hidden &&
            document.getElementById('result-file').textContent === n &&
            document.getElementById('progress-box').hidden,
        { timeout: WAIT_MS },
        name,
    );
    const { status, json } = await api(base, path);
    expect(status === 200, `the API answered ${status}: ${JSON.stringify(json)}`);
    const want = expectedRows(json, name);
    const rows = await readTable(page);
    expect(rows.length === want.length, `${rows.length} rows, the API has ${want.length} tensors`);
    rows.forEach((cells, i) => compareRow(cells, want[i], `row ${i + 1} (${want[i].name})`));
    const total = await page.$$eval('#tensors tfoot td', (tds) => tds.map((td) => td.textContent));
    sameNumber(total[3], json.count, 'total count');
    sameNumber(total[4], json.norm, 'total norm');
    sameNumber(total[5], json.max_abs, 'total max |w|');
    sameNumber(total[6], json.loss, 'total l2 loss');
    const skipped = await page.$eval('#skipped', (p) => (p.hidden ? '' : p.textContent));
    for (const [n, code] of Object.entries(json.skipped || {}))
        expect(skipped.includes(`${n} (${code})`), `skipped ${n} (${code}) not listed: ${skipped}`);
    const bars = await page.$$eval('#chart rect.bar', (r) => r.length);
    const positive = want.filter((t) => t.norm > 0).length;
    expect(bars === positive, `${bars} bars in the chart, ${positive} tensors with a norm above 0`);
    await page.screenshot({ path: join(SHOTS, shot), fullPage: true });
    return json;
}

async function sortedNorms(page) {
    const rows = await readTable(page);
    return rows.map((r) => Number(r[4]));
}

async function main() {
    mkdirSync(SHOTS, { recursive: true });
    const files = writeFiles();
    const base = await startServer('--max-body-bytes', String(MAX_BODY));

    await check('GET / is HTML with a strict Content-Security-Policy', async () => {
        const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(WAIT_MS) });
        expect(res.status === 200, `status ${res.status}`);
        expect(res.headers.get('content-type') === 'text/html; charset=utf-8',
            `Content-Type ${res.headers.get('content-type')}`);
        const csp = res.headers.get('content-security-policy') || '';
        expect(csp.includes("default-src 'none'"), `policy without default-src 'none': ${csp}`);
        expect(!/unsafe-|\*|https?:/.test(csp), `policy allows too much: ${csp}`);
        expect(res.headers.get('x-content-type-options') === 'nosniff', 'no X-Content-Type-Options: nosniff');
    });

    // Without the page every check below would only wait out its timeout.
    if (failures.length > 0) throw new Error('GET / does not serve the page: nothing more to check');

    browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-default-apps', '--disable-sync'],
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.setViewport({ width: 1100, height: 800 });
    const foreign = [];
    const problems = [];
    page.on('request', (r) => {
        const url = r.url();
        if (!url.startsWith('data:') && !origins.has(new URL(url).origin)) foreign.push(url);
    });
    page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
    // Refusals of the files sent are the point of some checks, and GET
    // /tracked may be missing; any other failed request is a defect.
    page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
            problems.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
        const path = new URL(r.url()).pathname;
        if (r.status() >= 400 && path !== '/l2_loss' && path !== '/tracked')
            problems.push(`${r.request().method()} ${path}: ${r.status()}`);
    });
    await page.evaluateOnNewDocument(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
            (window.cspViolations = window.cspViolations || []).push(`${e.violatedDirective} ${e.blockedURI}`);
        });
    });

    await check('the page loads and its script runs under the policy', async () => {
        const res = await page.goto(`${base}/`, { waitUntil: 'load' });
        expect(res.status() === 200, `status ${res.status()}`);
        // The script fills the tracked view's status line on load.
        await page.waitForFunction(() => document.getElementById('tracked-status').textContent !== '' &&
            document.getElementById('tracked-status').textContent !== 'loading\u2026');
        await page.screenshot({ path: join(SHOTS, 'page-empty.png'), fullPage: true });
    });

    let stAnswer = null;
    await check('a safetensors file: every row equals the API', async () => {
        stAnswer = await uploadAndCompare(page, base, files.safetensors, 'page-safetensors.png');
        expect(Object.keys(stAnswer.tensors).length === 8, 'the API does not list 8 summed tensors');
        const marked = await page.$$eval('#tensors tbody tr.nonfinite', (t) => t.length);
        expect(marked === 1, `${marked} rows marked NaN/Inf, 1 expected`);
        const injected = await page.$$eval('#tensors tbody b', (b) => b.length);
        expect(injected === 0, 'a tensor name became markup');
    });

    await check('sorting by norm, ascending then descending', async () => {
        await page.click('#tensors th[data-key=norm] button');
        let norms = await sortedNorms(page);
        expect(norms.length > 2, 'no rows');
        expect(norms.every((v, i) => i === 0 || norms[i - 1] <= v), `not ascending: ${norms}`);
        expect(await page.$eval('#tensors th[data-key=norm]', (th) => th.getAttribute('aria-sort')) === 'ascending',
            'aria-sort is not ascending');
        const labels = await page.$$eval('#chart svg > text:not(.axis)', (t) => t.map((x) => x.firstChild.nodeValue));
        expect(labels[0] === 'empty', `the chart does not follow the table's order: ${labels.slice(0, 3)}`);
        await page.click('#tensors th[data-key=norm] button');
        norms = await sortedNorms(page);
        expect(norms.every((v, i) => i === 0 || norms[i - 1] >= v), `not descending: ${norms}`);
        expect(await page.$eval('#tensors th[data-key=norm]', (th) => th.getAttribute('aria-sort')) === 'descending',
            'aria-sort is not descending');
        const names = (await readTable(page)).map((r) => r[0]).sort();
        expect(JSON.stringify(names) === JSON.stringify(Object.keys(stAnswer.tensors).sort()),
            'sorting lost or added rows');
        await page.screenshot({ path: join(SHOTS, 'page-sorted.png'), fullPage: true });
    });

    await check('an .npz from numpy: every row equals the API', async () => {
        // A new file's rows come in its own order, whatever the last sort was.
        const json = await uploadAndCompare(page, base, files.npz, 'page-npz.png');
        expect(json.skipped && json.skipped.step === '<i8', 'the API did not skip the integer member');
    });

    await check('an .npy: its one tensor equals the API', async () => {
        await uploadAndCompare(page, base, files.npy, 'page-npy.png');
    });

    await check('a file dropped on the zone is sent like a picked one', async () => {
        // The drop event a browser fires, with the file in its DataTransfer.
        await page.evaluate((b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], 'dropped.npy'));
            const zone = document.getElementById('drop');
            zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
            zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        }, readFileSync(files.npy).toString('base64'));
        await page.waitForFunction(() => !document.getElementById('result').hidden &&
            document.getElementById('result-file').textContent === 'dropped.npy');
        const { json } = await api(base, files.npy);
        const rows = await readTable(page);
        expect(rows.length === 1, `${rows.length} rows`);
        compareRow(rows[0], expectedRows(json, 'dropped.npy')[0], 'the dropped file');
    });

    await check("a broken file shows the service's problem detail", async () => {
        const { status, json } = await api(base, files.broken);
        expect(status === 400 && json.code === 'invalid_safetensors', `the API answered ${status} ${json.code}`);
        await upload(page, files.broken);
        await page.waitForFunction(() => !document.getElementById('error').hidden);
        const detail = await page.$eval('#error-detail', (d) => d.textContent);
        expect(detail === json.detail, `the page shows ${JSON.stringify(detail)}, the API ${JSON.stringify(json.detail)}`);
        const extra = await page.$eval('#error-extra', (d) => d.textContent);
        expect(extra.includes('invalid_safetensors'), `no code beside the detail: ${extra}`);
        expect(await page.$eval('#result', (r) => r.hidden), "the last file's table is still shown");
        await page.screenshot({ path: join(SHOTS, 'page-error.png'), fullPage: true });
    });

    await check('a large file shows upload progress, then its result', async () => {
        // Chromium's upload throttle makes the 4 MiB last about 2 s, so
        // the progress bar has values between 0 and 1 to be seen.
        const cdp = await page.createCDPSession();
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions',
            { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: UPLOAD_BPS });
        await page.evaluate(() => {
            window.progressSeen = [];
            new MutationObserver(() => {
                const bar = document.getElementById('progress');
                if (bar.hasAttribute('value'))
                    window.progressSeen.push([bar.value, document.getElementById('progress-text').textContent]);
            }).observe(document.getElementById('progress'), { attributes: true });
        });
        try {
            await uploadAndCompare(page, base, files.big, 'page-big.png');
        } finally {
            await cdp.send('Network.emulateNetworkConditions',
                { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
            await cdp.detach();
        }
        const seen = await page.evaluate(() => window.progressSeen);
        const midway = seen.filter(([v, text]) => v > 0 && v < 1 && / of 4\.2 MB sent$/.test(text));
        expect(midway.length > 0, `no progress between 0 and 1 shown: ${JSON.stringify(seen.slice(0, 5))}`);
    });

    await check("a file over the service's size limit shows its 413 detail", async () => {
        await upload(page, files.huge);
        await page.waitForFunction(() => !document.getElementById('error').hidden);
        const detail = await page.$eval('#error-detail', (d) => d.textContent);
        const extra = await page.$eval('#error-extra', (d) => d.textContent);
        expect(extra.includes('payload_too_large'), `not the service's 413: ${detail} ${extra}`);
        expect(detail.includes(String(MAX_BODY)), `the detail does not name the limit: ${detail}`);
    });

    await check('a file of another kind is not sent', async () => {
        const sent = [];
        const onRequest = (r) => { if (r.method() === 'POST') sent.push(r.url()); };
        page.on('request', onRequest);
        await upload(page, files.text);
        await page.waitForFunction(() => document.getElementById('error-detail').textContent.startsWith('notes.txt'));
        page.off('request', onRequest);
        expect(sent.length === 0, `it was sent: ${sent}`);
    });

    await check('the tracked-models view shows GET /tracked after ?track=', async () => {
        const model = 'ui-test/model:v1';
        const { status, json } = await api(base, files.safetensors, `nonfinite=count&track=${encodeURIComponent(model)}`);
        expect(status === 200, `POST ?track= answered ${status}: ${json.detail || ''}`);
        expect(json.tracked === true, `"tracked" is ${JSON.stringify(json.tracked)}, not true`);
        const res = await fetch(`${base}/tracked`, { signal: AbortSignal.timeout(WAIT_MS) });
        expect(res.status === 200, `GET /tracked answered ${res.status}`);
        const tracked = await res.json();
        const m = tracked.models && tracked.models[model];
        expect(m, `GET /tracked has no model ${model}`);
        await page.click('#tracked-refresh');
        const sel = `#tracked details[data-model="${model}"]`;
        await page.waitForSelector(sel);
        const total = await page.$eval(`${sel} .total-norm`, (s) => s.textContent);
        sameNumber(total, m.total.norm, 'tracked total norm');
        const rows = await page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
        const want = Object.entries(m.tensors);
        expect(rows.length === want.length, `${rows.length} tracked rows, GET /tracked has ${want.length}`);
        rows.forEach((cells, i) => {
            expect(cells[0] === want[i][0], `tracked row ${i + 1}: ${cells[0]}, API ${want[i][0]}`);
            sameNumber(cells[1], want[i][1].norm, `tracked ${want[i][0]} norm`);
            sameNumber(cells[2], want[i][1].max_abs, `tracked ${want[i][0]} max |w|`);
            sameNumber(cells[3], want[i][1].count, `tracked ${want[i][0]} count`);
        });
        // The page's own "track as" field: the view refreshes by itself.
        await page.type('#track', 'ui-page');
        await upload(page, files.npz);
        await page.waitForSelector('#tracked details[data-model="ui-page"]');
        await page.screenshot({ path: join(SHOTS, 'page-tracked.png'), fullPage: true });
    });

    await check('with a token configured: the page loads, asks for the token on 401, then sends', async () => {
        const tokenFile = join(work, 'token');
        writeFileSync(tokenFile, 'ui-test-token\n');
        const tokenBase = await startServer('--auth-token-file', tokenFile);
        await page.goto(`${tokenBase}/`, { waitUntil: 'load' });
        // The tracked-models view asks GET /tracked at load: its 401 is the
        // first, and the page asks for the token then.
        await page.waitForFunction(() => !document.getElementById('token-box').hidden,
            { timeout: 10000 });
        await upload(page, files.npy);
        await page.waitForFunction(() => !document.getElementById('error').hidden &&
            !document.getElementById('token-box').hidden);
        const extra = await page.$eval('#error-extra', (d) => d.textContent);
        expect(extra.includes('unauthorized'), `not the service's 401: ${extra}`);
        await page.type('#token', 'ui-test-token');
        await page.click('#retry');
        await page.waitForFunction(() => !document.getElementById('result').hidden &&
            document.getElementById('error').hidden);
        const rows = await readTable(page);
        const { json } = await api(base, files.npy);
        compareRow(rows[0], expectedRows(json, 'single.npy')[0], 'the file sent with the token');
    });

    await check('no policy violation, script error or request off the service', async () => {
        const violations = await page.evaluate(() => window.cspViolations || []);
        expect(violations.length === 0, `policy violations: ${violations.join('; ')}`);
        expect(problems.length === 0, problems.join('; '));
        expect(foreign.length === 0, `requests to other hosts: ${foreign.join(' ')}`);
    });
}

let stopped = false;
try {
    await main();
} catch (e) {
    stopped = true;
    console.error(`test-ui: FAIL: ${e.message}`);
} finally {
    if (browser) await browser.close().catch(() => {});
    cleanup();
    clearTimeout(limit);
}
console.log(`test-ui: ${checks - failures.length} of ${checks} checks passed${stopped ? ', then the run stopped' : ''}; ` +
    `screenshots in ${SHOTS}`);
process.exit(failures.length === 0 && !stopped ? 0 : 1);
