/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The smallest complete rdmaps program: a parameter server and one
 * worker in one process, training x to minimize 0.5 * ||x - 1||^2
 * with DC-ASGD-a.  Build and run:
 *   cc ps_minimal.c $(pkg-config --cflags --libs rdmaps) -lm
 *   ./a.out [ADDRESS]   (default 127.0.0.1; with verbs, the address
 *                        of the RDMA interface)
 */
#include <math.h>
#include <stdio.h>
#include <rdmaps/rdmaps.h>

int main(int argc, char **argv)
{
	const char *addr = argc > 1 ? argv[1] : "127.0.0.1";
	rps_server_config_t cfg;
	rps_server_t *srv;
	rps_worker_t *w;
	int ret;

	rps_server_config_init(&cfg); /* dc-asgd-a and its defaults */
	cfg.num_workers = 1;
	cfg.num_params = 1000;
	cfg.addr = addr;
	if ((ret = rps_server_create(&cfg, &srv)) || (ret = rps_server_start(srv))) {
		fprintf(stderr, "server: %s\n", rps_strerror(ret));
		return 1;
	}
	rps_worker_config_t wc = { .server = addr, .port = rps_server_port(srv) };
	if ((ret = rps_worker_connect(&wc, &w))) { /* pulls the weights */
		fprintf(stderr, "worker: %s\n", rps_strerror(ret));
		return 1;
	}
	float *x = rps_worker_weights(w), *g = rps_worker_grad(w);
	for (int step = 0; step < 200 && !ret; step++) {
		for (int i = 0; i < 1000; i++)
			g[i] = x[i] - 1.0f; /* gradient of the loss */
		if (!(ret = rps_push(w)))   /* RDMA WRITE into G[m] */
			ret = rps_pull(w);  /* RDMA READ of B[m] */
	}
	double err = 0;
	for (int i = 0; i < 1000; i++)
		err = fmax(err, fabs(x[i] - 1.0));
	printf("after 200 steps: max |x - 1| = %.2e (%s)\n", err, rps_strerror(ret));
	rps_worker_close(w);
	rps_server_destroy(srv);
	return ret || err > 1e-3;
}
