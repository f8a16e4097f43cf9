# SPDX-License-Identifier: BSD-2-Clause
"""librdmaps.so through ctypes: loading, the structs, the prototypes, and
the log lines that become rdmaps.Error messages.

Nothing here is compiled: the structs mirror <rdmaps/ps.h>,
<rdmaps/ring.h> and <rdmaps/transport.h> field by field, and each is
passed with its ctypes size in its leading ``size`` member, so the
library's extensible-struct rule (librdmaps(3)) checks the layout: a
library older than these structs refuses the members it does not know
(-E2BIG, with a log line) instead of misreading them.
python/tests/test_layout.py compares these layouts with the C compiler's.
"""

import ctypes
import errno
import logging
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_float,
                    c_int, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64,
                    c_void_p)

from .errors import Error

SONAME = "librdmaps.so.1"

# ---- structs ------------------------------------------------------------


class TransportAttr(Structure):
    """rps_transport_attr_t"""
    _fields_ = [
        ("size", c_size_t),
        ("provider", c_char_p),
        ("device", c_char_p),
        ("ofi_provider", c_char_p),
        ("port", c_uint8),
        ("gid_index", c_int),
        ("sq_depth", c_uint32),
        ("recv_depth", c_uint32),
        ("max_msg_size", c_uint32),
        ("max_inline", c_uint32),
        ("timeout_ms", c_int),
    ]


# float *(*buf_alloc)(uint64_t n, int which, void *arg): the address as an int
BUF_ALLOC = CFUNCTYPE(c_void_p, c_uint64, c_int, c_void_p)


class WorkerConfig(Structure):
    """rps_worker_config_t (librdmaps 1.1: with grad_buf, weights_buf,
    buf_alloc, buf_alloc_arg)"""
    _fields_ = [
        ("size", c_size_t),
        ("server", c_char_p),
        ("port", c_uint16),
        ("worker_id", c_uint32),
        ("num_workers", c_uint32),
        ("num_params", c_uint64),
        ("transport", POINTER(TransportAttr)),
        ("timeout_ms", c_int),
        ("auth_token", c_void_p),
        ("auth_token_len", c_size_t),
        ("grad_buf", c_void_p),
        ("weights_buf", c_void_p),
        ("buf_alloc", BUF_ALLOC),
        ("buf_alloc_arg", c_void_p),
    ]


class RingAttr(Structure):
    """rps_ring_attr_t"""
    _fields_ = [
        ("size", c_size_t),
        ("tp", c_void_p),
        ("tp_attr", POINTER(TransportAttr)),
        ("rank", c_uint32),
        ("world", c_uint32),
        ("peers", POINTER(c_char_p)),
        ("count", c_size_t),
        ("chunk_bytes", c_size_t),
        ("window", c_uint32),
        ("timeout_ms", c_int),
        ("progress_thread", c_bool),
        ("progress_cpu", c_int),
    ]


STRUCTS = {
    "rps_transport_attr_t": TransportAttr,
    "rps_worker_config_t": WorkerConfig,
    "rps_ring_attr_t": RingAttr,
}

# ---- prototypes -------------------------------------------------------------

_P = c_void_p  # opaque handles: rps_worker_t *, rps_ring_t *
_PROTOTYPES = {
    "rps_version": (c_char_p, []),
    "rps_strerror": (c_char_p, [c_int]),
    "rps_log_set_handler": (None, [c_void_p, c_void_p]),
    "rps_log_get_level": (c_int, []),
    "rps_transport_attr_init_size": (c_int, [POINTER(TransportAttr), c_size_t]),
    "rps_shard_range": (c_int, [c_uint64, c_uint32, c_uint32, POINTER(c_uint64),
                                POINTER(c_uint64)]),
    "rps_algo_name": (c_char_p, [c_int]),
    "rps_worker_config_init_size": (None, [POINTER(WorkerConfig), c_size_t]),
    "rps_worker_connect": (c_int, [POINTER(WorkerConfig), POINTER(_P)]),
    "rps_worker_close": (None, [_P]),
    "rps_worker_grad": (POINTER(c_float), [_P]),
    "rps_worker_weights": (POINTER(c_float), [_P]),
    "rps_worker_num_params": (c_uint64, [_P]),
    "rps_worker_algo": (c_int, [_P]),
    "rps_worker_num_chunks": (c_uint32, [_P]),
    "rps_worker_chunk_params": (c_uint64, [_P]),
    "rps_worker_shard_offset": (c_uint64, [_P]),
    "rps_worker_server_version": (c_uint64, [_P]),
    "rps_push": (c_int, [_P]),
    "rps_push_start": (c_int, [_P]),
    "rps_push_wait": (c_int, [_P, c_int]),
    "rps_pull": (c_int, [_P]),
    "rps_pull_start": (c_int, [_P]),
    "rps_pull_wait_chunk": (c_int, [_P, c_uint32, c_int]),
    "rps_step_start": (c_int, [_P]),
    "rps_step_wait": (c_int, [_P, c_int]),
    "rps_ring_attr_init_size": (None, [POINTER(RingAttr), c_size_t]),
    "rps_ring_create": (c_int, [POINTER(RingAttr), POINTER(_P)]),
    "rps_ring_destroy": (None, [_P]),
    "rps_ring_buffer": (POINTER(c_float), [_P]),
    "rps_ring_allreduce_start": (c_int, [_P]),
    "rps_ring_progress": (c_int, [_P]),
    "rps_ring_allreduce_wait": (c_int, [_P, c_int]),
    "rps_ring_allreduce": (c_int, [_P]),
}

# ---- finding the library ----------------------------------------------------


def _candidates():
    """Where librdmaps.so.1 is looked for, in order."""
    env = os.environ.get("RDMAPS_LIBRARY")
    if env:
        return [env]  # asked for that one: no other
    here = os.path.dirname(os.path.abspath(__file__))
    found = [os.path.join(os.path.dirname(os.path.dirname(here)), ".libs", SONAME)]
    try:  # written by make install
        from ._install import LIBDIR
        found.append(os.path.join(LIBDIR, SONAME))
    except ImportError:
        pass
    found.append(SONAME)  # the dynamic loader's search path
    return found


_lib = None
_lock = threading.Lock()


def lib():
    """The loaded librdmaps (ctypes.CDLL), loading it on first use."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            _lib = _load()
    return _lib


# libfabric's psm provider loads libinfinipath, whose constructor catches
# SIGTERM and SIGINT to print a backtrace and exit(1): a SIGTERM (Slurm's
# scancel, a sweep stopping a worker) that lands in fi_getinfo then hangs
# in exit() on a lock fi_getinfo holds.  These turn its handler off, as
# Open MPI does; a value the user set is kept.
_NO_BACKTRACE = ("IPATH_NO_BACKTRACE", "HFI_NO_BACKTRACE")


def _load():
    for var in _NO_BACKTRACE:
        os.environ.setdefault(var, "1")
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            handle = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        for name, (res, args) in _PROTOTYPES.items():
            try:
                fn = getattr(handle, name)
            except AttributeError:
                raise Error("%s lacks %s: a librdmaps older than this package; "
                            "set RDMAPS_LIBRARY to a librdmaps.so.1 of the same "
                            "build" % (path, name), -errno.ENOSYS) from None
            fn.restype = res
            fn.argtypes = args
        _install_log_handler(handle)
        return handle
    raise Error("cannot load librdmaps: tried " + "; ".join(tried) +
                ". Build rdmaps (make), install it (make install; ldconfig), or "
                "set RDMAPS_LIBRARY to the path of librdmaps.so.1", -errno.ENOENT)


def library_path():
    """The file the loaded librdmaps came from."""
    handle = lib()
    return handle._name


# ---- log lines ------------------------------------------------------------
# The library logs an error where it knows the reason ("refused by the
# server: the model size differs: this worker trains 10 parameters, the
# server holds 12"); a call made through call() keeps its thread's error
# lines for the exception it raises instead of printing them, as the C
# programs do with cmd_log_capture.  Other lines (warnings, the progress
# thread's) go to the logging module's "rdmaps" logger, or to stderr as
# the library prints them when logging is not configured.

_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}
_LEVEL_NAMES = {0: "error", 1: "warn", 2: "info", 3: "debug"}
_logger = logging.getLogger("rdmaps")
_tls = threading.local()
_LOG_CB = CFUNCTYPE(None, c_int, c_char_p, c_void_p)


def _on_log(level, msg, arg):
    text = msg.decode("utf-8", "replace") if msg else ""
    capture = getattr(_tls, "capture", None)
    if capture is not None and level == 0:
        capture.append(text)
        return
    if _logger.handlers or logging.getLogger().handlers:
        _logger.log(_LEVELS.get(level, logging.ERROR), "%s", text)
    else:
        import sys
        sys.stderr.write("rdmaps: %s: %s\n" % (_LEVEL_NAMES.get(level, "error"), text))


_log_cb = _LOG_CB(_on_log)  # kept alive for as long as the module is


def _install_log_handler(handle):
    handle.rps_log_set_handler(ctypes.cast(_log_cb, c_void_p), None)


def strerror(code):
    return lib().rps_strerror(code).decode()


def invoke(fn, *args):
    """fn(*args) -> (its return, the error lines it logged meanwhile)."""
    _tls.capture = []
    try:
        ret = fn(*args)
    finally:
        lines, _tls.capture = _tls.capture, None
    return ret, lines


def call(what, fn, *args):
    """fn(*args), a librdmaps function returning 0 or a negative code;
    raises Error("WHAT: the library's error line") on failure."""
    ret, lines = invoke(fn, *args)
    if ret < 0:
        raise error(what, ret, lines)
    return ret


def error(what, code, lines=()):
    """The Error of a failed call: its log lines, else the code's text."""
    detail = "; ".join(lines) if lines else strerror(code)
    return Error("%s: %s" % (what, detail) if what else detail, code)


def timeout_ms(timeout):
    """seconds (None = forever) -> the C API's milliseconds (-1 = forever)"""
    if timeout is None:
        return -1
    try:
        t = float(timeout)
    except (TypeError, ValueError):
        raise Error("timeout must be a number of seconds or None, not %r" % (timeout,)) from None
    if t < 0 or t != t:
        raise Error("timeout must be >= 0 seconds, not %r" % (timeout,))
    return min(int(t * 1000), 2**31 - 1)


def transport_attr(provider, device, timeout=None):
    """An rps_transport_attr_t with the defaults (and RPS_* environment),
    then provider and device; the bytes it points to are kept on it."""
    attr = TransportAttr()
    call("transport attributes (RPS_* environment variables)",
         lib().rps_transport_attr_init_size, ctypes.byref(attr), ctypes.sizeof(attr))
    keep = []
    if provider is not None and provider != "auto":
        if provider not in ("verbs", "ofi"):
            raise Error("provider must be 'auto', 'verbs' or 'ofi', not %r" % (provider,))
        keep.append(provider.encode())
        attr.provider = keep[-1]
    if device is not None:
        if not isinstance(device, str) or not device:
            raise Error("device must be a device name such as 'mlx5_0', not %r" % (device,))
        keep.append(device.encode())
        attr.device = keep[-1]
    if timeout is not None:
        attr.timeout_ms = timeout_ms(timeout)
    attr._keep = keep
    return attr


def read_token(path):
    """The shared secret of an --auth-token-file, as rdma-ps reads it."""
    if path is None:
        return None
    import stat
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise Error("auth_token_file %s is not a regular file" % (path,))
            if st.st_mode & stat.S_IROTH:
                # a secret anyone on the node can read protects nothing
                raise Error("auth_token_file %s is readable by others (chmod 600 it)"
                            % (path,))
            token = f.read(4096 + 2)
    except OSError as e:
        raise Error("auth_token_file %s: %s" % (path, e.strerror), -e.errno) from None
    token = token.rstrip(b"\r\n")
    if not token or len(token) > 4096:
        raise Error("auth_token_file %s: the token must be 1 to 4096 bytes, not %d"
                    % (path, len(token)))
    return token
