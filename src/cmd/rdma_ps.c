/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-ps: the parameter-server daemon.  A thin main: options -> config
 * -> run.  It prints a banner, a status line every few seconds (and a CSV
 * row with --metrics), and on SIGINT/SIGTERM stops after the chunks that
 * already arrived are applied, prints a summary and exits 0.
 *
 * Exit status: 0 stopped by a signal, 1 runtime failure, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/ps_cli.h"
#include "util/clock.h"
#include "util/log.h"

#define EXIT_RUNTIME 1

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

struct totals {
	uint64_t pushes, chunks, rejected, tau_sum, tau_max;
	uint32_t connected;
};

static void collect(const rps_server_t *srv, uint32_t M, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t m = 0; m < M; m++) {
		rps_server_worker_stats_t st;

		rps_server_worker_stats(srv, m, &st);
		t->pushes += st.pushes;
		t->chunks += st.chunks_applied;
		t->rejected += st.chunks_rejected;
		t->tau_sum += st.staleness_sum;
		if (st.staleness_max > t->tau_max)
			t->tau_max = st.staleness_max;
		t->connected += st.connected;
	}
}

static void banner(const struct ps_cli *cli, const rps_server_t *srv)
{
	const rps_server_config_t *c = &cli->srv;
	const rps_hparams_t *hp = &c->hp;

	printf("rdma-ps %s: %s on %s, listening on port %u\n", rps_version(),
	       rps_server_provider(srv), rps_server_device(srv), rps_server_port(srv));
	printf("rdma-ps: %s, lr %g, lambda %g, ms-decay %g, momentum %g, weight-decay %g, "
	       "theta %g, max-staleness %u\n", rps_algo_name(c->algo), (double)hp->lr,
	       (double)hp->lambda, (double)hp->ms_decay, (double)hp->momentum,
	       (double)hp->weight_decay, (double)hp->theta, c->max_staleness);
	printf("rdma-ps: %u workers, %llu params, %u engine thread(s), %u-byte chunks, "
	       "layout %.1f MiB\n", c->num_workers, (unsigned long long)c->num_params,
	       c->threads, c->chunk_bytes, (double)rps_server_footprint(srv) / (1 << 20));
	fflush(stdout);
}

static FILE *metrics_open(const char *path)
{
	struct stat st;
	bool fresh = stat(path, &st) != 0 || st.st_size == 0;
	FILE *f = fopen(path, "a");

	if (!f) {
		fprintf(stderr, "rdma-ps: --metrics: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fresh)
		fprintf(f, "time_s,version,pushes,workers_connected,staleness_mean,"
			   "staleness_max,applied_gbps,chunks_rejected\n");
	return f;
}

static void status(const struct ps_cli *cli, const rps_server_t *srv, double elapsed,
		   double dt, struct totals *last, FILE *metrics)
{
	struct totals t;
	double gbps, tau_mean;

	collect(srv, cli->srv.num_workers, &t);
	/* each applied push moves one model's worth of gradient */
	gbps = dt > 0 ? (double)(t.pushes - last->pushes) * (double)cli->srv.num_params *
				sizeof(float) / dt / 1e9
		      : 0;
	tau_mean = t.pushes ? (double)t.tau_sum / (double)t.pushes : 0;
	printf("rdma-ps: %7.1f s  version %llu  pushes %llu  workers %u/%u  staleness "
	       "mean %.2f max %llu  %.3f GB/s applied  rejected %llu\n", elapsed,
	       (unsigned long long)rps_server_version(srv), (unsigned long long)t.pushes,
	       t.connected, cli->srv.num_workers, tau_mean, (unsigned long long)t.tau_max,
	       gbps, (unsigned long long)t.rejected);
	fflush(stdout);
	if (metrics) {
		fprintf(metrics, "%.1f,%llu,%llu,%u,%.3f,%llu,%.4f,%llu\n", elapsed,
			(unsigned long long)rps_server_version(srv), (unsigned long long)t.pushes,
			t.connected, tau_mean, (unsigned long long)t.tau_max, gbps,
			(unsigned long long)t.rejected);
		fflush(metrics);
	}
	*last = t;
}

static int run(struct ps_cli *cli)
{
	rps_server_t *srv;
	struct totals last = {0};
	FILE *metrics = NULL;
	uint64_t t0, tlast;
	int ret;

	if (cli->metrics_path && !(metrics = metrics_open(cli->metrics_path)))
		return RPS_EXIT_USAGE;
	if ((ret = rps_server_create(&cli->srv, &srv))) {
		fprintf(stderr, "rdma-ps: cannot start the server: %s\n", rps_strerror(ret));
		goto out_metrics;
	}
	install_signals();
	if ((ret = rps_server_start(srv))) {
		fprintf(stderr, "rdma-ps: cannot start the engine: %s\n", rps_strerror(ret));
		goto out_destroy;
	}
	banner(cli, srv);
	t0 = tlast = rps_now_ns();
	while (!stop_signal) {
		uint64_t now;

		usleep(100000);
		now = rps_now_ns();
		if (cli->status_interval && now - tlast >= cli->status_interval * 1000000000ull) {
			status(cli, srv, (double)(now - t0) / 1e9, (double)(now - tlast) / 1e9,
			       &last, metrics);
			tlast = now;
		}
	}
	printf("rdma-ps: %s: stopping after the chunks already received\n",
	       strsignal(stop_signal));
	rps_server_stop(srv);
	/* the summary: one last status line over the whole run */
	last = (struct totals){0};
	status(cli, srv, (double)(rps_now_ns() - t0) / 1e9, (double)(rps_now_ns() - t0) / 1e9,
	       &last, metrics);
	ret = 0;
out_destroy:
	rps_server_destroy(srv);
out_metrics:
	if (metrics)
		fclose(metrics);
	return ret ? EXIT_RUNTIME : 0;
}

int main(int argc, char **argv)
{
	struct ps_cli cli;
	int first, ret;

	if (ps_cli_init(&cli))
		return RPS_EXIT_USAGE; /* a bad RPS_* variable, already named */
	first = ps_cli_parse(&cli, argc, argv);
	if (first == 0)
		return 0;
	if (first < 0)
		return RPS_EXIT_USAGE;
	if (cli.show_version) {
		printf("rdma-ps %s\n", rps_version());
		return 0;
	}
	rps_log_set_level(cli.log_level);
	ret = run(&cli);
	rps_opt_release_values();
	return ret;
}
