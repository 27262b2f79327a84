/* tee.h — several destinations behind one connector_ops (a unit's [tier]
 * copy plus its HTTP targets with mode = also).  Writes go to every child,
 * reads to the first; commit runs the first child last. */
#ifndef SYNCD_CONNECTORS_TEE_H
#define SYNCD_CONNECTORS_TEE_H

#include <stddef.h>

#include "connectors/connector.h"

#define TEE_MAX 8

struct tee_child {
	const struct connector_ops *ops;
	const char *conninfo;
	const char *password;
	const void *opts;
};

/* opts of tee_ops.open (its own conninfo and password are unused).  child[0]
 * is the primary: fetch, describe and checkpoint_get read from it. */
struct tee_conf {
	size_t n;
	struct tee_child child[TEE_MAX];
};

extern const struct connector_ops tee_ops;

#endif
