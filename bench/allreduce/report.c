/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The table of rps_allreduce_bench, laid out as nccl-tests' all_reduce_perf
 * prints it (in-place columns only: the ring reduces in place), so the
 * same scripts read both.
 */
#include "config.h"

#include "bench/allreduce/allreduce.h"

void ar_emit_header(FILE *out, const struct ar_cfg *cfg, const char *provider, const char *device)
{
	fprintf(out, "# %s: %u ranks, provider %s, device %s\n", AR_PROG, cfg->world, provider,
		device);
	fprintf(out, "# chunk %llu B, window %llu, iters %llu, warmup %llu, check %llu\n",
		(unsigned long long)cfg->chunk, (unsigned long long)cfg->window,
		(unsigned long long)cfg->iters, (unsigned long long)cfg->warmup,
		(unsigned long long)cfg->check);
	fprintf(out, "#\n");
	fprintf(out, "# %10s  %12s  %8s  %6s  %9s  %7s  %7s  %6s\n", "size", "count", "type",
		"redop", "time", "algbw", "busbw", "#wrong");
	fprintf(out, "# %10s  %12s  %8s  %6s  %9s  %7s  %7s  %6s\n", "(B)", "(elements)", "", "",
		"(us)", "(GB/s)", "(GB/s)", "");
}

void ar_emit_row(FILE *out, const struct ar_result *r)
{
	char wrong[24];

	if (r->wrong < 0)
		snprintf(wrong, sizeof(wrong), "N/A");
	else
		snprintf(wrong, sizeof(wrong), "%ld", r->wrong);
	fprintf(out, "  %10zu  %12zu  %8s  %6s  %9.2f  %7.2f  %7.2f  %6s\n", r->bytes, r->count,
		"float", "sum", r->time_us, r->algbw, r->busbw, wrong);
	fflush(out);
}

void ar_emit_footer(FILE *out, long wrong, double avg_busbw)
{
	fprintf(out, "# Out of bounds values : %ld %s\n", wrong, wrong ? "FAILED" : "OK");
	fprintf(out, "# Avg bus bandwidth    : %g\n", avg_busbw);
	fprintf(out, "#\n");
	fflush(out); /* a forked rank leaves with _exit(), which flushes nothing */
}

void ar_emit_profile(FILE *out, const struct ar_result *r)
{
	const rps_ring_profile_t *p = &r->prof;
	double total = (double)p->round_ns;
	uint64_t parts = p->transport_ns + p->reduce_ns + p->copy_ns + p->post_ns +
			 p->wait_credit_ns + p->wait_data_ns + p->wait_wire_ns;

#define PCT(x) (total > 0 ? 100.0 * (double)(x) / total : 0.0)
	/* a comment line, as the table's others: parsers of the rows skip it */
	fprintf(out,
		"#  profile %zu B: %llu rounds of %.1f us: transport %.1f%%, reduce %.1f%%, "
		"copy %.1f%%, post %.1f%%, wait for credit %.1f%%, for data %.1f%%, for the "
		"wire %.1f%% (sum %.1f%%)\n",
		r->bytes, (unsigned long long)p->rounds,
		p->rounds ? total / 1e3 / (double)p->rounds : 0.0, PCT(p->transport_ns),
		PCT(p->reduce_ns), PCT(p->copy_ns), PCT(p->post_ns), PCT(p->wait_credit_ns),
		PCT(p->wait_data_ns), PCT(p->wait_wire_ns), PCT(parts));
#undef PCT
	fflush(out);
}
