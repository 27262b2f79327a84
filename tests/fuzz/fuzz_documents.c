/* fuzz_documents.c — libFuzzer target for syncd/documents/config.c and
 * signers.c: policies/documents.json, with the roles.json and signers.csv
 * beside it, checked against the routing policy (policies/, loaded once
 * from the working directory: run from the repository's root).
 *
 * The input is up to three parts separated by a line "~~~" (FUZZ_SEP):
 * documents.json, signers.csv and roles.json, written to this process's
 * temporary folder (a part left out: no file), then documents_load.  A
 * refusal says why.  What loads: each kind is found by its name, has its
 * names, fields with column and label, a table routed to the units and
 * at most one registration; the print setup of each kind, for a listed
 * unit and each role, gives at most four signature lines, each there.
 * FUZZ_DEBUG=1 in the environment prints why an input was refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/documents/documents.h"
#include "tests/fuzz/fuzz_util.h"

static struct routing *rt;

static void kind_check(const struct documents *d, const struct doc_kind *k)
{
	if (documents_kind(d, k->name) != k || k->source == NULL || k->table == NULL || k->key == NULL ||
	    k->perm == NULL || k->read_perm == NULL || k->title == NULL || k->target == NULL ||
	    k->nfields == 0)
		abort();
	for (size_t i = 0; i < k->nfields; i++)
		if (k->fields[i].column == NULL || k->fields[i].label == NULL)
			abort();
	for (size_t i = 0; i < k->nsearch; i++)
		fuzz_touch(k->search[i]);
	if (k->reg_target != NULL && (k->reg_source != NULL || k->reg_table != NULL))
		abort(); /* registered up two ways */
	if (k->reg_table != NULL && strchr(k->reg_table, '.') == NULL)
		abort();
}

static void print_check(const struct documents *d, const struct doc_kind *k, const char *role)
{
	static struct config cfg = {.listen = (char *)"127.0.0.1:8443"};
	struct doc_record r = {0};
	struct doc_print p;

	snprintf(r.kind, sizeof(r.kind), "%s", k->name);
	snprintf(r.signer_role, sizeof(r.signer_role), "%s", role);
	r.unit = routing_unit_get(rt, 0)->code;
	documents_print_setup(d, &cfg, &r, &p);
	if (p.nlines > 4 || p.name == NULL)
		abort();
	for (size_t i = 0; i < p.nlines; i++)
		fuzz_touch(p.lines[i]);
	fuzz_touch(p.name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const files[] = {"documents.json", "signers.csv", "roles.json"};
	struct fuzz_part parts[3];
	size_t n = fuzz_parts(data, size, parts, 3);
	char path[256], docs[256], err[1024];
	struct documents *d;

	if (rt == NULL && (rt = routing_load("policies", err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_documents: run from the repository's root: %s\n", err);
		abort();
	}
	for (size_t i = 0; i < 3; i++)
		fuzz_file(files[i], i < n ? parts[i].p : NULL, i < n ? parts[i].len : 0, i == 0 ? docs : path,
			  sizeof(path));
	err[0] = '\0';
	d = documents_load(docs, rt, err, sizeof(err));
	if (d == NULL) {
		if (err[0] == '\0')
			abort(); /* a refusal says why */
		if (getenv("FUZZ_DEBUG") != NULL)
			fprintf(stderr, "refused: %s\n", err);
		return 0;
	}
	for (size_t i = 0; i < documents_count(d); i++) {
		const struct doc_kind *k = documents_nth(d, i);

		kind_check(d, k);
		print_check(d, k, "");
		print_check(d, k, "unit_chair");
		print_check(d, k, "land_officer");
	}
	documents_free(d);
	return 0;
}
