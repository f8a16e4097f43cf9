# SPDX-License-Identifier: BSD-2-Clause
"""Weights files for ``rdma-ps --init-weights FILE`` (WEIGHTS FILE in rdma-ps(8)).

The initial weights of a model rdma-ps does not know: a 32-byte header,
then the whole model as float32, all little-endian::

    offset  size     field
    0       8        magic b"RDMAPSWT"
    8       4        u32 version = 1
    12      4        u32 header bytes = 32
    16      8        u64 count (floats, >= 1)
    24      4        u32 CRC-32 (zlib.crc32) of the count*4 payload bytes
    28      4        u32 reserved = 0
    32      4*count  float32 weights

The file is exactly 32 + 4*count bytes and every weight is finite.
``read_init_weights`` refuses what rdma-ps refuses, with the same reasons
(src/cmd/weights_file.c).  Only the standard library and numpy.
"""

import errno as _errno
import os
import stat
import struct
import zlib

import numpy as np

from .errors import Error

__all__ = ["write_init_weights", "read_init_weights"]

MAGIC = b"RDMAPSWT"
VERSION = 1
HEADER_LEN = 32
MAX_COUNT = 1 << 36  # rdma-ps --params' limit
_HEADER = struct.Struct("<8sIIQII")
assert _HEADER.size == HEADER_LEN


def _os_error(path, what, e):
    return Error("%s: %s: %s" % (os.fspath(path), what, e.strerror or e),
                 -(e.errno or _errno.EIO))


def _first_not_finite(a):
    bad = np.flatnonzero(~np.isfinite(a))
    return int(bad[0]) if bad.size else None


def write_init_weights(path, array):
    """Writes array (a 1-D numpy float32 array of >= 1 finite weights) to
    path as a weights file, atomically: path.tmp is written and fsync'ed,
    then renamed over path.  Raises rdmaps.Error (code -EINVAL for a bad
    array, -errno when the file cannot be written; path.tmp is removed)."""
    if not isinstance(array, np.ndarray):
        raise Error("write_init_weights: array must be a numpy array, not %s"
                    % type(array).__name__)
    if array.dtype != np.float32:
        raise Error("write_init_weights: array must be float32, not %s" % array.dtype)
    if array.ndim != 1:
        raise Error("write_init_weights: array must be 1-D, not %d-D" % array.ndim)
    count = array.size
    if count < 1 or count > MAX_COUNT:
        raise Error("write_init_weights: %d weights, not 1..%d" % (count, MAX_COUNT))
    bad = _first_not_finite(array)
    if bad is not None:
        raise Error("write_init_weights: weight %d of %d is not finite (%s)"
                    % (bad, count, array[bad]))
    payload = memoryview(np.ascontiguousarray(array, dtype="<f4")).cast("B")
    header = _HEADER.pack(MAGIC, VERSION, HEADER_LEN, count,
                          zlib.crc32(payload) & 0xFFFFFFFF, 0)
    path = os.fspath(path)
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise _os_error(path, "cannot write", e) from None


def _header_problem(hdr, size):
    """The reason a header of len(hdr) bytes, of a size-byte file, is
    refused (the C reader's words and order), or None and the count."""
    n = min(len(hdr), len(MAGIC))
    if hdr[:n] != MAGIC[:n]:
        return "not an rdmaps weights file (bad magic)", 0
    if len(hdr) < HEADER_LEN:
        return "truncated: %d bytes, the header needs %d" % (size, HEADER_LEN), 0
    magic, version, hdr_len, count, _crc, reserved = _HEADER.unpack(hdr)
    if version != VERSION:
        return "version %d, this build reads %d" % (version, VERSION), 0
    if hdr_len != HEADER_LEN:
        return "header size %d, expected %d" % (hdr_len, HEADER_LEN), 0
    if reserved:
        return "reserved header field not zero", 0
    if not count:
        return "count 0: the file must hold at least one weight", 0
    if count > MAX_COUNT:
        return "count %d, above the limit of %d weights" % (count, MAX_COUNT), 0
    need = HEADER_LEN + 4 * count
    if size != need:
        return ("%s: %d bytes, count %d needs exactly %d"
                % ("truncated" if size < need else "trailing bytes", size, count, need)), 0
    return None, count


def read_init_weights(path):
    """The weights of the weights file at path, as a 1-D numpy float32
    array, after the checks rdma-ps makes.  Raises rdmaps.Error naming the
    file and the problem: code -EINVAL for a malformed file, -errno when it
    cannot be opened or read."""
    spath = os.fspath(path)
    try:
        # O_NONBLOCK: a FIFO in the way is refused, not waited on
        fd = os.open(spath, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _os_error(spath, "cannot open", e) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise Error("%s: not a regular file" % spath)
    with os.fdopen(fd, "rb") as f:
        try:
            hdr = f.read(HEADER_LEN)
            why, count = _header_problem(hdr, st.st_size)
            if why:
                raise Error("%s: %s" % (spath, why))
            data = f.read(4 * count)
        except OSError as e:
            raise _os_error(spath, "cannot read", e) from None
    if len(data) < 4 * count:
        raise Error("%s: truncated: the weights need %d bytes, %d came (file shrank)"
                    % (spath, 4 * count, len(data)))
    crc = _HEADER.unpack(hdr)[4]
    got = zlib.crc32(data) & 0xFFFFFFFF
    if got != crc:
        raise Error("%s: CRC mismatch: the header says 0x%08x, the weights give 0x%08x"
                    % (spath, crc, got))
    w = np.frombuffer(data, dtype="<f4").astype(np.float32)
    bad = _first_not_finite(w)
    if bad is not None:
        raise Error("%s: weight %d of %d is not finite (%s)" % (spath, bad, count, w[bad]))
    return w
