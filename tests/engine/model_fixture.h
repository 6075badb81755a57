/* tests/engine/model_fixture.h - the default model for engine tests, or a
 * skip with the reason when it is absent. */
#ifndef NRV_TEST_MODEL_FIXTURE_H
#define NRV_TEST_MODEL_FIXTURE_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "tokenizer.h"

static struct nrv_model *load_default_model(void)
{
	const char *path = getenv("NRV_MODEL");
	if (!path || !*path)
		path = "/root/.cache/nirvana/models/SmolLM2-135M-Instruct.Q4_1.gguf";
	if (access(path, R_OK) != 0)
		cr_skip_test("default model not found at %s (run tools/fetch-model.sh or set NRV_MODEL)",
			     path);
	struct nrv_model *m;
	char err[512];
	int rc = nrv_model_load(path, &m, err, sizeof(err));
	cr_assert_eq(rc, 0, "loading %s: %s", path, err);
	return m;
}

/* Tokenize text (no BOS) into out; returns the count. */
static int encode(const struct nrv_model *m, const char *text, int32_t *out, int cap)
{
	int n = nrv_tok_encode(m->tok, text, strlen(text), false, true, out, cap);
	cr_assert(n > 0 && n <= cap, "encode gave %d for a cap of %d", n, cap);
	return n;
}

#endif
