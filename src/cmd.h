/*
 * src/cmd.h - the CLI verbs. Each verb parses its own flags, prints its own
 * --help, and returns the process exit status (0 ok, 1 runtime error,
 * 2 usage error).
 */
#ifndef NRV_CMD_H
#define NRV_CMD_H

int nrv_cmd_info(int argc, char **argv);
int nrv_cmd_tokenize(int argc, char **argv);
int nrv_cmd_run(int argc, char **argv);
int nrv_cmd_bench(int argc, char **argv);
int nrv_cmd_load(int argc, char **argv);
int nrv_cmd_serve(int argc, char **argv);

#endif
