#!/usr/bin/python3
"""client.py -- calling l2d from Python: urllib (standard library) for HTTP,
numpy for the tensors.

Sends one tensor in each of the three body formats l2d reads:

  * JSON (application/json): a nested list, here [[1, 2], [3, 4]];
  * raw little-endian floats (application/octet-stream): a float32 array
    written with ndarray.tofile and streamed from the file, with ?dtype=;
  * a NumPy .npy file (application/x-npy), made with numpy.save in memory;

then two whole checkpoints, answered per tensor:

  * an .npz archive (application/x-npz), as numpy.savez writes it;
  * a safetensors file (application/x-safetensors), written here in the
    safetensors layout (8-byte header length, JSON header, data);

then shows how an error (application/problem+json) comes back.

Usage: client.py [BASE_URL]        (default http://127.0.0.1:8080)
Needs Python 3 and numpy (Debian: apt-get install python3-numpy).
"""

import io
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import numpy as np


class L2dError(Exception):
    """An error answer: status, the stable `code` and the human `detail`."""

    def __init__(self, status, code, detail):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


def post(base_url, endpoint, body, content_type, params=None, length=None):
    """POSTs body (bytes or a binary file) to endpoint; returns the parsed JSON
    answer, or raises L2dError with the problem details."""
    url = base_url.rstrip("/") + endpoint
    if params:
        url += "?" + urllib.parse.urlencode(params)
    headers = {"Content-Type": content_type}
    if length is not None:
        headers["Content-Length"] = str(length)  # a file is then streamed as is
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:
        problem = json.load(err)
        raise L2dError(err.code, problem.get("code"), problem.get("detail")) from None


def l2_loss_json(base_url, tensor, dtype=None):
    """The L2 loss of a nested list (or numpy array) sent as JSON."""
    body = json.dumps(np.asarray(tensor).tolist()).encode()
    params = {"dtype": dtype} if dtype else None
    return post(base_url, "/l2_loss", body, "application/json", params)


def l2_loss_raw_file(base_url, path, dtype):
    """The L2 loss of a file of raw little-endian values (ndarray.tofile),
    streamed from disk: l2d needs the dtype, the file has no header."""
    with open(path, "rb") as f:
        return post(base_url, "/l2_loss", f, "application/octet-stream",
                    {"dtype": dtype}, length=os.path.getsize(path))


def regularize_npy(base_url, array, scale):
    """scale * l2_loss of an array sent as a .npy file (dtype and shape travel
    in its header). scale must be a float: TensorFlow refuses integers."""
    buf = io.BytesIO()
    np.save(buf, array)
    return post(base_url, "/regularize", buf.getvalue(), "application/x-npy",
                {"scale": repr(float(scale))})


def l2_loss_npz(base_url, **arrays):
    """The L2 loss of several named arrays sent as one np.savez archive; the
    answer has the totals and one entry per array. Integer arrays are listed
    under "skipped"."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return post(base_url, "/l2_loss", buf.getvalue(), "application/x-npz")


def safetensors_bytes(tensors):
    """A safetensors file of a {name: ndarray} dict, laid out as the
    reference writer lays it out: tensors by name, data back to back, the
    JSON header padded with spaces to a multiple of 8 bytes."""
    codes = {"float16": "F16", "float32": "F32", "float64": "F64", "int64": "I64"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": codes[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(blobs)


def regularize_safetensors(base_url, tensors, scale):
    """scale * l2_loss of a whole checkpoint sent as a safetensors file."""
    return post(base_url, "/regularize", safetensors_bytes(tensors),
                "application/x-safetensors", {"scale": repr(float(scale))})


def show(label, answer):
    print(f"{label}: loss={answer['loss']!r} sum_squares={answer['sum_squares']!r} "
          f"count={answer['count']} shape={answer['shape']} dtype={answer['dtype']}")


def main():
    base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"

    show("json [[1,2],[3,4]]", l2_loss_json(base_url, [[1, 2], [3, 4]]))

    # Raw bytes: tofile writes the values back to back in the array's byte
    # order; '<f4' makes that little-endian float32 on any machine.
    w = np.array([0.5, -1.25, 2, 3], dtype="<f4")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.f32")
        w.tofile(path)
        show("raw float32 [0.5,-1.25,2,3]", l2_loss_raw_file(base_url, path, "float32"))

    m = np.array([[1, 2], [3, 4]], dtype=np.float64)
    show("npy float64 [[1,2],[3,4]] scale=0.01", regularize_npy(base_url, m, 0.01))

    answer = l2_loss_npz(base_url, kernel=np.array([[1, 2], [3, 4]], dtype=np.float32),
                         bias=np.array([0.5], dtype=np.float16),
                         step=np.array(7, dtype=np.int64))
    print(f"npz: loss={answer['loss']!r} count={answer['count']} "
          f"max_abs={answer['max_abs']!r} skipped={answer['skipped']}")
    for name, t in answer["tensors"].items():
        print(f"  {name}: dtype={t['dtype']} shape={t['shape']} loss={t['loss']!r} "
              f"norm={t['norm']!r}")

    answer = regularize_safetensors(base_url, {
        "dense/kernel": np.array([[1, 2], [3, 4]], dtype=np.float32),
        "dense/bias": np.array([0.5, -0.5], dtype=np.float64)}, 0.01)
    print(f"safetensors scale=0.01: loss={answer['loss']!r} sum_squares={answer['sum_squares']!r} "
          f"count={answer['count']}")
    for name, t in answer["tensors"].items():
        print(f"  {name}: dtype={t['dtype']} shape={t['shape']} loss={t['loss']!r}")

    # An integer scale is refused, as tf.contrib.layers.l2_regularizer does.
    try:
        post(base_url, "/regularize", b"[1, 2]", "application/json", {"scale": "1"})
    except L2dError as err:
        print(f"error: {err.status} {err.code}: {err.detail}")
    else:
        sys.exit("client.py: an integer scale was accepted")


if __name__ == "__main__":
    main()
