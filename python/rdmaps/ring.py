# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.Ring: the ring allreduce (rps_ring(3)) on numpy arrays, for
training without a server (DC-S3GD) from Python."""

import ctypes
import errno

import numpy as np

from ._closing import Closing
from . import _lib
from .errors import Error
from .worker import _check_int

__all__ = ["Ring"]


class Ring(Closing):
    """Rank ``rank`` of a ring of ``world`` processes that allreduce (SUM)
    ``count`` float32 values.

    ``peers``: one "host:port" per rank (a list or a comma-separated
    string); rank r listens on peers[r], whose host must be one of its
    addresses.  Every rank passes the same peers, world and count.  The
    constructor connects to the right neighbour and accepts the left one,
    waiting up to ``timeout`` seconds for them to start.  With
    ``progress_thread`` the ring runs a thread of its own that moves the
    data while the caller computes (pinned to ``progress_cpu`` when given).

    ``buffer`` is a float32 numpy array of ``count`` that IS the registered
    ring buffer: ``allreduce()`` (or ``allreduce(r.buffer)``) sums it in
    place with no copy; another array is copied in and the sum copied back.
    The buffer is the library's memory: do not use it after ``close()``.
    """

    def __init__(self, peers, rank, world, count, provider="auto", device=None,
                 timeout=30, progress_thread=False, progress_cpu=None,
                 chunk_bytes=None, window=None):
        self._handle = ctypes.c_void_p()
        self._closed = True
        if isinstance(peers, str):
            peers = [p.strip() for p in peers.split(",")]
        if not isinstance(peers, (list, tuple)) or not all(
                isinstance(p, str) and p for p in peers):
            raise Error("peers must be a list of 'host:port' strings, one per rank")
        self.world = _check_int("world", world, 1, 2**32 - 1)
        self.rank = _check_int("rank", rank, 0, self.world - 1)
        if len(peers) != self.world:
            raise Error("peers lists %d addresses for a world of %d" % (len(peers), self.world))
        self.count = _check_int("count", count, 1)
        lib = _lib.lib()
        self._lib = lib
        self._attr_tp = _lib.transport_attr(provider, device)
        attr = _lib.RingAttr()
        lib.rps_ring_attr_init_size(ctypes.byref(attr), ctypes.sizeof(attr))
        attr.tp_attr = ctypes.pointer(self._attr_tp)
        attr.rank, attr.world, attr.count = self.rank, self.world, self.count
        keep = [p.encode() for p in peers]
        attr.peers = (ctypes.c_char_p * len(keep))(*keep)
        ms = _lib.timeout_ms(timeout)
        if ms <= 0:
            raise Error("timeout must be > 0 seconds, not %r" % (timeout,))
        attr.timeout_ms = ms
        attr.progress_thread = bool(progress_thread)
        if progress_cpu is not None:
            attr.progress_cpu = _check_int("progress_cpu", progress_cpu, 0)
        if chunk_bytes is not None:
            attr.chunk_bytes = _check_int("chunk_bytes", chunk_bytes, 4)
        if window is not None:
            attr.window = _check_int("window", window, 1, 256)
        _lib.call("ring rank %d of %d (%s)" % (self.rank, self.world, peers[self.rank]),
                  lib.rps_ring_create, ctypes.byref(attr), ctypes.byref(self._handle))
        self._closed = False
        ptr = lib.rps_ring_buffer(self._handle)
        self.buffer = np.ctypeslib.as_array(ptr, shape=(self.count,))
        self._out = None  # the array an allreduce in flight copies back to

    @property
    def closed(self):
        """True once close() ran (or the constructor failed)."""
        return self._closed

    def _check_open(self):
        if self._closed:
            raise Error("the ring is closed", -errno.ENOTCONN)

    def _stage(self, array):
        if array is None or (isinstance(array, np.ndarray) and
                             array.ctypes.data == self.buffer.ctypes.data):
            return None
        if not isinstance(array, np.ndarray) or array.dtype != np.float32:
            raise Error("allreduce takes a float32 numpy array, not %s" % (
                type(array).__name__ if not isinstance(array, np.ndarray) else array.dtype))
        if array.size != self.count:
            raise Error("allreduce: the array has %d floats, the ring %d" % (
                array.size, self.count))
        self.buffer[:] = array.reshape(-1)
        return array

    def allreduce_start(self, array=None):
        """Starts summing ``array`` (None = ``buffer``) over the ranks."""
        self._check_open()
        out = self._stage(array)
        _lib.call("allreduce", self._lib.rps_ring_allreduce_start, self._handle)
        self._out = out

    def progress(self):
        """Moves the allreduce on without blocking: True once it is done."""
        self._check_open()
        ret = _lib.call("allreduce", self._lib.rps_ring_progress, self._handle)
        if ret == 1:
            self._finish()
        return ret == 1

    def allreduce_wait(self, timeout=None):
        """Waits (seconds; None = forever) for the allreduce: True when the
        sum is in place, False when the timeout passed first."""
        self._check_open()
        ret, lines = _lib.invoke(self._lib.rps_ring_allreduce_wait, self._handle,
                                 _lib.timeout_ms(timeout))
        if ret == -errno.ETIMEDOUT:
            return False
        if ret < 0:
            raise _lib.error("allreduce", ret, lines)
        self._finish()
        return True

    def _finish(self):
        if self._out is not None:
            np.copyto(self._out, self.buffer.reshape(self._out.shape))
            self._out = None

    def allreduce(self, array=None):
        """The SUM over every rank of ``array`` (None = ``buffer``), in
        place; returns the array (or ``buffer``)."""
        self._check_open()
        out = self._stage(array)
        _lib.call("allreduce", self._lib.rps_ring_allreduce, self._handle)
        self._out = out
        self._finish()
        return self.buffer if array is None else array

    def close(self):
        """Closes the connections (idempotent); an allreduce in flight is
        abandoned."""
        if self._closed:
            return
        self._closed = True
        self._lib.rps_ring_destroy(self._handle)
        self._handle = ctypes.c_void_p()
        self.buffer = None


