/* leader.c — the lease that makes one instance of a cluster the active one
 * and the others standbys, renewed in a thread of its own; see leader.h. */
#include "syncd/leader.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fence.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/schema.h"

struct leader {
	struct leader_conf c;
	char lease_text[16];
	PGconn *conn;
	bool schema_ok; /* syncd_leader exists: the state schema was applied */
	atomic_bool active;
	int64_t term;
	_Atomic double renewed; /* monotonic time the last successful renewal was sent */
	pthread_mutex_t lock;
	char who[200];
	pthread_t thread;
	bool started;
	atomic_bool stop;
	void (*on_change)(void *ctx, int state);
	void *ctx;
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void leader_holder(const char *listen, char *out, size_t outlen)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, outlen, "%s %s", host, listen != NULL ? listen : "-");
}

struct leader *leader_new(const struct leader_conf *c)
{
	struct leader *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->c = *c;
	snprintf(l->lease_text, sizeof(l->lease_text), "%ld", c->lease);
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

/* The connection: short timeouts, so a round never hangs on a lock (a
 * takeover waits for an audit batch in flight) or a dead server. */
static int conn_open(struct leader *l, char *err, size_t errlen)
{
	const struct pg_connect_opts o = {.conninfo = l->c.conninfo,
					  .password = l->c.password,
					  .appname = "syncd-leader",
					  .what = "state database",
					  .pin_search_path = true,
					  .quiet = true,
					  .connect_timeout = 3,
					  /* a network that drops packets must not hold a
					   * round past the lease */
					  .tcp_user_timeout_ms = (int)(l->c.lease * 400)};

	if (l->conn != NULL && PQstatus(l->conn) == CONNECTION_OK)
		return 0;
	PQfinish(l->conn);
	l->conn = pg_connect(&o, err, errlen);
	if (l->conn == NULL)
		return -1;
	if ((!l->schema_ok && schema_apply(l->conn, err, errlen) < 0) ||
	    pg_exec(l->conn, "SET lock_timeout = '2s'; SET statement_timeout = '5s'", err, errlen) < 0) {
		PQfinish(l->conn);
		l->conn = NULL;
		return -1;
	}
	l->schema_ok = true;
	return 0;
}

/* The lease's row as the standby sees it, for the status: who and term. */
static void who_read(struct leader *l)
{
	const char *params[1] = {l->c.cluster};
	char err[256], who[200] = "";
	PGresult *r = pg_query(
		l->conn,
		"SELECT holder, pid, term, expires_at > now() FROM public.syncd_leader WHERE name = $1", 1,
		params, err, sizeof(err));

	if (r != NULL && PQntuples(r) == 1)
		snprintf(who, sizeof(who), "%s, pid %s, term %s%s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
			 PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3)[0] == 't' ? "" : " (lease run out)");
	PQclear(r);
	pthread_mutex_lock(&l->lock);
	snprintf(l->who, sizeof(l->who), "%s", who);
	pthread_mutex_unlock(&l->lock);
}

/* The standby's try: the row if free, run out, or this instance's own. */
static int take(struct leader *l, char *err, size_t errlen)
{
	char pid[16];
	const char *params[4] = {l->c.cluster, l->c.holder, pid, l->lease_text};
	double sent = mono_now();
	PGresult *r;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	r = pg_query(
		l->conn,
		"INSERT INTO public.syncd_leader AS l (name, term, holder, pid, expires_at) "
		"VALUES ($1, 1, $2, $3, now() + make_interval(secs => $4::int)) "
		"ON CONFLICT (name) DO UPDATE SET term = l.term + 1, holder = EXCLUDED.holder, "
		"pid = EXCLUDED.pid, acquired_at = now(), renewed_at = now(), expires_at = EXCLUDED.expires_at "
		"WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder RETURNING term",
		4, params, err, errlen);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		l->term = atoll(PQgetvalue(r, 0, 0));
		l->renewed = sent;
		fence_set(l->term);
		l->active = true;
	}
	PQclear(r);
	return l->active ? 1 : 0;
}

/* The active instance's renewal: 1 renewed, 0 the row is another's. */
static int renew(struct leader *l, char *err, size_t errlen)
{
	char term[24];
	const char *params[3] = {l->c.cluster, term, l->lease_text};
	double sent = mono_now();
	PGresult *r;
	int n;

	snprintf(term, sizeof(term), "%lld", (long long)l->term);
	r = pg_query(
		l->conn,
		"UPDATE public.syncd_leader SET renewed_at = now(), "
		"expires_at = now() + make_interval(secs => $3::int) WHERE name = $1 AND term = $2 RETURNING term",
		3, params, err, errlen);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	if (n == 1)
		l->renewed = sent;
	return n == 1;
}

/* Renewal must succeed well inside the lease: a standby may take the row
 * the moment it runs out, so this instance stops first. */
static bool lease_short(const struct leader *l)
{
	double margin = l->c.lease / 5.0 < 1.0 ? 1.0 : l->c.lease / 5.0;

	return mono_now() - l->renewed >= (double)l->c.lease - margin;
}

bool leader_expiring(struct leader *l)
{
	return atomic_load(&l->active) && lease_short(l);
}

int leader_round(struct leader *l, char *err, size_t errlen)
{
	int r;

	err[0] = '\0';
	if (conn_open(l, err, errlen) < 0) {
		if (l->active && lease_short(l))
			goto lost;
		return -1;
	}
	if (l->active) {
		r = renew(l, err, errlen);
		if (r == 0) {
			snprintf(err, errlen, "another instance took the lease of cluster \"%s\"",
				 l->c.cluster);
			goto lost;
		}
		if (r < 0 && lease_short(l))
			goto lost;
		if (r < 0) {
			PQfinish(l->conn); /* the next round connects afresh */
			l->conn = NULL;
			return -1;
		}
		who_read(l);
		return 1;
	}
	r = take(l, err, errlen);
	if (r < 0) {
		PQfinish(l->conn);
		l->conn = NULL;
		return -1;
	}
	who_read(l);
	return r;
lost:
	l->active = false;
	fence_set(0);
	return 2;
}

void leader_who(struct leader *l, char *out, size_t outlen)
{
	pthread_mutex_lock(&l->lock);
	snprintf(out, outlen, "%s", l->who);
	pthread_mutex_unlock(&l->lock);
}

int64_t leader_term(const struct leader *l)
{
	return l->term;
}

void leader_release(struct leader *l)
{
	char term[24], err[256];
	const char *params[2] = {l->c.cluster, term};
	PGresult *r;

	if (!l->active || conn_open(l, err, sizeof(err)) < 0)
		return;
	snprintf(term, sizeof(term), "%lld", (long long)l->term);
	r = pg_query(l->conn,
		     "UPDATE public.syncd_leader SET expires_at = now() WHERE name = $1 AND term = $2", 2,
		     params, err, sizeof(err));
	PQclear(r);
	l->active = false;
	fence_set(0);
}

static void *leader_main(void *arg)
{
	struct leader *l = arg;
	long step_ms = l->c.lease * 250 > 2000 ? 2000 : l->c.lease * 250;
	int last = -1;
	bool failing = false;
	char err[1024];

	log_set_context("leader");
	while (!atomic_load(&l->stop)) {
		int r = leader_round(l, err, sizeof(err));

		if (r < 0 && !failing)
			log_warn("%s; the lease of cluster \"%s\" is tried again every %ld ms", err,
				 l->c.cluster, step_ms);
		if (r >= 0 && failing)
			log_info("the state database answers again (cluster \"%s\")", l->c.cluster);
		failing = r < 0;
		if (r >= 0 && r != last) {
			last = r;
			l->on_change(l->ctx, r);
		}
		if (r == 2)
			break;
		for (long t = 0; t < step_ms && !atomic_load(&l->stop); t += 50)
			usleep(50000);
	}
	return NULL;
}

int leader_start(struct leader *l, void (*on_change)(void *ctx, int state), void *ctx)
{
	l->on_change = on_change;
	l->ctx = ctx;
	if (pthread_create(&l->thread, NULL, leader_main, l) != 0)
		return -1;
	l->started = true;
	return 0;
}

void leader_stop(struct leader *l)
{
	if (l == NULL || !l->started)
		return;
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	l->started = false;
}

void leader_free(struct leader *l)
{
	if (l == NULL)
		return;
	leader_stop(l);
	PQfinish(l->conn);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
