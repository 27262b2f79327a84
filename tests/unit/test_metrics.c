/* test_metrics.c — the metrics table: Prometheus text with HELP/TYPE per family, the
 * counters by unit/table/op, the STATUS line, /readyz and /v1/status, bad indexes ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/metrics.h"

/* Two sources, two units, two tables: a fake daemon the hooks read. */
struct fake {
	struct metrics_source src[2];
	struct metrics_target tg[2];
	size_t ntg;
	atomic_ullong lsn[2][2];
	int directory;
	bool ldap;
};

static const char *const names[] = {"land", "civil"};
static const char *const tables[] = {"public.parcel", "public.owner"};
static const double bounds[] = {0.001, 0.01};

static void fake_source(void *ctx, size_t i, struct metrics_source *out)
{
	struct fake *f = ctx;

	*out = f->src[i];
}

static bool fake_unit(void *ctx, size_t u, int *code, const char **name)
{
	static const char *const unit_names[] = {"Phường Cái Khế", "Xã Mỹ Khánh"};

	(void)ctx;
	if (u >= 2)
		return false;
	*code = u == 0 ? 31117 : 31120;
	*name = unit_names[u];
	return true;
}

static const char *fake_table(void *ctx, size_t t)
{
	(void)ctx;
	return t < 2 ? tables[t] : NULL;
}

static int fake_directory(void *ctx)
{
	return ((struct fake *)ctx)->directory;
}

static int fake_ldap(void *ctx, struct metrics_histogram *h)
{
	if (!((struct fake *)ctx)->ldap)
		return -1;
	h->bounds = bounds;
	h->n = 2;
	h->counts[0] = 3;
	h->counts[1] = 1;
	h->counts[2] = 2;
	h->sum = 0.5;
	return 0;
}

static bool fake_target(void *ctx, size_t i, struct metrics_target *out)
{
	struct fake *f = ctx;

	if (i >= f->ntg)
		return false;
	*out = f->tg[i];
	return true;
}

static struct metrics *fake_metrics(struct fake *f, const struct metrics_features *feat)
{
	const struct metrics_hooks hooks = {f,	       fake_source, fake_unit, fake_table, fake_directory,
					    fake_ldap, fake_target};
	struct metrics *m = metrics_new(2, names, 2, feat, &hooks);

	assert_non_null(m);
	return m;
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->src[0] = (struct metrics_source){.streaming = true,
					    .received = 10 * 1024 + 7,
					    .flushed = 7,
					    .applied = 42,
					    .quarantined = 3,
					    .inserts = 5,
					    .updates = 6,
					    .deletes = 7,
					    .batches = 8,
					    .retries = 1,
					    .unit_lsn = &f->lsn[0][0],
					    .nunits = 2};
	f->src[1] = (struct metrics_source){.streaming = false, .quarantined = 2, .units_down = 1};
	atomic_store(&f->lsn[0][0], 0x100000010ULL);
	atomic_store(&f->lsn[0][1], 16);
	f->directory = 1;
	f->ldap = true;
}

static char *render(struct metrics *m)
{
	struct buf b = {0};

	assert_int_equal(metrics_render(m, &b), 0);
	assert_non_null(b.data);
	return b.data;
}

/* Every family that has samples opens with its HELP and TYPE lines, once. */
static void test_help_type(void **state)
{
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	char *text, *line;
	int families = 0;

	(void)state;
	fake_init(&f);
	m = fake_metrics(&f, &all);
	text = render(m);
	assert_non_null(strstr(text,
			       "# HELP syncd_source_streaming 1 while the source's replication session runs\n"
			       "# TYPE syncd_source_streaming gauge\n"
			       "syncd_source_streaming{source=\"land\"} 1\n"
			       "syncd_source_streaming{source=\"civil\"} 0\n"));
	assert_non_null(strstr(text, "# TYPE syncd_changes_applied_total counter\n"
				     "syncd_changes_applied_total{source=\"land\"} 42\n"));
	assert_non_null(strstr(text, "syncd_source_lag_bytes{source=\"land\"} 10240\n"));
	assert_non_null(strstr(text, "syncd_source_lag_seconds{source=\"land\"} 0.000\n"));
	assert_non_null(strstr(text, "syncd_unit_applied_lsn{source=\"land\",unit=\"31117\"} 4294967312\n"
				     "syncd_unit_applied_lsn{source=\"land\",unit=\"31120\"} 16\n# HELP"));
	assert_non_null(strstr(text, "syncd_changes_total{source=\"land\",op=\"update\"} 6\n"));
	assert_non_null(strstr(text, "# TYPE syncd_ldap_seconds histogram\n"
				     "syncd_ldap_seconds_bucket{le=\"0.001\"} 3\n"
				     "syncd_ldap_seconds_bucket{le=\"0.01\"} 4\n"
				     "syncd_ldap_seconds_bucket{le=\"+Inf\"} 6\n"
				     "syncd_ldap_seconds_sum 0.500000\n"
				     "syncd_ldap_seconds_count 6\n"));
	assert_non_null(strstr(text, "syncd_directory_up 1\n"));
	assert_non_null(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
	/* every sample's family was announced just before it */
	for (line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			families++;
			continue;
		}
		assert_true(line[0] != '#' || strncmp(line, "# TYPE ", 7) == 0);
	}
	assert_int_equal(families, 24);
	free(text);
	metrics_free(m);
}

/* Changes counted per source, unit, table and op add up; only the ones seen are shown. */
static void test_ops_add_up(void **state)
{
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	char *text;

	(void)state;
	fake_init(&f);
	m = fake_metrics(&f, &all);
	for (int i = 0; i < 3; i++)
		metrics_op_add(m, 0, 1, 0, METRICS_INSERT);
	metrics_op_add(m, 0, 1, 0, METRICS_DELETE);
	metrics_op_add(m, 1, 0, 1, METRICS_UPDATE);
	text = render(m);
	assert_non_null(strstr(
		text, "# TYPE syncd_rows_applied_total counter\n"
		      "syncd_rows_applied_total{source=\"land\",unit=\"31120\",table=\"public.parcel\","
		      "op=\"insert\"} 3\n"
		      "syncd_rows_applied_total{source=\"land\",unit=\"31120\",table=\"public.parcel\","
		      "op=\"delete\"} 1\n"
		      "syncd_rows_applied_total{source=\"civil\",unit=\"31117\",table=\"public.owner\","
		      "op=\"update\"} 1\n"
		      "# HELP syncd_batches_total"));
	free(text);
	metrics_free(m);
}

/* A unit, table, source or op out of range is not counted (and does not crash). */
static void test_out_of_range_ignored(void **state)
{
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	char *text;

	(void)state;
	fake_init(&f);
	m = fake_metrics(&f, &all);
	metrics_op_add(m, 2, 0, 0, METRICS_INSERT);
	metrics_op_add(m, 0, -1, 0, METRICS_INSERT);
	metrics_op_add(m, 0, 2, 0, METRICS_INSERT);
	metrics_op_add(m, 0, 0, -1, METRICS_INSERT);
	metrics_op_add(m, 0, 0, METRICS_MAX_TABLES, METRICS_INSERT);
	metrics_op_add(m, 0, 0, 0, METRICS_NOPS);
	metrics_op_add(m, 0, 0, 0, (enum metrics_op) - 1);
	metrics_op_add(NULL, 0, 0, 0, METRICS_INSERT);
	text = render(m);
	assert_null(strstr(text, "syncd_rows_applied_total{"));
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}

/* Decisions by outcome and reason code, documents by kind, audit appends. */
static void test_api_counters(void **state)
{
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	char *text;

	(void)state;
	fake_init(&f);
	f.ldap = false;
	m = fake_metrics(&f, &all);
	metrics_decision_add(m, "allow", "grant (city auditor)");
	metrics_decision_add(m, "allow", "grant: x");
	metrics_decision_add(m, "deny", "");
	metrics_document_add(m, "birth");
	metrics_document_add(m, "birth");
	metrics_audit_add(m, true);
	metrics_audit_add(m, true);
	metrics_audit_add(m, false);
	text = render(m);
	assert_non_null(strstr(text, "syncd_decisions_total{outcome=\"allow\",reason=\"grant\"} 2\n"
				     "syncd_decisions_total{outcome=\"deny\",reason=\"none\"} 1\n"));
	assert_non_null(strstr(text, "syncd_documents_issued_total{kind=\"birth\"} 2\n"));
	assert_non_null(strstr(text, "syncd_audit_appends_total 2\n"));
	assert_non_null(strstr(text, "syncd_audit_append_failures_total 1\n"));
	assert_null(strstr(text, "syncd_ldap_seconds")); /* no directory: no histogram */
	free(text);
	metrics_free(m);
}

static void test_status_line(void **state)
{
	const struct metrics_features some = {false, true, false};
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	char line[1024];

	(void)state;
	fake_init(&f);
	f.directory = -1;
	m = fake_metrics(&f, &some);
	metrics_status_line(m, line, sizeof(line));
	assert_string_equal(
		line, "land: streaming, lag 10 kB, all units; civil: reconnecting, lag 0 kB, 1 units down, "
		      "0 detached; 5 quarantined since start; directory not configured; "
		      "off: documents (no documents.json), delegation (no [ldap])");
	metrics_features_off(m, line, sizeof(line));
	assert_string_equal(line, "documents (no documents.json), delegation (no [ldap])");
	metrics_free(m);

	f.directory = 0;
	f.src[1].ended = true;
	m = fake_metrics(&f, &all);
	metrics_status_line(m, line, sizeof(line));
	assert_string_equal(line,
			    "land: streaming, lag 10 kB, all units; civil: stopped, lag 0 kB, 1 units down, "
			    "0 detached; 5 quarantined since start; directory UNREACHABLE");
	metrics_features_off(m, line, sizeof(line));
	assert_string_equal(line, "");
	metrics_status_line(m, line, 20); /* cut, never overrun */
	assert_int_equal(strlen(line), 19);
	metrics_free(m);
}

static void test_readyz(void **state)
{
	const struct metrics_features some = {false, true, false};
	struct fake f;
	struct metrics *m;
	bool ready;
	json_t *j;
	char *s;

	(void)state;
	fake_init(&f);
	m = fake_metrics(&f, &some);
	j = metrics_readyz(m, &ready);
	s = json_dumps(j, JSON_COMPACT);
	assert_false(ready);
	assert_string_equal(
		s,
		"{\"ready\":false,\"role\":\"active\",\"term\":0,\"degraded\":true,\"sources\":[{\"name\":\"land\",\"state\":"
		"\"streaming\",\"units_down\":0,\"units_detached\":0},{\"name\":\"civil\",\"state\":"
		"\"reconnecting\",\"units_down\":1,\"units_detached\":0}],\"directory\":\"reachable\","
		"\"features\":{\"documents\":false,\"signing\":true,\"delegation\":false}}");
	free(s);
	json_decref(j);
	f.src[1].streaming = true;
	f.src[1].units_down = 0;
	j = metrics_readyz(m, &ready);
	assert_true(ready);
	assert_false(json_is_true(json_object_get(j, "degraded")));
	json_decref(j);
	metrics_free(m);
}

/* A standby: not ready (503) with the word standby and the active one,
 * STATUS says so; the active instance's STATUS ends with its term. */
static void test_standby(void **state)
{
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	char line[1024], *text;
	struct buf b = {0};
	bool ready;
	json_t *j;

	(void)state;
	fake_init(&f);
	f.src[1].streaming = true;
	f.src[1].units_down = 0;
	m = fake_metrics(&f, &all);
	metrics_set_leader(m, false, 4, "host-b 10.0.0.2:8443, pid 77, term 4");
	assert_false(metrics_active(m, line, sizeof(line)));
	assert_string_equal(line, "host-b 10.0.0.2:8443, pid 77, term 4");
	j = metrics_readyz(m, &ready);
	assert_false(ready);
	assert_string_equal(json_string_value(json_object_get(j, "role")), "standby");
	assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "standby: host-b"));
	json_decref(j);
	metrics_status_line(m, line, sizeof(line));
	assert_string_equal(line, "standby: host-b 10.0.0.2:8443, pid 77, term 4; this instance syncs and "
				  "issues nothing until it takes over");
	j = metrics_status(m, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "role")), "standby");
	json_decref(j);
	assert_int_equal(metrics_render(m, &b), 0);
	text = b.data;
	assert_non_null(strstr(text, "\nsyncd_active 0\n"));
	assert_non_null(strstr(text, "\nsyncd_leader_term 4\n"));
	buf_free(&b);
	/* the takeover: ready, and STATUS ends with the term */
	metrics_set_leader(m, true, 5, "host-a 10.0.0.1:8443, pid 12, term 5");
	j = metrics_readyz(m, &ready);
	assert_true(ready);
	json_decref(j);
	metrics_status_line(m, line, sizeof(line));
	assert_non_null(strstr(line, "land: streaming"));
	assert_int_equal(strcmp(line + strlen(line) - strlen("; active, term 5"), "; active, term 5"), 0);
	metrics_set_leader(m, false, 0, "");
	metrics_status_line(m, line, sizeof(line));
	assert_string_equal(line, "standby: no active instance yet; this instance syncs and issues nothing "
				  "until it takes over");
	metrics_free(m);
}

static void test_status(void **state)
{
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	json_t *q = json_pack("{s:i}", "land", 9), *j;
	char *s;

	(void)state;
	fake_init(&f);
	m = fake_metrics(&f, &all);
	j = metrics_status(m, q);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(
		s,
		"{\"role\":\"active\",\"term\":0,\"active_instance\":\"\","
		"\"sources\":[{\"name\":\"land\",\"state\":\"streaming\",\"received_lsn\":\"0/2807\","
		"\"confirmed_lsn\":\"0/7\",\"lag_bytes\":10240,\"applied_since_start\":42,"
		"\"quarantined_since_start\":3,\"quarantined\":9,\"units_down\":0,\"units_detached\":0},"
		"{\"name\":\"civil\",\"state\":\"reconnecting\",\"received_lsn\":\"0/0\",\"confirmed_lsn\":\"0/0\","
		"\"lag_bytes\":0,\"applied_since_start\":0,\"quarantined_since_start\":2,\"quarantined\":0,"
		"\"units_down\":1,\"units_detached\":0}],"
		"\"units\":[{\"code\":\"31117\",\"name\":\"Phường Cái Khế\",\"applied_lsn\":{\"land\":\"1/10\"}},"
		"{\"code\":\"31120\",\"name\":\"Xã Mỹ Khánh\",\"applied_lsn\":{\"land\":\"0/10\"}}],"
		"\"targets\":[],\"directory\":\"reachable\"}");
	free(s);
	json_decref(j);
	json_decref(q);
	metrics_free(m);
}

/* HTTP targets: their families appear only when there is one; a paused
 * unit is the alert (gauge, STATUS, degraded); counts not read yet are
 * left out rather than shown as 0. */
static void test_targets(void **state)
{
	const struct metrics_features all = {true, true, true};
	struct fake f;
	struct metrics *m;
	char line[1024], *text;
	bool ready;
	json_t *j;

	(void)state;
	fake_init(&f);
	m = fake_metrics(&f, &all);
	text = render(m);
	assert_null(strstr(text, "syncd_target_"));
	free(text);
	f.ntg = 2;
	f.tg[0] = (struct metrics_target){"onestop", 40, 1234, 7, 1, 3, 5000, 1, 1};
	f.tg[1] = (struct metrics_target){"land_office", 0, 0, 0, 0, -1, -1, -1, -1};
	text = render(m);
	assert_non_null(strstr(text, "# TYPE syncd_target_paused_units gauge\n"
				     "syncd_target_paused_units{target=\"onestop\"} 1\n#"));
	assert_non_null(strstr(text, "syncd_target_changes_delivered_total{target=\"onestop\"} 1234\n"));
	assert_non_null(strstr(text, "syncd_target_retries_total{target=\"land_office\"} 0\n"));
	assert_null(strstr(text, "syncd_target_pending_batches{target=\"land_office\"}"));
	free(text);
	metrics_status_line(m, line, sizeof(line));
	assert_non_null(strstr(line, "; target onestop: 3 batches waiting, 1 unit PAUSED (syncctl deadletter "
				     "list); target land_office: starting; "));
	f.src[1].streaming = true;
	f.src[1].units_down = 0;
	j = metrics_readyz(m, &ready);
	assert_true(ready);
	assert_true(json_is_true(json_object_get(j, "degraded")));
	json_decref(j);
	j = metrics_status(m, NULL);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "targets"), 0),
							    "paused_units")),
			 1);
	assert_true(json_is_null(
		json_object_get(json_array_get(json_object_get(j, "targets"), 1), "pending_batches")));
	json_decref(j);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets),	     cmocka_unit_test(test_help_type),
		cmocka_unit_test(test_ops_add_up),   cmocka_unit_test(test_out_of_range_ignored),
		cmocka_unit_test(test_api_counters), cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_readyz),	     cmocka_unit_test(test_status),
		cmocka_unit_test(test_standby),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
