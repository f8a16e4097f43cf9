# SPDX-License-Identifier: BSD-2-Clause
"""DC-S3GD for PyTorch over rdmaps.Ring: data-parallel training without a
parameter server.

The workers of a job form rings (rdmaps.Ring) and allreduce their steps
among themselves, as rdma-worker --algo dc-s3gd does, with the same
equations (rdma-worker(1), "DC-S3GD: training without a server").  Every
worker holds two copies of the weights: the averaged weights ``wbar``, the
same bits on every worker, and its local weights ``w`` (the model's
parameters), at which it computes its gradients.  Step t, with S the
staleness (allreduces in flight), lr the learning rate and W workers:

1. the caller computes the gradient g at w (``loss.backward()``);
2. ``step()``: if the allreduce started at step t-S is not applied yet,
   wait for it and apply it: ``wbar += (sum of the workers' dw) / W``;
3. for each tensor of the model, with ``D = wbar - w``::

       dw = -lr * (g + lambda * g * g * D)
       w  = wbar + dw

   lambda is a constant, or per tensor
   ``lambda0 * ||g|| / ||g * g * D||`` (0 when that correction is 0);
4. start the allreduce of dw, which the ring's progress thread moves while
   the caller computes the next gradient.

``finish()`` applies the allreduces still in flight and loads wbar into
the model, so that every worker ends with the same weights, bit for bit.

Example, one process per rank::

    model = Net()                       # same architecture everywhere
    peers = ["10.0.0.1:18600", "10.0.0.2:18600", "10.0.0.3:18600"]
    with rdmaps.dcs3gd.Worker(model, peers, rank, 3, lr=0.05) as opt:
        for x, y in batches:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    # here the model holds wbar, the same on every rank

All arithmetic is in float32 in the order of rdma-worker's kernel
(src/optim/kernel_dcs3gd.c); the adaptive lambda's norms are summed in
float64.  A gradient with NaN or Inf is not applied: the worker sends a
zero step, so the ring stays in step, and counts it in ``rejected``.
"""

import errno
import time

import numpy as np
import torch

from ._closing import Closing
from .errors import Error
from .ring import Ring
from .worker import DEFAULT_PORT, parse_addresses

__all__ = ["Worker", "adaptive_lambda", "tensor_step", "DEFAULT_PORT"]

# allreduces timed alone before training, for the overlap figure: the
# fastest is the one no late peer held up
_ALONE_REPS = 5


def _einval(message):
    """An rdmaps.Error for a bad argument (code -EINVAL), as the core
    binding raises them."""
    return Error(message, -errno.EINVAL)


def adaptive_lambda(w, wbar, g, lambda0):
    """The adaptive lambda of one tensor, as rps_optim_dcs3gd_lambda():
    ``lambda0 * ||g|| / ||g * g * (wbar - w)||``, the norms summed in
    float64, returned as a numpy float32.

    w, wbar, g: float32 numpy arrays of one shape (w the local weights,
    wbar the averaged ones, g the gradient at w).  Returns 0 when the
    correction term is 0 (D = 0 or g = 0) or a norm is not finite, so
    that the step is then plain SGD from wbar.
    """
    g64 = g.astype(np.float64)
    c = g64 * g64 * (wbar.astype(np.float64) - w)
    gg = float(np.dot(g64.ravel(), g64.ravel()))
    cc = float(np.dot(c.ravel(), c.ravel()))
    if not (cc > 0) or not np.isfinite(gg) or not np.isfinite(cc):
        return np.float32(0)
    return np.float32(float(np.float32(lambda0)) * np.sqrt(gg) / np.sqrt(cc))


def tensor_step(w, dw, wbar, g, lr, lam, scratch=None):
    """The delay-compensated step of one tensor, in place, as
    rps_optim_dcs3gd(): ``D = wbar - w; dw = -lr * (g + lam * g * g * D);
    w = wbar + dw``, in float32 and in the kernel's order of operations.

    w, dw (written), wbar, g: float32 numpy arrays of one shape; lr, lam
    are rounded to float32 first, as the C kernel takes them.  scratch, if
    given, is a float32 array of the same shape used for D (else one is
    allocated).  Returns False, with nothing written, when g holds a NaN
    or an Inf; True otherwise.
    """
    if not np.isfinite(g).all():
        return False
    d = scratch if scratch is not None else np.empty_like(w)
    np.subtract(wbar, w, out=d)  # D
    # ((lam * g) * g) * D, + g, * -lr: the C expression's evaluation order
    np.multiply(np.float32(lam), g, out=dw)
    np.multiply(dw, g, out=dw)
    np.multiply(dw, d, out=dw)
    np.add(g, dw, out=dw)
    np.multiply(-np.float32(lr), dw, out=dw)
    np.add(wbar, dw, out=w)
    return True


def ring_peers(peers, world, staleness):
    """The peer lists of the staleness rings: ring k's rank r listens on
    peers[r]'s port + k, as rdma-worker --peers with --staleness.

    peers: a list of "host:port" (or one comma-separated string), one per
    rank, in rank order.  Returns a list of staleness lists of strings.
    """
    parsed = parse_addresses(list(peers) if isinstance(peers, (list, tuple)) else peers,
                             "dcs3gd: peers")
    if len(parsed) != world:
        raise _einval("dcs3gd: %d peers for a world of %d: give one per rank" % (len(parsed), world))
    rings = []
    for k in range(staleness):
        ring = []
        for host, port in parsed:
            if port + k > 65535:
                raise _einval("dcs3gd: peer %s:%d: ring %d would need port %d"
                              % (host, port, k, port + k))
            # an IPv6 literal goes back in its brackets
            ring.append(("[%s]:%d" if ":" in host else "%s:%d") % (host, port + k))
        rings.append(ring)
    return rings


class Worker(Closing):
    """A DC-S3GD worker bound to a torch.nn.Module.

    Worker(model, peers, rank, world, lr, staleness=1, lam=None,
    lambda0=0.2, sync_init=True, **ring_kw)

    model: a torch.nn.Module whose trainable parameters are float32 on
    the CPU; they become views of one flat array (``w``), so the module
    sees every step without a copy.  The same architecture on every rank.
    peers: one "host:port" per rank, in rank order (list or comma string);
    rank r listens on peers[r] and, with staleness S, on the S-1 ports
    after it (one rdmaps.Ring per allreduce in flight).
    rank, world: this worker's rank, and the number of workers (world 1
    trains alone: no ring, wbar += dw at once, and peers is not used).
    lr: the learning rate of the local step.
    staleness: allreduces in flight, 1 to 16; the step of step t reaches
    wbar at step t+S.
    lam: a constant delay-compensation lambda (0 turns the correction
    off); None (the default) takes the adaptive lambda with lambda0.
    lambda0: the adaptive lambda's factor, 0.2 by default.
    sync_init: start every rank from rank 0's weights (one allreduce in
    which the other ranks contribute zeros); with False, the caller
    guarantees identical initial weights (e.g. the same torch seed).
    ring_kw: passed to every rdmaps.Ring (provider, device, timeout);
    progress_thread is always True, for the overlap.

    Raises rdmaps.Error: code -EINVAL for a bad argument, the library's
    code when a ring cannot be set up (within the ring timeout).
    """

    def __init__(self, model, peers, rank, world, lr, staleness=1, lam=None, lambda0=0.2,
                 sync_init=True, **ring_kw):
        if not isinstance(model, torch.nn.Module):
            raise _einval("dcs3gd: model must be a torch.nn.Module")
        for name, val, lo, hi in (("rank", rank, 0, None), ("world", world, 1, None),
                                  ("staleness", staleness, 1, 16)):
            if not isinstance(val, int) or isinstance(val, bool) or val < lo or (
                    hi is not None and val > hi):
                raise _einval("dcs3gd: %s must be an integer %d..%s, not %r"
                              % (name, lo, hi if hi is not None else "", val))
        if rank >= world:
            raise _einval("dcs3gd: rank %d is not below world %d" % (rank, world))
        for name, val in (("lr", lr), ("lambda0", lambda0)) + ((("lam", lam),) if lam is not None else ()):
            if not isinstance(val, (int, float)) or isinstance(val, bool) or not np.isfinite(val) or val < 0:
                raise _einval("dcs3gd: %s must be a finite number >= 0, not %r" % (name, val))
        if "progress_thread" in ring_kw:
            raise _einval("dcs3gd: the rings always run a progress thread (drop progress_thread)")
        self.model = model
        self.rank, self.world, self.staleness = rank, world, staleness
        self.lr = float(lr)
        self.adaptive = lam is None
        self.lam = 0.0 if lam is None else float(lam)
        self.lambda0 = float(lambda0)
        #: allreduces started and applied, steps whose gradient was not finite
        self.started = self.applied = self.rejected = 0
        #: seconds step() and finish() waited for allreduces, and how many waits
        self.wait_s, self.waits = 0.0, 0
        #: the fastest of 5 allreduces timed alone before training (s), or None
        self.alone_s = None
        self._rings = []
        self._closed = False
        self._bind(model)
        try:
            if world > 1:
                for ring in ring_peers(peers, world, staleness):
                    self._rings.append(Ring(ring, rank, world, self.n, progress_thread=True,
                                            **ring_kw))
                if sync_init:
                    self._sync_init()
                self._time_alone()
        except BaseException:
            self.close()
            raise
        self.wbar = self.w.copy()
        self._dw1 = np.zeros(self.n, dtype=np.float32) if world == 1 else None

    def _bind(self, model):
        """Lay the trainable parameters out in one flat float32 array and
        make each parameter a view of its slice."""
        self._params = [p for p in model.parameters() if p.requires_grad]
        if not self._params:
            raise _einval("dcs3gd: the model has no trainable parameters")
        for p in self._params:
            if p.dtype != torch.float32 or p.device.type != "cpu":
                raise _einval("dcs3gd: parameters must be float32 on the CPU (found %s on %s)"
                              % (p.dtype, p.device))
        self.n = sum(p.numel() for p in self._params)
        #: the local weights w: the model's parameters are views of it
        self.w = np.empty(self.n, dtype=np.float32)
        self._slices = []
        off = 0
        with torch.no_grad():
            for p in self._params:
                k = p.numel()
                self.w[off:off + k] = p.detach().reshape(-1).numpy()
                p.data = torch.from_numpy(self.w[off:off + k]).view(p.shape)
                self._slices.append((off, off + k))
                off += k
        self._scratch = np.empty(max(b - a for a, b in self._slices), dtype=np.float32)

    def _sync_init(self):
        """Every rank takes rank 0's weights: x + 0 + ... + 0 is x exactly."""
        buf = self._rings[0].buffer
        if self.rank == 0:
            buf[:] = self.w
        else:
            buf[:] = 0
        self._rings[0].allreduce()
        self.w[:] = buf

    def _time_alone(self):
        """Time allreduces of zeros with nothing to hide them, for
        ``overlap``; the first ones also wait for peers still starting."""
        best = None
        for _ in range(_ALONE_REPS):
            t0 = time.perf_counter()
            self._rings[0].buffer[:] = 0
            self._rings[0].allreduce()
            t = time.perf_counter() - t0
            best = t if best is None else min(best, t)
        self.alone_s = best

    @property
    def rings(self):
        """The rdmaps.Ring objects, one per allreduce in flight (empty when
        world is 1)."""
        return list(self._rings)

    @property
    def overlap(self):
        """The share of the allreduce time hidden behind computation: one
        minus the mean wait for an allreduce over one allreduce alone,
        clamped to [0, 1]; None before any wait or with world 1."""
        if not self.waits or not self.alone_s:
            return None
        hidden = 1.0 - (self.wait_s / self.waits) / self.alone_s
        return min(1.0, max(0.0, hidden))

    def zero_grad(self):
        """Set the gradients of the model's trainable parameters to None,
        as torch.optim.Optimizer.zero_grad(set_to_none=True)."""
        for p in self._params:
            p.grad = None

    def _apply(self, k):
        """wbar += (sum on ring k) / world, once ring k's allreduce is done."""
        ring = self._rings[k]
        t0 = time.perf_counter()
        try:
            ring.allreduce_wait()
        except Error as e:
            raise Error("dcs3gd: allreduce %d: %s (a peer stopped or the network failed)"
                        % (self.applied, e.message), e.code) from e
        finally:
            self.wait_s += time.perf_counter() - t0
            self.waits += 1
        inv = np.float32(1.0) / np.float32(self.world)
        self.wbar += ring.buffer * inv
        self.applied += 1

    def _grad(self, p):
        """p's gradient as a flat float32 numpy array (zeros when None)."""
        if p.grad is None:
            return np.zeros(p.numel(), dtype=np.float32)
        g = p.grad.detach()
        if g.dtype != torch.float32 or g.device.type != "cpu":
            raise _einval("dcs3gd: gradients must be float32 on the CPU")
        return g.reshape(-1).contiguous().numpy()

    def step(self):
        """One DC-S3GD step after backward(): apply the allreduce started S
        steps ago (waiting for it if needed), the delay-compensated step of
        every tensor (the model's parameters become wbar + dw), and start
        the allreduce of dw.  Returns True, or False when a gradient held
        NaN or Inf (then this worker's step is zero and w = wbar).  Raises
        rdmaps.Error when an allreduce fails.
        """
        if self._closed:
            raise _einval("dcs3gd: step() on a closed Worker")
        nrings = len(self._rings)
        k = self.started % nrings if nrings else 0
        if nrings and self.started - self.applied == nrings:
            self._apply(k)
        dw = self._rings[k].buffer if nrings else self._dw1
        grads = [self._grad(p) for p in self._params]
        ok = all(np.isfinite(g).all() for g in grads)
        if ok:
            for (a, b), g in zip(self._slices, grads):
                w, wbar = self.w[a:b], self.wbar[a:b]
                lam = adaptive_lambda(w, wbar, g, self.lambda0) if self.adaptive else self.lam
                tensor_step(w, dw[a:b], wbar, g, self.lr, lam, self._scratch[:b - a])
        else:
            # every worker must still take part: a zero step keeps the
            # rings in step and the model clean
            dw[:] = 0
            self.w[:] = self.wbar
            self.rejected += 1
        if not nrings:
            self.wbar += dw
            self.w[:] = self.wbar
            return ok
        try:
            self._rings[k].allreduce_start()
        except Error as e:
            raise Error("dcs3gd: starting allreduce %d: %s" % (self.started, e.message),
                        e.code) from e
        self.started += 1
        return ok

    def finish(self):
        """Apply every allreduce still in flight and load wbar into the
        model: afterwards every rank's model holds the same weights.  Call
        it once after the last step() (also before evaluating wbar
        mid-training, when the rank can wait for the others)."""
        if self._closed:
            raise _einval("dcs3gd: finish() on a closed Worker")
        while self.applied < self.started:
            self._apply(self.applied % len(self._rings))
        self.w[:] = self.wbar

    def close(self):
        """Close the rings (idempotent).  The model keeps its parameters
        (views of ``w``, which stays alive with them)."""
        self._closed = True
        rings, self._rings = self._rings, []
        for r in rings:
            r.close()


    def __exit__(self, exc_type, exc, tb):
        """finish() when the block ended normally, then close()."""
        try:
            if exc_type is None:
                self.finish()
        finally:
            self.close()
        return False
