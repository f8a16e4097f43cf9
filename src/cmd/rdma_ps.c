/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-ps: the parameter-server daemon.  A thin main: options -> config
 * -> run.  It prints a banner, a status line every few seconds (and a CSV
 * row with --metrics), and on SIGINT/SIGTERM stops after the chunks that
 * already arrived are applied, prints a summary and exits 0.
 *
 * Exit status: 0 stopped by a signal (or --once), 1 runtime failure, 2
 * bad usage.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/ps_cli.h"
#include "ml/model.h"
#include "ps/ps_private.h"
#include "topo/topo.h"
#include "util/clock.h"
#include "util/log.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

struct totals {
	uint64_t pushes, chunks, rejected, tau_sum, tau_max;
	uint64_t pushes_min, pushes_max; /* per worker, over those that joined */
	uint32_t connected;
};

static void collect(const rps_server_t *srv, uint32_t M, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	t->pushes_min = UINT64_MAX;
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
		if (st.joined) {
			if (st.pushes < t->pushes_min)
				t->pushes_min = st.pushes;
			if (st.pushes > t->pushes_max)
				t->pushes_max = st.pushes;
		}
	}
}

static void banner(const struct ps_cli *cli, const rps_server_t *srv)
{
	const rps_server_config_t *c = &cli->srv;
	const rps_hparams_t *hp = &c->hp;

	printf("rdma-ps %s: %s on %s, listening on port %u\n", rps_version(),
	       rps_server_provider(srv), rps_server_device(srv), rps_server_port(srv));
	printf("rdma-ps: %s, lr %g, lambda %g, ms-decay %g, momentum %g, weight-decay %g, "
	       "theta %g, max-staleness %u\n",
	       rps_algo_name(c->algo), (double)hp->lr, (double)hp->lambda, (double)hp->ms_decay,
	       (double)hp->momentum, (double)hp->weight_decay, (double)hp->theta, c->max_staleness);
	if (c->algo == RPS_ALGO_SSGD && c->ssgd_timeout_ms)
		printf("rdma-ps: an ssgd round waits up to %g s for slow or absent workers\n",
		       c->ssgd_timeout_ms / 1e3);
	else if (c->algo == RPS_ALGO_SSGD)
		printf("rdma-ps: an ssgd round waits for every worker, however long\n");
	if (hp->lr_decay_every)
		printf("rdma-ps: lr schedule: x %g every %llu updates\n", (double)hp->lr_decay,
		       (unsigned long long)hp->lr_decay_every);
	printf("rdma-ps: %u workers, %llu params", c->num_workers,
	       (unsigned long long)c->num_params);
	if (cli->shard_count > 1)
		printf(" (shard %u/%u: params %llu..%llu of %llu)", cli->shard_index,
		       cli->shard_count, (unsigned long long)c->shard_offset,
		       (unsigned long long)(c->shard_offset + c->num_params - 1),
		       (unsigned long long)cli->model_params);
	printf(", %u engine thread(s), %u-byte chunks, layout %.1f MiB\n", c->threads,
	       c->chunk_bytes, (double)rps_server_footprint(srv) / (1 << 20));
	printf("rdma-ps: placement: %s\nrdma-ps: placement: %s\n", rps_server_placement(srv),
	       rps_server_placement_why(srv));
	if (cli->common.metrics_path)
		printf("rdma-ps: metrics to %s\n", cli->common.metrics_path);
	if (cli->common.auth_token_len)
		printf("rdma-ps: workers must present the shared auth token\n");
	if (cli->checkpoint_dir) {
		printf("rdma-ps: checkpoints to %s ", cli->checkpoint_path);
		if (cli->checkpoint_interval)
			printf("every %u s and at exit", cli->checkpoint_interval);
		else
			printf("at exit");
		if (cli->srv.resume_path)
			printf("; resumed at version %llu",
			       (unsigned long long)rps_server_version(srv));
		else if (cli->resume_auto)
			printf("; no checkpoint yet: a fresh start");
		printf("\n");
	}
	if (cli->init_weights_path && cli->srv.resume_path)
		printf("rdma-ps: --init-weights %s not used: the checkpoint's weights win\n",
		       cli->init_weights_path);
	else if (cli->init_weights_path)
		printf("rdma-ps: initial weights from %s (%llu params)\n", cli->init_weights_path,
		       (unsigned long long)cli->model_params);
	if (cli->model_spec && !cli->srv.resume_path)
		printf("rdma-ps: model %s, %u features, %u classes, initialised with seed %llu\n",
		       cli->model_spec, cli->features, cli->classes, (unsigned long long)cli->seed);
	fflush(stdout);
}

static void status(const struct ps_cli *cli, const rps_server_t *srv, double elapsed, double dt,
		   struct totals *last, FILE *metrics)
{
	struct totals t;
	double gbps, tau_mean;

	collect(srv, cli->srv.num_workers, &t);
	/* each applied push moves one model's worth of gradient */
	gbps = dt > 0 ? (double)(t.pushes - last->pushes) * (double)cli->srv.num_params *
				sizeof(float) / dt / 1e9
		      : 0;
	tau_mean = t.pushes ? (double)t.tau_sum / (double)t.pushes : 0;
	if (t.pushes_min == UINT64_MAX)
		t.pushes_min = 0;
	printf("rdma-ps: %7.1f s  version %llu  pushes %llu (per worker %llu..%llu)  workers "
	       "%u/%u  staleness mean %.2f max %llu  %.3f GB/s applied  rejected %llu\n",
	       elapsed, (unsigned long long)rps_server_version(srv), (unsigned long long)t.pushes,
	       (unsigned long long)t.pushes_min, (unsigned long long)t.pushes_max, t.connected,
	       cli->srv.num_workers, tau_mean, (unsigned long long)t.tau_max, gbps,
	       (unsigned long long)t.rejected);
	fflush(stdout);
	if (metrics) {
		fprintf(metrics, "%.1f,%llu,%llu,%llu,%llu,%u,%.3f,%llu,%.4f,%llu,%s\n", elapsed,
			(unsigned long long)rps_server_version(srv), (unsigned long long)t.pushes,
			(unsigned long long)t.pushes_min, (unsigned long long)t.pushes_max,
			t.connected, tau_mean, (unsigned long long)t.tau_max, gbps,
			(unsigned long long)t.rejected, rps_server_placement_csv(srv));
		fflush(metrics);
	}
	*last = t;
}

/* The whole model's initial weights from --init-weights (read when the
 * options were parsed: handed over here), or from --model and --seed
 * (workers never send weights: the server is the one source of truth).
 * NULL and 0 without either (zeros), or a negative errno. */
static int initial_weights(struct ps_cli *cli, float **w_p)
{
	rps_model_t *m;
	int ret;

	*w_p = NULL;
	if (cli->init_weights) {
		*w_p = cli->init_weights;
		cli->init_weights = NULL;
		return 0;
	}
	if (!cli->model_spec)
		return 0;
	if ((ret = rps_model_create(cli->model_spec, cli->features, cli->classes, 1, &m)))
		return ret;
	*w_p = malloc(rps_model_num_params(m) * sizeof(float));
	if (*w_p)
		rps_model_init(m, *w_p, cli->seed);
	rps_model_destroy(m);
	return *w_p ? 0 : -ENOMEM;
}

/* A checkpoint now, if configured; a failure is reported, not fatal
 * (training goes on; the previous checkpoint file is untouched). */
static int checkpoint(const struct ps_cli *cli, rps_server_t *srv)
{
	char why[CMD_WHY_LEN];
	int ret;

	if (!cli->checkpoint_dir)
		return 0;
	cmd_log_capture(why);
	ret = rps_server_checkpoint(srv, cli->checkpoint_path);
	cmd_log_release();
	if (ret)
		fprintf(stderr, "rdma-ps: checkpoint failed: %s\n",
			why[0] ? why : rps_strerror(ret));
	return ret;
}

/* --once: every slot has been used and none is connected any more */
static bool all_workers_left(const rps_server_t *srv, uint32_t M)
{
	for (uint32_t m = 0; m < M; m++) {
		rps_server_worker_stats_t st;

		rps_server_worker_stats(srv, m, &st);
		if (!st.joined || st.connected)
			return false;
	}
	return true;
}

/* At exit: what each worker did, so a lost or silent worker shows (up
 * to 64 lines; beyond that only the workers that never joined). */
static void worker_summary(const rps_server_t *srv, uint32_t M)
{
	for (uint32_t m = 0; m < M; m++) {
		rps_server_worker_stats_t st;

		rps_server_worker_stats(srv, m, &st);
		if (M > 64 && st.joined)
			continue;
		if (!st.joined) {
			printf("rdma-ps: worker %u: never joined\n", m);
			continue;
		}
		printf("rdma-ps: worker %u: pushes %llu  staleness mean %.2f max %llu  rejected "
		       "chunks %llu  protocol errors %llu\n",
		       m, (unsigned long long)st.pushes,
		       st.pushes ? (double)st.staleness_sum / (double)st.pushes : 0.0,
		       (unsigned long long)st.staleness_max, (unsigned long long)st.chunks_rejected,
		       (unsigned long long)st.protocol_errors);
	}
}

static int run(struct ps_cli *cli)
{
	float *init;
	rps_server_t *srv;
	struct totals last = { 0 };
	FILE *metrics = NULL;
	uint64_t t0, tlast, tckpt;
	char why[CMD_WHY_LEN];
	int ret;

	if (cli->common.metrics_path &&
	    !(metrics = cmd_metrics_open(
		      "rdma-ps", cli->common.metrics_path,
		      "time_s,version,pushes,pushes_min,pushes_max,"
		      "workers_connected,staleness_mean,"
		      "staleness_max,applied_gbps,chunks_rejected," RPS_TOPO_CSV_COLUMNS "\n")))
		return RPS_EXIT_USAGE;
	/* before anything slow: a SIGTERM from Slurm during startup must
	 * still end in an orderly stop */
	install_signals();
	if (cli->resume_auto)
		cli->srv.resume_path =
			access(cli->checkpoint_path, F_OK) ? NULL : cli->checkpoint_path;
	if (cli->resume && access(cli->checkpoint_path, F_OK)) {
		fprintf(stderr, "rdma-ps: --resume: no checkpoint at %s\n", cli->checkpoint_path);
		ret = -ENOENT;
		goto out_metrics;
	}
	/* a resumed server takes its weights from the checkpoint, whatever
	 * --init-weights or --model say */
	if (cli->srv.resume_path) {
		free(cli->init_weights);
		cli->init_weights = NULL;
	}
	if ((ret = cli->srv.resume_path ? (init = NULL, 0) : initial_weights(cli, &init))) {
		fprintf(stderr, "rdma-ps: --model: %s\n", rps_strerror(ret));
		goto out_metrics;
	}
	cli->srv.init_weights = init ? init + cli->srv.shard_offset : NULL;
	cmd_log_capture(why);
	ret = rps_server_create(&cli->srv, &srv);
	cmd_log_release();
	free(init);
	cli->srv.init_weights = NULL;
	if (ret) {
		fprintf(stderr, "rdma-ps: cannot start the server: %s\n",
			why[0] ? why : rps_strerror(ret));
		goto out_metrics;
	}
	if ((ret = rps_server_start(srv))) {
		fprintf(stderr, "rdma-ps: cannot start the engine: %s\n", rps_strerror(ret));
		goto out_destroy;
	}
	banner(cli, srv);
	t0 = tlast = tckpt = rps_now_ns();
	while (!stop_signal && !(cli->once && all_workers_left(srv, cli->srv.num_workers))) {
		uint64_t now;

		usleep(100000);
		now = rps_now_ns();
		if (cli->common.status_interval &&
		    now - tlast >= cli->common.status_interval * 1000000000ull) {
			status(cli, srv, (double)(now - t0) / 1e9, (double)(now - tlast) / 1e9,
			       &last, metrics);
			tlast = now;
		}
		if (cli->checkpoint_interval &&
		    now - tckpt >= cli->checkpoint_interval * 1000000000ull) {
			checkpoint(cli, srv);
			tckpt = now;
		}
	}
	if (stop_signal)
		printf("rdma-ps: %s: stopping after the chunks already received\n",
		       strsignal(stop_signal));
	else
		printf("rdma-ps: every worker has left: stopping\n");
	rps_server_stop(srv);
	/* the last checkpoint holds everything applied: losing it is an error */
	if (checkpoint(cli, srv))
		ret = -EIO;
	else
		ret = 0;
	if (!ret && cli->checkpoint_dir)
		printf("rdma-ps: checkpoint %s written at version %llu\n", cli->checkpoint_path,
		       (unsigned long long)rps_server_version(srv));
	/* the summary: each worker, then one status line over the whole run */
	worker_summary(srv, cli->srv.num_workers);
	last = (struct totals){ 0 };
	status(cli, srv, (double)(rps_now_ns() - t0) / 1e9, (double)(rps_now_ns() - t0) / 1e9,
	       &last, metrics);
out_destroy:
	rps_server_destroy(srv);
out_metrics:
	if (metrics)
		fclose(metrics);
	return ret ? RPS_EXIT_RUNTIME : 0;
}

int main(int argc, char **argv)
{
	struct ps_cli cli;
	int first, ret;

	if (ps_cli_init(&cli))
		return RPS_EXIT_USAGE; /* a bad RPS_* variable, already named */
	first = ps_cli_parse(&cli, argc, argv);
	if (first <= 0) {
		free(cli.init_weights);
		return first ? RPS_EXIT_USAGE : 0;
	}
	if (cli.common.show_version) {
		printf("rdma-ps %s\n", rps_version());
		return 0;
	}
	rps_log_set_level(cli.common.log_level);
	if (cli.show_topology) {
		ret = rps_server_describe_placement(&cli.srv, stdout);
		if (ret)
			fprintf(stderr, "rdma-ps: --show-topology: %s\n", rps_strerror(ret));
		return ret ? RPS_EXIT_RUNTIME : 0;
	}
	ret = run(&cli);
	free(cli.init_weights); /* when run() stopped before taking them */
	rps_opt_release_values();
	return ret;
}
