/* roles.h — policies/roles.json: the actions, and per role its scope
 * (city: held through an LDAP group; unit: granted per unit), permissions,
 * the roles it may grant, the longest grant, the deepest re-delegation and
 * the title printed over the signature of the documents it issues. */
#ifndef SYNCD_AUTHZ_ROLES_H
#define SYNCD_AUTHZ_ROLES_H

#include <stdbool.h>
#include <stddef.h>

enum role_scope { ROLE_CITY, ROLE_UNIT };

struct role {
	char *name;
	enum role_scope scope;
	char *group; /* city roles: cn of the groupOfNames under ou=roles */
	char **perms;
	size_t nperms;
	char **may_grant;
	size_t nmay_grant;
	long max_days;	  /* unit roles */
	int max_delegate; /* unit roles */
	/* "signer_title": the lines printed in a document's signature block
	 * when this role issued it (e.g. "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH");
	 * none: the caption only.  policies/signers.csv overrides it per unit. */
	char **signer_title;
	size_t nsigner_title;
};

struct roles {
	char **actions;
	size_t nactions;
	struct role *v;
	size_t n;
};

/* Loads and checks path; NULL with "path: what is wrong and the fix" in err. */
struct roles *roles_load(const char *path, char *err, size_t errlen);
/* Same, from JSON text (name is used in messages). */
struct roles *roles_parse(const char *text, const char *name, char *err, size_t errlen);
void roles_free(struct roles *r);

const struct role *roles_find(const struct roles *r, const char *name);
bool roles_action_known(const struct roles *r, const char *action);
bool role_has_perm(const struct role *role, const char *perm);
bool role_may_grant(const struct role *role, const char *name);

#endif
