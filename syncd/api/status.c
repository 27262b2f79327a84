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

/* 200 while every source streams, 503 else: the body says which and why. */
enum MHD_Result ep_readyz(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole)
{
	bool ready;
	json_t *j = metrics_readyz(api->deps.metrics, &ready);
	(void)me;
	(void)hole;

	return respond_json(c, rq, ready ? 200 : 503, j);
}

enum MHD_Result ep_metrics(struct api *api, struct MHD_Connection *c, struct req *rq,
			   const struct authz_user *me, const char *hole)
{
	struct buf b = {0};
	(void)me;
	(void)hole;

	if (metrics_render(api->deps.metrics, &b) < 0) {
		buf_free(&b);
		return respond_error(c, rq, 500, "internal", "out of memory");
	}
	return respond(c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

/* GET /v1/status: sources and units as syncd sees them, and the quarantine
 * by source (state DB); no personal data, no login (like /metrics). */
enum MHD_Result ep_status(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole)
{
	json_t *q = json_object(), *j;
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
	j = metrics_status(api->deps.metrics, q);
	json_decref(q);
	return respond_json(c, rq, 200, j);
}

enum MHD_Result ep_healthz(struct api *api, struct MHD_Connection *c, struct req *rq,
			   const struct authz_user *me, const char *hole)
{
	(void)api;
	(void)me;
	(void)hole;
	return respond_json(c, rq, 200, json_pack("{s:s}", "status", "ok"));
}
