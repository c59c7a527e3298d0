'use strict';
// The Node peer of `make bench` (bench/run.sh): POST /l2_loss written the way
// a typical Node service would be, on the built-in http module alone.
//   node peer_node.js [PORT]     (0 or none: a free port)
// It prints "listening on http://127.0.0.1:PORT" once it listens.
// The whole body is read first; JSON (a number or nested arrays of numbers)
// goes through JSON.parse, an application/octet-stream body with
// ?dtype=float32 or ?dtype=float64 is viewed as a typed array over its bytes.
// Squares are summed in float64 (JS numbers), in order: not exact, as usual.

const http = require('http');

function reply(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function addSquares(v, acc) {
  if (typeof v === 'number') {
    acc.sum += v * v;
    acc.count++;
    if (Math.abs(v) > acc.maxAbs) acc.maxAbs = Math.abs(v);
  } else if (Array.isArray(v)) {
    for (const x of v) addSquares(x, acc);
  } else {
    throw new Error('a tensor holds numbers only');
  }
}

function answer(res, acc, dtype) {
  reply(res, 200, {
    loss: acc.sum / 2,
    sum_squares: acc.sum,
    norm: Math.sqrt(acc.sum),
    count: acc.count,
    max_abs: acc.maxAbs,
    dtype,
  });
}

function raw(res, body, dtype) {
  const Typed = { float32: Float32Array, float64: Float64Array }[dtype];
  if (!Typed) return reply(res, 400, { detail: 'dtype must be float32 or float64' });
  if (body.length % Typed.BYTES_PER_ELEMENT) {
    return reply(res, 400, { detail: 'the body is not a whole number of elements' });
  }
  // A large Buffer starts its own ArrayBuffer; a small one may sit unaligned
  // in Node's pool, then it is copied.
  const bytes = body.byteOffset % Typed.BYTES_PER_ELEMENT ? Buffer.from(body) : body;
  const a = new Typed(bytes.buffer, bytes.byteOffset, bytes.length / Typed.BYTES_PER_ELEMENT);
  const acc = { sum: 0, count: a.length, maxAbs: 0 };
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    acc.sum += x * x;
    if (Math.abs(x) > acc.maxAbs) acc.maxAbs = Math.abs(x);
  }
  answer(res, acc, dtype);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/l2_loss') return reply(res, 404, { detail: 'not found' });
  if (req.method !== 'POST') return reply(res, 405, { detail: 'POST only' });
  const parts = [];
  req.on('data', (part) => parts.push(part));
  req.on('end', () => {
    const body = Buffer.concat(parts);
    const type = (req.headers['content-type'] || 'application/json').split(';')[0].trim();
    if (type === 'application/octet-stream') return raw(res, body, url.searchParams.get('dtype'));
    if (type !== 'application/json') return reply(res, 415, { detail: 'JSON or raw bytes' });
    const acc = { sum: 0, count: 0, maxAbs: 0 };
    try {
      addSquares(JSON.parse(body.toString('utf8')), acc);
    } catch (e) {
      return reply(res, 400, { detail: e.message });
    }
    answer(res, acc, 'float64');
  });
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
