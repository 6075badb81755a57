/*
 * src/log.h - the logger. Messages go to stderr with a level tag; the
 * level is set once at start-up (NRV_LOG=debug|info|warn|error or -v).
 * Library code logs here and never prints to stdout.
 */
#ifndef NRV_LOG_H
#define NRV_LOG_H

enum nrv_log_level { NRV_LOG_DEBUG, NRV_LOG_INFO, NRV_LOG_WARN, NRV_LOG_ERROR, NRV_LOG_OFF };

void nrv_log_set_level(enum nrv_log_level lvl);
enum nrv_log_level nrv_log_get_level(void);
/* Parse "debug", "info", "warn", "error", "off"; -1 when unknown. */
int nrv_log_parse_level(const char *s);
void nrv_log(enum nrv_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define NRV_DEBUG(...) nrv_log(NRV_LOG_DEBUG, __VA_ARGS__)
#define NRV_INFO(...) nrv_log(NRV_LOG_INFO, __VA_ARGS__)
#define NRV_WARN(...) nrv_log(NRV_LOG_WARN, __VA_ARGS__)
#define NRV_ERROR(...) nrv_log(NRV_LOG_ERROR, __VA_ARGS__)

#endif
