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
