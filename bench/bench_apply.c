/* bench_apply.c — where the set-based apply starts to pay (issue 14): the
 * PostgreSQL destination (pg_target_ops) updates G rows of a narrow
 * thua_dat-like table in each of UNITS unit schemas per transaction, once
 * row by row (prepared, pipelined) and once as one set statement per unit
 * table, for G = 1, 2, 4, ... 1024.  Prints microseconds per row for both
 * and the smallest G from which the set is faster: the threshold
 * connectors/pg_sets.c uses (set_min_rows).
 * usage: bench_apply CONNINFO [UNITS] [ROWS-PER-MEASUREMENT] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "connectors/connector.h"

#define KEYS 2048 /* rows per unit table */

static const char addr[] = "Hẻm 3, Ninh Kiều";

static const struct connector_column cols[] = {
	{.name = "id", .type = "bigint", .not_null = true, .key_pos = 1},
	{.name = "so_to", .type = "integer", .not_null = true},
	{.name = "dien_tich", .type = "numeric(12,1)", .not_null = true},
	{.name = "phien_ban", .type = "integer", .not_null = true},
	{.name = "dia_chi", .type = "text"},
};
static const struct connector_table tb = {.name = "thua_dat", .cols = cols, .ncols = 5};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_apply: %s: %s\n", what, err);
	exit(1);
}

/* Seconds per row for transactions of g updates in each unit. */
static double measure(const struct connector_ops *ops, void *ctx, char **schemas, int units, int g, long rows,
		      long *version)
{
	char err[1024], id[24], pb[24];
	long done = 0, next = 0;
	double t0 = now_s();

	while (done < rows) {
		if (ops->begin(ctx, err, sizeof(err)) < 0)
			die("BEGIN", err);
		(*version)++;
		for (int u = 0; u < units; u++)
			for (int i = 0; i < g; i++) {
				struct connector_value key[1], vals[5];

				snprintf(id, sizeof(id), "%ld", (next + i) % KEYS + 1);
				snprintf(pb, sizeof(pb), "%ld", *version);
				key[0] = (struct connector_value){CV_VALUE, id, strlen(id)};
				vals[0] = key[0];
				vals[1] = (struct connector_value){CV_VALUE, "7", 1};
				vals[2] = (struct connector_value){CV_VALUE, "120.5", 5};
				vals[3] = (struct connector_value){CV_VALUE, pb, strlen(pb)};
				vals[4] = (struct connector_value){CV_VALUE, addr, strlen(addr)};
				if (ops->update(ctx, schemas[u], &tb, key, vals, err, sizeof(err)) < 0)
					die("UPDATE", err);
			}
		if (ops->commit(ctx, err, sizeof(err)) < 0)
			die("COMMIT", err);
		next += g;
		done += (long)g * units;
	}
	return (now_s() - t0) / (double)done;
}

int main(int argc, char **argv)
{
	const struct connector_ops *ops = &pg_target_ops;
	int units = argc > 2 ? atoi(argv[2]) : 103;
	long rows = argc > 3 ? atol(argv[3]) : 40000, version = 0;
	char err[1024], **schemas;
	struct buf copy = {0};
	void *ctx;
	int threshold = 0;

	if (argc < 2 || units < 1 || units > 1000 || rows < 1) {
		fprintf(stderr, "usage: bench_apply CONNINFO [UNITS 1..1000] [ROWS]\n");
		return 2;
	}
	if ((ctx = ops->open(argv[1], NULL, NULL, err, sizeof(err))) == NULL)
		die("connect", err);
	schemas = calloc((size_t)units, sizeof(*schemas));
	for (int u = 0; u < units; u++)
		if (schemas == NULL || asprintf(&schemas[u], "bench_u%03d", u) < 0)
			die("memory", "out of memory");
	for (int k = 1; k <= KEYS; k++)
		if (buf_printf(&copy, "%d\t7\t100.0\t0\tHẻm 3, Ninh Kiều\n", k) < 0)
			die("memory", "out of memory");
	if (ops->begin(ctx, err, sizeof(err)) < 0 ||
	    ops->prepare(ctx, (const char *const *)schemas, (size_t)units, &tb, 1, true, err, sizeof(err)) <
		    0)
		die("prepare", err);
	for (int u = 0; u < units; u++)
		if (ops->load(ctx, schemas[u], &tb, copy.data, copy.len, err, sizeof(err)) < 0)
			die("COPY", err);
	if (ops->commit(ctx, err, sizeof(err)) < 0)
		die("COMMIT", err);
	printf("%d unit tables of %d rows; %ld updated rows per measurement\n", units, KEYS, rows);
	printf("%12s %16s %16s %8s\n", "rows/table", "row by row us", "set us", "set/row");
	for (int g = 1; g <= 1024; g *= 2) {
		double row, set;

		pg_target_tune(SIZE_MAX, 0);
		measure(ops, ctx, schemas, units, g, rows / 10, &version); /* warm the statements */
		row = measure(ops, ctx, schemas, units, g, rows, &version);
		pg_target_tune(0, 0);
		measure(ops, ctx, schemas, units, g, rows / 10, &version);
		set = measure(ops, ctx, schemas, units, g, rows, &version);
		printf("%12d %16.1f %16.1f %7.2fx\n", g, row * 1e6, set * 1e6, set / row);
		if (set < row && threshold == 0)
			threshold = g;
		else if (set >= row)
			threshold = 0;
	}
	if (threshold > 0)
		printf("threshold: a set is faster from %d rows per table on\n", threshold);
	else
		printf("threshold: row by row was faster at every size measured\n");
	ops->close(ctx);
	for (int u = 0; u < units; u++)
		free(schemas[u]);
	free(schemas);
	buf_free(&copy);
	return 0;
}
