# ml: IDX datasets, synthetic data, partitioners (iid, label-skew).
# src/ml is not part of librdmaps: it goes into librdmaps_ml.la, a
# convenience library (not installed) that the programs and tests which
# train link next to librdmaps, so that librdmaps.so links neither zlib
# nor OpenBLAS (tests/build/test_needed.sh checks).
noinst_LTLIBRARIES += librdmaps_ml.la
librdmaps_ml_la_SOURCES = \
	src/ml/dataset.h \
	src/ml/dataset.c \
	src/ml/dataset_rng.c src/ml/dataset_rng.h \
	src/ml/idx.c src/ml/idx.h \
	src/ml/partition.c
# The IDX files ship gzipped; gzread also passes plain files through.
librdmaps_ml_la_CFLAGS = $(AM_CFLAGS) $(ZLIB_CFLAGS)
librdmaps_ml_la_LIBADD = $(ZLIB_LIBS) -lm
