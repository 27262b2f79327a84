/* metrics.c — the counters syncd keeps and the one table of {name, type, help, reader}
 * that /metrics, STATUS, /readyz and /v1/status all read. */
#include "syncd/metrics.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REASONS 64
#define MAX_KINDS   16

struct reason_count {
	char outcome[8], reason[48];
	unsigned long n;
};

struct kind_count {
	char kind[48];
	unsigned long n;
};

struct metrics {
	size_t nsources, nunits;
	const char *const *names;
	struct metrics_features features;
	struct metrics_hooks hooks;
	/* changes applied: [((source * nunits + unit) * METRICS_MAX_TABLES + table) * METRICS_NOPS + op] */
	atomic_llong *ops;
	atomic_ulong appends, append_failures;
	pthread_mutex_t lock; /* the two lists below */
	struct reason_count reasons[MAX_REASONS];
	size_t nreasons;
	struct kind_count kinds[MAX_KINDS];
	size_t nkinds;
	/* the election (syncd/leader.c): this instance's role, its term, and
	 * who holds the lease (under lock) */
	atomic_int active;
	atomic_llong term;
	char leader[200];
};

/* ------------------------------------------------------------ counting */

struct metrics *metrics_new(size_t nsources, const char *const *names, size_t nunits,
			    const struct metrics_features *features, const struct metrics_hooks *hooks)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->ops = calloc(nsources * nunits * METRICS_MAX_TABLES * METRICS_NOPS + 1, sizeof(*m->ops));
	if (m->ops == NULL) {
		free(m);
		return NULL;
	}
	m->nsources = nsources;
	m->nunits = nunits;
	m->names = names;
	m->features = *features;
	m->hooks = *hooks;
	atomic_store(&m->active, 1); /* a process in no election (the tests) is active */
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->ops);
	free(m);
}

static atomic_llong *op_slot(struct metrics *m, size_t source, size_t unit, size_t table, size_t op)
{
	return &m->ops[((source * m->nunits + unit) * METRICS_MAX_TABLES + table) * METRICS_NOPS + op];
}

void metrics_op_add(struct metrics *m, size_t source, long unit, long table, enum metrics_op op)
{
	if (m == NULL || source >= m->nsources || unit < 0 || (size_t)unit >= m->nunits || table < 0 ||
	    table >= METRICS_MAX_TABLES || op < 0 || op >= METRICS_NOPS)
		return;
	atomic_fetch_add(op_slot(m, source, (size_t)unit, (size_t)table, (size_t)op), 1);
}

/* Counted by the reason's code: its text up to the first " (:". */
void metrics_decision_add(struct metrics *m, const char *outcome, const char *reason)
{
	char code[48];
	size_t k;

	if (m == NULL)
		return;
	snprintf(code, sizeof(code), "%.*s", (int)strcspn(reason ? reason : "", " (:"), reason ? reason : "");
	pthread_mutex_lock(&m->lock);
	for (k = 0; k < m->nreasons; k++)
		if (strcmp(m->reasons[k].outcome, outcome) == 0 && strcmp(m->reasons[k].reason, code) == 0)
			break;
	if (k == m->nreasons && k < MAX_REASONS) {
		snprintf(m->reasons[k].outcome, sizeof(m->reasons[k].outcome), "%s", outcome);
		snprintf(m->reasons[k].reason, sizeof(m->reasons[k].reason), "%s", code);
		m->nreasons++;
	}
	if (k < m->nreasons)
		m->reasons[k].n++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_document_add(struct metrics *m, const char *kind)
{
	size_t i;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nkinds && strcmp(m->kinds[i].kind, kind) != 0; i++)
		;
	if (i == m->nkinds && i < MAX_KINDS)
		snprintf(m->kinds[m->nkinds++].kind, sizeof(m->kinds[0].kind), "%s", kind);
	if (i < m->nkinds)
		m->kinds[i].n++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_audit_add(struct metrics *m, bool appended)
{
	if (m != NULL)
		atomic_fetch_add(appended ? &m->appends : &m->append_failures, 1);
}

size_t metrics_nsources(struct metrics *m)
{
	return m->nsources;
}

void metrics_source_read(struct metrics *m, size_t i, struct metrics_source *out)
{
	memset(out, 0, sizeof(*out));
	if (m->hooks.source != NULL && i < m->nsources)
		m->hooks.source(m->hooks.ctx, i, out);
}

/* ------------------------------------------------------------ one reading */

/* The facts read once per view, so that one answer is consistent. */
struct reading {
	struct metrics *m;
	struct metrics_source *src; /* per source */
	struct metrics_target tg[METRICS_MAX_TARGETS];
	size_t ntargets;
	int directory; /* as the hook says */
	double now;    /* realtime, seconds since the Unix epoch */
	/* the rest only for /metrics */
	size_t ntables;
	const char *tables[METRICS_MAX_TABLES];
	struct reason_count reasons[MAX_REASONS];
	size_t nreasons;
	struct kind_count kinds[MAX_KINDS];
	size_t nkinds;
	bool ldap_ok, proc_ok;
	struct metrics_histogram ldap;
	double cpu, start;
	long rss_pages;
	bool active;
	long long term;
	char leader[200];
};

static int proc_stat(double *cpu, double *start, long *rss_pages)
{
	char buf[2048], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	unsigned long long ut, st, starttime;
	double up = 0;
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
	f = fopen("/proc/uptime", "r");
	if (f != NULL) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	*start = (double)time(NULL) - up + (double)starttime / (double)sysconf(_SC_CLK_TCK);
	*rss_pages = rss;
	return 0;
}

/* 0, or -1 when memory runs out; full: also what only /metrics shows. */
static int reading_open(struct metrics *m, struct reading *r, bool full)
{
	struct timespec ts;

	memset(r, 0, sizeof(*r));
	r->m = m;
	r->src = calloc(m->nsources + 1, sizeof(*r->src));
	if (r->src == NULL)
		return -1;
	for (size_t i = 0; i < m->nsources; i++)
		metrics_source_read(m, i, &r->src[i]);
	while (m->hooks.target != NULL && r->ntargets < METRICS_MAX_TARGETS &&
	       m->hooks.target(m->hooks.ctx, r->ntargets, &r->tg[r->ntargets]))
		r->ntargets++;
	r->directory = m->hooks.directory ? m->hooks.directory(m->hooks.ctx) : -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	r->now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	r->active = atomic_load(&m->active) != 0;
	r->term = atomic_load(&m->term);
	pthread_mutex_lock(&m->lock);
	memcpy(r->leader, m->leader, sizeof(r->leader));
	pthread_mutex_unlock(&m->lock);
	if (!full)
		return 0;
	while (m->hooks.table != NULL && r->ntables < METRICS_MAX_TABLES &&
	       (r->tables[r->ntables] = m->hooks.table(m->hooks.ctx, r->ntables)) != NULL)
		r->ntables++;
	pthread_mutex_lock(&m->lock);
	memcpy(r->reasons, m->reasons, sizeof(r->reasons));
	r->nreasons = m->nreasons;
	memcpy(r->kinds, m->kinds, sizeof(r->kinds));
	r->nkinds = m->nkinds;
	pthread_mutex_unlock(&m->lock);
	r->ldap_ok = m->hooks.ldap != NULL && m->hooks.ldap(m->hooks.ctx, &r->ldap) == 0 &&
		     r->ldap.n <= METRICS_MAX_BUCKETS;
	r->proc_ok = proc_stat(&r->cpu, &r->start, &r->rss_pages) == 0;
	return 0;
}

static void reading_close(struct reading *r)
{
	free(r->src);
}

/* ------------------------------------------------------------ the table */

/* The labels a family's samples carry. */
enum labels {
	BY_NONE,
	BY_SOURCE,
	BY_SOURCE_UNIT,
	BY_SOURCE_OP,
	BY_SOURCE_UNIT_TABLE_OP,
	BY_DECISION,
	BY_KIND,
	BY_TARGET
};

/* Where one sample is: the indexes its labels name (those it has). */
struct at {
	size_t source, unit, table, op, k;
};

/* An integer sample (n), or with decimals (x). */
struct value {
	unsigned long long n;
	double x;
};

typedef bool reader_fn(const struct reading *r, const struct at *at, struct value *v);

static const char *const op_names[METRICS_NOPS] = {"insert", "update", "delete"};

static bool rd_streaming(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->src[at->source].streaming;
	return true;
}

static bool rd_lag_bytes(const struct reading *r, const struct at *at, struct value *v)
{
	const struct metrics_source *s = &r->src[at->source];

	v->n = s->received > s->flushed ? s->received - s->flushed : 0;
	return true;
}

static bool rd_lag_seconds(const struct reading *r, const struct at *at, struct value *v)
{
	long long since = r->src[at->source].pending_since;

	/* PostgreSQL's epoch is 2000-01-01: 946684800 s after the Unix one */
	v->x = since > 0 ? r->now - (946684800.0 + (double)since / 1e6) : 0;
	if (v->x < 0)
		v->x = 0;
	return true;
}

static bool rd_confirmed_lsn(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->src[at->source].flushed;
	return true;
}

static bool rd_unit_lsn(const struct reading *r, const struct at *at, struct value *v)
{
	const struct metrics_source *s = &r->src[at->source];

	if (s->unit_lsn == NULL || at->unit >= s->nunits)
		return false;
	v->n = atomic_load(&s->unit_lsn[at->unit]);
	return true;
}

static bool rd_applied(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = (unsigned long long)r->src[at->source].applied;
	return true;
}

static bool rd_quarantined(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = (unsigned long long)r->src[at->source].quarantined;
	return true;
}

static bool rd_units_down(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = (unsigned long long)r->src[at->source].units_down;
	return true;
}

static bool rd_units_detached(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = (unsigned long long)r->src[at->source].units_detached;
	return true;
}

static bool rd_decisions(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->reasons[at->k].n;
	return true;
}

static bool rd_documents(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->kinds[at->k].n;
	return true;
}

static bool rd_active(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->n = r->active;
	return true;
}

static bool rd_term(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->n = r->term > 0 ? (unsigned long long)r->term : 0;
	return true;
}

static bool rd_appends(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->n = atomic_load(&r->m->appends);
	return true;
}

static bool rd_append_failures(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->n = atomic_load(&r->m->append_failures);
	return true;
}

static bool rd_changes(const struct reading *r, const struct at *at, struct value *v)
{
	const struct metrics_source *s = &r->src[at->source];
	const long long by_op[METRICS_NOPS] = {s->inserts, s->updates, s->deletes};

	v->n = (unsigned long long)by_op[at->op];
	return true;
}

/* Only the ones seen: 103 units by every table would drown the rest. */
static bool rd_rows_applied(const struct reading *r, const struct at *at, struct value *v)
{
	long long n = atomic_load(op_slot(r->m, at->source, at->unit, at->table, at->op));

	v->n = (unsigned long long)n;
	return n > 0;
}

static bool rd_batches(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = (unsigned long long)r->src[at->source].batches;
	return true;
}

static bool rd_retries(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->src[at->source].retries;
	return true;
}

static bool rd_directory_up(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->n = r->directory == 1;
	return true;
}

static bool rd_cpu(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->x = r->cpu;
	return true;
}

static bool rd_rss(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->n = (unsigned long long)(r->rss_pages * sysconf(_SC_PAGESIZE));
	return true;
}

static bool rd_start(const struct reading *r, const struct at *at, struct value *v)
{
	(void)at;
	v->x = r->start;
	return true;
}

static bool rd_tg_delivered(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->tg[at->k].delivered;
	return true;
}

static bool rd_tg_changes(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->tg[at->k].changes;
	return true;
}

static bool rd_tg_retries(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->tg[at->k].retries;
	return true;
}

static bool rd_tg_dead(const struct reading *r, const struct at *at, struct value *v)
{
	v->n = r->tg[at->k].dead;
	return true;
}

/* The state database's counts: absent until first read. */
static bool tg_count(long long n, struct value *v)
{
	v->n = n > 0 ? (unsigned long long)n : 0;
	return n >= 0;
}

static bool rd_tg_pending(const struct reading *r, const struct at *at, struct value *v)
{
	return tg_count(r->tg[at->k].pending, v);
}

static bool rd_tg_pending_bytes(const struct reading *r, const struct at *at, struct value *v)
{
	return tg_count(r->tg[at->k].pending_bytes, v);
}

static bool rd_tg_paused(const struct reading *r, const struct at *at, struct value *v)
{
	return tg_count(r->tg[at->k].paused_units, v);
}

static bool rd_tg_dead_open(const struct reading *r, const struct at *at, struct value *v)
{
	return tg_count(r->tg[at->k].dead_open, v);
}

static bool has_targets(const struct reading *r)
{
	return r->ntargets > 0;
}

static bool has_ldap(const struct reading *r)
{
	return r->ldap_ok;
}

static bool has_proc(const struct reading *r)
{
	return r->proc_ok;
}

/* The rows, in the order /metrics shows them; the other views name them by id. */
enum metric_id {
	M_ACTIVE,
	M_TERM,
	M_STREAMING,
	M_LAG_BYTES,
	M_LAG_SECONDS,
	M_CONFIRMED_LSN,
	M_UNIT_LSN,
	M_APPLIED,
	M_QUARANTINED,
	M_UNITS_DOWN,
	M_UNITS_DETACHED,
	M_DECISIONS,
	M_DOCUMENTS,
	M_APPENDS,
	M_APPEND_FAILURES,
	M_LDAP_SECONDS,
	M_CHANGES,
	M_ROWS_APPLIED,
	M_BATCHES,
	M_RETRIES,
	M_DIRECTORY_UP,
	M_TG_DELIVERED,
	M_TG_CHANGES,
	M_TG_RETRIES,
	M_TG_DEAD,
	M_TG_PENDING,
	M_TG_PENDING_BYTES,
	M_TG_PAUSED,
	M_TG_DEAD_OPEN,
	M_CPU,
	M_RSS,
	M_START,
	M_COUNT
};

static const struct metric {
	const char *name, *type, *help;
	enum labels by;
	int decimals;				 /* -1: an integer */
	reader_fn *read;			 /* NULL: a histogram, rendered apart */
	bool (*present)(const struct reading *); /* NULL: always */
} metric_table[M_COUNT] = {
	[M_ACTIVE] = {"syncd_active", "gauge",
		      "1 on the active instance of the cluster, 0 on a standby (it syncs and issues nothing)",
		      BY_NONE, -1, rd_active, NULL},
	[M_TERM] = {"syncd_leader_term", "gauge",
		    "the cluster's term this instance knows (each takeover adds 1)", BY_NONE, -1, rd_term,
		    NULL},
	[M_STREAMING] = {"syncd_source_streaming", "gauge", "1 while the source's replication session runs",
			 BY_SOURCE, -1, rd_streaming, NULL},
	[M_LAG_BYTES] = {"syncd_source_lag_bytes", "gauge",
			 "WAL received from the source and not yet confirmed", BY_SOURCE, -1, rd_lag_bytes,
			 NULL},
	[M_LAG_SECONDS] = {"syncd_source_lag_seconds", "gauge",
			   "age of the oldest source commit received and not yet in the units (0: none)",
			   BY_SOURCE, 3, rd_lag_seconds, NULL},
	[M_CONFIRMED_LSN] = {"syncd_source_confirmed_lsn", "gauge",
			     "WAL position confirmed to the source's slot", BY_SOURCE, -1, rd_confirmed_lsn,
			     NULL},
	[M_UNIT_LSN] = {"syncd_unit_applied_lsn", "gauge", "WAL position of the source a unit's copy holds",
			BY_SOURCE_UNIT, -1, rd_unit_lsn, NULL},
	[M_APPLIED] = {"syncd_changes_applied_total", "counter", "changes applied to the units since start",
		       BY_SOURCE, -1, rd_applied, NULL},
	[M_QUARANTINED] = {"syncd_rows_quarantined_total", "counter",
			   "rows sent to the quarantine since start", BY_SOURCE, -1, rd_quarantined, NULL},
	[M_UNITS_DOWN] = {"syncd_units_down", "gauge",
			  "units whose database is down (the slot keeps their WAL)", BY_SOURCE, -1,
			  rd_units_down, NULL},
	[M_UNITS_DETACHED] = {"syncd_units_detached", "gauge", "units detached past unit_backlog_limit",
			      BY_SOURCE, -1, rd_units_detached, NULL},
	[M_DECISIONS] = {"syncd_decisions_total", "counter", "API decisions, by outcome and reason code",
			 BY_DECISION, -1, rd_decisions, NULL},
	[M_DOCUMENTS] = {"syncd_documents_issued_total", "counter", "documents issued since start, by kind",
			 BY_KIND, -1, rd_documents, NULL},
	[M_APPENDS] = {"syncd_audit_appends_total", "counter", "rows appended to the audit log since start",
		       BY_NONE, -1, rd_appends, NULL},
	[M_APPEND_FAILURES] = {"syncd_audit_append_failures_total", "counter",
			       "audit appends that failed (the request was refused)", BY_NONE, -1,
			       rd_append_failures, NULL},
	[M_LDAP_SECONDS] = {"syncd_ldap_seconds", "histogram",
			    "time of directory operations behind decisions and logins", BY_NONE, -1, NULL,
			    has_ldap},
	[M_CHANGES] = {"syncd_changes_total", "counter",
		       "changes applied to the units in this session, by operation", BY_SOURCE_OP, -1,
		       rd_changes, NULL},
	[M_ROWS_APPLIED] = {"syncd_rows_applied_total", "counter",
			    "changes applied since start, by unit, table and operation (the ones seen)",
			    BY_SOURCE_UNIT_TABLE_OP, -1, rd_rows_applied, NULL},
	[M_BATCHES] = {"syncd_batches_total", "counter", "target transactions committed in this session",
		       BY_SOURCE, -1, rd_batches, NULL},
	[M_RETRIES] = {"syncd_stream_retries_total", "counter",
		       "stream sessions ended by an error and retried", BY_SOURCE, -1, rd_retries, NULL},
	[M_DIRECTORY_UP] = {"syncd_directory_up", "gauge", "1 while the LDAP directory answers", BY_NONE, -1,
			    rd_directory_up, NULL},
	[M_TG_DELIVERED] = {"syncd_target_batches_delivered_total", "counter",
			    "batches an HTTP target's receiver answered 2xx since start", BY_TARGET, -1,
			    rd_tg_delivered, has_targets},
	[M_TG_CHANGES] = {"syncd_target_changes_delivered_total", "counter",
			  "changes in the batches delivered since start", BY_TARGET, -1, rd_tg_changes,
			  has_targets},
	[M_TG_RETRIES] = {"syncd_target_retries_total", "counter",
			  "sends that failed and will be tried again (5xx, 429, timeouts, ...)", BY_TARGET,
			  -1, rd_tg_retries, has_targets},
	[M_TG_DEAD] = {"syncd_target_dead_letters_total", "counter",
		       "batches refused for good since start (dead letters)", BY_TARGET, -1, rd_tg_dead,
		       has_targets},
	[M_TG_PENDING] = {"syncd_target_pending_batches", "gauge", "batches queued and not yet delivered",
			  BY_TARGET, -1, rd_tg_pending, has_targets},
	[M_TG_PENDING_BYTES] = {"syncd_target_pending_bytes", "gauge",
				"bytes of the batches not yet delivered (dead ones included)", BY_TARGET, -1,
				rd_tg_pending_bytes, has_targets},
	[M_TG_PAUSED] = {"syncd_target_paused_units", "gauge",
			 "units whose delivery waits behind a dead letter (alert when > 0)", BY_TARGET, -1,
			 rd_tg_paused, has_targets},
	[M_TG_DEAD_OPEN] = {"syncd_target_dead_letters_open", "gauge",
			    "dead letters no operator has retried or discarded yet", BY_TARGET, -1,
			    rd_tg_dead_open, has_targets},
	[M_CPU] = {"process_cpu_seconds_total", "counter", "user and system CPU time", BY_NONE, 2, rd_cpu,
		   has_proc},
	[M_RSS] = {"process_resident_memory_bytes", "gauge", "resident memory", BY_NONE, -1, rd_rss,
		   has_proc},
	[M_START] = {"process_start_time_seconds", "gauge", "start time since the epoch", BY_NONE, 0,
		     rd_start, has_proc},
};

/* One fact of one source, as the table reads it (for the views that are not /metrics). */
static unsigned long long fact(const struct reading *r, enum metric_id id, size_t source)
{
	struct at at = {.source = source};
	struct value v = {0};

	metric_table[id].read(r, &at, &v);
	return v.n;
}

/* ------------------------------------------------------------ /metrics */

static int unit_code(const struct reading *r, size_t u)
{
	const char *name;
	int code = 0;

	if (r->m->hooks.unit == NULL || !r->m->hooks.unit(r->m->hooks.ctx, u, &code, &name))
		return 0;
	return code;
}

static void labels_text(const struct reading *r, enum labels by, const struct at *at, char *out,
			size_t outlen)
{
	const char *src = by != BY_NONE && by != BY_DECISION && by != BY_KIND && by != BY_TARGET
				  ? r->m->names[at->source]
				  : "";

	switch (by) {
	case BY_NONE: out[0] = '\0'; break;
	case BY_SOURCE: snprintf(out, outlen, "{source=\"%s\"}", src); break;
	case BY_SOURCE_UNIT:
		snprintf(out, outlen, "{source=\"%s\",unit=\"%05d\"}", src, unit_code(r, at->unit));
		break;
	case BY_SOURCE_OP: snprintf(out, outlen, "{source=\"%s\",op=\"%s\"}", src, op_names[at->op]); break;
	case BY_SOURCE_UNIT_TABLE_OP:
		snprintf(out, outlen, "{source=\"%s\",unit=\"%05d\",table=\"%s\",op=\"%s\"}", src,
			 unit_code(r, at->unit), r->tables[at->table], op_names[at->op]);
		break;
	case BY_DECISION:
		snprintf(out, outlen, "{outcome=\"%s\",reason=\"%s\"}", r->reasons[at->k].outcome,
			 r->reasons[at->k].reason[0] ? r->reasons[at->k].reason : "none");
		break;
	case BY_KIND: snprintf(out, outlen, "{kind=\"%s\"}", r->kinds[at->k].kind); break;
	case BY_TARGET: snprintf(out, outlen, "{target=\"%s\"}", r->tg[at->k].name); break;
	}
}

static int sample(const struct reading *r, const struct metric *f, const struct at *at, struct buf *b)
{
	struct value v = {0};
	char labels[512];

	if (!f->read(r, at, &v))
		return 0;
	labels_text(r, f->by, at, labels, sizeof(labels));
	if (f->decimals < 0)
		return buf_printf(b, "%s%s %llu\n", f->name, labels, v.n);
	return buf_printf(b, "%s%s %.*f\n", f->name, labels, f->decimals, v.x);
}

/* Every sample of a family: the labels it has set the loops, the others run once. */
static int samples(const struct reading *r, const struct metric *f, struct buf *b)
{
	bool by_source = f->by == BY_SOURCE || f->by == BY_SOURCE_UNIT || f->by == BY_SOURCE_OP ||
			 f->by == BY_SOURCE_UNIT_TABLE_OP;
	bool by_unit = f->by == BY_SOURCE_UNIT || f->by == BY_SOURCE_UNIT_TABLE_OP;
	bool by_op = f->by == BY_SOURCE_OP || f->by == BY_SOURCE_UNIT_TABLE_OP;
	size_t ns = by_source ? r->m->nsources : 1, nu = by_unit ? r->m->nunits : 1,
	       nt = f->by == BY_SOURCE_UNIT_TABLE_OP ? r->ntables : 1, no = by_op ? METRICS_NOPS : 1,
	       nk = f->by == BY_DECISION ? r->nreasons
		    : f->by == BY_KIND	 ? r->nkinds
		    : f->by == BY_TARGET ? r->ntargets
					 : 1;
	struct at at;

	for (at.source = 0; at.source < ns; at.source++)
		for (at.unit = 0; at.unit < nu; at.unit++)
			for (at.table = 0; at.table < nt; at.table++)
				for (at.op = 0; at.op < no; at.op++)
					for (at.k = 0; at.k < nk; at.k++)
						if (sample(r, f, &at, b) < 0)
							return -1;
	return 0;
}

static int histogram(const struct reading *r, const struct metric *f, struct buf *b)
{
	const struct metrics_histogram *h = &r->ldap;
	unsigned long cum = 0;

	for (size_t k = 0; k < h->n; k++) {
		cum += h->counts[k];
		if (buf_printf(b, "%s_bucket{le=\"%g\"} %lu\n", f->name, h->bounds[k], cum) < 0)
			return -1;
	}
	cum += h->counts[h->n];
	return buf_printf(b, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.6f\n%s_count %lu\n", f->name, cum, f->name,
			  h->sum, f->name, cum);
}

int metrics_render(struct metrics *m, struct buf *out)
{
	struct reading *r = malloc(sizeof(*r));
	int bad = 0;

	if (r == NULL || reading_open(m, r, true) < 0) {
		free(r);
		return -1;
	}
	for (size_t i = 0; i < M_COUNT && !bad; i++) {
		const struct metric *f = &metric_table[i];

		if (f->present != NULL && !f->present(r))
			continue;
		bad |= buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type) <
		       0;
		bad |= (f->read == NULL ? histogram(r, f, out) : samples(r, f, out)) < 0;
	}
	reading_close(r);
	free(r);
	return bad ? -1 : 0;
}

/* ------------------------------------------------------------ STATUS, /readyz, /v1/status */

static const char *source_state(const struct reading *r, size_t i)
{
	return fact(r, M_STREAMING, i) ? "streaming" : "reconnecting";
}

static const char *directory_text(const struct reading *r)
{
	return r->directory < 0 ? "not configured" : r->directory ? "reachable" : "unreachable";
}

/* What a standby says of itself: the word "standby" and who is active. */
static const char *standby_text(struct reading *r)
{
	static __thread char text[300];

	snprintf(text, sizeof(text),
		 "standby: %s; this instance syncs and issues nothing until it takes over",
		 r->leader[0] ? r->leader : "no active instance yet");
	return text;
}

void metrics_set_leader(struct metrics *m, bool active, long long term, const char *leader)
{
	atomic_store(&m->term, term);
	pthread_mutex_lock(&m->lock);
	snprintf(m->leader, sizeof(m->leader), "%s", leader != NULL ? leader : "");
	pthread_mutex_unlock(&m->lock);
	atomic_store(&m->active, active);
}

bool metrics_active(struct metrics *m, char *leader, size_t leaderlen)
{
	pthread_mutex_lock(&m->lock);
	snprintf(leader, leaderlen, "%s", m->leader);
	pthread_mutex_unlock(&m->lock);
	return atomic_load(&m->active) != 0;
}

void metrics_features_off(struct metrics *m, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", m->features.documents ? "" : "documents (no documents.json), ",
		 m->features.signing ? "" : "signing (no signing_key_file), ",
		 m->features.delegation ? "" : "delegation (no [ldap]), ");
	if (strlen(out) >= 2)
		out[strlen(out) - 2] = '\0';
}

static size_t status_source(const struct reading *r, size_t i, char *out, size_t outlen)
{
	int down = (int)fact(r, M_UNITS_DOWN, i), det = (int)fact(r, M_UNITS_DETACHED, i);
	size_t n;

	n = (size_t)snprintf(out, outlen, "%s%s: %s, lag %llu kB%s", i ? "; " : "", r->m->names[i],
			     r->src[i].ended ? "stopped" : source_state(r, i), fact(r, M_LAG_BYTES, i) / 1024,
			     down || det ? "" : ", all units");
	if (n < outlen && (down || det))
		n += (size_t)snprintf(out + n, outlen - n, ", %d units down, %d detached", down, det);
	return n;
}

/* "; target onestop: 12 batches waiting, 1 unit PAUSED (syncctl deadletter list)" */
static size_t status_target(const struct metrics_target *t, char *out, size_t outlen)
{
	size_t n = (size_t)snprintf(out, outlen, "; target %s: ", t->name);

	if (n >= outlen)
		return outlen;
	if (t->pending < 0)
		n += (size_t)snprintf(out + n, outlen - n, "starting");
	else if (t->paused_units > 0)
		n += (size_t)snprintf(out + n, outlen - n,
				      "%lld batches waiting, %lld unit%s PAUSED (syncctl deadletter list)",
				      t->pending, t->paused_units, t->paused_units == 1 ? "" : "s");
	else
		n += (size_t)snprintf(out + n, outlen - n, "%lld batches waiting", t->pending);
	return n < outlen ? n : outlen;
}

void metrics_status_line(struct metrics *m, char *out, size_t outlen)
{
	struct reading r;
	long long quarantined = 0;
	char off[160];
	size_t n = 0;

	out[0] = '\0';
	if (reading_open(m, &r, false) < 0) {
		snprintf(out, outlen, "out of memory");
		return;
	}
	if (!r.active) {
		snprintf(out, outlen, "%s", standby_text(&r));
		reading_close(&r);
		return;
	}
	for (size_t i = 0; i < m->nsources && n < outlen; i++) {
		quarantined += (long long)fact(&r, M_QUARANTINED, i);
		n += status_source(&r, i, out + n, outlen - n);
	}
	for (size_t i = 0; i < r.ntargets && n < outlen; i++)
		n += status_target(&r.tg[i], out + n, outlen - n);
	if (n < outlen)
		snprintf(out + n, outlen - n, "; %lld quarantined since start; directory %s", quarantined,
			 r.directory == 0 ? "UNREACHABLE" : directory_text(&r));
	n = strlen(out);
	metrics_features_off(m, off, sizeof(off));
	if (off[0] != '\0' && n < outlen)
		snprintf(out + n, outlen - n, "; off: %s", off);
	n = strlen(out);
	if (r.term > 0 && n < outlen) /* in an election: say so (a standby said it above) */
		snprintf(out + n, outlen - n, "; active, term %lld", r.term);
	reading_close(&r);
}

/* 200 while every source streams (units down or the directory unreachable
 * make it "degraded", still ready: the other units keep syncing); 503 else. */
json_t *metrics_readyz(struct metrics *m, bool *ready)
{
	struct reading r;
	bool degraded = false;
	json_t *srcs, *j;

	*ready = true;
	if (reading_open(m, &r, false) < 0)
		return NULL;
	if (!r.active) { /* a load balancer sends nothing to a standby */
		*ready = false;
		j = json_pack("{s:b,s:s,s:s,s:I,s:s}", "ready", false, "role", "standby", "active_instance",
			      r.leader, "term", (json_int_t)r.term, "message", standby_text(&r));
		reading_close(&r);
		return j;
	}
	srcs = json_array();
	for (size_t i = 0; i < m->nsources; i++) {
		int down = (int)fact(&r, M_UNITS_DOWN, i), det = (int)fact(&r, M_UNITS_DETACHED, i);

		*ready &= fact(&r, M_STREAMING, i) != 0;
		degraded |= down > 0 || det > 0;
		json_array_append_new(srcs, json_pack("{s:s,s:s,s:i,s:i}", "name", m->names[i], "state",
						      source_state(&r, i), "units_down", down,
						      "units_detached", det));
	}
	degraded |= r.directory == 0;
	for (size_t i = 0; i < r.ntargets; i++)
		degraded |= r.tg[i].paused_units > 0;
	j = json_pack("{s:b,s:s,s:I,s:b,s:o,s:s,s:{s:b,s:b,s:b}}", "ready", *ready, "role", "active", "term",
		      (json_int_t)r.term, "degraded", degraded, "sources", srcs, "directory",
		      directory_text(&r), "features", "documents", m->features.documents, "signing",
		      m->features.signing, "delegation", m->features.delegation);
	reading_close(&r);
	return j;
}

static void lsn_text(unsigned long long lsn, char *out, size_t outlen)
{
	snprintf(out, outlen, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

static json_t *status_source_json(const struct reading *r, size_t i, json_t *quarantined)
{
	json_t *qn = quarantined ? json_object_get(quarantined, r->m->names[i]) : NULL;
	char r1[32], f1[32];

	lsn_text(r->src[i].received, r1, sizeof(r1));
	lsn_text(fact(r, M_CONFIRMED_LSN, i), f1, sizeof(f1));
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:i,s:i}", "name", r->m->names[i], "state",
			 source_state(r, i), "received_lsn", r1, "confirmed_lsn", f1, "lag_bytes",
			 (json_int_t)fact(r, M_LAG_BYTES, i), "applied_since_start",
			 (json_int_t)fact(r, M_APPLIED, i), "quarantined_since_start",
			 (json_int_t)fact(r, M_QUARANTINED, i), "quarantined",
			 (json_int_t)(qn ? json_integer_value(qn) : 0), "units_down",
			 (int)fact(r, M_UNITS_DOWN, i), "units_detached", (int)fact(r, M_UNITS_DETACHED, i));
}

static json_t *status_unit_json(const struct reading *r, size_t u, int code, const char *name)
{
	json_t *per = json_object();
	char c[12];

	snprintf(c, sizeof(c), "%05d", code);
	for (size_t i = 0; i < r->m->nsources; i++) {
		struct at at = {.source = i, .unit = u};
		struct value v;
		char l[32];

		if (!metric_table[M_UNIT_LSN].read(r, &at, &v))
			continue;
		lsn_text(v.n, l, sizeof(l));
		json_object_set_new(per, r->m->names[i], json_string(l));
	}
	return json_pack("{s:s,s:s,s:o}", "code", c, "name", name, "applied_lsn", per);
}

/* -1 (not read yet) as null */
static json_t *count_json(long long n)
{
	return n < 0 ? json_null() : json_integer(n);
}

static json_t *targets_json(const struct reading *r)
{
	json_t *a = json_array();

	for (size_t i = 0; i < r->ntargets; i++) {
		const struct metrics_target *t = &r->tg[i];

		json_array_append_new(
			a, json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "name", t->name,
				     "delivered_batches", (json_int_t)t->delivered, "delivered_changes",
				     (json_int_t)t->changes, "retries", (json_int_t)t->retries,
				     "dead_letters", (json_int_t)t->dead, "pending_batches",
				     count_json(t->pending), "pending_bytes", count_json(t->pending_bytes),
				     "paused_units", count_json(t->paused_units), "dead_letters_open",
				     count_json(t->dead_open)));
	}
	return a;
}

json_t *metrics_status(struct metrics *m, json_t *quarantined)
{
	struct reading r;
	json_t *srcs, *units, *j;
	const char *name;
	int code;

	if (reading_open(m, &r, false) < 0)
		return NULL;
	srcs = json_array();
	units = json_array();
	for (size_t i = 0; i < m->nsources; i++)
		json_array_append_new(srcs, status_source_json(&r, i, quarantined));
	for (size_t u = 0;
	     u < m->nunits && m->hooks.unit != NULL && m->hooks.unit(m->hooks.ctx, u, &code, &name); u++)
		json_array_append_new(units, status_unit_json(&r, u, code, name));
	j = json_pack("{s:s,s:I,s:s,s:o,s:o,s:o,s:s}", "role", r.active ? "active" : "standby", "term",
		      (json_int_t)r.term, "active_instance", r.leader, "sources", srcs, "units", units,
		      "targets", targets_json(&r), "directory", directory_text(&r));
	reading_close(&r);
	return j;
}
