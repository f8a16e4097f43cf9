# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.torch: train a torch.nn.Module against rdma-ps.

``rdmaps.torch.Worker(model, servers, rank, world)`` binds a model to an
``rdmaps.Worker`` whose model size is the sum of the numel of the model's
parameters, laid out flat in ``model.parameters()`` order (every parameter
must be float32 and contiguous).  A training step is::

    w.zero_grad()                  # or model.zero_grad()
    loss_fn(model(x), y).backward()
    w.step()                       # push the gradient, pull the new weights

There is no torch optimizer: the server applies the update (its --algo and
--lr).  The server's weights replace the model's own when the worker
connects, so give the server the model's initial weights:
``rdmaps.torch.save_init(model, path)`` then ``rdma-ps --init-weights path``.

CPU parameters cost no copy: each parameter's ``.data`` is a view of its
slice of the registered weights buffer (the pull writes the new weights
straight into the model), and its ``.grad`` a view of its slice of the
registered gradient buffer (backward accumulates into the buffer the push
sends).  CUDA parameters keep their device memory; step() copies the
gradient to the registered host buffer, and copies each pulled chunk back
to the device while later chunks are still being read.  A parameter whose
.grad is None at step() (frozen, or unused by the loss) pushes zeros: it
changes only by what the server's algorithm does with a zero gradient
(nothing for sgd or asgd without momentum and weight decay; dude-asgd
still steps with the other workers' stored gradients).

Buffers that are not parameters (BatchNorm's running_mean, running_var
and num_batches_tracked) stay local to each worker and are never sent to
the server: they are not trained by gradients, and the server's
algorithms only apply gradient steps, so there is nothing on the server to
keep them in; averaging them would need another channel.  With iid shares
of the data, each worker's running statistics estimate the same quantity,
so for evaluation any worker's model will do; to make them equal, call
``rdmaps.torch.average_buffers(model, ring)`` over an ``rdmaps.Ring``.

close() (or leaving the ``with`` block) gives every parameter its own copy
of its final value, so the model stays usable and shares no memory with
the closed worker.  While the worker is open, do not move or cast the model
(``model.to()``, ``.half()``): that replaces the views.
"""

import bisect
import contextlib
import errno

import numpy as np
import torch

from ._closing import Closing
from .errors import Error
from .initfile import write_init_weights
from .ring import Ring
from .worker import Worker as _RpsWorker

__all__ = ["Worker", "save_init", "flat_parameters", "average_buffers", "buffer_count"]

# the rdmaps.Worker keyword arguments a torch worker passes on
_WORKER_KWARGS = ("provider", "device", "auth_token_file", "timeout")


def _error(message, code=-errno.EINVAL):
    return Error(message, code)


def _check_module(model):
    if not isinstance(model, torch.nn.Module):
        raise _error("rdmaps.torch: model must be a torch.nn.Module, not %s" % type(model).__name__)


def _checked_parameters(model):
    """(name, parameter) pairs in model.parameters() order, each checked to
    be a float32 contiguous tensor; rdmaps.Error naming the first that is
    not."""
    _check_module(model)
    named = list(model.named_parameters())
    if not named:
        raise _error("rdmaps.torch: the model has no parameters")
    for name, p in named:
        if p.dtype != torch.float32:
            raise _error("rdmaps.torch: parameter %s is %s, not torch.float32" % (name, p.dtype))
        if not p.is_contiguous():
            raise _error("rdmaps.torch: parameter %s is not contiguous" % name)
        if p.is_sparse or p.layout != torch.strided:
            raise _error("rdmaps.torch: parameter %s is not a dense tensor" % name)
    return named


def flat_parameters(model):
    """The model's parameters as one new 1-D numpy float32 array, in
    model.parameters() order (the layout rdmaps.torch.Worker and rdma-ps
    use).  Raises rdmaps.Error if a parameter is not float32 and
    contiguous."""
    named = _checked_parameters(model)
    with torch.no_grad():
        return torch.cat([p.detach().reshape(-1).cpu() for _, p in named]).numpy().copy()


def save_init(model, path):
    """Writes the model's parameters, flat in model.parameters() order, to
    path in the weights-file format of rdma-ps --init-weights, so that the
    server starts from the model's own initialisation.  Raises rdmaps.Error
    if a parameter is not float32 and contiguous, or if one is not
    finite."""
    write_init_weights(path, flat_parameters(model))


def _float_buffers(model):
    _check_module(model)
    return [b for b in model.buffers() if b.is_floating_point()]


def buffer_count(model):
    """Floats of the rdmaps.Ring that average_buffers(model, ring) needs:
    the numel of the model's floating-point buffers, plus one."""
    return sum(b.numel() for b in _float_buffers(model)) + 1


def average_buffers(model, ring):
    """Replaces every floating-point buffer of the model (BatchNorm
    running_mean and running_var) with its mean over the ranks of ring, an
    rdmaps.Ring of at least buffer_count(model) floats that every rank
    calls this on with the same architecture.  Integer buffers
    (num_batches_tracked) stay as they are.  Returns the number of ranks
    averaged over."""
    bufs = _float_buffers(model)
    n = sum(b.numel() for b in bufs)
    if not isinstance(ring, Ring):
        raise _error("rdmaps.torch: average_buffers takes an rdmaps.Ring, not %s"
                     % type(ring).__name__)
    if ring.closed:
        raise _error("rdmaps.torch: average_buffers: the ring is closed", code=-errno.ENOTCONN)
    buf = ring.buffer
    if buf.size < n + 1:
        raise _error("rdmaps.torch: the ring has %d floats, average_buffers needs %d "
                     "(buffer_count(model))" % (buf.size, n + 1))
    off = 0
    for b in bufs:
        k = b.numel()
        buf[off:off + k] = b.detach().reshape(-1).to("cpu", torch.float32).numpy()
        off += k
    buf[n] = 1.0  # sums to the number of ranks
    buf[n + 1:] = 0.0
    ring.allreduce()
    world = float(buf[n])
    off = 0
    with torch.no_grad():
        for b in bufs:
            k = b.numel()
            mean = torch.from_numpy(buf[off:off + k] / np.float32(world))
            b.copy_(mean.view_as(b))
            off += k
    return int(round(world))


class Worker(Closing):
    """A parameter-server worker bound to a torch.nn.Module.

    Worker(model, servers, rank, world, provider="auto", device=None,
    auth_token_file=None, timeout=60) connects like rdmaps.Worker (same
    servers, rank, world and keyword arguments) with num_params the sum of
    the numel of model.parameters(), which every parameter must be float32
    and contiguous for; the server's size must equal it.  Raises
    rdmaps.Error naming the parameter, or both sizes, otherwise.

    When the constructor returns, the model's parameters hold the
    server's weights and their gradients are zero.  A context manager;
    close() restores the parameters to tensors of their own.
    """

    # Tests only: CPU parameters take the copying path of CUDA ones (own
    # memory, gradient copied in, pulled chunks copied back), so that its
    # logic is tested where there is no GPU.
    _COPY_CPU = False

    def __init__(self, model, servers, rank, world, **kwargs):
        for k in kwargs:
            if k not in _WORKER_KWARGS:
                raise _error("rdmaps.torch.Worker: unknown keyword argument %r (%s are "
                             "passed to rdmaps.Worker)" % (k, ", ".join(_WORKER_KWARGS)))
        named = _checked_parameters(model)
        self._closed = True
        self._w = None
        self._cuda_registered = []
        self._params = [p for _, p in named]
        self._names = [name for name, _ in named]
        self._offsets = []
        n = 0
        for p in self._params:
            self._offsets.append(n)
            n += p.numel()
        self._n = n
        devices = {p.device for p in self._params if p.device.type != "cpu"}
        for d in devices:
            if d.type != "cuda":
                raise _error("rdmaps.torch.Worker: parameters on %s: only cpu and cuda "
                             "are supported" % d)
        if len(devices) > 1:
            raise _error("rdmaps.torch.Worker: parameters on several devices (%s)"
                         % ", ".join(sorted(str(d) for d in devices)))
        try:
            self._w = _RpsWorker(servers, rank, world, num_params=n, **kwargs)
        except Error as e:
            raise Error("rdmaps.torch.Worker: the model has %d parameters (%d tensors): %s"
                        % (n, len(self._params), e.message), e.code) from None
        self._closed = False
        try:
            if self._w.num_params != n:
                raise _error("rdmaps.torch.Worker: the model has %d parameters, the server "
                             "holds %d" % (n, self._w.num_params))
            self._setup(devices.pop() if devices else None)
        except BaseException:
            self.close()
            raise

    # ---- setup ----------------------------------------------------------

    def _setup(self, cuda_device):
        w = self._w
        self._wbuf = torch.from_numpy(w.weights)
        self._gbuf = torch.from_numpy(w.grad)
        self._gbuf.zero_()
        self._wviews = []
        self._gviews = []
        # parameters that keep their own memory and are copied to and from
        # the buffers: the CUDA ones (and CPU ones under _COPY_CPU)
        self._copied = []
        self._is_copied = []
        for i, p in enumerate(self._params):
            off, k = self._offsets[i], p.numel()
            self._wviews.append(self._wbuf[off:off + k].view(p.shape))
            self._gviews.append(self._gbuf[off:off + k].view(p.shape))
            copied = p.device.type == "cuda" or self._COPY_CPU
            self._is_copied.append(copied)
            if copied:
                self._copied.append(i)
        self._device = cuda_device
        self._stream = None
        if cuda_device is not None:
            self._setup_cuda(cuda_device)
        self._setup_chunks()
        with torch.no_grad():
            for i, p in enumerate(self._params):
                if self._is_copied[i]:
                    p.data.copy_(self._wviews[i])
                    p.grad = None
                else:
                    p.data = self._wviews[i]
                    p.grad = self._gviews[i]

    def _setup_cuda(self, device):
        # The flat buffers stay host memory (registered with the NIC);
        # registering them with CUDA too (page-locked) makes the copies
        # asynchronous and lets them run at full PCIe speed.
        cudart = torch.cuda.cudart()
        for buf in (self._wbuf, self._gbuf):
            rc = cudart.cudaHostRegister(buf.data_ptr(), buf.numel() * buf.element_size(), 0)
            if int(getattr(rc, "value", rc)) != 0:
                raise _error("rdmaps.torch.Worker: cudaHostRegister of %d bytes failed: %s"
                             % (buf.numel() * buf.element_size(), rc), code=-errno.ENOMEM)
            self._cuda_registered.append(buf.data_ptr())
        self._stream = torch.cuda.Stream(device=device)

    def _setup_chunks(self):
        # per pull chunk, the (parameter, start, stop) pieces of copied
        # parameters inside it, in flat indices
        starts = [self._offsets[i] for i in self._copied]
        self._chunk_pieces = []
        for c in range(self._w.num_chunks if self._copied else 0):
            a, b = self._w.chunk_range(c)
            pieces = []
            j = max(bisect.bisect_right(starts, a) - 1, 0)
            while j < len(self._copied) and starts[j] < b:
                i = self._copied[j]
                lo = max(a, self._offsets[i])
                hi = min(b, self._offsets[i] + self._params[i].numel())
                if lo < hi:
                    pieces.append((i, lo, hi))
                j += 1
            self._chunk_pieces.append(pieces)

    # ---- properties -----------------------------------------------------

    @property
    def num_params(self):
        """Floats in the model (and on the server): the sum of the numel of
        model.parameters()."""
        return self._n

    @property
    def algo(self):
        """The server's algorithm, e.g. "dc-asgd-a"."""
        return self._open().algo

    @property
    def server_version(self):
        """Server updates seen at the last push or pull."""
        return self._open().server_version

    @property
    def worker(self):
        """The underlying rdmaps.Worker (its grad and weights arrays are the
        flat buffers the CPU parameters and their gradients are views of)."""
        return self._open()

    def _open(self):
        if self._closed:
            raise _error("rdmaps.torch.Worker: the worker is closed", code=-errno.EBADF)
        return self._w

    # ---- step -----------------------------------------------------------

    def zero_grad(self):
        """Zeroes every parameter's gradient in place (one pass over the
        flat gradient buffer for CPU parameters), re-pointing CPU
        gradients at the buffer where they were replaced or set to None.
        Call it (or model.zero_grad()) before each backward, as with a
        torch optimizer: step() does not clear the gradient."""
        self._open()
        self._gbuf.zero_()
        for i, p in enumerate(self._params):
            if self._is_copied[i]:
                if p.grad is not None:
                    p.grad.zero_()
            elif p.grad is None or p.grad.data_ptr() != self._gviews[i].data_ptr():
                p.grad = self._gviews[i]

    def _gather_cpu_grads(self):
        # torch 1.13 accumulates in place into an existing .grad during
        # backward (grad mode is off there), so after zero_grad() or
        # model.zero_grad(set_to_none=False) the gradients are already in
        # the buffer and nothing is copied (test_torch.py,
        # test_grad_zero_copy).  With set_to_none=True, backward steals a
        # fresh tensor as .grad (test_grad_set_to_none): copy it in, and
        # point .grad back at the buffer for the next step.
        for i, p in enumerate(self._params):
            if self._is_copied[i]:
                continue
            view, g = self._gviews[i], p.grad
            if g is None:
                view.zero_()
                p.grad = view
            elif g.data_ptr() != view.data_ptr() or g.shape != view.shape:
                with torch.no_grad():
                    view.copy_(g.to_dense() if g.is_sparse else g)
                p.grad = view
            # a .data replaced by the user: the view again (pull fills it)
            if p.data_ptr() != self._wviews[i].data_ptr():
                p.data = self._wviews[i]

    def step(self):
        """Pushes the gradient (the parameters' .grad; None counts as zero)
        and pulls the server's new weights into the parameters.  Returns
        None; raises rdmaps.Error (code -EDOM when the server rejected
        NaN/Inf chunks of the gradient)."""
        w = self._open()
        self._gather_cpu_grads()
        if not self._copied:
            w.push()
            w.pull()
            return
        self._step_copied(w)

    def _step_copied(self, w):
        # Parameters with memory of their own (CUDA): the gradient is
        # copied into the host buffer before the push, and each pulled
        # chunk is copied back as soon as it is in, while the next chunks
        # are still being read.  On CUDA the copies are asynchronous on
        # one stream of ours (the buffers are page-locked by
        # cudaHostRegister); without a stream (CPU, _COPY_CPU) they are
        # plain copies, which is how the CPU-only tests cover this logic.
        s = self._stream
        gv = self._gviews
        if s is not None:
            # the gradients were computed on the caller's current stream
            # (taken before ours becomes current): the copies wait for it
            s.wait_stream(torch.cuda.current_stream(self._device))
        with self._on_stream(), torch.no_grad():
            for i in self._copied:
                g = self._params[i].grad
                if g is None:
                    gv[i].zero_()
                else:
                    if g.is_sparse:
                        g = g.to_dense()
                    gv[i].copy_(g, non_blocking=s is not None)
        if s is not None:
            s.synchronize()  # the gradient is in host memory: push it
        w.push()
        w.pull_start()
        wbuf = self._wbuf
        with self._on_stream(), torch.no_grad():
            for c, pieces in enumerate(self._chunk_pieces):
                w.pull_wait_chunk(c)
                # chunk c is in host memory: copy it while c+1 is read
                for i, lo, hi in pieces:
                    off = self._offsets[i]
                    dst = self._params[i].data.view(-1)[lo - off:hi - off]
                    dst.copy_(wbuf[lo:hi], non_blocking=s is not None)
        if s is not None:
            # the next forward (on the caller's stream) must see the
            # weights, and the next pull must not overwrite the buffer
            # while a copy still reads it
            s.synchronize()

    def _on_stream(self):
        return torch.cuda.stream(self._stream) if self._stream is not None \
            else contextlib.nullcontext()

    # ---- close ----------------------------------------------------------

    def close(self):
        """Gives every CPU parameter (and gradient) a copy of its own of
        its final value, then closes the rdmaps.Worker (its buffers are
        freed).  The model stays usable.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            with torch.no_grad():
                for i, wv in enumerate(getattr(self, "_wviews", [])):
                    p, gv = self._params[i], self._gviews[i]
                    if self._is_copied[i]:
                        continue
                    if p.data_ptr() == wv.data_ptr():
                        p.data = wv.clone()
                    if p.grad is not None and p.grad.data_ptr() == gv.data_ptr():
                        p.grad = gv.clone()
            if self._cuda_registered:
                if getattr(self, "_stream", None) is not None:
                    self._stream.synchronize()
                cudart = torch.cuda.cudart()
                for ptr in self._cuda_registered:
                    cudart.cudaHostUnregister(ptr)
                self._cuda_registered = []
        finally:
            self._w.close()


    def __repr__(self):
        state = "closed" if self._closed else "open"
        return "<rdmaps.torch.Worker %d params, %d tensors, %s>" % (
            self._n, len(self._params), state)
