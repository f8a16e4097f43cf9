/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * key = value configuration files, applied through the same option table
 * as the command line (util/opt.h), so every option is settable in a file
 * and the two can never disagree on names or value syntax.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/opt.h"

#define LINE_MAX_LEN 4096

/* Values from a file must outlive the line buffer, as argv strings do:
 * handlers keep pointers.  Each is copied into this list, which lives
 * until rps_opt_release_values(). */
struct kept_value {
	struct kept_value *next;
	char text[];
};

static struct kept_value *kept_values;

static const char *keep_value(const char *v)
{
	size_t len = strlen(v) + 1;
	struct kept_value *k = malloc(sizeof(*k) + len);

	if (!k)
		return NULL;
	memcpy(k->text, v, len);
	k->next = kept_values;
	kept_values = k;
	return k->text;
}

void rps_opt_release_values(void)
{
	while (kept_values) {
		struct kept_value *k = kept_values;

		kept_values = k->next;
		free(k);
	}
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static const rps_opt_t *find_opt(const rps_opt_cmd_t *cmd, const char *key)
{
	for (size_t i = 0; i < cmd->nopts; i++)
		if (strcmp(cmd->opts[i].name, key) == 0)
			return &cmd->opts[i];
	return NULL;
}

/* A flag in a file is "key = true" (or yes / 1); false / no / 0 leave it
 * unset, so a file can spell out its defaults. */
static int flag_value(const char *v, bool *on_p)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1")) {
		*on_p = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0")) {
		*on_p = false;
		return 0;
	}
	return -EINVAL;
}

/* Runs the option's handler.  A handler reports a bad value as one line
 * on stderr; it is caught here and printed with the file and line in
 * front (compiler-style), so the error stays one line.  Startup runs
 * single-threaded, which makes borrowing stderr safe. */
static int apply_value(const rps_opt_cmd_t *cmd, void *cfg, const rps_opt_t *o, const char *path,
		       unsigned lineno, const char *val)
{
	FILE *saved = stderr, *mem;
	char *msg = NULL;
	size_t len = 0;
	int ret;

	mem = open_memstream(&msg, &len);
	if (!mem)
		return o->handler(cfg, val);
	stderr = mem;
	ret = o->handler(cfg, val);
	stderr = saved;
	fclose(mem);
	if (ret)
		fprintf(stderr, "%s:%u: %s%s", path, lineno, len ? msg : "bad value\n",
			len && msg[len - 1] != '\n' ? "\n" : "");
	free(msg);
	(void)cmd;
	return ret;
}

static int apply_line(const rps_opt_cmd_t *cmd, void *cfg, const char *path, unsigned lineno,
		      char *line)
{
	char *eq, *key, *val;
	const rps_opt_t *o;
	bool on;

	if (!(eq = strchr(line, '='))) {
		fprintf(stderr, "%s: %s:%u: expected 'key = value'\n", cmd->prog, path, lineno);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (!strcmp(key, "config") || !(o = find_opt(cmd, key))) {
		fprintf(stderr,
			"%s: %s:%u: unknown key '%s' (keys are the long "
			"options of --help)\n",
			cmd->prog, path, lineno, key);
		return -EINVAL;
	}
	if (!o->arg) {
		if (flag_value(val, &on)) {
			fprintf(stderr, "%s: %s:%u: %s takes true or false, not '%s'\n", cmd->prog,
				path, lineno, key, val);
			return -EINVAL;
		}
		return on ? o->handler(cfg, NULL) : 0;
	}
	if (!*val) {
		fprintf(stderr, "%s: %s:%u: %s has no value\n", cmd->prog, path, lineno, key);
		return -EINVAL;
	}
	if (!(val = (char *)keep_value(val))) {
		fprintf(stderr, "%s: %s:%u: out of memory\n", cmd->prog, path, lineno);
		return -ENOMEM;
	}
	return apply_value(cmd, cfg, o, path, lineno, val);
}

int rps_opt_load_file(const rps_opt_cmd_t *cmd, void *cfg, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int ret = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		ret = -errno;
		fprintf(stderr, "%s: cannot read config file %s: %s\n", cmd->prog, path,
			strerror(errno));
		return ret;
	}
	/* getline: the length read, so that a NUL byte inside a line (a
	 * binary file given by mistake) is named, not taken as its end */
	while (!ret && (len = getline(&line, &cap, f)) >= 0) {
		char *s;

		lineno++;
		if (strlen(line) != (size_t)len) {
			fprintf(stderr, "%s: %s:%u: a NUL byte in the line (not a text file?)\n",
				cmd->prog, path, lineno);
			ret = -EINVAL;
			break;
		}
		if (len > LINE_MAX_LEN + 1 || (len == LINE_MAX_LEN + 1 && line[len - 1] != '\n')) {
			fprintf(stderr, "%s: %s:%u: line longer than %d bytes\n", cmd->prog, path,
				lineno, LINE_MAX_LEN);
			ret = -EINVAL;
			break;
		}
		if ((s = strchr(line, '#')))
			*s = '\0';
		s = trim(line);
		if (*s)
			ret = apply_line(cmd, cfg, path, lineno, s);
	}
	if (!ret && ferror(f)) {
		fprintf(stderr, "%s: reading %s failed\n", cmd->prog, path);
		ret = -EIO;
	}
	free(line);
	fclose(f);
	return ret;
}
