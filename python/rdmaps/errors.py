# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.Error: every failure of the package, with the library's code."""

import errno as _errno

__all__ = ["Error"]


class Error(Exception):
    """A failed rdmaps call.

    ``code`` is what the C library returned: a negative errno (-111 for
    ECONNREFUSED, -110 for ETIMEDOUT) or a negative RPS_ERR_* code (-263,
    refused by the server); -22 (EINVAL) for a bad Python argument.
    ``message`` is the library's own error line when it logged one (for
    example "refused by the server: the model size differs: ..."), else
    the text of the code.  ``str(error)`` is the message.
    """

    def __init__(self, message, code=-_errno.EINVAL):
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def errno(self):
        """The positive errno (or RPS_ERR_* value) of ``code``."""
        return -self.code if self.code < 0 else self.code
