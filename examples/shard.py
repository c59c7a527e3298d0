#!/usr/bin/python3
"""shard.py -- the exact L2 loss of a tensor or checkpoint too large for one
request (or one replica): split it over N concurrent requests, merge.

Reads a NumPy .npy file or a safetensors checkpoint, cuts its data into about
N pieces (a piece never spans two tensors), and sends the pieces concurrently
to one URL (a load balancer in front of replicas, or one l2d) as raw
little-endian floats (Content-Type application/octet-stream, ?dtype=) with
?partial=true. Each answer carries an opaque partial, the exact state of its
piece; POST /merge adds them exactly, so the result is bit for bit the answer
of one request holding the whole file. It is printed as that one request
would print it: one JSON object, with the file's shape and dtype beside the
merged numbers (safetensors: per tensor, and tensors of other dtypes listed
under "skipped").

Usage: shard.py [-n N] [--url URL] [--scale S] FILE
  -n N       number of concurrent requests (default 8)
  --url URL  l2d or a load balancer in front of it (default http://127.0.0.1:8080)
  --scale S  the regularizer's scale: prints /regularize?scale=S's answer
Needs Python 3 and numpy (Debian: apt-get install python3-numpy).
"""

import argparse
import concurrent.futures
import http.client
import json
import struct
import sys
import time
import urllib.parse

import numpy as np

# File dtype -> l2d dtype name. Anything else is not a weight to sum.
NPY_DTYPES = {"f2": "float16", "f4": "float32", "f8": "float64"}
SAFETENSORS_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}
ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
SEND_BLOCK = 1 << 20  # bytes handed to the socket at a time
TIMEOUT = 600  # seconds: a piece can be large
ATTEMPTS = 3  # sends of one piece at most
RETRY = (502, 503, 504)  # answers of a proxy whose replica went away


class L2dError(Exception):
    """An error answer: the HTTP status and the problem's code and detail."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Tensor:
    """One tensor of the file: where its data lies and how to read it."""

    def __init__(self, name, dtype, shape, offset, nbytes, swap=False, code=None):
        self.name, self.dtype, self.shape = name, dtype, shape
        self.offset, self.nbytes, self.swap, self.code = offset, nbytes, swap, code


def read_npy(path):
    """The one tensor of an .npy file (any format version)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:  # 3.0: 2.0 with a UTF-8 header; numpy has no public reader
            shape, _fortran, dtype = np.lib.format._read_array_header(f, version)
        offset = f.tell()
    kind = dtype.str[1:]
    if kind not in NPY_DTYPES:
        raise SystemExit(f"shard.py: {path}: dtype {dtype.str} is not float16/32/64")
    # Summing squares does not depend on element order: Fortran order is fine.
    swap = dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return [Tensor(None, NPY_DTYPES[kind], list(shape), offset, nbytes, swap)]


def read_safetensors(path):
    """Every tensor of a safetensors file, in the order of its data."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    base = 8 + n
    tensors = []
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        dtype = SAFETENSORS_DTYPES.get(t["dtype"])
        tensors.append(Tensor(name, dtype, t["shape"], base + begin, end - begin, code=t["dtype"]))
    tensors.sort(key=lambda x: x.offset)
    return tensors


def plan(tensors, n):
    """Cuts the summed tensors into about n pieces of whole elements:
    (tensor, offset, nbytes) triples."""
    summed = [t for t in tensors if t.dtype]
    total = sum(t.nbytes for t in summed)
    target = max(1, -(-total // n))
    pieces = []
    for t in summed:
        size = ITEMSIZE[t.dtype]
        step = max(size, target // size * size)
        for off in range(0, t.nbytes, step):
            pieces.append((t, t.offset + off, min(step, t.nbytes - off)))
    return pieces


def piece_body(path, t, offset, nbytes):
    """The piece's bytes as little-endian floats, one block at a time."""
    with open(path, "rb") as f:
        f.seek(offset)
        left = nbytes
        while left:
            block = f.read(min(SEND_BLOCK, left))
            if not block:
                raise SystemExit(f"shard.py: {path}: file ends inside a tensor")
            left -= len(block)
            if t.swap:
                size = ITEMSIZE[t.dtype]
                block = np.frombuffer(block, np.uint8).reshape(-1, size)[:, ::-1].tobytes()
            yield block


def post(url, path, body, headers):
    """POSTs body to url + path; returns the parsed JSON answer or raises
    L2dError with the problem details."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=TIMEOUT,
                                      blocksize=SEND_BLOCK)
    try:
        conn.request("POST", u.path.rstrip("/") + path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        answer = json.loads(data)
    except ValueError:  # a proxy's own error page
        answer = {"detail": data[:200].decode(errors="replace")}
    if resp.status != 200:
        raise L2dError(resp.status, f"{path}: {resp.status} {answer.get('code')}: "
                       f"{answer.get('detail')}")
    return answer


def send_piece(url, path, piece):
    """One piece as a raw body with ?partial=true; returns its partial. A
    piece cut off by a replica going away (connection error, 502, 503, 504)
    is sent again: every l2d computation is a pure function of its request."""
    t, offset, nbytes = piece
    query = urllib.parse.urlencode({"dtype": t.dtype, "partial": "true"})
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(nbytes)}
    for attempt in range(1, ATTEMPTS + 1):
        try:
            body = piece_body(path, t, offset, nbytes)
            return post(url, "/l2_loss?" + query, body, headers)["partial"]
        except (OSError, http.client.HTTPException, L2dError) as err:
            if isinstance(err, L2dError) and err.status not in RETRY:
                # An index in the answer counts from the piece's first element.
                first = (offset - t.offset) // ITEMSIZE[t.dtype]
                where = f"tensor {t.name!r}, " if t.name is not None else ""
                raise L2dError(err.status, f"{err} ({where}piece from element {first})") from None
            if attempt == ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def shard(url, path, n, scale=None):
    """The answer of one request with the whole file, from n concurrent ones."""
    is_npy = open(path, "rb").read(6) == b"\x93NUMPY"
    tensors = read_npy(path) if is_npy else read_safetensors(path)
    pieces = plan(tensors, n)
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        partials = list(pool.map(lambda p: send_piece(url, path, p), pieces))
    if is_npy:
        body = {"partials": partials}
    else:
        named = {t.name: [] for t in tensors if t.dtype}
        for (t, _, _), p in zip(pieces, partials):
            named[t.name].append(p)
        body = {"partials": named}
    query = "?" + urllib.parse.urlencode({"scale": scale}) if scale is not None else ""
    merged = post(url, "/merge" + query, json.dumps(body).encode(),
                  {"Content-Type": "application/json"})
    return as_one_request(merged, tensors, is_npy)


def tidy(result):
    """Drops what one request's answer would not have: the partial, and the
    non-finite counts (always 0 here: a piece with a NaN or an infinity is
    refused, as one request would be)."""
    result.pop("partial", None)
    for key in ("nan_count", "inf_count"):
        if result.get(key) == 0:
            del result[key]
    return result


def as_one_request(merged, tensors, is_npy):
    """Adds what the file says (shape, dtype, skipped tensors) to the merged
    numbers, in the order one request's answer has them."""
    tidy(merged)
    if is_npy:
        merged["shape"] = tensors[0].shape
        merged["dtype"] = tensors[0].dtype
        return merged
    entries = merged.pop("tensors", {})
    dtypes = {t.dtype for t in tensors if t.dtype}
    if len(dtypes) == 1:
        merged["dtype"] = dtypes.pop()
    out = {}
    for t in tensors:
        if t.dtype:
            e = tidy(entries[t.name])
            e["shape"], e["dtype"] = t.shape, t.dtype
            out[t.name] = e
    merged["tensors"] = out
    skipped = {t.name: t.code for t in tensors if not t.dtype}
    if skipped:
        merged["skipped"] = skipped
    return merged


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=8, help="concurrent requests (default 8)")
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--scale", help="regularizer scale (a decimal such as 0.01)")
    ap.add_argument("file")
    args = ap.parse_args()
    if args.n < 1:
        ap.error("-n must be at least 1")
    try:
        print(json.dumps(shard(args.url, args.file, args.n, args.scale)))
    except (L2dError, OSError, http.client.HTTPException) as err:
        print(f"shard.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
