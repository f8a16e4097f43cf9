/* SPDX-License-Identifier: BSD-2-Clause */
/* Command-line pieces shared by rdma-ps and rdma-worker (cmd_common.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd_common.h"
#include "ml/model.h"

int cmd_common_init(struct cmd_common *c, const char *prog, unsigned status_interval)
{
	c->prog = prog;
	c->status_interval = status_interval;
	c->log_level = rps_log_get_level();
	return rps_transport_attr_init(&c->attr);
}

int cmd_parse_float(const char *prog, const char *name, const char *arg, float lo, float hi,
		    float *v_p)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno == ERANGE || (end != arg && !*end && !(v >= lo && v <= hi))) {
		fprintf(stderr, "%s: --%s: %s is out of range [%g, %g]\n", prog, name, arg,
			(double)lo, (double)hi);
		return -EINVAL;
	}
	if (errno || end == arg || *end) {
		fprintf(stderr, "%s: --%s: '%s' is not a number\n", prog, name, arg);
		return -EINVAL;
	}
	*v_p = (float)v;
	return 0;
}

int cmd_parse_lr_schedule(const char *prog, const char *arg, uint64_t *every_p, float *gamma_p)
{
	unsigned long long every;
	double gamma;
	int end = 0;

	if (!strcmp(arg, "constant")) {
		*every_p = 0;
		*gamma_p = 1;
		return 0;
	}
	if (sscanf(arg, "step:%llu,%lf%n", &every, &gamma, &end) == 2 && !arg[end] && every >= 1 &&
	    gamma > 0 && gamma <= 1 && arg[5] != '-') {
		*every_p = every;
		*gamma_p = (float)gamma;
		return 0;
	}
	fprintf(stderr,
		"%s: --lr-schedule: '%s' is not constant or step:N,GAMMA "
		"(N >= 1 updates, 0 < GAMMA <= 1)\n",
		prog, arg);
	return -EINVAL;
}

int cmd_o_provider(void *c, const char *a)
{
	return rps_opt_provider(CMD_COMMON(c)->prog, a, &CMD_COMMON(c)->attr.provider);
}

int cmd_o_device(void *c, const char *a)
{
	CMD_COMMON(c)->attr.device = a;
	return 0;
}

int cmd_o_ib_port(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(CMD_COMMON(c)->prog, "ib-port", a, 1, 255, &v);

	CMD_COMMON(c)->attr.port = (uint8_t)v;
	return ret;
}

int cmd_o_gid_index(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(CMD_COMMON(c)->prog, "gid-index", a, 0, 65535, &v);

	CMD_COMMON(c)->attr.gid_index = (int)v;
	return ret;
}

int cmd_o_status_interval(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(CMD_COMMON(c)->prog, "status-interval", a, 0, 86400, &v);

	CMD_COMMON(c)->status_interval = (unsigned)v;
	return ret;
}

int cmd_o_metrics(void *c, const char *a)
{
	CMD_COMMON(c)->metrics_path = a;
	return 0;
}

int cmd_o_log_level(void *c, const char *a)
{
	if (rps_log_level_parse(a, &CMD_COMMON(c)->log_level)) {
		fprintf(stderr, "%s: --log-level: '%s' is not error, warn, info or debug\n",
			CMD_COMMON(c)->prog, a);
		return -EINVAL;
	}
	return 0;
}

/* remembered by the first pass; the file is applied before the second */
int cmd_o_config(void *c, const char *a)
{
	CMD_COMMON(c)->config_path = a;
	return 0;
}

int cmd_o_version(void *c, const char *a)
{
	(void)a;
	CMD_COMMON(c)->show_version = true;
	return 0;
}

int cmd_o_auth_token_file(void *c, const char *a)
{
	struct cmd_common *cc = CMD_COMMON(c);
	char buf[RPS_AUTH_MAX_TOKEN + 2];
	struct stat st;
	ssize_t n = 0;
	int fd, err = 0;

	fd = open(a, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st)) {
		err = errno;
	} else if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: --auth-token-file: %s is not a regular file\n", cc->prog, a);
		close(fd);
		return -EINVAL;
	} else if (st.st_mode & S_IROTH) {
		/* a secret anyone on the node can read protects nothing */
		fprintf(stderr, "%s: --auth-token-file: %s is readable by others (chmod 600 it)\n",
			cc->prog, a);
		close(fd);
		return -EINVAL;
	} else if ((n = read(fd, buf, sizeof(buf))) < 0) {
		err = errno;
	}
	if (err) {
		fprintf(stderr, "%s: --auth-token-file: %s: %s\n", cc->prog, a, strerror(err));
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n <= 0 || n > RPS_AUTH_MAX_TOKEN) {
		fprintf(stderr, "%s: --auth-token-file: %s must hold 1..%u bytes\n", cc->prog, a,
			RPS_AUTH_MAX_TOKEN);
		return -EINVAL;
	}
	memcpy(cc->auth_token, buf, (size_t)n);
	cc->auth_token_len = (size_t)n;
	return 0;
}

int cmd_parse(const rps_opt_cmd_t *cmd, void *cli, size_t size, int argc, char **argv)
{
	void *scan = malloc(size);
	const char *config_path;
	int first;

	if (!scan) {
		fprintf(stderr, "%s: out of memory\n", cmd->prog);
		return -EINVAL;
	}
	memcpy(scan, cli, size);
	first = rps_opt_parse(cmd, scan, argc, argv);
	config_path = CMD_COMMON(scan)->config_path;
	free(scan);
	if (first <= 0)
		return first; /* 0: --help printed */
	if (config_path && rps_opt_load_file(cmd, cli, config_path))
		return -EINVAL;
	first = rps_opt_parse(cmd, cli, argc, argv);
	if (first <= 0)
		return first;
	if (first < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", cmd->prog,
			argv[first]);
		return -EINVAL;
	}
	return 1;
}

FILE *cmd_metrics_open(const char *prog, const char *path, const char *header)
{
	struct stat st;
	bool fresh = stat(path, &st) != 0 || st.st_size == 0;
	FILE *f = fopen(path, "a");

	if (!f) {
		fprintf(stderr, "%s: --metrics: cannot open %s: %s\n", prog, path, strerror(errno));
		return NULL;
	}
	if (fresh) {
		fputs(header, f);
		fflush(f);
	}
	return f;
}

/* keeps the first error line (the root cause, not its consequences);
 * errors after it are dropped, warnings and info pass as usual */
static void capture_log(rps_log_level_t level, const char *msg, void *arg)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char *why = arg;

	if (level != RPS_LOG_ERROR)
		fprintf(stderr, "rdmaps: %s: %s\n", names[level], msg);
	else if (!why[0])
		snprintf(why, CMD_WHY_LEN, "%s", msg);
}

void cmd_log_capture(char why[CMD_WHY_LEN])
{
	why[0] = '\0';
	rps_log_set_handler(capture_log, why);
}

void cmd_log_release(void)
{
	rps_log_set_handler(NULL, NULL);
}

int cmd_check_model_spec(const char *prog, const char *spec)
{
	uint32_t hidden[RPS_MODEL_MAX_HIDDEN], nhidden;
	char why[CMD_WHY_LEN];
	int ret;

	cmd_log_capture(why);
	ret = rps_model_parse_spec(spec, hidden, RPS_MODEL_MAX_HIDDEN, &nhidden);
	cmd_log_release();
	if (ret)
		fprintf(stderr, "%s: --model: %s\n", prog, why);
	return ret;
}
