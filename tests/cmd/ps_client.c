/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test client for the rdma-ps end-to-end test: connects as worker ID,
 * pushes the gradient of 0.5 * ||x - 1||^2 STEPS times, checks that x
 * moved toward 1, exits 0 (1 on any failure).  With DUMP, it first
 * writes the weights it pulled when it connected to that file (float32,
 * little-endian: the payload of a weights file) and prints the shard's
 * offset and size; STEPS may then be 0.
 *   ps_client HOST PORT ID WORLD STEPS [DUMP]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdmaps/rdmaps.h>

/* the n weights as the little-endian bytes of a weights file's payload */
static int dump(const char *path, const float *x, uint64_t n)
{
	FILE *fp = fopen(path, "wb");
	int bad = !fp;

	for (uint64_t i = 0; fp && i < n && !bad; i++) {
		uint8_t b[4];
		uint32_t v;

		memcpy(&v, &x[i], 4);
		for (int k = 0; k < 4; k++)
			b[k] = (uint8_t)(v >> (8 * k));
		bad = fwrite(b, 1, 4, fp) != 4;
	}
	if (fp && fclose(fp))
		bad = 1;
	if (bad)
		fprintf(stderr, "ps_client: cannot write %s\n", path);
	return bad;
}

int main(int argc, char **argv)
{
	rps_worker_config_t wc = { 0 };
	rps_worker_t *w;
	double before = 0, after = 0;
	int ret, steps;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: ps_client HOST PORT ID WORLD STEPS [DUMP]\n");
		return 2;
	}
	wc.server = argv[1];
	wc.port = (uint16_t)atoi(argv[2]);
	wc.worker_id = (uint32_t)atoi(argv[3]);
	wc.num_workers = (uint32_t)atoi(argv[4]);
	wc.timeout_ms = 30000;
	steps = atoi(argv[5]);
	if ((ret = rps_worker_connect(&wc, &w))) {
		fprintf(stderr, "ps_client: connect: %s\n", rps_strerror(ret));
		return 1;
	}
	float *x = rps_worker_weights(w), *g = rps_worker_grad(w);
	uint64_t n = rps_worker_num_params(w);

	if (argc == 7) {
		printf("ps_client %s: pulled %llu weights from offset %llu\n", argv[3],
		       (unsigned long long)n, (unsigned long long)rps_worker_shard_offset(w));
		if (dump(argv[6], x, n)) {
			rps_worker_close(w);
			return 1;
		}
		if (!steps) {
			rps_worker_close(w);
			return 0;
		}
	}
	for (uint64_t i = 0; i < n; i++)
		before += fabs(x[i] - 1.0);
	for (int s = 0; s < steps && !ret; s++) {
		for (uint64_t i = 0; i < n; i++)
			g[i] = x[i] - 1.0f;
		if (!(ret = rps_push(w)))
			ret = rps_pull(w);
	}
	for (uint64_t i = 0; i < n; i++)
		after += fabs(x[i] - 1.0);
	rps_worker_close(w);
	if (ret) {
		fprintf(stderr, "ps_client: %s\n", rps_strerror(ret));
		return 1;
	}
	printf("ps_client %s: distance to the optimum %.3f -> %.3f\n", argv[3], before, after);
	return after < before ? 0 : 1;
}
