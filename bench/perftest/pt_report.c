/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the tools print: perftest's layout, byte for byte where scripts
 * parse it (the dashed lines, the table header lines and the row
 * formats are perftest's RESULT_LINE, RESULT_FMT*, REPORT_FMT* of
 * perftest_parameters.h); the header block keeps perftest's "name : value"
 * form with the lines that mean something over rdmaps.  MB/sec is 2^20
 * bytes per second, Gb/sec 10^9 bits per second, as in perftest.
 * --output prints one number per size instead ("%lf\n"): the average
 * bandwidth or message rate, or the average latency, as perftest does.
 */
#include "config.h"

#include <string.h>

#include "perftest.h"

#define PT_RESULT_LINE                                                                             \
	"---------------------------------------------------------------------------------------"  \
	"\n"
#define PT_RESULT_FMT                                                                              \
	" #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n"
#define PT_RESULT_FMT_G                                                                            \
	" #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]\n"
#define PT_RESULT_FMT_LAT                                                                          \
	" #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    "    \
	"t_stdev[usec]   99%% percentile[usec]   99.9%% percentile[usec] \n"
#define PT_RESULT_FMT_LAT_DUR " #bytes        #iterations       t_avg[usec]    tps average\n"
#define PT_REPORT_FMT	      " %-7lu    %-10lu       %-7.2lf            %-7.2lf\t\t   %-7.6lf\n"
#define PT_REPORT_FMT_EXT     " %-7lu    %lu           %-7.6lf            %-7.6lf            %-7.6lf\n"
#define PT_REPORT_FMT_LAT                                                                          \
	" %-7lu %lu          %-7.2f        %-7.2f      %-7.2f  \t       %-7.2f     \t%-7.2f\t\t"   \
	"%-7.2f \t\t%-7.2f\n"
#define PT_REPORT_FMT_LAT_DUR " %-7lu       %lu            %-7.2f        %-7.2f\n"

#define PT_MB	    (1024.0 * 1024.0) /* perftest's MB: 0x100000 bytes */
#define PT_GB_BYTES 125000000.0	      /* 10^9 bits */

void pt_report_line(const pt_cfg_t *cfg)
{
	if (cfg->output == PT_OUT_FULL)
		printf(PT_RESULT_LINE);
}

void pt_report_banner(const pt_ep_t *ep)
{
	/* the port asked of the kernel is needed to connect, whatever --output */
	if (ep->cfg->output != PT_OUT_FULL) {
		if (ep->cfg->port == 0)
			printf(" Listening on port %u\n", rps_listener_port(ep->listener));
		fflush(stdout);
		return;
	}
	printf("\n************************************\n"
	       "* Waiting for client to connect... *\n"
	       "************************************\n");
	if (ep->cfg->port == 0)
		printf(" Listening on port %u\n", rps_listener_port(ep->listener));
	fflush(stdout);
}

/* "RDMA (libibverbs)" or "libfabric tcp" */
static void pt_transport_type(const pt_ep_t *ep, char *buf, size_t len)
{
	const char *dev = rps_transport_device(ep->tp);
	const char *slash = strchr(dev, '/');

	if (ep->needs_progress)
		snprintf(buf, len, "libfabric %.*s", slash ? (int)(slash - dev) : (int)strlen(dev),
			 dev);
	else
		snprintf(buf, len, "RDMA verbs");
}

void pt_report_header(const pt_ep_t *ep)
{
	const pt_cfg_t *cfg = ep->cfg;
	const pt_tool_t *t = cfg->tool;
	const rps_transport_attr_t *a = rps_transport_get_attr(ep->tp);
	char type[64];

	if (cfg->output != PT_OUT_FULL)
		return;
	pt_transport_type(ep, type, sizeof(type));
	printf(PT_RESULT_LINE);
	printf("                    %s %s%s Test\n", t->verb_name,
	       t->test == PT_BW && cfg->bidir ? "Bidirectional " : "",
	       t->test == PT_BW ? "BW" : "Latency");
	printf(" Provider        : %s\t\tDevice         : %s\n", rps_transport_provider(ep->tp),
	       rps_transport_device(ep->tp));
	printf(" Number of qps   : %u\t\tTransport type : %s\n", ep->nqps, type);
	printf(" Connection type : RC\t\tUsing SRQ      : OFF\n");
	if (cfg->host || cfg->bidir || t->test == PT_LAT)
		printf(" TX depth        : %u\n", cfg->tx_depth);
	if (t->test == PT_BW)
		printf(" CQ Moderation   : %u\n", cfg->tx_depth / 2 ? cfg->tx_depth / 2 : 1);
	if (cfg->all)
		printf(" Message size    : %u-%lu[B]\n", 1u << PT_ALL_MIN_LOG,
		       1ul << (63 - __builtin_clzll(cfg->size)));
	else
		printf(" Message size    : %lu[B]\n", (unsigned long)cfg->size);
	if (cfg->duration)
		printf(" Duration        : %u[sec]\n", cfg->duration);
	if (t->verb == PT_WRITE)
		printf(" Max inline data : %u[B]\n", a->max_inline);
	printf(" rdma_cm QPs\t : ON\n");
	printf(" Data ex. method : %s\n", ep->needs_progress ? "libfabric CM" : "rdma_cm");
	printf(PT_RESULT_LINE);
}

void pt_report_table_head(const pt_cfg_t *cfg)
{
	if (cfg->output != PT_OUT_FULL)
		return;
	printf(PT_RESULT_LINE);
	if (cfg->tool->test == PT_BW)
		printf(cfg->gbits ? PT_RESULT_FMT_G : PT_RESULT_FMT);
	else
		printf(cfg->duration ? PT_RESULT_FMT_LAT_DUR : PT_RESULT_FMT_LAT);
	fflush(stdout);
}

void pt_report_bw(const pt_cfg_t *cfg, const pt_bw_result_t *r)
{
	double unit = cfg->gbits ? PT_GB_BYTES : PT_MB;
	double peak = r->peak_bps / unit, avg = r->avg_bps / unit, mpps = r->msg_rate / 1e6;

	if (cfg->output == PT_OUT_BANDWIDTH)
		printf("%lf\n", avg);
	else if (cfg->output == PT_OUT_MSG_RATE)
		printf("%lf\n", mpps);
	else
		/* perftest's extra digits for a slow Gb/sec run */
		printf(cfg->gbits && avg < 0.1 ? PT_REPORT_FMT_EXT : PT_REPORT_FMT,
		       (unsigned long)r->size, (unsigned long)r->iters, peak, avg, mpps);
	fflush(stdout);
}

void pt_report_lat(const pt_cfg_t *cfg, const pt_lat_result_t *r)
{
	if (cfg->output == PT_OUT_LATENCY)
		printf("%lf\n", r->t_avg);
	else
		printf(PT_REPORT_FMT_LAT, (unsigned long)r->size, (unsigned long)r->iters, r->t_min,
		       r->t_max, r->t_typical, r->t_avg, r->t_stdev, r->p99, r->p99_9);
	fflush(stdout);
}

void pt_report_lat_duration(const pt_cfg_t *cfg, uint64_t size, uint64_t iters, double t_avg_us,
			    double tps)
{
	if (cfg->output == PT_OUT_LATENCY)
		printf("%lf\n", t_avg_us);
	else
		printf(PT_REPORT_FMT_LAT_DUR, (unsigned long)size, (unsigned long)iters, t_avg_us,
		       tps);
	fflush(stdout);
}
