/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/opt.h"

#define OPT_MAX 128

static int build_getopt(const rps_opt_cmd_t *cmd, struct option *longopts, char *shortopts,
			size_t shortlen)
{
	size_t k = 0, n = 0;

	if (cmd->nopts + 2 > OPT_MAX)
		return -E2BIG;
	shortopts[k++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < cmd->nopts; i++) {
		const rps_opt_t *o = &cmd->opts[i];

		longopts[n++] = (struct option){ o->name, o->arg ? required_argument : no_argument,
						 NULL, 256 + (int)i };
		if (o->short_name && k + 3 < shortlen) {
			shortopts[k++] = (char)o->short_name;
			if (o->arg)
				shortopts[k++] = ':';
		}
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n] = (struct option){ 0 };
	shortopts[k++] = 'h';
	shortopts[k] = '\0';
	return 0;
}

/* index of the table entry for getopt's return value c, or -1 */
static int opt_index(const rps_opt_cmd_t *cmd, int c)
{
	if (c >= 256 && (size_t)(c - 256) < cmd->nopts)
		return c - 256;
	for (size_t i = 0; i < cmd->nopts; i++)
		if (cmd->opts[i].short_name == c)
			return (int)i;
	return -1;
}

int rps_opt_parse(const rps_opt_cmd_t *cmd, void *cfg, int argc, char **argv)
{
	struct option longopts[OPT_MAX];
	char shortopts[2 * OPT_MAX + 4];
	int c, idx;

	if (build_getopt(cmd, longopts, shortopts, sizeof(shortopts)))
		return -EINVAL;
	opterr = 0; /* our own one-line messages, naming the program */
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'h' && opt_index(cmd, 'h') < 0) {
			rps_opt_print_help(cmd, stdout);
			return 0;
		}
		if (c == '?' || c == ':') {
			const char *what = argv[optind - 1];

			fprintf(stderr, "%s: %s: %s (try --help)\n", cmd->prog, what,
				c == ':' ? "missing argument" : "unknown option");
			return -EINVAL;
		}
		idx = opt_index(cmd, c);
		if (idx < 0 || cmd->opts[idx].handler(cfg, optarg))
			return -EINVAL;
	}
	return optind;
}

void rps_opt_print_help(const rps_opt_cmd_t *cmd, FILE *out)
{
	fprintf(out, "Usage: %s %s\n%s\n\nOptions:\n", cmd->prog, cmd->synopsis, cmd->summary);
	for (size_t i = 0; i < cmd->nopts; i++) {
		const rps_opt_t *o = &cmd->opts[i];
		char left[64];
		int n = 0;

		if (o->short_name)
			n = snprintf(left, sizeof(left), "-%c, ", o->short_name);
		else
			n = snprintf(left, sizeof(left), "    ");
		snprintf(left + n, sizeof(left) - (size_t)n, "--%s%s%s", o->name, o->arg ? "=" : "",
			 o->arg ? o->arg : "");
		fprintf(out, "  %-28s %s\n", left, o->help);
	}
	fprintf(out, "  %-28s %s\n", "-h, --help", "print this help and exit");
}

static int parse_number(const char *arg, uint64_t *v_p, bool allow_suffix)
{
	char *end;
	uint64_t v, mult = 1;

	if (!arg || !*arg || *arg == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg)
		return -EINVAL;
	if (allow_suffix && *end) {
		switch (*end) {
		case 'k':
		case 'K':
			mult = 1ull << 10;
			break;
		case 'm':
		case 'M':
			mult = 1ull << 20;
			break;
		case 'g':
		case 'G':
			mult = 1ull << 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
	}
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*v_p = v * mult;
	return 0;
}

static int parse_ranged(const char *prog, const char *name, const char *arg, uint64_t min,
			uint64_t max, uint64_t *v_p, bool suffix)
{
	uint64_t v;

	if (parse_number(arg, &v, suffix) || v < min || v > max) {
		fprintf(stderr, "%s: --%s: '%s' is not %s in %" PRIu64 "..%" PRIu64 "\n", prog,
			name, arg ? arg : "", suffix ? "a size" : "a number", min, max);
		return -EINVAL;
	}
	*v_p = v;
	return 0;
}

int rps_opt_u64(const char *prog, const char *name, const char *arg, uint64_t min, uint64_t max,
		uint64_t *v_p)
{
	return parse_ranged(prog, name, arg, min, max, v_p, false);
}

int rps_opt_size(const char *prog, const char *name, const char *arg, uint64_t min, uint64_t max,
		 uint64_t *v_p)
{
	return parse_ranged(prog, name, arg, min, max, v_p, true);
}

int rps_opt_u32(const char *prog, const char *name, const char *arg, uint32_t min, uint32_t max,
		uint32_t *v_p)
{
	uint64_t v;
	int ret = parse_ranged(prog, name, arg, min, max, &v, false);

	if (!ret)
		*v_p = (uint32_t)v;
	return ret;
}

int rps_opt_provider(const char *prog, const char *arg, const char **provider_p)
{
	if (strcmp(arg, "auto") && strcmp(arg, "verbs") && strcmp(arg, "ofi")) {
		fprintf(stderr, "%s: --provider: '%s' is not auto, verbs or ofi\n", prog, arg);
		return -EINVAL;
	}
	*provider_p = arg;
	return 0;
}

int rps_opt_env_u32(const char *prog, const char *name, uint32_t min, uint32_t max, uint32_t *v_p,
		    bool *set_p)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max || s[0] == '-') {
		fprintf(stderr, "%s: %s: '%s' is not a number in [%" PRIu32 ", %" PRIu32 "]\n",
			prog, name, s, min, max);
		return -EINVAL;
	}
	*v_p = (uint32_t)v;
	*set_p = true;
	return 0;
}
