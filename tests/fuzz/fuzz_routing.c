/* fuzz_routing.c — libFuzzer target for syncd/sync/routing.c (the routing
 * policy: routing.json and the unit CSV files it names) and, with what
 * loads, syncd/sync/router.c (one row's unit, the masks).
 *
 * The input is up to five parts separated by a line "~~~" (FUZZ_SEP):
 * routing.json, units/cantho_new_units.csv, units/cantho_old_to_new_mapping.csv,
 * units/split_overrides.csv (the names policies/routing.json uses), each
 * written to this process's temporary folder (a part left out: no file),
 * then rows to route, one per line, "unit TAB date TAB split TAB key".
 * A refusal names a file.  An accepted policy has a 64-hex digest, loads
 * again to the same digest and compares equal with itself and with the
 * second load; every unit is found by its code; every table has its
 * names; each row routes to a listed unit or gives a reason; each masked
 * value fits the room the header promises.  FUZZ_DEBUG=1 in the
 * environment prints why an input was refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/sync/router.h"
#include "syncd/sync/routing.h"
#include "tests/fuzz/fuzz_util.h"

static const char *const files[] = {"routing.json", "units/cantho_new_units.csv",
				    "units/cantho_old_to_new_mapping.csv", "units/split_overrides.csv"};

static void loaded_check(const struct routing *r)
{
	const char *d = routing_digest(r);

	if (strlen(d) != 64 || strspn(d, "0123456789abcdef") != 64 || routing_unit_count(r) == 0)
		abort();
	for (size_t i = 0; i < routing_unit_count(r); i++) {
		const struct unit_info *u = routing_unit_get(r, i);

		if (u->code < 0 || u->code >= ROUTING_CODE_SPACE || routing_unit_find(r, u->code) != u ||
		    routing_unit_index(r, u->code) != (int)i)
			abort();
		fuzz_touch(u->name);
		fuzz_touch(u->full_name);
	}
	for (size_t i = 0; i < routing_table_count(r); i++) {
		const struct routing_table *t = routing_table_get(r, i);

		if (t->source == NULL || t->table == NULL || t->schema == NULL || t->name == NULL ||
		    t->target_table == NULL || t->unit_column == NULL)
			abort();
	}
}

/* "unit\tdate\tsplit\tkey": a field "\N" is NULL. */
static void route_rows(const struct routing *r, char *rows)
{
	char *line, *save = NULL;

	for (line = strtok_r(rows, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const char *f[4] = {NULL, NULL, NULL, NULL};
		char *p = line;
		struct router_row row;

		for (int k = 0; k < 4 && p != NULL; k++) {
			char *tab = strchr(p, '\t');

			if (tab != NULL)
				*tab = '\0';
			f[k] = strcmp(p, "\\N") == 0 ? NULL : p;
			p = tab != NULL ? tab + 1 : NULL;
		}
		row = (struct router_row){f[0], f[0] ? strlen(f[0]) : 0, f[1], f[1] ? strlen(f[1]) : 0,
					  f[2], f[2] ? strlen(f[2]) : 0, f[3], f[3] ? strlen(f[3]) : 0};
		router_needs_key(r, &row);
		for (size_t i = 0; i < routing_table_count(r); i++) {
			const struct routing_table *t = routing_table_get(r, i);
			int unit = -1;
			enum routing_era era;
			enum router_reason why = router_route(r, t, &row, &unit, &era);

			if (why >= ROUTER_REASON_COUNT || router_reason_name(why) == NULL)
				abort();
			if (why == ROUTER_OK && routing_unit_find(r, unit) == NULL)
				abort(); /* routed to a unit that is not listed */
			for (size_t m = 0; m < t->nmasks && f[0] != NULL; m++) {
				size_t room = 2 * row.unit_len + 65;
				char *out = malloc(room);
				long n;

				if (out == NULL)
					abort();
				n = mask_apply(t->masks[m].kind, f[0], row.unit_len, out, room);
				if (n >= (long)room || n < -1)
					abort();
				free(out);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_part parts[5];
	size_t n = fuzz_parts(data, size, parts, 5);
	char path[256], err[1024], err2[1024], msg[512];
	struct routing *r, *again;

	for (size_t i = 0; i < 4; i++)
		fuzz_file(files[i], i < n ? parts[i].p : NULL, i < n ? parts[i].len : 0, path, sizeof(path));
	err[0] = '\0';
	r = routing_load(fuzz_dir(), err, sizeof(err));
	if (r == NULL) {
		if (err[0] == '\0')
			abort(); /* a refusal says why */
		if (getenv("FUZZ_DEBUG") != NULL)
			fprintf(stderr, "refused: %s\n", err);
		return 0;
	}
	loaded_check(r);
	again = routing_load(fuzz_dir(), err2, sizeof(err2));
	if (again == NULL || strcmp(routing_digest(r), routing_digest(again)) != 0 ||
	    routing_compare(r, r, msg, sizeof(msg)) != 0 || routing_compare(r, again, msg, sizeof(msg)) != 0)
		abort();
	if (n == 5) {
		char *rows = fuzz_str(parts[4].p, parts[4].len);

		route_rows(r, rows);
		free(rows);
	}
	routing_free(again);
	routing_free(r);
	return 0;
}
