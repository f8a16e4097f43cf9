# ml: IDX datasets, synthetic data, partitioners (iid, label-skew)
librdmaps_core_la_SOURCES += \
	src/ml/dataset.h \
	src/ml/dataset.c \
	src/ml/dataset_rng.c src/ml/dataset_rng.h \
	src/ml/idx.c src/ml/idx.h \
	src/ml/partition.c
# The IDX files ship gzipped; gzread also passes plain files through.
librdmaps_core_la_CFLAGS += $(ZLIB_CFLAGS)
librdmaps_core_la_LIBADD += $(ZLIB_LIBS)

# tests/Makefile.include adds every check_PROGRAMS entry to TESTS.
check_PROGRAMS += tests/ml/test_dataset
tests_ml_test_dataset_SOURCES = tests/ml/test_dataset.c
tests_ml_test_dataset_CPPFLAGS = $(TEST_CPPFLAGS) $(ZLIB_CFLAGS)
tests_ml_test_dataset_LDADD = librdmaps_core.la $(CMOCKA_LIBS) $(ZLIB_LIBS) -lm
