# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.Worker: a worker of rdma-ps, its gradient and weights as numpy
arrays that are the registered RDMA buffers themselves."""

import ctypes
import errno
import numbers
import time

import numpy as np

from ._closing import Closing
from . import _lib
from .errors import Error

__all__ = ["Worker", "parse_servers", "parse_addresses", "parse_host_port", "aligned_floats"]

#: The port of a server or peer given without one (rdma-ps and rdma-worker's
#: default --port).
DEFAULT_PORT = 18515
_PAGE = 4096


def aligned_floats(n):
    """A zeroed, page-aligned float32 array of n floats (owned by numpy,
    so it outlives any connection that registered it)."""
    raw = np.zeros(n * 4 + _PAGE, dtype=np.uint8)
    off = (-raw.ctypes.data) % _PAGE
    return raw[off:off + n * 4].view(np.float32)


def _check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Error("%s must be an integer, not %r" % (name, value))
    value = int(value)
    if value < low or (high is not None and value > high):
        raise Error("%s must be %s, not %d" % (
            name, ">= %d" % low if high is None else "in %d..%d" % (low, high), value))
    return value


def parse_host_port(item, what):
    """("host", port) of "host:port", "host" (DEFAULT_PORT) or
    "[IPv6]:port" / "[IPv6]", with rdma-worker's rules: an IPv6 literal
    goes in brackets, the port is 1..65535 in digits.  The host comes
    without brackets.  what names the argument in the error."""
    if not isinstance(item, str) or not item:
        raise Error("%s: %r is not a 'host:port' string" % (what, item))
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise Error("%s: %r: expected [IPv6] or [IPv6]:port" % (what, item))
        port = rest[1:] if rest else None
    else:
        host, colon, port = item.partition(":")
        port = port if colon else None
    if not host:
        raise Error("%s: %r has no host" % (what, item))
    if port is None:
        return host, DEFAULT_PORT
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise Error("%s: %r: the port must be a number in 1..65535 (an IPv6 address goes "
                    "in brackets: [addr]:port)" % (what, item))
    return host, int(port)


def parse_addresses(addrs, what):
    """[(host, port)] of a list of "host:port" (see parse_host_port) or a
    comma-separated string of them."""
    if isinstance(addrs, str):
        items = [s.strip() for s in addrs.split(",")]
    elif isinstance(addrs, (list, tuple)):
        items = list(addrs)
    else:
        raise Error("%s must be 'host:port', a comma-separated string or a list, not %r"
                    % (what, addrs))
    return [parse_host_port(s, what) for s in items]


def parse_servers(servers):
    """"host:port", "host", "[v6addr]:port", a comma-separated string of
    those or a list -> [(host, port)]."""
    out = parse_addresses(servers, "servers")
    if not out:
        raise Error("servers: no server given")
    return out


class _Shard:
    """One connection (rps_worker_t) and the slice of the flat arrays it
    serves."""

    def __init__(self, host, port, offset, count):
        self.host, self.port = host, port
        self.offset, self.count = offset, count
        self.handle = ctypes.c_void_p()
        self.num_chunks = 0
        self.chunk_params = 0

    @property
    def name(self):
        return "%s:%d" % (self.host, self.port)


class Worker(Closing):
    """A worker of rdma-ps: rank ``rank`` of ``world``.

    ``servers`` is "host:port" (port 18515 when omitted), a
    comma-separated string or a list of them; several servers hold the
    model sharded in that order (rdma-ps --shard I/K), and ``num_params``
    (the whole model's size) is then required.  ``provider`` is "auto"
    (verbs when an RDMA device has an active port, else ofi), "verbs" or
    "ofi"; ``device`` an RDMA device (mlx5_0) or libfabric domain;
    ``auth_token_file`` the shared secret of rdma-ps --auth-token-file;
    ``timeout`` (seconds) bounds connecting and every wait, so a server
    that is not there raises rdmaps.Error instead of hanging.
    ``num_params``, when not 0, must be the server's model size: the
    server refuses a worker of another size, and the error names both.

    ``grad`` and ``weights`` are float32 numpy arrays of ``num_params``
    that ARE the registered RDMA buffers (no copy on either side): write
    the gradient into ``grad`` (``w.grad[:] = g``), ``push()``, ``pull()``,
    read ``weights``.  The initial weights are pulled before the
    constructor returns.  The arrays are numpy's own memory, so they stay
    valid after ``close()`` (holding the last weights pulled).

    Use it as a context manager; ``close()`` says goodbye to the server
    and disconnects.  Every failure raises rdmaps.Error.
    """

    def __init__(self, servers, rank, world, provider="auto", device=None,
                 auth_token_file=None, timeout=60, num_params=0):
        self._shards = []
        self._closed = True
        addrs = parse_servers(servers)
        self.world = _check_int("world", world, 1, 2**32 - 1)
        self.rank = _check_int("rank", rank, 0, self.world - 1)
        n = _check_int("num_params", num_params, 0)
        self._timeout_ms = _lib.timeout_ms(timeout)
        if self._timeout_ms <= 0:
            raise Error("timeout must be > 0 seconds, not %r" % (timeout,))
        token = _lib.read_token(auth_token_file)
        lib = _lib.lib()
        self._lib = lib
        self._attr = _lib.transport_attr(provider, device, timeout)
        self._token = ctypes.create_string_buffer(token, len(token)) if token else None
        if not n and len(addrs) > 1:
            raise Error("with %d servers (a sharded model) num_params, the whole "
                        "model's size, is required" % len(addrs))
        if len(addrs) > max(n, 1):
            raise Error("a model of %d parameters cannot be split over %d servers"
                        % (n, len(addrs)))
        # without num_params (one server) the arrays are made once the
        # server told the size, by the library calling _alloc
        self.num_params = n
        self.grad = aligned_floats(n) if n else None
        self.weights = aligned_floats(n) if n else None
        for i, (host, port) in enumerate(addrs):
            off, cnt = ctypes.c_uint64(), ctypes.c_uint64()
            if n:
                _lib.call("sharding", lib.rps_shard_range, n, len(addrs), i,
                          ctypes.byref(off), ctypes.byref(cnt))
            self._shards.append(_Shard(host, port, off.value, cnt.value))
        self._closed = False
        try:
            for i, s in enumerate(self._shards):
                self._connect(s, i, len(addrs))
        except BaseException:
            self.close()
            raise
        self._chunks = []  # global chunk -> (shard, local chunk, start, stop)
        for s in self._shards:
            for c in range(s.num_chunks):
                start = s.offset + c * s.chunk_params
                self._chunks.append((s, c, start, min(start + s.chunk_params,
                                                      s.offset + s.count)))
        self.algo = lib.rps_algo_name(lib.rps_worker_algo(self._shards[0].handle)).decode()

    # ---- connecting ---------------------------------------------------------

    def _config(self, host, port, num_params, grad_ptr, weights_ptr):
        cfg = _lib.WorkerConfig()
        self._lib.rps_worker_config_init_size(ctypes.byref(cfg), ctypes.sizeof(cfg))
        cfg._host = host.encode()
        cfg.server = cfg._host
        cfg.port = port
        cfg.worker_id = self.rank
        cfg.num_workers = self.world
        cfg.num_params = num_params
        cfg.transport = ctypes.pointer(self._attr)
        cfg.timeout_ms = self._timeout_ms
        if self._token is not None:
            cfg.auth_token = ctypes.cast(self._token, ctypes.c_void_p)
            cfg.auth_token_len = len(self._token)
        cfg.grad_buf = grad_ptr
        cfg.weights_buf = weights_ptr
        return cfg

    def _connect_retry(self, what, cfg, handle):
        """rps_worker_connect, retrying while the server says this rank's
        previous connection is still being closed (-EBUSY) until timeout."""
        deadline = time.monotonic() + self._timeout_ms / 1000.0
        while True:
            try:
                return _lib.call(what, self._lib.rps_worker_connect, ctypes.byref(cfg),
                                 ctypes.byref(handle))
            except Error as e:
                if e.code != -errno.EBUSY or time.monotonic() >= deadline:
                    if e.code == -errno.ECONNREFUSED:
                        e.message += " (is rdma-ps running there, on that port?)"
                        e.args = (e.message,)
                    raise
            time.sleep(0.05)

    def _alloc(self, n, which, arg):
        """buf_alloc of rps_worker_config_t: the arrays, numpy's memory,
        made when the server told the size n."""
        a = aligned_floats(n)
        if which == 0:
            self.grad = a
        else:
            self.weights = a
        return a.ctypes.data

    def _connect(self, s, i, k):
        if self.num_params:
            cfg = self._config(s.host, s.port, s.count, self.grad.ctypes.data + s.offset * 4,
                               self.weights.ctypes.data + s.offset * 4)
        else:
            cfg = self._config(s.host, s.port, 0, None, None)
            cfg.buf_alloc = _lib.BUF_ALLOC(self._alloc)  # called within connect
        self._connect_retry(s.name, cfg, s.handle)
        if not self.num_params:
            self.num_params = s.count = self._lib.rps_worker_num_params(s.handle)
        got = self._lib.rps_worker_shard_offset(s.handle)
        if got != s.offset:
            raise Error("%s holds the shard from parameter %d, but as server %d of %d it "
                        "should hold the one from %d (check the server order and "
                        "rdma-ps --shard)" % (s.name, got, i, k, s.offset), -errno.EINVAL)
        s.num_chunks = self._lib.rps_worker_num_chunks(s.handle)
        s.chunk_params = self._lib.rps_worker_chunk_params(s.handle)

    # ---- properties -----------------------------------------------------------

    @property
    def num_chunks(self):
        """Chunks of the flat arrays (over every shard), for pull_wait_chunk."""
        return len(self._chunks)

    def chunk_range(self, i):
        """(start, stop): the float indices of chunk i."""
        i = self._chunk_index(i)
        return self._chunks[i][2], self._chunks[i][3]

    @property
    def server_version(self):
        """Server updates seen at the last push or pull (the smallest over
        the shards)."""
        self._check_open()
        return min(self._lib.rps_worker_server_version(s.handle) for s in self._shards)

    @property
    def servers(self):
        """["host:port"] in shard order."""
        return [s.name for s in self._shards]

    @property
    def closed(self):
        """True once close() ran (or the constructor failed)."""
        return self._closed

    # ---- push and pull --------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise Error("the worker is closed", -errno.ENOTCONN)

    def _each(self, what, fn, *args):
        for s in self._shards:
            _lib.call("%s (%s)" % (what, s.name), fn, s.handle, *args)

    def push(self):
        """Sends ``grad`` and waits until every server applied it.  A server
        that refused NaN/Inf chunks raises rdmaps.Error with code -EDOM
        after the others finished."""
        if len(self._shards) == 1 and not self._closed:  # one C call
            s = self._shards[0]
            ret, lines = _lib.invoke(self._lib.rps_push, s.handle)
            if ret < 0:
                self._push_error(s, ret, lines)
            return
        self.push_start()
        self.push_wait()

    def push_start(self):
        """Starts sending ``grad`` (do not write it until push_wait)."""
        self._check_open()
        self._each("push", self._lib.rps_push_start)

    def push_wait(self, timeout=None):
        """Waits for the push started last.  timeout: seconds, None = the
        worker's timeout, 0 = poll.  True when applied; False only when
        polling (timeout 0) and it is still in flight."""
        self._check_open()
        ms = self._timeout_ms if timeout is None else _lib.timeout_ms(timeout)
        first = None
        for s in self._shards:
            ret, lines = _lib.invoke(self._lib.rps_push_wait, s.handle, ms)
            if ret == -errno.EAGAIN:
                return False
            if ret < 0 and first is None:
                first = (s, ret, lines)
        if first is not None:
            self._push_error(*first)
        return True

    def _push_error(self, s, ret, lines):
        if ret == -errno.EDOM:
            raise Error("push (%s): the server rejected chunks holding NaN or Inf; "
                        "they were not applied" % s.name, ret)
        raise _lib.error("push (%s)" % s.name, ret, lines)

    def pull(self):
        """Reads the server's weights into ``weights`` and waits for all."""
        self._check_open()
        if len(self._shards) == 1:  # one C call: start and wait
            s = self._shards[0]
            _lib.call("pull (%s)" % s.name, self._lib.rps_pull, s.handle)
            return
        self.pull_start()  # every server's READs in flight at once
        for c in range(self.num_chunks):
            self.pull_wait_chunk(c)

    def pull_start(self):
        """Starts reading every chunk of the weights (on every server)."""
        self._check_open()
        self._each("pull", self._lib.rps_pull_start)

    def _chunk_index(self, i):
        return _check_int("chunk", i, 0, self.num_chunks - 1)

    def pull_wait_chunk(self, i, timeout=None):
        """Waits until chunk i (see chunk_range) of the pull started last is
        in ``weights``.  timeout as for push_wait; True when it is there,
        False only when polling (timeout 0) and it is still in flight."""
        self._check_open()
        s, c, _, _ = self._chunks[self._chunk_index(i)]
        ms = self._timeout_ms if timeout is None else _lib.timeout_ms(timeout)
        ret, lines = _lib.invoke(self._lib.rps_pull_wait_chunk, s.handle, c, ms)
        if ret == -errno.EAGAIN:
            return False
        if ret < 0:
            raise _lib.error("pull (%s)" % s.name, ret, lines)
        return True

    def step(self):
        """push() then pull(), overlapped: each chunk of ``weights`` is read
        as soon as its server applied it (rps_step(3)), so the weights are
        those push() and pull() would give, sooner.  Raises as push()
        does; the weights are pulled either way."""
        self._check_open()
        self._each("step", self._lib.rps_step_start)
        first = None
        for s in self._shards:
            ret, lines = _lib.invoke(self._lib.rps_step_wait, s.handle, self._timeout_ms)
            if ret < 0 and first is None:
                first = (s, ret, lines)
        if first is not None:
            self._push_error(*first)

    # ---- closing ----------------------------------------------------------------

    def close(self):
        """Says goodbye to the servers and disconnects (idempotent).  The
        arrays stay valid, holding their last contents."""
        if self._closed:
            return
        self._closed = True
        for s in self._shards:
            if s.handle:
                self._lib.rps_worker_close(s.handle)
                s.handle = ctypes.c_void_p()


    def __repr__(self):
        return "<rdmaps.Worker rank %d/%d, %d params, %s on %s%s>" % (
            self.rank, self.world, getattr(self, "num_params", 0), getattr(self, "algo", "?"),
            ",".join(s.name for s in self._shards), " (closed)" if self._closed else "")
