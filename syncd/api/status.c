/* status.c — /healthz, /readyz, /metrics and /v1/status: what syncd reports
 * about itself, without a login and without personal data. */
#include "syncd/api/internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static const char *source_state(const struct stream_status *st)
{
	return atomic_load(&st->streaming) ? "streaming" : "reconnecting";
}

/* 200 while every source streams (units down or the directory unreachable
 * make it "degraded", still ready: the other units keep syncing); 503 else. */
enum MHD_Result ep_readyz(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole)
{
	json_t *srcs = json_array();
	bool ready = true, degraded = false;
	const char *dir = api->az == NULL		? "not configured"
			  : authz_directory_up(api->az) ? "reachable"
							: "unreachable";
	(void)me;
	(void)hole;

	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		int down = atomic_load(&st->units_down), det = atomic_load(&st->units_detached);

		ready &= atomic_load(&st->streaming);
		degraded |= down > 0 || det > 0;
		json_array_append_new(srcs, json_pack("{s:s,s:s,s:i,s:i}", "name", api->deps.status_names[i],
						      "state", source_state(st), "units_down", down,
						      "units_detached", det));
	}
	degraded |= api->az != NULL && !authz_directory_up(api->az);
	return respond_json(c, rq, ready ? 200 : 503,
			    json_pack("{s:b,s:b,s:o,s:s,s:{s:b,s:b,s:b}}", "ready", ready, "degraded",
				      degraded, "sources", srcs, "directory", dir, "features", "documents",
				      api->deps.docs != NULL, "signing", api->deps.signer != NULL,
				      "delegation", api->az != NULL));
}

static int proc_stat(double *cpu, double *start, long *rss_pages)
{
	char buf[2048], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	unsigned long long ut, st, starttime;
	long rss;
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after ")": state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24) */
	if (p == NULL ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
		   &ut, &st, &starttime, &rss) != 4)
		return -1;
	*cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	{
		FILE *u = fopen("/proc/uptime", "r");
		double up = 0;

		if (u != NULL) {
			if (fscanf(u, "%lf", &up) != 1)
				up = 0;
			fclose(u);
		}
		*start = (double)time(NULL) - up + (double)starttime / (double)sysconf(_SC_CLK_TCK);
	}
	*rss_pages = rss;
	return 0;
}

#define M_HELP(b, name, type, help) buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type)

enum MHD_Result ep_metrics(struct api *api, struct MHD_Connection *c, struct req *rq,
			   const struct authz_user *me, const char *hole)
{
	struct buf b = {0};
	int bad = 0;
	double cpu, start;
	long rss;
	size_t nu = api->deps.rt ? routing_unit_count(api->deps.rt) : 0;
	(void)me;
	(void)hole;

	bad |= M_HELP(&b, "syncd_source_streaming", "gauge",
		      "1 while the source's replication session runs") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_source_streaming{source=\"%s\"} %d\n", api->deps.status_names[i],
				  atomic_load(&api->deps.status[i].streaming) ? 1 : 0) < 0;
	bad |= M_HELP(&b, "syncd_source_lag_bytes", "gauge",
		      "WAL received from the source and not yet confirmed") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		unsigned long long r = atomic_load(&api->deps.status[i].received),
				   f = atomic_load(&api->deps.status[i].flushed);

		bad |= buf_printf(&b, "syncd_source_lag_bytes{source=\"%s\"} %llu\n",
				  api->deps.status_names[i], r > f ? r - f : 0) < 0;
	}
	bad |= M_HELP(&b, "syncd_source_lag_seconds", "gauge",
		      "age of the oldest source commit received and not yet in the units (0: none)") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		long long since = atomic_load(&api->deps.status[i].pending_since);
		struct timespec ts;
		double lag = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		/* PostgreSQL's epoch is 2000-01-01: 946684800 s after the Unix one */
		if (since > 0)
			lag = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 -
			      (946684800.0 + (double)since / 1e6);
		bad |= buf_printf(&b, "syncd_source_lag_seconds{source=\"%s\"} %.3f\n",
				  api->deps.status_names[i], lag > 0 ? lag : 0) < 0;
	}
	bad |= M_HELP(&b, "syncd_source_confirmed_lsn", "gauge",
		      "WAL position confirmed to the source's slot") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_source_confirmed_lsn{source=\"%s\"} %llu\n",
				  api->deps.status_names[i],
				  (unsigned long long)atomic_load(&api->deps.status[i].flushed)) < 0;
	bad |= M_HELP(&b, "syncd_unit_applied_lsn", "gauge",
		      "WAL position of the source a unit's copy holds") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		for (size_t u = 0; u < nu && u < api->deps.status[i].nunits && api->deps.status[i].unit_lsn;
		     u++)
			bad |= buf_printf(&b, "syncd_unit_applied_lsn{source=\"%s\",unit=\"%05d\"} %llu\n",
					  api->deps.status_names[i], routing_unit_get(api->deps.rt, u)->code,
					  (unsigned long long)atomic_load(&api->deps.status[i].unit_lsn[u])) <
			       0;
	bad |= M_HELP(&b, "syncd_changes_applied_total", "counter",
		      "changes applied to the units since start") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_changes_applied_total{source=\"%s\"} %lld\n",
				  api->deps.status_names[i],
				  (long long)atomic_load(&api->deps.status[i].applied)) < 0;
	bad |= M_HELP(&b, "syncd_rows_quarantined_total", "counter",
		      "rows sent to the quarantine since start") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_rows_quarantined_total{source=\"%s\"} %lld\n",
				  api->deps.status_names[i],
				  (long long)atomic_load(&api->deps.status[i].quarantined)) < 0;
	bad |= M_HELP(&b, "syncd_units_down", "gauge",
		      "units whose database is down (the slot keeps their WAL)") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_units_down{source=\"%s\"} %d\n", api->deps.status_names[i],
				  atomic_load(&api->deps.status[i].units_down)) < 0;
	bad |= M_HELP(&b, "syncd_units_detached", "gauge", "units detached past unit_backlog_limit") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_units_detached{source=\"%s\"} %d\n", api->deps.status_names[i],
				  atomic_load(&api->deps.status[i].units_detached)) < 0;
	bad |= M_HELP(&b, "syncd_decisions_total", "counter", "API decisions, by outcome and reason code") <
	       0;
	pthread_mutex_lock(&api->lock);
	for (size_t k = 0; k < api->nreasons; k++)
		bad |= buf_printf(&b, "syncd_decisions_total{outcome=\"%s\",reason=\"%s\"} %lu\n",
				  api->by_reason[k].decision,
				  api->by_reason[k].reason[0] ? api->by_reason[k].reason : "none",
				  api->by_reason[k].n) < 0;
	bad |= M_HELP(&b, "syncd_documents_issued_total", "counter",
		      "documents issued since start, by kind") < 0;
	for (size_t k = 0; k < api->nkinds; k++)
		bad |= buf_printf(&b, "syncd_documents_issued_total{kind=\"%s\"} %lu\n", api->by_kind[k].kind,
				  api->by_kind[k].n) < 0;
	pthread_mutex_unlock(&api->lock);
	bad |= M_HELP(&b, "syncd_audit_appends_total", "counter",
		      "rows appended to the audit log since start") < 0;
	bad |= buf_printf(&b, "syncd_audit_appends_total %lu\n", atomic_load(&api->n_appends)) < 0;
	bad |= M_HELP(&b, "syncd_audit_append_failures_total", "counter",
		      "audit appends that failed (the request was refused)") < 0;
	bad |= buf_printf(&b, "syncd_audit_append_failures_total %lu\n", atomic_load(&api->n_audit_fail)) < 0;
	if (api->az != NULL) {
		unsigned long counts[AUTHZ_LDAP_BUCKETS + 1], cum = 0;
		double sum;

		authz_ldap_histogram(api->az, counts, &sum);
		bad |= M_HELP(&b, "syncd_ldap_seconds", "histogram",
			      "time of directory operations behind decisions and logins") < 0;
		for (size_t k = 0; k < AUTHZ_LDAP_BUCKETS; k++) {
			cum += counts[k];
			bad |= buf_printf(&b, "syncd_ldap_seconds_bucket{le=\"%g\"} %lu\n",
					  authz_ldap_bounds[k], cum) < 0;
		}
		cum += counts[AUTHZ_LDAP_BUCKETS];
		bad |= buf_printf(&b,
				  "syncd_ldap_seconds_bucket{le=\"+Inf\"} %lu\nsyncd_ldap_seconds_sum %.6f\n"
				  "syncd_ldap_seconds_count %lu\n",
				  cum, sum, cum) < 0;
	}
	bad |= M_HELP(&b, "syncd_changes_total", "counter",
		      "changes applied to the units in this session, by operation") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		static const char *const ops[] = {"insert", "update", "delete"};
		long long v[3] = {atomic_load(&st->inserts), atomic_load(&st->updates),
				  atomic_load(&st->deletes)};

		for (int o = 0; o < 3; o++)
			bad |= buf_printf(&b, "syncd_changes_total{source=\"%s\",op=\"%s\"} %lld\n",
					  api->deps.status_names[i], ops[o], v[o]) < 0;
	}
	bad |= M_HELP(&b, "syncd_rows_applied_total", "counter",
		      "changes applied since start, by unit, table and operation (the ones seen)") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		static const char *const ops[] = {"insert", "update", "delete"};

		const struct routing *cur = api->deps.current ? atomic_load(api->deps.current) : api->deps.rt;

		for (size_t u = 0; st->unit_table_ops != NULL && u < nu && u < st->nunits; u++)
			for (size_t t = 0; t < STREAM_MAX_TABLES && t < routing_table_count(cur); t++)
				for (size_t o = 0; o < 3; o++) {
					long long v = atomic_load(
						&st->unit_table_ops[(u * STREAM_MAX_TABLES + t) * 3 + o]);

					if (v > 0)
						bad |= buf_printf(
							       &b,
							       "syncd_rows_applied_total{source=\"%s\",unit=\"%05d\","
							       "table=\"%s\",op=\"%s\"} %lld\n",
							       api->deps.status_names[i],
							       routing_unit_get(api->deps.rt, u)->code,
							       routing_table_get(cur, t)->table, ops[o],
							       v) < 0;
				}
	}
	bad |= M_HELP(&b, "syncd_batches_total", "counter", "target transactions committed in this session") <
	       0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_batches_total{source=\"%s\"} %lld\n", api->deps.status_names[i],
				  (long long)atomic_load(&api->deps.status[i].batches)) < 0;
	bad |= M_HELP(&b, "syncd_stream_retries_total", "counter",
		      "stream sessions ended by an error and retried") < 0;
	for (size_t i = 0; i < api->deps.nstatus; i++)
		bad |= buf_printf(&b, "syncd_stream_retries_total{source=\"%s\"} %lu\n",
				  api->deps.status_names[i], atomic_load(&api->deps.status[i].retries)) < 0;
	bad |= M_HELP(&b, "syncd_directory_up", "gauge", "1 while the LDAP directory answers") < 0;
	bad |= buf_printf(&b, "syncd_directory_up %d\n",
			  api->az != NULL && authz_directory_up(api->az) ? 1 : 0) < 0;
	if (proc_stat(&cpu, &start, &rss) == 0) {
		bad |= M_HELP(&b, "process_cpu_seconds_total", "counter", "user and system CPU time") < 0;
		bad |= buf_printf(&b, "process_cpu_seconds_total %.2f\n", cpu) < 0;
		bad |= M_HELP(&b, "process_resident_memory_bytes", "gauge", "resident memory") < 0;
		bad |= buf_printf(&b, "process_resident_memory_bytes %ld\n", rss * sysconf(_SC_PAGESIZE)) < 0;
		bad |= M_HELP(&b, "process_start_time_seconds", "gauge", "start time since the epoch") < 0;
		bad |= buf_printf(&b, "process_start_time_seconds %.0f\n", start) < 0;
	}
	if (bad) {
		buf_free(&b);
		return respond_error(c, rq, 500, "internal", "out of memory");
	}
	return respond(c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

static void lsn_text(unsigned long long lsn, char *out, size_t outlen)
{
	snprintf(out, outlen, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

/* GET /v1/status: sources and units as syncd sees them, and the quarantine
 * by source (state DB); no personal data, no login (like /metrics). */
enum MHD_Result ep_status(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole)
{
	json_t *srcs = json_array(), *units = json_array(), *q = json_object();
	size_t nu = api->deps.rt ? routing_unit_count(api->deps.rt) : 0;
	char err[256];
	PGconn *db =
		thread_conn(api->deps.cfg->state_conninfo, api->deps.cfg->state_password, err, sizeof(err));
	(void)me;
	(void)hole;

	if (db != NULL) {
		PGresult *r =
			PQexec(db, "SELECT source, count(*) FROM public.syncd_quarantine GROUP BY source");

		for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
			json_object_set_new(q, PQgetvalue(r, i, 0), json_integer(atoll(PQgetvalue(r, i, 1))));
		PQclear(r);
	}
	for (size_t i = 0; i < api->deps.nstatus; i++) {
		const struct stream_status *st = &api->deps.status[i];
		unsigned long long rcv = atomic_load(&st->received), fl = atomic_load(&st->flushed);
		char r1[32], f1[32];
		json_t *qn = json_object_get(q, api->deps.status_names[i]);

		lsn_text(rcv, r1, sizeof(r1));
		lsn_text(fl, f1, sizeof(f1));
		json_array_append_new(
			srcs,
			json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:i,s:i}", "name",
				  api->deps.status_names[i], "state", source_state(st), "received_lsn", r1,
				  "confirmed_lsn", f1, "lag_bytes", (json_int_t)(rcv > fl ? rcv - fl : 0),
				  "applied_since_start", (json_int_t)atomic_load(&st->applied),
				  "quarantined_since_start", (json_int_t)atomic_load(&st->quarantined),
				  "quarantined", (json_int_t)(qn ? json_integer_value(qn) : 0), "units_down",
				  atomic_load(&st->units_down), "units_detached",
				  atomic_load(&st->units_detached)));
	}
	for (size_t u = 0; u < nu; u++) {
		const struct unit_info *ui = routing_unit_get(api->deps.rt, u);
		json_t *per = json_object();
		char code[12];

		snprintf(code, sizeof(code), "%05d", ui->code);
		for (size_t i = 0; i < api->deps.nstatus; i++) {
			char l[32];

			if (api->deps.status[i].unit_lsn == NULL || u >= api->deps.status[i].nunits)
				continue;
			lsn_text(atomic_load(&api->deps.status[i].unit_lsn[u]), l, sizeof(l));
			json_object_set_new(per, api->deps.status_names[i], json_string(l));
		}
		json_array_append_new(units, json_pack("{s:s,s:s,s:o}", "code", code, "name", ui->full_name,
						       "applied_lsn", per));
	}
	json_decref(q);
	return respond_json(c, rq, 200,
			    json_pack("{s:o,s:o,s:s}", "sources", srcs, "units", units, "directory",
				      api->az == NULL		    ? "not configured"
				      : authz_directory_up(api->az) ? "reachable"
								    : "unreachable"));
}

enum MHD_Result ep_healthz(struct api *api, struct MHD_Connection *c, struct req *rq,
			   const struct authz_user *me, const char *hole)
{
	(void)api;
	(void)me;
	(void)hole;
	return respond_json(c, rq, 200, json_pack("{s:s}", "status", "ok"));
}
