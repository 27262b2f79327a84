/* pg_util.c — see pg_util.h. */
#include "connectors/pg_util.h"

#include <stdio.h>
#include <string.h>

/* libpq messages end in '\n'; ours are single lines. */
static void copy_msg(char *err, size_t errlen, const char *prefix, const char *msg)
{
	size_t n;

	snprintf(err, errlen, "%s%s", prefix, msg);
	/* one log line per message: libpq's DETAIL/HINT lines become "; " */
	for (char *p = err; (p = strchr(p, '\n')) != NULL;) {
		if (p[1] == '\0') {
			*p = '\0';
			break;
		}
		*p = ';';
		if (p[1] == '\t')
			p[1] = ' ';
	}
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

PGconn *pgu_connect(const char *conninfo, const char *password, bool replication, char *err, size_t errlen)
{
	const char *kw[5], *val[5];
	int n = 0;
	PGconn *conn;

	kw[n] = "dbname";
	val[n++] = conninfo;
	kw[n] = "fallback_application_name";
	val[n++] = "syncd";
	if (password != NULL) {
		kw[n] = "password";
		val[n++] = password;
	}
	if (replication) {
		kw[n] = "replication";
		val[n++] = "database";
	}
	kw[n] = NULL;
	val[n] = NULL;
	conn = PQconnectdbParams(kw, val, 1);
	if (conn == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		copy_msg(err, errlen, "", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	/* COPY text depends on these; both ends must agree (pg_dump does the same) */
	if (pgu_exec(
		    conn,
		    "SET client_min_messages = warning; SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; "
		    "SET extra_float_digits = 3; SET client_encoding = 'UTF8'",
		    err, errlen) < 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

int pgu_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		copy_msg(err, errlen, "", PQerrorMessage(conn));
		r = -1;
	}
	PQclear(res);
	return r;
}

PGresult *pgu_query(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
		    size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		copy_msg(err, errlen, "", PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

int pgu_copy_in(PGconn *conn, const char *copy_sql, const char *data, size_t len, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, copy_sql);
	int r = 0;

	err[0] = '\0';
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		copy_msg(err, errlen, "", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	/* a huge chunk goes in pieces: PQputCopyData takes an int length */
	while (len > 0 && r == 0) {
		size_t n = len > (1u << 30) ? (1u << 30) : len;

		if (PQputCopyData(conn, data, (int)n) != 1)
			r = -1;
		data += n;
		len -= n;
	}
	if (PQputCopyEnd(conn, r == 0 ? NULL : "syncd: send failed") != 1)
		r = -1;
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (r == 0)
				copy_msg(err, errlen, "", PQerrorMessage(conn));
			r = -1;
		}
		PQclear(res);
	}
	if (r < 0 && err[0] == '\0')
		copy_msg(err, errlen, "", PQerrorMessage(conn));
	return r;
}

int pgu_append_ident(PGconn *conn, struct buf *b, const char *ident)
{
	char *q = PQescapeIdentifier(conn, ident, strlen(ident));
	int r;

	if (q == NULL)
		return -1;
	r = buf_puts(b, q);
	PQfreemem(q);
	return r;
}
