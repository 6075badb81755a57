/*
 * tests/net/client_header_c99.c - net/udp_client.h compiled on its own,
 * as strict C99 with only net/ on the include path: what a program that
 * copies the header into its build gets. Built with the tests; a failure
 * here is a build failure.
 */
#include "udp_client.h"

int nrv_test_client_header(void);

int nrv_test_client_header(void)
{
	struct nrv_udp_client_req q = {0};
	struct nrv_udp_client_res r;
	nrv_udp_client_token_fn fn = 0;
	(void)fn;
	r.finish = NRV_UDP_FINISH_STOP;
	return (int)sizeof(q) + r.finish;
}
