/* pg.c — the one libpq helper: connect, one-line errors, the notice
 * processor, exec/query/COPY (see pg.h). */
#include "common/pg.h"

#include <stdio.h>
#include <string.h>

/* "already exists, skipping" and the like are nobody's business */
static void pg_notice_discard(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

void pg_one_line(char *msg)
{
	size_t n;

	/* one log line per message: libpq's DETAIL/HINT lines follow a ';' */
	for (char *p = msg; (p = strchr(p, '\n')) != NULL;) {
		if (p[1] == '\0') {
			*p = '\0';
			break;
		}
		*p = ';';
		if (p[1] == '\t')
			p[1] = ' ';
	}
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
}

void pg_error(PGconn *c, const char *what, char *err, size_t errlen)
{
	const char *msg = c ? PQerrorMessage(c) : "out of memory";

	if (what != NULL)
		snprintf(err, errlen, "%s: %s", what, msg);
	else
		snprintf(err, errlen, "%s", msg);
	pg_one_line(err);
}

PGconn *pg_connect(const struct pg_connect_opts *o, char *err, size_t errlen)
{
	/* A server that vanishes (packets dropped, not refused) must not hang
	 * a thread for the kernel's quarter of an hour: these come before the
	 * conninfo, so its own values win (a service file's do not: set them
	 * in the conninfo). */
	static const char *const timeouts[][2] = {{"connect_timeout", "10"},
						  {"keepalives_idle", "10"},
						  {"keepalives_interval", "5"},
						  {"keepalives_count", "3"},
						  {"tcp_user_timeout", "30000"}};
	const char *kw[14], *val[14];
	char timeout[16], user_timeout[16];
	int n = 0;
	PGconn *c;
	PGresult *res;

	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		kw[n] = timeouts[i][0];
		val[n++] = timeouts[i][1];
	}
	/* a caller's own (the lease's), still before the conninfo */
	if (o->connect_timeout > 0) {
		snprintf(timeout, sizeof(timeout), "%d", o->connect_timeout);
		kw[n] = "connect_timeout";
		val[n++] = timeout;
	}
	if (o->tcp_user_timeout_ms > 0) {
		snprintf(user_timeout, sizeof(user_timeout), "%d", o->tcp_user_timeout_ms);
		kw[n] = "tcp_user_timeout";
		val[n++] = user_timeout;
	}
	kw[n] = "dbname";
	val[n++] = o->conninfo;
	kw[n] = "fallback_application_name";
	val[n++] = o->appname ? o->appname : "syncd";
	if (o->pin_search_path) { /* options is sent before any query can be shadowed */
		kw[n] = "options";
		val[n++] = "-c search_path=pg_catalog,public";
	}
	if (o->password != NULL) {
		kw[n] = "password";
		val[n++] = o->password;
	}
	if (o->replication) {
		kw[n] = "replication";
		val[n++] = "database";
	}
	kw[n] = NULL;
	val[n] = NULL;
	c = PQconnectdbParams(kw, val, 1);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		pg_error(c, o->what, err, errlen);
		PQfinish(c);
		return NULL;
	}
	if (o->quiet)
		PQsetNoticeProcessor(c, pg_notice_discard, NULL);
	res = NULL;
	if (o->copy_session &&
	    PQresultStatus(res = PQexec(c, "SET client_min_messages = warning; SET datestyle = 'ISO, YMD'; "
					   "SET intervalstyle = 'postgres'; SET extra_float_digits = 3; "
					   "SET client_encoding = 'UTF8'")) != PGRES_COMMAND_OK) {
		pg_error(c, o->what, err, errlen);
		PQclear(res);
		PQfinish(c);
		return NULL;
	}
	PQclear(res);
	return c;
}

PGconn *pg_connect_state(const char *conninfo, const char *password, const char *appname, char *err,
			 size_t errlen)
{
	const struct pg_connect_opts o = {.conninfo = conninfo,
					  .password = password,
					  .appname = appname,
					  .what = "state database",
					  .pin_search_path = true,
					  .quiet = true};

	return pg_connect(&o, err, errlen);
}

int pg_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(c, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(c, NULL, err, errlen);
		r = -1;
	}
	PQclear(res);
	return r;
}

PGresult *pg_query(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
		   size_t errlen)
{
	PGresult *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(c, NULL, err, errlen);
		PQclear(res);
		return NULL;
	}
	return res;
}

int pg_copy_in(PGconn *c, const char *copy_sql, const char *data, size_t len, char *err, size_t errlen)
{
	PGresult *res = PQexec(c, copy_sql);
	int r = 0;

	err[0] = '\0';
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		pg_error(c, NULL, err, errlen);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	/* a huge chunk goes in pieces: PQputCopyData takes an int length */
	while (len > 0 && r == 0) {
		size_t n = len > (1u << 30) ? (1u << 30) : len;

		if (PQputCopyData(c, data, (int)n) != 1)
			r = -1;
		data += n;
		len -= n;
	}
	if (PQputCopyEnd(c, r == 0 ? NULL : "syncd: send failed") != 1)
		r = -1;
	while ((res = PQgetResult(c)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (r == 0)
				pg_error(c, NULL, err, errlen);
			r = -1;
		}
		PQclear(res);
	}
	if (r < 0 && err[0] == '\0')
		pg_error(c, NULL, err, errlen);
	return r;
}

int pg_append_ident(PGconn *c, struct buf *b, const char *ident)
{
	char *q = PQescapeIdentifier(c, ident, strlen(ident));
	int r;

	if (q == NULL)
		return -1;
	r = buf_puts(b, q);
	PQfreemem(q);
	return r;
}
