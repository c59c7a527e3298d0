#!/usr/bin/env node
// client.mjs -- calling l2d from JavaScript with Node's built-in fetch
// (Node 18 or later; no packages).
//
// Sends [[1, 2], [3, 4]] as JSON, a Float32Array as the raw body
// (application/octet-stream, ?dtype=float32) and regularizes it, then shows how
// an error (application/problem+json) comes back.
//
// Usage: node client.mjs [BASE_URL]      (default http://127.0.0.1:8080)

const baseUrl = (process.argv[2] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');

class L2dError extends Error {
    constructor(status, code, detail) {
        super(`${status} ${code}: ${detail}`);
        this.status = status;
        this.code = code;
        this.detail = detail;
    }
}

// POSTs body to endpoint with the query params; returns the parsed answer or
// throws an L2dError carrying the problem's stable `code`.
async function post(endpoint, body, contentType, params = {}) {
    const url = new URL(baseUrl + endpoint);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const resp = await fetch(url, {
        method: 'POST',
        headers: {'Content-Type': contentType},
        body,
    });
    const answer = await resp.json();
    if (!resp.ok) throw new L2dError(resp.status, answer.code, answer.detail);
    return answer;
}

// l2d reads raw bodies as little-endian. A typed array is in the machine's
// byte order: little-endian on x86 and ARM, swapped here on the rare others.
function littleEndianBytes(f32) {
    const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    if (littleEndian) return f32;
    const view = new DataView(new ArrayBuffer(f32.length * 4));
    f32.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return new Uint8Array(view.buffer);
}

function show(label, a) {
    console.log(`${label}: loss=${a.loss} sum_squares=${a.sum_squares} ` +
                `count=${a.count} shape=${JSON.stringify(a.shape)} dtype=${a.dtype}`);
}

async function main() {
    show('json [[1,2],[3,4]]',
         await post('/l2_loss', JSON.stringify([[1, 2], [3, 4]]), 'application/json'));

    const w = new Float32Array([0.5, -1.25, 2, 3]);
    const raw = littleEndianBytes(w);
    show('raw float32 [0.5,-1.25,2,3]',
         await post('/l2_loss', raw, 'application/octet-stream', {dtype: 'float32'}));
    // The scale is sent as written: "0.01", never an integer literal.
    show('raw float32 [0.5,-1.25,2,3] scale=0.01',
         await post('/regularize', raw, 'application/octet-stream',
                    {dtype: 'float32', scale: '0.01'}));

    try {
        await post('/regularize', JSON.stringify([1, 2]), 'application/json', {scale: '1'});
        throw new Error('an integer scale was accepted');
    } catch (err) {
        if (!(err instanceof L2dError)) throw err;
        console.log(`error: ${err.status} ${err.code}: ${err.detail}`);
    }
}

main().catch((err) => {
    console.error(`client.mjs: ${err.message}`);
    process.exit(1);
});
