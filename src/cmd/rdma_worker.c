/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-worker: trains a built-in model (softmax regression or an MLP) on
 * its share of the data against one or more rdma-ps.  One step: gradient
 * of a mini-batch on the weights it holds, push (RDMA WRITEs, waits until
 * applied), pull (RDMA READs of the new weights).  Progress lines every
 * few seconds and at each epoch end; --metrics writes them as CSV.
 *
 * Exit status: 0 trained to the end, 1 runtime failure, 2 bad usage,
 * 3 stopped by SIGINT/SIGTERM (after a clean goodbye to the servers).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd_place.h"
#include "cmd/worker_cli.h"
#include "cmd/worker_data.h"
#include "cmd/worker_pcasgd.h"
#include "cmd/worker_s3gd.h"
#include "cmd/worker_shards.h"
#include "ml/model.h"
#include "optim/kernels.h"
#include "topo/topo.h"
#include "util/clock.h"

#define PROG "rdma-worker"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Counters of one run; "window" ones restart at each progress line. */
struct progress {
	uint64_t step, steps_in_window, rejected, reconnects;
	uint64_t last_version, tau_sum, tau_max, tau_count;
	double loss_sum; /* over the window */
	double test_acc, test_loss, train_acc;
	bool evaluated;
	uint64_t t0, t_window;
	FILE *metrics;
};

struct trainer {
	const struct worker_cli *cli;
	struct cmd_placement place;
	struct worker_data data;
	struct worker_shards shards; /* with servers */
	struct worker_s3gd s3gd;     /* --algo dc-s3gd */
	struct worker_pcasgd pc;     /* --algo pc-asgd */
	float *params, *grad;	     /* the gradient is computed at params */
	const float *eval_params;    /* the model evaluated: dc-s3gd's wbar */
	rps_model_t *model;
	struct progress p;
};

/* Test accuracy and loss, and accuracy on (up to a test set's worth of)
 * this worker's training share. */
static int evaluate(struct trainer *t)
{
	const rps_dataset_t *te = t->data.test, *tr = t->data.local;
	uint64_t ntrain = tr->n < te->n ? tr->n : te->n;
	float loss, acc, tloss;
	int ret;

	if ((ret = rps_model_evaluate(t->model, t->eval_params, te->x, te->y, te->n, &loss, &acc)))
		return ret;
	t->p.test_acc = acc;
	t->p.test_loss = loss;
	if ((ret = rps_model_evaluate(t->model, t->eval_params, tr->x, tr->y, ntrain, &tloss,
				      &acc)))
		return ret;
	t->p.train_acc = acc;
	t->p.evaluated = true;
	return 0;
}

static void report(struct trainer *t, uint32_t epoch, const char *what)
{
	struct progress *p = &t->p;
	uint64_t now = rps_now_ns();
	double dt = (double)(now - p->t_window) / 1e9, elapsed = (double)(now - p->t0) / 1e9;
	double loss = p->steps_in_window ? p->loss_sum / (double)p->steps_in_window : 0;
	double rate = dt > 0 ? (double)p->steps_in_window / dt : 0;
	double tau = p->tau_count ? (double)p->tau_sum / (double)p->tau_count : 0;

	printf(PROG " %u/%u: %7.1f s  epoch %u  step %llu  loss %.4f", t->cli->rank, t->cli->world,
	       elapsed, epoch, (unsigned long long)p->step, loss);
	if (p->evaluated)
		printf("  train-acc %.4f  test-acc %.4f", p->train_acc, p->test_acc);
	printf("  %.0f steps/s  staleness mean %.2f max %llu", rate, tau,
	       (unsigned long long)p->tau_max);
	if (t->cli->pcasgd && worker_pcasgd_spread(&t->pc) >= 0)
		printf("  spread %.4f", worker_pcasgd_spread(&t->pc));
	if (p->rejected)
		printf("  rejected %llu", (unsigned long long)p->rejected);
	printf("%s%s\n", what ? "  " : "", what ? what : "");
	fflush(stdout);
	if (p->metrics) {
		fprintf(p->metrics,
			"%.2f,%u,%u,%u,%llu,%.6f,%.4f,%.4f,%.6f,%.1f,%.3f,%llu,%llu,%s\n", elapsed,
			t->cli->rank, t->cli->world, epoch, (unsigned long long)p->step, loss,
			p->evaluated ? p->train_acc : -1, p->evaluated ? p->test_acc : -1,
			p->evaluated ? p->test_loss : -1, rate, tau, (unsigned long long)p->tau_max,
			(unsigned long long)p->rejected, t->place.csv);
		fflush(p->metrics);
	}
	p->steps_in_window = 0;
	p->loss_sum = 0;
	p->t_window = now;
}

/* Staleness this worker saw: updates of other workers applied between
 * the weights it computed on (pulled after its previous push, or at
 * connect) and its push (0 in synchronous rounds). */
static void account_push(struct progress *p, uint64_t version)
{
	if (version > p->last_version) {
		uint64_t tau = version - p->last_version - 1;

		p->tau_sum += tau;
		p->tau_count++;
		if (tau > p->tau_max)
			p->tau_max = tau;
	}
	p->last_version = version;
}

/* dc-s3gd: the step's gradient reaches wbar tau allreduces late */
static void account_stale(struct progress *p, uint64_t tau)
{
	p->tau_sum += tau;
	p->tau_count++;
	if (tau > p->tau_max)
		p->tau_max = tau;
}

static int train_step(struct trainer *t, uint64_t b)
{
	uint32_t n = worker_data_batch(&t->data, b);
	float loss;
	int ret;

	ret = rps_model_loss_grad(t->model, t->params, t->data.bx, t->data.by, n, t->grad, &loss);
	if (ret) {
		fprintf(stderr, PROG ": gradient: %s\n", rps_strerror(ret));
		return ret;
	}
	if (t->cli->delay_ms) {
		/* a slower worker (--delay-ms): its gradient arrives later, so
		 * the others' pushes make it staler; a signal ends the nap */
		struct timespec ts = { t->cli->delay_ms / 1000,
				       (long)(t->cli->delay_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (t->cli->s3gd)
		ret = worker_s3gd_step(&t->s3gd);
	else if (t->cli->pcasgd)
		ret = worker_pcasgd_step(&t->pc);
	else
		ret = worker_shards_step(&t->shards);
	if (ret == -EDOM) {
		/* the server refused a non-finite gradient: the model is
		 * untouched; say so once per progress line via the counter */
		t->p.rejected++;
		ret = 0;
	}
	if (ret)
		return ret; /* the caller reconnects or reports */
	if (t->cli->s3gd) {
		account_stale(&t->p, t->s3gd.started - t->s3gd.applied);
	} else if (t->cli->pcasgd) {
		/* the neighbours' copies' lag, counted by the step */
		t->p.tau_sum = t->pc.lag_sum;
		t->p.tau_count = t->pc.lag_count;
		t->p.tau_max = t->pc.lag_max;
	} else
		account_push(&t->p, worker_shards_version(&t->shards));
	t->p.step++;
	t->p.steps_in_window++;
	t->p.loss_sum += loss;
	return 0;
}

/* Failures a new connection can cure: the server went away (killed,
 * restarted from a checkpoint, network down) or is not up yet.  Bad
 * input, memory and protocol errors are not retried. */
static bool retryable(int ret)
{
	switch (-ret) {
	case EINVAL:
	case ENOMEM:
	case EDOM:
	case RPS_ERR_PROTO:
	case RPS_ERR_REFUSED: /* rdma-ps said why: it will say it again */
	case RPS_ERR_REMOTE_ACCESS:
	case RPS_ERR_LOCAL_ACCESS:
		return false;
	default:
		return true;
	}
}

/*
 * Connects to every server, retrying with exponential backoff (0.5 s to
 * 8 s) for up to --retry seconds.  The model is pulled fresh; a step in
 * flight when the server was lost is dropped (the server never applied
 * it, or dropped its partial application at the rejoin).
 */
static int connect_with_retry(struct trainer *t, bool again)
{
	const struct worker_cli *cli = t->cli;
	uint64_t n = rps_model_num_params(t->model);
	uint64_t deadline = rps_now_ns() + (uint64_t)cli->retry_s * 1000000000ull;
	unsigned delay_ms = 500;
	uint32_t failed;
	int ret;

	for (;;) {
		ret = worker_shards_connect(cli, n, &t->shards, cli->retry_s > 0);
		if (!ret)
			break;
		failed = t->shards.failed;
		worker_shards_close(&t->shards);
		if (!cli->retry_s || !retryable(ret) || stop_signal || rps_now_ns() >= deadline) {
			/* a quiet refusal has not been explained yet */
			if (cli->retry_s && ret == -ECONNREFUSED)
				worker_shards_explain(cli, failed, ret, NULL);
			return ret;
		}
		fprintf(stderr, PROG " %u/%u: %s:%u: %s: retrying in %.1f s (%.0f s left)\n",
			cli->rank, cli->world, cli->servers[failed].host, cli->servers[failed].port,
			rps_strerror(ret), delay_ms / 1e3, (double)(deadline - rps_now_ns()) / 1e9);
		usleep(delay_ms * 1000);
		if (delay_ms < 8000)
			delay_ms *= 2;
	}
	/* a new connection brings new registered buffers */
	t->params = t->shards.params;
	t->grad = t->shards.grad;
	t->eval_params = t->shards.params;
	t->p.last_version = worker_shards_version(&t->shards);
	if (again)
		printf(PROG " %u/%u: reconnected at server version %llu; step %llu goes on\n",
		       cli->rank, cli->world, (unsigned long long)t->p.last_version,
		       (unsigned long long)t->p.step);
	return 0;
}

/* train_step failed with ret: reconnect if that can help */
static int recover(struct trainer *t, int ret)
{
	/* a broken ring or graph cannot be rejoined alone: every peer must
	 * restart */
	if (worker_cli_serverless(t->cli) || !t->cli->retry_s || !retryable(ret) || stop_signal)
		return ret;
	fprintf(stderr,
		PROG " %u/%u: lost the server at step %llu (%s): reconnecting for up to "
		     "%u s\n",
		t->cli->rank, t->cli->world, (unsigned long long)t->p.step, rps_strerror(ret),
		t->cli->retry_s);
	worker_shards_close(&t->shards);
	t->p.reconnects++;
	return connect_with_retry(t, true);
}

/* Steps of an epoch.  dc-s3gd: the same on every worker, or an allreduce
 * would wait for a worker that has finished; a share smaller than the
 * average is gone through more than once.  pc-asgd likewise, so that
 * agents with unequal shares keep mixing until about the same time. */
static uint64_t epoch_batches(const struct trainer *t)
{
	uint64_t share = t->data.train_total / t->cli->world;

	if (!worker_cli_serverless(t->cli))
		return worker_data_batches(&t->data);
	return share ? (share + t->data.batch - 1) / t->data.batch : 1;
}

static bool done(const struct trainer *t)
{
	return stop_signal || (t->cli->max_steps && t->p.step >= t->cli->max_steps);
}

static int train(struct trainer *t)
{
	const struct worker_cli *cli = t->cli;
	uint64_t status_ns = (uint64_t)cli->common.status_interval * 1000000000ull;
	int ret;

	t->p.t0 = t->p.t_window = rps_now_ns();
	for (uint32_t e = 0; e < cli->epochs && !done(t); e++) {
		uint64_t nb = epoch_batches(t);

		worker_data_epoch(&t->data, cli->seed, cli->rank, e);
		for (uint64_t b = 0; b < nb && !done(t); b++) {
			if ((ret = train_step(t, b % worker_data_batches(&t->data))) &&
			    (ret = recover(t, ret))) {
				/* without a server the ring or the graph has said
				 * what failed, naming the peer: one line is enough */
				if (!worker_cli_serverless(cli))
					fprintf(stderr, PROG ": step %llu: %s\n",
						(unsigned long long)t->p.step, rps_strerror(ret));
				return ret;
			}
			/* every evaluation is a line and a --metrics row: the
			 * curve of a --steps run, which has no epoch ends */
			if (cli->eval_interval && t->p.step % cli->eval_interval == 0) {
				if ((ret = evaluate(t)))
					return ret;
				report(t, e + 1, NULL);
			} else if (status_ns && rps_now_ns() - t->p.t_window >= status_ns) {
				report(t, e + 1, NULL);
			}
		}
		/* going round the share for --steps: the passes are not
		 * epochs of the run, so no evaluation or line until the end
		 * (--eval-interval's rows give the curve) */
		if (cli->steps_wrap && !done(t))
			continue;
		/* dc-s3gd: the last epoch ends with the allreduces in flight
		 * applied, so every worker evaluates the same model */
		if (cli->s3gd && (e + 1 == cli->epochs || done(t)) &&
		    (ret = worker_s3gd_finish(&t->s3gd)))
			return ret;
		if ((ret = evaluate(t)))
			return ret;
		/* a stop by --steps or a signal is mid-epoch: say so */
		report(t, e + 1,
		       cli->steps_wrap		     ? "(steps done)"
		       : done(t) && (t->p.step % nb) ? "(stopped)"
						     : "(epoch end)");
	}
	if (cli->s3gd && (ret = worker_s3gd_finish(&t->s3gd)))
		return ret;
	/* the goodbye: our final copy to the neighbours still training */
	if (cli->pcasgd && (ret = worker_pcasgd_finish(&t->pc)))
		return ret;
	return 0;
}

/* pc-asgd's last line: how often neighbours were delayed, which
 * candidate the steps took, what moved, and how close to consensus */
static void print_pcasgd_summary(const struct trainer *t)
{
	const struct worker_pcasgd *pc = &t->pc;
	struct worker_mesh_stats st = { 0 };
	if (pc->mesh)
		worker_mesh_stats(pc->mesh, &st);
	printf(PROG " %u/%u: pc-asgd: %llu neighbour copies mixed, %.1f%% of them delayed (lag > "
		    "%llu steps, mean lag %.2f); tensor steps: %llu predicted, %llu clipped, %llu "
		    "mixed, %llu without a delayed neighbour; copies sent %llu, received %llu, "
		    "not sent (staging busy) %llu; spread at the end %.4f\n",
	       t->cli->rank, t->cli->world, (unsigned long long)pc->uses,
	       pc->uses ? 100.0 * (double)pc->delayed_uses / (double)pc->uses : 0.0,
	       (unsigned long long)pc->delay_bound,
	       pc->lag_count ? (double)pc->lag_sum / (double)pc->lag_count : 0.0,
	       (unsigned long long)pc->chose[RPS_PCASGD_PREDICTED],
	       (unsigned long long)pc->chose[RPS_PCASGD_CLIPPED],
	       (unsigned long long)pc->chose[RPS_PCASGD_MIXED],
	       (unsigned long long)pc->chose[RPS_PCASGD_NONE_DELAYED], (unsigned long long)st.sent,
	       (unsigned long long)st.received, (unsigned long long)st.skipped,
	       worker_pcasgd_spread(pc));
}

/* This worker's index among the workers on its node, so that they take
 * a core each: Slurm's SLURM_LOCALID, else the rank (workers started on
 * one machine by hand or by make demo). */
static unsigned local_rank(const struct worker_cli *cli)
{
	const char *s = getenv("SLURM_LOCALID");
	char *end;
	unsigned long v;

	if (s && *s) {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (!errno && !*end && v < 65536)
			return (unsigned)v;
	}
	return cli->rank;
}

static int setup(struct trainer *t)
{
	const struct worker_cli *cli = t->cli;
	const rps_dataset_t *ds;
	char length[48];
	int ret;

	if ((ret = worker_data_load(cli, &t->data)))
		return ret;
	ds = t->data.local;
	if ((ret = rps_model_create(cli->model_spec, ds->d, ds->num_classes, t->data.batch,
				    &t->model))) {
		fprintf(stderr, PROG ": --model %s: %s\n", cli->model_spec, rps_strerror(ret));
		return ret;
	}
	/* how long it trains: "3 epoch(s)", or "500 steps" going round */
	if (cli->steps_wrap)
		snprintf(length, sizeof(length), "%llu steps", (unsigned long long)cli->max_steps);
	else
		snprintf(length, sizeof(length), "%u epoch(s)", cli->epochs);
	if (cli->s3gd) {
		char sched[64] = ""; /* --lr-schedule step:N,GAMMA */

		if ((ret = worker_s3gd_init(cli, t->model, t->place.extra_cpu[0], &t->s3gd)))
			return ret;
		if (cli->lr_decay_every)
			snprintf(sched, sizeof(sched), " x %g every %llu steps",
				 (double)cli->lr_decay, (unsigned long long)cli->lr_decay_every);
		t->params = t->s3gd.params;
		t->grad = t->s3gd.grad;
		t->eval_params = t->s3gd.wbar;
		printf(PROG " %u/%u: %s, %llu params, algorithm dc-s3gd (no server) with %u "
			    "peer(s), staleness %u, lr %g%s, lambda %s %g; %llu of %llu "
			    "training samples (%s), batch %u, %llu steps per epoch, %s\n",
		       cli->rank, cli->world, cli->model_spec, (unsigned long long)t->s3gd.n,
		       cli->world, cli->staleness, cli->lr, sched,
		       cli->lambda_set ? "constant" : "lambda0",
		       cli->lambda_set ? cli->lambda : cli->lambda0, (unsigned long long)ds->n,
		       (unsigned long long)t->data.train_total, cli->partition, t->data.batch,
		       (unsigned long long)epoch_batches(t), length);
	} else if (cli->pcasgd) {
		char sched[64] = "", theta[16] = "auto";

		if ((ret = worker_pcasgd_init(cli, t->model, t->place.extra_cpu[0], &t->pc)))
			return ret;
		if (cli->lr_decay_every)
			snprintf(sched, sizeof(sched), " x %g every %llu steps",
				 (double)cli->lr_decay, (unsigned long long)cli->lr_decay_every);
		if (!cli->theta_auto)
			snprintf(theta, sizeof(theta), "%g", (double)cli->theta);
		t->params = t->pc.params;
		t->grad = t->pc.grad;
		t->eval_params = t->pc.params;
		printf(PROG " %u/%u: %s, %llu params, algorithm pc-asgd (no server) with %u "
			    "neighbour(s) on a %s of %u agents, theta %s, delay bound %llu, "
			    "momentum %g, lr %g%s; %llu of %llu training samples (%s), batch %u, "
			    "%llu steps per epoch, %s\n",
		       cli->rank, cli->world, cli->model_spec, (unsigned long long)t->pc.n, t->pc.k,
		       cli->topology == WORKER_TOPO_FULL ? "full graph" : "ring", cli->world, theta,
		       (unsigned long long)cli->delay_bound, (double)cli->momentum, cli->lr, sched,
		       (unsigned long long)ds->n, (unsigned long long)t->data.train_total,
		       cli->partition, t->data.batch, (unsigned long long)epoch_batches(t), length);
	} else {
		if ((ret = connect_with_retry(t, false)))
			return ret;
		printf(PROG " %u/%u: %s, %llu params on %u server(s) (first %s:%u), algorithm %s; "
			    "%llu of %llu training samples (%s), batch %u, %s\n",
		       cli->rank, cli->world, cli->model_spec, (unsigned long long)t->shards.n,
		       t->shards.k, cli->servers[0].host, cli->servers[0].port,
		       rps_algo_name(rps_worker_algo(t->shards.w[0])), (unsigned long long)ds->n,
		       (unsigned long long)t->data.train_total, cli->partition, t->data.batch,
		       length);
	}
	printf(PROG " %u/%u: placement %s (as local rank %u: %s)\n", cli->rank, cli->world,
	       t->place.line, local_rank(cli), t->place.why);
	fflush(stdout);
	return 0;
}

static int run(const struct worker_cli *cli)
{
	struct trainer t = { .cli = cli };
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	/* before anything is allocated: the data, the model and the
	 * registered buffers then come from the NIC's NUMA node */
	/* dc-s3gd: a CPU for the ring's progress thread too, so that the
	 * allreduce moves while the model computes */
	/* pc-asgd: the same, for the graph's progress thread */
	if (cmd_place_self(PROG, &cli->common.attr, &cli->place, local_rank(cli),
			   worker_cli_serverless(cli) ? 2 : 1, &t.place))
		return RPS_EXIT_RUNTIME;
	if (cli->common.metrics_path &&
	    !(t.p.metrics = cmd_metrics_open(PROG, cli->common.metrics_path,
					     "time_s,rank,world,epoch,step,loss,train_acc,"
					     "test_acc,test_loss,steps_per_s,staleness_mean,"
					     "staleness_max,rejected," RPS_TOPO_CSV_COLUMNS "\n")))
		return RPS_EXIT_USAGE;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = setup(&t);
	if (!ret)
		ret = train(&t);
	if (!ret && !t.p.evaluated)
		ret = evaluate(&t);
	if (!ret)
		printf(PROG " %u/%u: %s after %llu steps in %.1f s: test accuracy %.4f, test loss "
			    "%.4f, train accuracy %.4f\n",
		       cli->rank, cli->world, stop_signal ? "stopped by a signal" : "done",
		       (unsigned long long)t.p.step, (double)(rps_now_ns() - t.p.t0) / 1e9,
		       t.p.test_acc, t.p.test_loss, t.p.train_acc);
	if (!ret && cli->s3gd && worker_s3gd_overlap(&t.s3gd) >= 0)
		printf(PROG
		       " %u/%u: dc-s3gd: one allreduce alone %.3f ms, waited %.3f ms per step: "
		       "%.0f%% of the allreduce hidden behind computation\n",
		       cli->rank, cli->world, t.s3gd.alone_ns / 1e6,
		       (double)t.s3gd.wait_ns / (double)t.s3gd.waits / 1e6,
		       100 * worker_s3gd_overlap(&t.s3gd));
	if (!ret && cli->pcasgd)
		print_pcasgd_summary(&t);
	worker_shards_close(&t.shards);
	worker_s3gd_close(&t.s3gd);
	worker_pcasgd_close(&t.pc);
	rps_model_destroy(t.model);
	worker_data_free(&t.data);
	if (t.p.metrics)
		fclose(t.p.metrics);
	if (ret)
		return RPS_EXIT_RUNTIME;
	return stop_signal ? WORKER_EXIT_STOPPED : 0;
}

int main(int argc, char **argv)
{
	struct worker_cli cli;
	int ret;

	if (worker_cli_init(&cli))
		return RPS_EXIT_USAGE;
	ret = worker_cli_parse(&cli, argc, argv);
	if (ret <= 0)
		return ret ? RPS_EXIT_USAGE : 0;
	if (cli.common.show_version) {
		printf(PROG " %s\n", rps_version());
		return 0;
	}
	rps_log_set_level(cli.common.log_level);
	ret = run(&cli);
	rps_opt_release_values();
	return ret;
}
