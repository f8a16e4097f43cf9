# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps: train through the rdmaps RDMA parameter server from Python.

Pure Python over librdmaps.so.1 (ctypes); see rdmaps-python(7).

    import rdmaps
    with rdmaps.Worker("node1:18515", rank=0, world=4) as w:
        for batch in data:
            w.grad[:] = gradient(w.weights, batch)   # the RDMA buffers
            w.push()                                  # RDMA WRITEs
            w.pull()                                  # RDMA READs

``rdmaps.torch`` binds a worker to a torch.nn.Module; ``rdmaps.Ring``
allreduces numpy arrays among workers without a server.  librdmaps is
looked for at $RDMAPS_LIBRARY, then in the build tree this package sits
in, then where ``make install`` put it, then on the loader's path.
"""

from ._lib import library_path
from .errors import Error
from .ring import Ring
from .worker import Worker

__all__ = ["Error", "Worker", "Ring", "library_path", "version"]


def version():
    """librdmaps's version string ("MAJOR.MINOR.PATCH")."""
    from ._lib import lib
    return lib().rps_version().decode()
