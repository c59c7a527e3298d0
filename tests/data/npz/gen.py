#!/usr/bin/python3
"""gen.py -- writes the .npz fixtures of tests/api/test_npz_decode.c with numpy.

Every file is written by numpy itself: np.savez and np.savez_compressed to a
path (seekable: sizes in the local headers, zip64 extra fields as numpy asks
with force_zip64) and to a pipe, sys.stdout.buffer of a child process
(non-seekable: flag bit 3, sizes in data descriptors after the data). The
float values are drawn exactly as the C test draws them (splitmix64, the
chunks_rng of tests/support/chunks.c, then random_finite: bit patterns that
are finite and below 2^500 in magnitude), so the test recomputes the exact
answer with the MPFR oracle from the same seeds. Keep MEMBERS in step with
the table in the test. Run from this directory:

    /usr/bin/python3 gen.py
"""
import subprocess
import sys

import numpy as np

MASK64 = (1 << 64) - 1


def chunks_rng(state):
    """splitmix64, as tests/support/chunks.c."""
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & MASK64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def random_finite(size, state):
    """Bits of a finite float of `size` bytes below 2^500, as the C test."""
    while True:
        b = chunks_rng(state)
        if size < 8:
            b &= 0xFFFFFFFF if size == 4 else 0xFFFF
        v = np.frombuffer(b.to_bytes(size, "little"), dtype="<f%d" % size)[0]
        if np.isfinite(v) and abs(float(v)) < 2.0**500:
            return b


def floats(descr, shape, seed):
    """count elements of random_finite bits from seed, as descr."""
    size = int(descr[2])
    count = int(np.prod(shape, dtype=np.int64))
    state = [seed]
    raw = b"".join(random_finite(size, state).to_bytes(size, "little") for _ in range(count))
    return np.frombuffer(raw, dtype="<f%d" % size).reshape(shape).astype(descr)


def tiled(descr, rows, seed):
    """rows copies of one row of 64 random_finite values (compresses well)."""
    return np.tile(floats(descr, (64,), seed), (rows, 1))


# name, array: the order is the archive's.
MEMBERS = [
    ("w", floats("<f4", (3, 5), 1)),
    ("dense/bias", floats(">f8", (7,), 2)),
    ("h", floats("<f2", (2, 2, 3), 3)),
    ("steps", np.arange(4, dtype="<i8")),
    ("mask", np.array([True, False, True])),
    ("empty", np.zeros((0, 3), dtype="<f4")),
    ("scalar", floats("<f8", (), 4)),
    ("be16", floats(">f2", (5,), 5)),
    ("c", np.array([1 + 2j, -3j], dtype="<c8")),
    ("poids_\u00e9", floats("<f4", (2,), 6)),
    ("be32", floats(">f4", (4,), 7)),
]
POSITIONAL = [floats("<f4", (3,), 8), floats("<f8", (2, 2), 9)]
TILED = [("tiled", tiled(">f4", 1000, 11))]

# file name, writer, what to write, written to a pipe
FILES = [
    ("stored.npz", "savez", "MEMBERS", False),
    ("deflate.npz", "savez_compressed", "MEMBERS", False),
    ("stored_pipe.npz", "savez", "MEMBERS", True),
    ("deflate_pipe.npz", "savez_compressed", "MEMBERS", True),
    ("empty.npz", "savez", None, False),
    ("positional.npz", "savez", "POSITIONAL", False),
    ("tiled.npz", "savez_compressed", "TILED", False),
    ("tiled_pipe.npz", "savez_compressed", "TILED", True),
]


def write(out, writer, what):
    save = getattr(np, writer)
    if what is None:
        save(out)
    elif what == "POSITIONAL":
        save(out, *POSITIONAL)
    else:
        save(out, **dict(globals()[what]))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--pipe":
        # child: the archive to stdout, a pipe that cannot seek
        write(sys.stdout.buffer, sys.argv[2], sys.argv[3] if sys.argv[3] != "-" else None)
        return
    for name, writer, what, pipe in FILES:
        if pipe:
            child = subprocess.run(
                [sys.executable, __file__, "--pipe", writer, what or "-"],
                stdout=subprocess.PIPE,
                check=True,
            )
            with open(name, "wb") as f:
                f.write(child.stdout)
        else:
            write(name, writer, what)


if __name__ == "__main__":
    main()
