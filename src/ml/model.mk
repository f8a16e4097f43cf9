# ml: models (softmax regression, MLP) on OpenBLAS.  Dense layers go
# through cblas_sgemm; like the datasets they live in librdmaps_ml.la,
# so only what trains (rdma-worker, rdma-ps --model, the tests) links
# OpenBLAS.
librdmaps_ml_la_SOURCES += \
	src/ml/model.h \
	src/ml/model_priv.h \
	src/ml/model.c \
	src/ml/model_mlp.c
librdmaps_ml_la_CFLAGS += $(OPENBLAS_CFLAGS)
librdmaps_ml_la_LIBADD += $(OPENBLAS_LIBS)

# Registered in check_PROGRAMS before tests/Makefile.include runs
# TESTS += $(check_PROGRAMS), so make check runs it with the others.
check_PROGRAMS += tests/ml/test_model
tests_ml_test_model_SOURCES = tests/ml/test_model.c
tests_ml_test_model_CPPFLAGS = $(TEST_CPPFLAGS) $(OPENBLAS_CFLAGS)
tests_ml_test_model_LDADD = librdmaps_ml.la librdmaps_core.la $(CMOCKA_LIBS) $(OPENBLAS_LIBS) -lm
