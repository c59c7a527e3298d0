#!/usr/bin/env python3
"""make_fixtures.py -- writes the .npy fixtures of tests/api/test_npy_decode.c.

The bytes are those numpy.lib.format.write_array_header_{1,2}_0 writes
(sorted keys, repr values, spaces and a '\\n' to a 64-byte boundary), built
with struct so that numpy is not needed. Run from this directory."""
import struct


def npy(name, descr, shape, values, fortran=False, version=1, extra=b"", cut=0):
    header = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran, shape)
    pre = 8 + (2 if version == 1 else 4)
    hlen = len(header) + 1
    header += " " * ((64 - (pre + hlen) % 64) % 64) + "\n"
    out = b"\x93NUMPY" + bytes([version, 0])
    out += struct.pack("<H" if version == 1 else "<I", len(header))
    out += header.encode("latin1" if version < 3 else "utf8")
    fmt = {"f2": "e", "f4": "f", "f8": "d", "i4": "i"}[descr[1:]]
    order = ">" if descr[0] == ">" else "<"
    data = b"".join(struct.pack(order + fmt, v) for v in values) + extra
    if cut:
        data = data[:-cut]
    with open(name, "wb") as f:
        f.write(out + data)


npy("f4_2x3.npy", "<f4", (2, 3), [1, 2, 3, 4, 5, 6])
npy("f8_be_5.npy", ">f8", (5,), [0.5, -1.5, 2.5, 3.25, -4])
npy("f2_scalar.npy", "<f2", (), [3.0])
npy("f2_be_2x2.npy", ">f2", (2, 2), [0.5, 1.5, -2, 65504])
npy("f4_fortran_2x2.npy", "<f4", (2, 2), [1, 3, 2, 4], fortran=True)
npy("f4_empty_0x3.npy", "<f4", (0, 3), [])
npy("f8_v2.npy", "<f8", (2,), [1, 2], version=2)
npy("f4_v3.npy", "<f4", (1, 1, 2), [-3, 4], version=3)
npy("bad_i4.npy", "<i4", (3,), [1, 2, 3])
npy("bad_short.npy", "<f4", (4,), [1, 2, 3, 4], cut=5)
npy("bad_long.npy", "<f4", (2,), [1, 2], extra=b"\0")
npy("bad_nan.npy", "<f4", (3,), [1, float("nan"), 2])
npy("bad_inf_be.npy", ">f2", (2, 2), [1, 2, 3, float("-inf")])
