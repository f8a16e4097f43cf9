dnl ofi provider: libfabric
AC_DEFUN([RPS_OFI_CONFIGURE], [
  rps_have_ofi=no
  AS_IF([test "x$enable_ofi" != "xno"], [
    PKG_CHECK_MODULES([OFI], [libfabric >= 1.10], [rps_have_ofi=yes],
      [AC_MSG_ERROR([libfabric not found: install the Debian/Ubuntu package libfabric-dev, or configure with --disable-ofi])])
  ])
  AS_IF([test "x$rps_have_ofi" = "xyes"],
    [AC_DEFINE([RPS_HAVE_OFI], [1], [build the ofi provider])])
  AM_CONDITIONAL([RPS_HAVE_OFI], [test "x$rps_have_ofi" = "xyes"])
])
