/* fuzz_config.c — libFuzzer target for syncd/config.c, syncd.conf (INI
 * through libinih, then the key table's checks).
 *
 * The input is the file, written to this process's temporary folder and
 * read by config_load as syncd reads it.  A refusal is one or more lines
 * "PATH:LINE: message".  An accepted configuration is printed (secrets
 * redacted: a marker put in each secret's place never appears unless the
 * input holds it), compared with itself (a reload with nothing changed
 * changes no fixed key), asked which targets every unit code goes to, and
 * each target URL has {unit} expanded. */
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

/* Every secret held replaced by a marker while the configuration is
 * printed: the marker must not appear. */
static void print_check(struct config *cfg, const uint8_t *in, size_t inlen)
{
	static char mark[] = "\x01fuzz-secret-marker\x01";
	char **sec[3] = {&cfg->state_password, &cfg->tier_password, &cfg->ldap_bind_password};
	char *keep[3], *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);

	if (f == NULL)
		abort();
	for (int i = 0; i < 3; i++) {
		keep[i] = *sec[i];
		*sec[i] = mark;
	}
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].password == NULL)
			cfg->sources[i].password = mark;
	config_print(cfg, f);
	fclose(f);
	if (strstr(out, mark) != NULL && memmem(in, inlen, mark + 1, sizeof(mark) - 3) == NULL)
		abort(); /* a secret printed (not a value that holds the marker) */
	for (int i = 0; i < 3; i++)
		*sec[i] = keep[i];
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].password == mark)
			cfg->sources[i].password = NULL;
	free(out);
}

static void accepted_check(struct config *cfg, const uint8_t *in, size_t inlen)
{
	char fixed[512];
	size_t idx[64];
	bool instead;

	print_check(cfg, in, inlen);
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
		accepted_check(cfg, data, size);
	config_free(cfg);
	free(errors);
	return 0;
}
