/* api.h — syncd's HTTP API (libmicrohttpd, thread pool): JSON in and out,
 * errors {"error","message"}, a request id on every log line and response,
 * HTTP Basic checked against LDAP, failed logins slowed down per user and
 * per client; browser sessions (cookie + CSRF token) and the embedded web
 * page.  Endpoints: see docs/api.md; the rest of syncd calls only this. */
#ifndef SYNCD_API_API_H
#define SYNCD_API_API_H

#include <stddef.h>

#include "authz/audit.h"
#include "authz/authz.h"
#include "syncd/config.h"
#include "syncd/documents/documents.h"
#include "syncd/metrics.h"
#include "syncd/sync/routing.h"

struct api;

/* What the API serves from.  az may be NULL (no [ldap]: every authenticated
 * endpoint answers 503); signer NULL: documents cannot be issued (503). */
struct api_deps {
	const struct config *cfg;
	const struct routing *rt;
	struct authz *az;
	struct audit *audit;
	const struct signer *signer;
	const struct documents *docs;
	struct metrics *metrics; /* /metrics, /readyz and /v1/status read it; the API counts in it */
};

/* Listens on cfg->listen (TLS when tls_cert_file/tls_key_file are set;
 * otherwise a loopback address only).  NULL with err set on failure. */
struct api *api_start(const struct api_deps *deps, char *err, size_t errlen);
void api_stop(struct api *api);

/* A reload: the trusted proxies and the sessions' timeouts of ncfg. */
void api_reload(struct api *api, const struct config *ncfg);

/* Parses "ADDRESS:PORT" / "[v6]:PORT" into a socket address; also tells
 * whether it is a loopback address.  0 or -1. */
int api_listen_parse(const char *listen, void *sockaddr_storage, unsigned *len, int *loopback);

#endif
