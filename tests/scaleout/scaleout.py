#!/usr/bin/python3
"""scaleout.py -- Debian's nginx, configured with deploy/nginx/l2d.conf, in
front of three l2d replicas, all on loopback ports picked here:

  shard    a 1 GiB float32 tensor (.npy) split by examples/shard.py into 32
           pieces sent concurrently through nginx with ?partial=true, merged:
           bit for bit the answer of one request straight to one replica, and
           the exact value computed here with integers; wall times of both
           printed. A small safetensors checkpoint (with an empty tensor and
           a skipped integer tensor) and a big-endian .npy the same way.
  rolling  a bounded load through nginx (C clients, D seconds) while each
           replica in turn gets SIGTERM, exits 0 and is started again:
           0 failed requests; requests, failures and per-replica counts
           (from nginx's access log) printed.
  kill     the same load while one replica gets SIGKILL: failures at most
           what the clients had in flight, and none once nginx has seen the
           replica fail (it marks it down); printed.

Every answer of the load is checked against the exact value. Everything stops
by itself: each wait has a bound, and the servers are killed on exit.

Usage: scaleout.py [--l2d build/l2d] [--nginx /usr/sbin/nginx]
                   [--size-mib 1024] [--parts 32] [--seconds 20]
                   [--clients 8] [--repeat 1] [SCENARIO...]   (default: all three)
Needs Python 3 with numpy (Debian: python3-numpy) and nginx (Debian: nginx).
"""

import argparse
import concurrent.futures
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAME = "test-scaleout"
REPLICAS = 3
SHUTDOWN_DELAY = 2  # seconds of lame duck (L2D_SHUTDOWN_DELAY)
DRAIN_TIMEOUT = 10  # L2D_DRAIN_TIMEOUT
START_BOUND = 10.0  # seconds for a process to start or exit
MAX_LOAD_REQUESTS = 200000  # the load's bound besides its duration


class Fail(Exception):
    pass


def log(msg):
    print(f"{NAME}: {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=600):
    """One request on its own connection: (status, parsed JSON or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, blocksize=1 << 20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, None


# --- exact values -----------------------------------------------------------


class Exact:
    """Exact sum of squares of float32 values: per binary exponent e, the
    integer sum of m*m where |x| = m * 2**(e-24), m an integer below 2**24.
    With m = hi * 2**12 + lo (both below 2**12), m*m is three integer sums
    that float64 bincount adds exactly (each below 2**53 for up to 2**24
    elements); Python integers and Fractions do the rest."""

    def __init__(self):
        self.total = Fraction(0)
        self.count = 0
        self.max_abs = 0.0

    def add_float32(self, a):
        a = a.astype(np.float64)
        if a.size > (1 << 24):
            raise ValueError("add at most 2**24 elements at a time")
        self.count += a.size
        if a.size:
            self.max_abs = max(self.max_abs, float(np.max(np.abs(a))))
        mant, exp = np.frexp(np.abs(a))
        m = (mant * (1 << 24)).astype(np.int64)  # exact: 24 significant bits
        hi, lo = m >> 12, m & 0xFFF
        base = int(exp.min()) if a.size else 0
        idx = exp - base
        sums = [np.bincount(idx, weights=(x * y).astype(np.float64))
                for x, y in ((hi, hi), (hi, lo), (lo, lo))]
        for k in range(len(sums[0])):
            hh, hl, ll = (int(s[k]) for s in sums)
            mm = (hh << 24) + (hl << 13) + ll  # sum of m*m at exponent base+k
            if mm:
                e2 = 2 * (base + k - 24)
                self.total += Fraction(mm << e2) if e2 >= 0 else Fraction(mm, 1 << -e2)

    def answer(self):
        """loss, sum_squares, norm (correctly rounded), count, max_abs."""
        s = self.total
        return {"loss": float(s / 2), "sum_squares": float(s), "norm": exact_sqrt(s),
                "count": self.count, "max_abs": self.max_abs}


def exact_sqrt(q):
    """sqrt(q) of a non-negative Fraction, correctly rounded to float64: an
    integer square root with at least 60 bits and a sticky bit."""
    if q == 0:
        return 0.0
    k = 0  # sqrt(q) = sqrt(q * 4**k) / 2**k, with q * 4**k >= 2**120
    while q * Fraction(4) ** k < (1 << 120):
        k += 1
    while k > 0 and q * Fraction(4) ** (k - 1) >= (1 << 120):
        k -= 1
    scaled = q * Fraction(4) ** k
    n = scaled.numerator // scaled.denominator
    r = math.isqrt(n)
    exact = r * r == n and scaled.denominator == 1
    return float(Fraction(2 * r + (0 if exact else 1), 2 << k))


# --- the servers ------------------------------------------------------------


class Replica:
    def __init__(self, l2d, work, i):
        self.l2d, self.i, self.port = l2d, i, free_port()
        self.log_path = os.path.join(work, f"l2d-{i}.log")
        self.proc = None
        self.starts = 0

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("L2D_")}
        env.update(L2D_SHUTDOWN_DELAY=str(SHUTDOWN_DELAY), L2D_DRAIN_TIMEOUT=str(DRAIN_TIMEOUT))
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.l2d, "--bind", "127.0.0.1", "--port", str(self.port), "--threads", "2",
             "--max-body-bytes", str(2 << 30)], stdout=logf, stderr=logf, env=env)
        logf.close()
        self.starts += 1
        deadline = time.monotonic() + START_BOUND
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail(f"replica {self.i} exited at start: {self.tail()}")
            try:
                if request(self.port, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise Fail(f"replica {self.i} not ready in {START_BOUND} s: {self.tail()}")

    def stop(self, sig, bound):
        """Sends sig, waits at most bound seconds; returns the exit status."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail(f"replica {self.i} still running {bound} s after {sig.name}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self):
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")


class Nginx:
    """nginx in the foreground with deploy/nginx/l2d.conf, its upstream and
    listen addresses replaced by the loopback ports of this run."""

    def __init__(self, binary, work, replicas):
        self.binary, self.work, self.port = binary, work, free_port()
        self.access = os.path.join(work, "nginx-access.log")
        self.error = os.path.join(work, "nginx-error.log")
        conf = open(os.path.join(ROOT, "deploy", "nginx", "l2d.conf")).read()
        servers = iter(replicas)
        conf, n = re.subn(r"(?m)^(\s*server\s+)127\.0\.0\.1:\d+",
                          lambda m: f"{m.group(1)}127.0.0.1:{next(servers).port}", conf)
        if n != len(replicas):
            raise Fail(f"deploy/nginx/l2d.conf has {n} upstream servers, want {len(replicas)}")
        conf, n = re.subn(r"(?m)^(\s*listen\s+)127\.0\.0\.1:\d+;", rf"\g<1>127.0.0.1:{self.port};", conf)
        if n != 1:
            raise Fail("deploy/nginx/l2d.conf: no 'listen 127.0.0.1:PORT;' line")
        tmp = os.path.join(work, "nginx-tmp")
        os.makedirs(tmp)
        os.chmod(tmp, 0o777)
        with open(os.path.join(work, "l2d.conf"), "w") as f:
            f.write(conf)
        user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            f.write(f"""{user}daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {self.error} warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstreams '$msec $request_time $status "$upstream_addr" "$upstream_status"';
    access_log {self.access} upstreams;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {work}/l2d.conf;
}}
""")
        self.proc = None

    def start(self):
        subprocess.run([self.binary, "-t", "-q", "-p", self.work, "-e", self.error,
                        "-c", os.path.join(self.work, "nginx.conf")], check=True)
        self.proc = subprocess.Popen([self.binary, "-p", self.work, "-e", self.error,
                                      "-c", os.path.join(self.work, "nginx.conf")])
        deadline = time.monotonic() + START_BOUND
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise Fail("nginx did not listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=START_BOUND)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def access_lines(self):
        with open(self.access) as f:
            return f.readlines()


# --- scenario 1: a sharded 1 GiB tensor --------------------------------------


def write_big_npy(path, size_mib):
    """A float32 .npy of size_mib MiB; returns its Exact. One 64 MiB block of
    seeded normal values (a few tiny and subnormal ones mixed in) is written
    again and again, each time rotated and multiplied by 2**s with s in 0..4:
    exact in float32, so the exact sum of the copy is 4**s times the block's,
    and the pieces differ."""
    n = size_mib << 18  # float32 elements
    rng = np.random.default_rng(12)
    block = rng.standard_normal(min(n, 1 << 24), dtype=np.float32)
    block[::5003] *= np.float32(1e-30)
    block[::7919] = np.float32(3e-41)  # subnormal
    one = Exact()
    one.add_float32(block)
    exact = Exact()
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (n,)})
        for k, start in enumerate(range(0, n, block.size)):
            s = k % 5
            copy = np.roll(block, 12345 * k) * np.float32(1 << s)
            f.write(copy[:n - start].tobytes())
            if n - start < block.size:
                exact.add_float32(copy[:n - start])
            else:
                exact.total += one.total * 4**s
                exact.count += block.size
                exact.max_abs = max(exact.max_abs, one.max_abs * (1 << s))
    return exact


def shard_cli(url, path, parts, scale=None):
    cmd = [sys.executable, os.path.join(ROOT, "examples", "shard.py"), "-n", str(parts),
           "--url", url, path]
    if scale:
        cmd[2:2] = ["--scale", scale]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise Fail(f"shard.py failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


NUMBERS = ("loss", "sum_squares", "norm", "count", "max_abs")


def same(what, got, want, keys=NUMBERS):
    """Bit-for-bit equality of the numbers (floats compared by their bits)."""
    for k in keys:
        g, w = got.get(k), want.get(k)
        if isinstance(w, float):
            ok = isinstance(g, float) and g.hex() == w.hex()
        else:
            ok = g == w
        if not ok:
            raise Fail(f"{what}: {k} is {g!r}, want {w!r}")


def scenario_shard(args, work, replicas, nginx):
    path = os.path.join(work, "big.npy")
    t0 = time.monotonic()
    exact = write_big_npy(path, args.size_mib).answer()
    log(f"shard: wrote a {args.size_mib} MiB float32 .npy and its exact value in "
        f"{time.monotonic() - t0:.1f} s")
    url = f"http://127.0.0.1:{nginx.port}"
    t_shard, t_one = [], []
    for _ in range(args.repeat):
        t0 = time.monotonic()
        merged = shard_cli(url, path, args.parts)
        t_shard.append(time.monotonic() - t0)
        one_port = replicas[0].port
        offset = os.path.getsize(path) - (args.size_mib << 20)
        with open(path, "rb") as f:
            f.seek(offset)
            t0 = time.monotonic()
            status, one = request(one_port, "POST", "/l2_loss?dtype=float32", body=f,
                                  headers={"Content-Type": "application/octet-stream",
                                           "Content-Length": str(args.size_mib << 20)})
            t_one.append(time.monotonic() - t0)
        if status != 200:
            raise Fail(f"one request with the whole tensor: {status} {one}")
    with open(nginx.error) as f:
        if "buffered to a temporary file" in f.read():
            raise Fail("nginx wrote a request body to a temporary file: bodies must stream")
    same("merged vs exact", merged, exact)
    same("one request vs exact", one, exact)
    same("merged vs one request", merged, one)
    if merged.get("shape") != [args.size_mib << 18]:
        raise Fail(f"shard.py's shape {merged.get('shape')}")
    log(f"shard: {args.size_mib} MiB float32 in {args.parts} parts through nginx + /merge "
        f"(examples/shard.py): {timing(t_shard)}; one request straight to one replica: "
        f"{timing(t_one)}; "
        f"merged == one request == exact, bit for bit "
        f"(sum_squares {merged['sum_squares']!r}, norm {merged['norm']!r})")
    os.unlink(path)
    scenario_shard_small(url, one_port, work)


def timing(times):
    """'1.23 s', or 'min 1.23 s, median 1.40 s of 5' for repeated runs."""
    if len(times) == 1:
        return f"{times[0]:.2f} s"
    return f"min {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s of {len(times)}"


def scenario_shard_small(url, one_port, work):
    """shard.py on a safetensors checkpoint and a big-endian .npy."""
    rng = np.random.default_rng(5)
    tensors = [("w", "F32", rng.standard_normal((33, 7)).astype("<f4")),
               ("empty", "F64", np.zeros((0, 3), "<f8")),
               ("steps", "I64", np.arange(4, dtype="<i8")),
               ("b", "F64", rng.standard_normal(1001).astype("<f8")),
               ("h", "F16", rng.standard_normal(77).astype("<f2"))]
    header, data, off = {}, b"", 0
    for name, code, a in tensors:
        raw = a.tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    hjson = json.dumps(header).encode()
    st = os.path.join(work, "small.safetensors")
    with open(st, "wb") as f:
        f.write(len(hjson).to_bytes(8, "little") + hjson + data)
    be = os.path.join(work, "be.npy")
    np.save(be, rng.standard_normal((40, 9)).astype(">f8"))
    cases = [(path, ctype, parts, None) for path, ctype in
             ((st, "application/x-safetensors"), (be, "application/x-npy"))
             for parts in (1, 3, 16)]
    cases += [(st, "application/x-safetensors", 5, "0.01"), (be, "application/x-npy", 4, "0.0")]
    for path, ctype, parts, scale in cases:
        got = shard_cli(url, path, parts, scale)
        endpoint = f"/regularize?scale={scale}" if scale else "/l2_loss"
        with open(path, "rb") as f:
            status, want = request(one_port, "POST", endpoint, body=f.read(),
                                   headers={"Content-Type": ctype})
        if status != 200:
            raise Fail(f"{path}: one request: {status} {want}")
        if (json.dumps(got, sort_keys=True) != json.dumps(want, sort_keys=True)
                or list(got.get("tensors", {})) != list(want.get("tensors", {}))):
            raise Fail(f"shard.py -n {parts} --scale {scale} {os.path.basename(path)}:\n  got  {got}\n  want {want}")
    log("shard: shard.py on a safetensors checkpoint and a big-endian .npy (1, 3, 16 pieces; "
        "scale 0.01 and 0.0) prints exactly one request's answer")


# --- the load ----------------------------------------------------------------


BODIES = []  # (raw float32 body, exact answer)


def make_bodies():
    rng = np.random.default_rng(7)
    for n in (1, 64, 1000, 4096):
        for _ in range(4):
            a = rng.standard_normal(n, dtype=np.float32)
            e = Exact()
            e.add_float32(a)
            BODIES.append((a.tobytes(), e.answer()))


class Load:
    """C clients, each on a keep-alive connection to nginx, POST the bodies in
    turn until stop() or the bound; every outcome is recorded."""

    def __init__(self, port, clients):
        self.port, self.clients = port, clients
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.results = []  # (start, end, ok, what)
        self.threads = [threading.Thread(target=self.client, args=(c,)) for c in range(clients)]

    def client(self, c):
        conn = None
        i = c
        while not self.stop_flag.is_set():
            with self.lock:
                if len(self.results) >= MAX_LOAD_REQUESTS:
                    return
            body, want = BODIES[i % len(BODIES)]
            i += 1
            t0 = time.monotonic()
            ok, what = False, ""
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/l2_loss?dtype=float32", body=body,
                             headers={"Content-Type": "application/octet-stream"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    what = f"{resp.status} {data[:200]!r}"
                else:
                    got = json.loads(data)
                    try:
                        same("load answer", got, want)
                        ok = True
                    except Fail as err:
                        what = str(err)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                what = f"{type(err).__name__}: {err}"
                if conn:
                    conn.close()
                conn = None
            with self.lock:
                self.results.append((t0, time.monotonic(), ok, what))
        if conn:
            conn.close()

    def start(self):
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)

    def failures(self):
        return [r for r in self.results if not r[2]]


def upstream_counts(nginx, replicas, first_line):
    """Per-replica answers and retried requests from nginx's access log."""
    by_port = {str(r.port): r.i for r in replicas}
    counts = [0] * len(replicas)
    retried = 0
    for line in nginx.access_lines()[first_line:]:
        m = re.search(r'"([^"]*)" "([^"]*)"$', line.strip())
        if not m:
            continue
        addrs = [a.strip() for a in m.group(1).split(",")]
        retried += len(addrs) > 1
        last = addrs[-1].rsplit(":", 1)[-1]
        if last in by_port:
            counts[by_port[last]] += 1
    return counts, retried


def summary(load, nginx, replicas, first_line):
    counts, retried = upstream_counts(nginx, replicas, first_line)
    fails = load.failures()
    secs = time.monotonic() - load.t0
    log(f"  {len(load.results)} requests in {secs:.1f} s ({len(load.results) / secs:.0f}/s), "
        f"{len(fails)} failed; answered per replica {counts}; "
        f"{retried} passed on to another replica by nginx")
    for r in fails[:10]:
        log(f"  failed at {r[0] - load.t0:.2f}-{r[1] - load.t0:.2f} s: {r[3]}")
    return fails


def scenario_rolling(args, work, replicas, nginx):
    first = len(nginx.access_lines())
    load = Load(nginx.port, args.clients)
    load.start()
    step = args.seconds / (REPLICAS + 1)
    try:
        for r in replicas:
            time.sleep(max(0.0, load.t0 + step * (r.i + 1) - time.monotonic()))
            t0 = time.monotonic()
            status = r.stop(signal.SIGTERM, SHUTDOWN_DELAY + DRAIN_TIMEOUT + START_BOUND)
            t_exit = time.monotonic() - t0
            if status != 0:
                raise Fail(f"replica {r.i} exited with {status} after SIGTERM: {r.tail()}")
            r.start()
            log(f"rolling: replica {r.i}: SIGTERM at {t0 - load.t0:.1f} s, exited 0 after "
                f"{t_exit:.2f} s, ready again after {time.monotonic() - t0:.2f} s")
        time.sleep(max(0.0, load.t0 + args.seconds - time.monotonic()))
    finally:
        load.stop()
    log(f"rolling restart of {REPLICAS} replicas under {args.clients} clients for {args.seconds} s:")
    fails = summary(load, nginx, replicas, first)
    if fails:
        raise Fail(f"rolling restart: {len(fails)} failed requests, want 0")


def scenario_kill(args, work, replicas, nginx):
    first = len(nginx.access_lines())
    load = Load(nginx.port, args.clients)
    load.start()
    victim = replicas[0]
    try:
        time.sleep(args.seconds / 4)
        t_kill = time.monotonic()
        victim.stop(signal.SIGKILL, START_BOUND)
        time.sleep(max(0.0, load.t0 + args.seconds - time.monotonic()))
    finally:
        load.stop()
    log(f"SIGKILL of replica {victim.i} at {t_kill - load.t0:.1f} s under {args.clients} "
        f"clients for {args.seconds} s:")
    fails = summary(load, nginx, replicas, first)
    in_flight = sum(1 for r in load.results if r[0] < t_kill < r[1])
    log(f"  {in_flight} requests in flight through nginx at the kill")
    if len(fails) > args.clients:
        raise Fail(f"kill: {len(fails)} failures, more than the {args.clients} requests that "
                   "can be in flight")
    if fails:
        seen = min(r[1] for r in fails)  # nginx has seen the replica fail
        late = [r for r in fails if r[0] > seen]
        if late:
            raise Fail(f"kill: {len(late)} requests started after nginx had seen the replica "
                       "fail still failed")
        if any(r[0] < t_kill - 30 for r in fails):
            raise Fail("kill: a failure not caused by the kill")
    if any(r[0] > t_kill + 1.0 for r in fails):
        raise Fail("kill: failures more than 1 s after the kill")
    victim.start()


# --- main --------------------------------------------------------------------


SCENARIOS = {"shard": scenario_shard, "rolling": scenario_rolling, "kill": scenario_kill}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--l2d", default=os.path.join(ROOT, "build", "l2d"))
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--parts", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of the sharded tensor")
    ap.add_argument("scenario", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    args = ap.parse_args()
    args.scenario = args.scenario or list(SCENARIOS)
    for name in args.scenario:
        if name not in SCENARIOS:
            ap.error(f"unknown scenario {name!r}")
    if not os.access(args.nginx, os.X_OK):
        print(f"{NAME}: FAIL: no nginx at {args.nginx} (Debian: apt-get install nginx)",
              file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="l2d-scaleout.")
    os.chmod(work, 0o755)
    replicas = [Replica(args.l2d, work, i) for i in range(REPLICAS)]
    nginx = Nginx(args.nginx, work, replicas)
    status = 0
    try:
        make_bodies()
        for r in replicas:
            r.start()
        nginx.start()
        log(f"nginx on 127.0.0.1:{nginx.port} in front of replicas on "
            f"{', '.join(str(r.port) for r in replicas)}")
        for name in args.scenario:
            SCENARIOS[name](args, work, replicas, nginx)
        log("ok")
    except (Fail, subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        print(f"{NAME}: FAIL: {err}", file=sys.stderr)
        err_log = os.path.join(work, "nginx-error.log")
        if os.path.exists(err_log):
            errors = [l for l in open(err_log) if "[error]" in l or "[crit]" in l]
            print("nginx's errors:\n" + "".join(errors[-10:]), file=sys.stderr)
        status = 1
    finally:
        nginx.stop()
        for r in replicas:
            r.kill()
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
