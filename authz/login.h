/* login.h — who is asking: the one directory entry of a uid, and HTTP Basic
 * logins checked by a bind as the user, a success cached as an HMAC. */
#ifndef SYNCD_AUTHZ_LOGIN_H
#define SYNCD_AUTHZ_LOGIN_H

#include <stddef.h>

#include "authz/authz.h"

/* The one person with that uid, in any spelling the directory matches (case,
 * extra spaces): 1 found, 0 none (or several: refused), LP_UNAVAILABLE /
 * LP_ERROR.  u->uid is the entry's own first uid value, u->uuid its
 * entryUUID: one person has one name whatever was typed. */
int authz_user_find(struct authz *a, const char *uid, struct authz_user *u, char *err, size_t errlen);

/* HTTP Basic credentials checked by a bind as the user on a handle of its
 * own; a success is remembered (keyed hash, never the password) for
 * cache_ttl under the normalized uid.  An unknown uid costs the same bind
 * round trip as a known one.  u as authz_user_find sets it.  1 accepted, 0
 * refused, LP_UNAVAILABLE / LP_ERROR. */
int authz_authenticate(struct authz *a, const char *uid, const char *password, struct authz_user *u,
		       char *err, size_t errlen);

#endif
