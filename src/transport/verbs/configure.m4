dnl verbs provider: libibverbs + librdmacm
AC_DEFUN([RPS_VERBS_CONFIGURE], [
  rps_have_verbs=no
  AS_IF([test "x$enable_verbs" != "xno"], [
    PKG_CHECK_MODULES([VERBS], [libibverbs librdmacm], [rps_have_verbs=yes],
      [AC_MSG_ERROR([libibverbs/librdmacm not found: install the Debian/Ubuntu packages libibverbs-dev librdmacm-dev, or configure with --disable-verbs])])
  ])
  AS_IF([test "x$rps_have_verbs" = "xyes"],
    [AC_DEFINE([RPS_HAVE_VERBS], [1], [build the verbs provider])])
  AM_CONDITIONAL([RPS_HAVE_VERBS], [test "x$rps_have_verbs" = "xyes"])
])
