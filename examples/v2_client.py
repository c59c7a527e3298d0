#!/usr/bin/env python3
"""v2_client.py -- l2d through the Open Inference Protocol v2 (KServe, Triton)
with its binary tensor data extension, using only the standard library and
numpy: what tritonclient.http does, written out.

    infer(url, model, {name: array, ...}) -> {output name: array, ...}

sends each numpy array (float16, float32 or float64) as a named input, as
binary data after the JSON header (`binary=True`, the length of the header
in Inference-Header-Content-Length) or as JSON `data`; asks for the outputs
it names, each as binary data or as JSON (`binary_outputs`: the names to
send as binary, or True for all); and reads the reply either way:
when the reply has an Inference-Header-Content-Length, the JSON header is
that many bytes and the binary outputs follow it, `binary_data_size` bytes
each, in output order. A refusal raises V2Error with the status and the
protocol's `{"error": "..."}`.

Usage: python3 examples/v2_client.py [URL]    (default http://127.0.0.1:8080)
"""
import json
import sys
import urllib.error
import urllib.request

import numpy as np

# numpy dtype -> the protocol's datatype, for the inputs l2d sums.
DATATYPES = {np.dtype(np.float16): "FP16", np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64"}
# The protocol's datatype -> the little-endian numpy dtype of its binary data.
BINARY_DTYPES = {"FP16": "<f2", "FP32": "<f4", "FP64": "<f8", "INT64": "<i8"}


class V2Error(Exception):
    """A refusal: the HTTP status and the server's message."""

    def __init__(self, status, message):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def infer(url, model, inputs, binary=True, outputs=None, binary_outputs=(), parameters=None, request_id=None):
    """Runs one inference request against url's model ("l2_loss" or
    "regularize"). inputs maps each input's name to a numpy array; outputs
    lists the output names to ask for (None: all the server sends by default);
    binary_outputs names those to come back as binary data, or is True for
    all of them (the request parameter binary_data_output). Returns
    ({output name: numpy array}, the response's id or None, the names of the
    outputs that came as binary data)."""
    header = {"inputs": []}
    if request_id is not None:
        header["id"] = request_id
    if parameters:
        header["parameters"] = dict(parameters)
    blobs = []
    for name, array in inputs.items():
        array = np.asarray(array)
        entry = {"name": name, "shape": list(array.shape), "datatype": DATATYPES[array.dtype]}
        if binary:
            raw = array.astype(BINARY_DTYPES[entry["datatype"]]).tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            # Flat, row-major; tolist() gives Python floats, which json writes
            # as the shortest decimal that reads back to the same value.
            entry["data"] = array.astype(np.float64).ravel().tolist()
        header["inputs"].append(entry)
    if binary_outputs is True:
        header.setdefault("parameters", {})["binary_data_output"] = True
    if outputs is not None:
        header["outputs"] = [
            {"name": o, "parameters": {"binary_data": binary_outputs is True or o in binary_outputs}}
            for o in outputs
        ]

    head = json.dumps(header).encode()
    request = urllib.request.Request(
        f"{url}/v2/models/{model}/infer", data=head + b"".join(blobs), method="POST"
    )
    if blobs:
        request.add_header("Content-Type", "application/octet-stream")
        request.add_header("Inference-Header-Content-Length", str(len(head)))
    else:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            header_length = response.headers.get("Inference-Header-Content-Length")
    except urllib.error.HTTPError as e:
        body = e.read()
        message = body.decode(errors="replace")
        if e.headers.get_content_type() == "application/json":
            message = json.loads(body)["error"]
        raise V2Error(e.code, message) from None

    # The JSON header, then the binary outputs in output order.
    if header_length is None:
        reply, rest = json.loads(body), b""
    else:
        n = int(header_length)
        reply, rest = json.loads(body[:n]), body[n:]
    result, binary_names, offset = {}, set(), 0
    for output in reply["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            values = np.array(output["data"], dtype=BINARY_DTYPES[output["datatype"]])
        else:
            if offset + size > len(rest):
                raise ValueError(f"output {output['name']}: the reply ends inside its binary data")
            values = np.frombuffer(rest[offset : offset + size], dtype=BINARY_DTYPES[output["datatype"]])
            offset += size
            binary_names.add(output["name"])
        result[output["name"]] = values.reshape(output["shape"])
    if offset != len(rest):
        raise ValueError(f"the reply has {len(rest) - offset} bytes after its binary outputs")
    return result, reply.get("id"), binary_names


def show(label, reply):
    result, request_id, binary_names = reply
    print(f"{label}:" + (f" id={request_id}" if request_id is not None else ""))
    for name, values in result.items():
        how = "binary" if name in binary_names else "json"
        print(f"  {name} {values.dtype.name} {how} {[v.item() for v in values.ravel()]}")


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    weights = {
        "dense/kernel": np.array([[0.1, -0.2], [0.3, 0.4]], dtype=np.float32),
        "dense/bias": np.array([0.5, -1.5, 2.25], dtype=np.float16),
        "embedding": np.array([1e-3, -7.0], dtype=np.float64),
    }

    # Binary inputs; loss, count and the per-input losses back as binary data,
    # norm and max_abs as JSON.
    reply = infer(
        url,
        "l2_loss",
        weights,
        binary=True,
        outputs=["loss", "sum_squares", "norm", "max_abs", "count", "input_loss"],
        binary_outputs={"loss", "sum_squares", "count", "input_loss"},
        request_id="py-1",
    )
    show("l2_loss, binary inputs", reply)

    # The same weights as JSON data to the regularize model; every output the
    # server sends by default, as JSON.
    reply = infer(url, "regularize", weights, binary=False, parameters={"scale": 0.01})
    show("regularize scale=0.01, JSON inputs", reply)

    # One binary input, every default output as binary data (the request
    # parameter binary_data_output, as tritonclient sends it); the scale as a
    # string in the `scale` query grammar.
    reply = infer(
        url, "regularize", {"w": weights["dense/bias"]}, binary_outputs=True, parameters={"scale": "0.5"}
    )
    show("regularize scale=0.5, binary outputs", reply)

    # Refusals come back as {"error": ...}.
    for label, model, inputs, parameters in (
        ("integer scale", "regularize", {"w": np.ones(2, np.float32)}, {"scale": 1}),
        ("scale on l2_loss", "l2_loss", {"w": np.ones(2, np.float32)}, {"scale": 0.5}),
        ("unknown model", "l3_loss", {"w": np.ones(2, np.float32)}, None),
    ):
        try:
            infer(url, model, inputs, parameters=parameters)
            print(f"error ({label}): none")
        except V2Error as e:
            print(f"error ({label}): {e.status} {e.message}")


if __name__ == "__main__":
    main()
