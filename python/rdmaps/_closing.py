# SPDX-License-Identifier: BSD-2-Clause
"""The context-manager protocol of every object that holds connections."""

__all__ = ["Closing"]


class Closing:
    """Base of the objects with a close(): ``with`` closes them at the end
    of the block, and so does the garbage collector when nobody did, so
    that connections and registrations never outlive their object."""

    def close(self):  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        # at interpreter exit, or after a constructor failed half-way
        try:
            if not getattr(self, "_closed", True):
                self.close()
        except Exception:
            pass
