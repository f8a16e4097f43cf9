/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_engine_bench, printing: one emitter per output format, each an ops
 * table over the same eb_result_t.  They format; they compute nothing.
 */
#include "config.h"

#include <inttypes.h>

#include "engine_bench.h"

#define NOTE	  "ratios to the same run's reference are the meaningful figure on a shared machine"
#define RULE_HALF "---------------------------------------------"
#define RULE	  RULE_HALF RULE_HALF

const char *eb_size_str(uint64_t v, char *buf, size_t len)
{
	static const char suffix[] = "KMG";
	int s = -1;

	while (s < 2 && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		s++;
	}
	if (s < 0)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%" PRIu64 "%c", v, suffix[s]);
	return buf;
}

/* ---- perftest-like table ------------------------------------------------ */

static void table_begin(FILE *out, const eb_header_t *h)
{
	char chunk[32];

	fprintf(out, "# " EB_PROG ": CPU %s, nproc %u, chunk %s, threads %s\n", h->cpu, h->nproc,
		eb_size_str(h->chunk, chunk, sizeof(chunk)), h->pinned ? "pinned" : "not pinned");
	fprintf(out, "# placement: %s\n", h->placement);
	fprintf(out, "# " NOTE "\n");
	fprintf(out, RULE "\n");
	fprintf(out, " %-10s %6s %7s %6s %9s %9s  %-8s %9s %6s\n", "kernel", "size", "threads",
		"B/elem", "GB/s", "GB/s best", "ref", "ref GB/s", "ratio");
	fprintf(out, RULE "\n");
}

static void table_row(FILE *out, const eb_result_t *r, unsigned index)
{
	char size[32], thr[16];

	/* '*': some threads own no chunk (fewer chunks than threads) */
	snprintf(thr, sizeof(thr), "%u%s", r->threads, r->active < r->threads ? "*" : "");
	eb_size_str(r->size, size, sizeof(size));
	if (r->ref)
		fprintf(out, " %-10s %6s %7s %6u %9.2f %9.2f  %-8s %9.2f %6.2f\n", r->kernel, size,
			thr, r->bytes_per_elem, r->gbs_median, r->gbs_best, r->ref, r->ref_gbs,
			r->ratio);
	else
		fprintf(out, " %-10s %6s %7s %6u %9.2f %9.2f  %-8s %9s %6s\n", r->kernel, size, thr,
			r->bytes_per_elem, r->gbs_median, r->gbs_best, "-", "-", "-");
	fflush(out);
}

static void table_end(FILE *out, unsigned nrows)
{
	fprintf(out, RULE "\n");
	fprintf(out, "# GB/s = 1e9 bytes/s of the median pass, counting DRAM streams only; "
		     "'*' = fewer chunks than threads\n");
}

/* ---- CSV ---------------------------------------------------------------- */

static void csv_begin(FILE *out, const eb_header_t *h)
{
	fprintf(out, "# " EB_PROG ": CPU %s, nproc %u, chunk %" PRIu64 ", threads %s; " NOTE "\n",
		h->cpu, h->nproc, h->chunk, h->pinned ? "pinned" : "not pinned");
	fprintf(out, "# placement: %s\n", h->placement);
	fprintf(out, "kernel,size,threads,active_threads,bytes_per_elem,reps,passes,"
		     "gbs_median,gbs_best,ref,ref_gbs,ratio\n");
}

static void csv_row(FILE *out, const eb_result_t *r, unsigned index)
{
	fprintf(out, "%s,%" PRIu64 ",%u,%u,%u,%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,", r->kernel,
		r->size, r->threads, r->active, r->bytes_per_elem, r->reps, r->passes,
		r->gbs_median, r->gbs_best);
	if (r->ref)
		fprintf(out, "%s,%.4f,%.4f\n", r->ref, r->ref_gbs, r->ratio);
	else
		fprintf(out, ",,\n");
	fflush(out);
}

static void csv_end(FILE *out, unsigned nrows)
{
}

/* ---- JSON --------------------------------------------------------------- */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_begin(FILE *out, const eb_header_t *h)
{
	fprintf(out, "{\n  \"program\": \"" EB_PROG "\",\n  \"cpu\": ");
	json_string(out, h->cpu);
	fprintf(out, ",\n  \"nproc\": %u,\n  \"chunk\": %" PRIu64 ",\n  \"pinned\": %s,\n",
		h->nproc, h->chunk, h->pinned ? "true" : "false");
	fprintf(out, "  \"placement\": ");
	json_string(out, h->placement);
	fprintf(out, ",\n");
	fprintf(out, "  \"note\": \"" NOTE "\",\n  \"results\": [");
}

static void json_row(FILE *out, const eb_result_t *r, unsigned index)
{
	fprintf(out,
		"%s\n    {\"kernel\": \"%s\", \"size\": %" PRIu64 ", \"threads\": %u, "
		"\"active_threads\": %u, \"bytes_per_elem\": %u, \"reps\": %" PRIu64 ", "
		"\"passes\": %" PRIu64 ", \"gbs_median\": %.4f, \"gbs_best\": %.4f, ",
		index ? "," : "", r->kernel, r->size, r->threads, r->active, r->bytes_per_elem,
		r->reps, r->passes, r->gbs_median, r->gbs_best);
	if (r->ref)
		fprintf(out, "\"ref\": \"%s\", \"ref_gbs\": %.4f, \"ratio\": %.4f}", r->ref,
			r->ref_gbs, r->ratio);
	else
		fprintf(out, "\"ref\": null, \"ref_gbs\": null, \"ratio\": null}");
	fflush(out);
}

static void json_end(FILE *out, unsigned nrows)
{
	fprintf(out, "%s]\n}\n", nrows ? "\n  " : "");
}

static const eb_emitter_ops_t emitters[] = {
	[EB_OUT_TABLE] = { table_begin, table_row, table_end },
	[EB_OUT_CSV] = { csv_begin, csv_row, csv_end },
	[EB_OUT_JSON] = { json_begin, json_row, json_end },
};

const eb_emitter_ops_t *eb_emitter(eb_output_t output)
{
	return &emitters[output];
}
