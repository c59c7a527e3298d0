// main.ts -- l2d from TypeScript through the client @hey-api/openapi-ts
// generates from openapi.yaml (`make test-examples` generates it into
// $(BUILD)/examples/ts/client, copies this file beside it and compiles both):
//
//   1. POST /regularize?scale=0.01 with an .npy file (application/x-npy);
//   2. POST /v2/models/l2_loss/infer with two float32 inputs as binary data
//      (the Open Inference Protocol's binary tensor data extension: the JSON
//      header, then the raw bytes, the header's length in
//      Inference-Header-Content-Length);
//   3. the same protocol's error body, {"error": "..."}, for a scale of 1.
//
// Usage: node js/main.js URL NPY_FILE
import { readFileSync } from 'node:fs';

import { client } from './client/client.gen';
import { l2LossInfer, regularize, regularizeInfer } from './client/sdk.gen';
import type {
  L2LossInferRequest,
  RegularizeInferRequest,
  Tensors,
  V2InferResponse,
} from './client/types.gen';

// Little-endian float32 bytes of values, as the extension sends them.
function float32le(values: number[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(4 * values.length);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return bytes;
}

// An infer body: the JSON header, then the inputs' binary data in input order.
function inferBody(
  header: object,
  data: Uint8Array<ArrayBuffer>[],
): { body: Blob; headerLength: number } {
  const json = new TextEncoder().encode(JSON.stringify(header));
  return { body: new Blob([json, ...data]), headerLength: json.length };
}

// "name=[values]" for each output of an infer response.
function outputs(res: V2InferResponse): string {
  return res.outputs
    .map((o) => `${o.name}=${'data' in o ? JSON.stringify(o.data) : '(binary)'}`)
    .join(' ');
}

async function main(): Promise<number> {
  const [url, npyPath] = process.argv.slice(2);
  if (url === undefined || npyPath === undefined) {
    console.error('usage: node js/main.js URL NPY_FILE');
    return 2;
  }
  client.setConfig({ baseUrl: url });

  // 1. An .npy file to /regularize. The operation lists several media types
  // and the generator builds it for the first JSON one, so a binary body
  // names its own Content-Type and turns the JSON serializer off (README,
  // "Generated clients").
  const npy = new Blob([new Uint8Array(readFileSync(npyPath))]);
  const reg = await regularize({
    query: { scale: '0.01' },
    headers: { 'Content-Type': 'application/x-npy' },
    bodySerializer: null,
    body: npy as unknown as Tensors,
  });
  if (reg.data === undefined) {
    console.error('regularize failed:', reg.response.status, reg.error);
    return 1;
  }
  const r = reg.data;
  console.log(
    `regularize npy scale=0.01: loss=${r.loss} sum_squares=${r.sum_squares} norm=${r.norm}` +
      ` count=${r.count} max_abs=${r.max_abs} dtype=${r.dtype}` +
      ('shape' in r ? ` shape=${JSON.stringify(r.shape)}` : ''),
  );

  // 2. Binary inputs to the l2_loss model: the body is application/octet-stream
  // in the document, so the generated function sends the bytes as they are.
  const header: L2LossInferRequest = {
    id: 'ts-1',
    inputs: [
      { name: 'dense/kernel', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } },
      { name: 'dense/bias', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
    ],
    outputs: [{ name: 'loss' }, { name: 'input_loss' }, { name: 'count' }],
  };
  const infer = inferBody(header, [float32le([1, 2, 3, 4]), float32le([0.5, -0.5])]);
  const inf = await l2LossInfer({
    body: infer.body,
    headers: { 'Inference-Header-Content-Length': infer.headerLength },
  });
  if (inf.data === undefined) {
    console.error('l2_loss infer failed:', inf.response.status, inf.error);
    return 1;
  }
  console.log(`infer l2_loss id=${inf.data.id}: ${outputs(inf.data)}`);

  // 3. The protocol's error body. JSON.stringify writes 1.0 as 1, an integer
  // literal, which TensorFlow's validation refuses: from JavaScript, send a
  // scale that is a whole number as a string ("1.0").
  const bad: RegularizeInferRequest = {
    parameters: { scale: 1.0 },
    inputs: [{ name: 'w', datatype: 'FP64', shape: [1], data: [1] }],
  };
  const refused = await regularizeInfer({ body: inferBody(bad, []).body });
  if (refused.error === undefined) {
    console.error('regularize infer with scale 1 was not refused');
    return 1;
  }
  console.log(`infer regularize scale=1: ${refused.response.status} ${refused.error.error}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
