/* fuzz_config.c — libFuzzer target for syncd/config.c, syncd.conf (INI
 * through libinih, then the key table's checks).
 *
 * The input is the file, written to this process's temporary folder and
 * read by config_load as syncd reads it.  A refusal is one or more lines
 * "PATH:LINE: message".  An accepted configuration is printed (secrets
 * redacted: the password files' contents never appear), compared with
 * itself (a reload with nothing changed changes no fixed key), asked
 * which targets every unit code goes to, and each target URL has {unit}
 * expanded. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/config.h"
#include "tests/fuzz/fuzz_util.h"

static void errors_check(const char *path, const char *errors)
{
	size_t pl = strlen(path);

	if (errors == NULL || errors[0] == '\0')
		abort(); /* a refusal says why */
	for (const char *l = errors; *l; l = strchr(l, '\n') + 1) {
		if (strncmp(l, path, pl) != 0 || l[pl] != ':' || strchr(l, '\n') == NULL)
			abort();
	}
}

static void accepted_check(const struct config *cfg)
{
	char *out = NULL, fixed[512];
	size_t outlen = 0, idx[64];
	FILE *f = open_memstream(&out, &outlen);
	bool instead;

	if (f == NULL)
		abort();
	config_print(cfg, f);
	fclose(f);
	if (cfg->state_password != NULL && cfg->state_password[0] != '\0' && strstr(out, cfg->state_password))
		abort(); /* a secret printed */
	free(out);
	if (config_fixed_changes(cfg, cfg, fixed, sizeof(fixed)) != 0)
		abort();
	for (int unit = 0; unit < 100000 && cfg->ntargets <= 64; unit += 997)
		if (config_unit_targets(cfg, unit, idx, &instead) > cfg->ntargets)
			abort();
	for (size_t i = 0; i < cfg->ntargets; i++) {
		char *u;

		if (cfg->targets[i].url == NULL)
			continue;
		u = config_expand_unit(cfg->targets[i].url, 92001);
		if (u == NULL || strstr(u, "{unit}") != NULL)
			abort();
		free(u);
		if (config_target_find(cfg, cfg->targets[i].name) == NULL)
			abort();
	}
	for (size_t i = 0; i < cfg->nsources; i++)
		if (config_source_find(cfg, cfg->sources[i].name) != &cfg->sources[i])
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256], *errors = NULL;
	struct config *cfg;

	fuzz_file("syncd.conf", data, size, path, sizeof(path));
	cfg = config_load(path, &errors);
	if (cfg == NULL)
		errors_check(path, errors);
	else
		accepted_check(cfg);
	config_free(cfg);
	free(errors);
	return 0;
}
