/*
 * src/log.c - stderr logger (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int g_level = NRV_LOG_WARN;

void nrv_log_set_level(enum nrv_log_level lvl)
{
	atomic_store(&g_level, (int)lvl);
}

enum nrv_log_level nrv_log_get_level(void)
{
	return (enum nrv_log_level)atomic_load(&g_level);
}

int nrv_log_parse_level(const char *s)
{
	static const char *const names[] = { "debug", "info", "warn", "error", "off" };
	for (int i = 0; i < 5; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

void nrv_log(enum nrv_log_level lvl, const char *fmt, ...)
{
	static const char *const tags[] = { "debug", "info", "warn", "error" };
	if ((int)lvl < atomic_load(&g_level) || lvl >= NRV_LOG_OFF)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "nirvana: %s: %s\n", tags[lvl], line);
}
