/* roles.c — policies/roles.json, parsed with Jansson and checked whole
 * (actions, scopes, permissions, delegation limits, signer titles). */
#include "authz/roles.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool role_has_perm(const struct role *role, const char *perm)
{
	return role != NULL && in_list(role->perms, role->nperms, perm);
}

bool role_may_grant(const struct role *role, const char *name)
{
	return role != NULL && in_list(role->may_grant, role->nmay_grant, name);
}

bool roles_action_known(const struct roles *r, const char *action)
{
	return in_list(r->actions, r->nactions, action);
}

const struct role *roles_find(const struct roles *r, const char *name)
{
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void roles_free(struct roles *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].group);
		strv_free(r->v[i].perms, r->v[i].nperms);
		strv_free(r->v[i].may_grant, r->v[i].nmay_grant);
		strv_free(r->v[i].signer_title, r->v[i].nsigner_title);
	}
	free(r->v);
	strv_free(r->actions, r->nactions);
	free(r);
}

/* A JSON array of strings -> new string vector; -1 if not one. */
static int strv_get(json_t *a, char ***out, size_t *n)
{
	size_t i;
	json_t *v;

	*out = NULL;
	*n = 0;
	if (!json_is_array(a))
		return -1;
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (*out == NULL)
		return -1;
	json_array_foreach (a, i, v) {
		if (!json_is_string(v) || ((*out)[i] = strdup(json_string_value(v))) == NULL)
			return -1;
		(*n)++;
	}
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

/* The optional "signer_title": 1-4 non-empty lines of at most 80 bytes. */
static int signer_title_parse(struct role *ro, json_t *o, const char *name, char *err, size_t errlen)
{
	json_t *t = json_object_get(o, "signer_title");

	if (t == NULL)
		return 0;
	if (strv_get(t, &ro->signer_title, &ro->nsigner_title) < 0 || ro->nsigner_title < 1 ||
	    ro->nsigner_title > 4)
		goto bad;
	for (size_t i = 0; i < ro->nsigner_title; i++)
		if (ro->signer_title[i][0] == '\0' || strlen(ro->signer_title[i]) > 80)
			goto bad;
	return 0;
bad:
	snprintf(err, errlen,
		 "%s: role %s: \"signer_title\" must be an array of 1-4 lines (each 1-80 bytes), e.g. "
		 "[\"KT. CHỦ TỊCH\", \"PHÓ CHỦ TỊCH\"]",
		 name, ro->name);
	return -1;
}

static int role_parse(struct roles *r, struct role *ro, const char *key, json_t *o, const char *name,
		      char *err, size_t errlen)
{
	json_t *scope = json_object_get(o, "scope");
	json_t *group = json_object_get(o, "group");
	json_t *days = json_object_get(o, "max_days");
	json_t *depth = json_object_get(o, "max_delegate");

	if ((ro->name = strdup(key)) == NULL)
		goto oom;
	if (!name_ok(key)) {
		snprintf(err, errlen, "%s: role \"%s\": a role name is 1-63 of a-z, 0-9, '_' and '.'", name,
			 key);
		return -1;
	}
	if (!json_is_object(o) || !json_is_string(scope)) {
		snprintf(err, errlen, "%s: role %s: needs an object with \"scope\": \"city\" or \"unit\"",
			 name, key);
		return -1;
	}
	if (strcmp(json_string_value(scope), "city") == 0)
		ro->scope = ROLE_CITY;
	else if (strcmp(json_string_value(scope), "unit") == 0)
		ro->scope = ROLE_UNIT;
	else {
		snprintf(err, errlen, "%s: role %s: scope \"%s\" is neither \"city\" nor \"unit\"", name, key,
			 json_string_value(scope));
		return -1;
	}
	if (strv_get(json_object_get(o, "permissions"), &ro->perms, &ro->nperms) < 0 ||
	    strv_get(json_object_get(o, "may_grant"), &ro->may_grant, &ro->nmay_grant) < 0) {
		snprintf(err, errlen,
			 "%s: role %s: \"permissions\" and \"may_grant\" must be arrays of names", name, key);
		return -1;
	}
	for (size_t i = 0; i < ro->nperms; i++)
		if (!roles_action_known(r, ro->perms[i])) {
			snprintf(err, errlen, "%s: role %s: permission \"%s\" is not in \"actions\"", name,
				 key, ro->perms[i]);
			return -1;
		}
	if (signer_title_parse(ro, o, name, err, errlen) < 0)
		return -1;
	if (ro->scope == ROLE_CITY) {
		if (!json_is_string(group) || !name_ok(json_string_value(group))) {
			snprintf(
				err, errlen,
				"%s: role %s: a city role needs \"group\": the cn of its groupOfNames under ou=roles",
				name, key);
			return -1;
		}
		if ((ro->group = strdup(json_string_value(group))) == NULL)
			goto oom;
		return 0;
	}
	if (!json_is_integer(days) || json_integer_value(days) < 1 || json_integer_value(days) > 3660 ||
	    !json_is_integer(depth) || json_integer_value(depth) < 0 || json_integer_value(depth) > 8) {
		snprintf(err, errlen,
			 "%s: role %s: a unit role needs \"max_days\" (1-3660) and \"max_delegate\" (0-8)",
			 name, key);
		return -1;
	}
	ro->max_days = (long)json_integer_value(days);
	ro->max_delegate = (int)json_integer_value(depth);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Cross-role rules: grantable roles exist and are unit roles; auditors are
 * granted from city level only (a chair never picks its own auditor). */
static int roles_check(const struct roles *r, const char *name, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t j = 0; j < r->v[i].nmay_grant; j++) {
			const struct role *g = roles_find(r, r->v[i].may_grant[j]);

			if (g == NULL || g->scope != ROLE_UNIT) {
				snprintf(
					err, errlen,
					"%s: role %s: may_grant names \"%s\", which is not a unit role of this file "
					"(city roles are held through their LDAP group)",
					name, r->v[i].name, r->v[i].may_grant[j]);
				return -1;
			}
			if (r->v[i].scope == ROLE_UNIT && role_has_perm(g, "audit.read")) {
				snprintf(
					err, errlen,
					"%s: role %s may grant %s, which reads the audit log: auditors are granted "
					"from city level only; remove it from may_grant",
					name, r->v[i].name, g->name);
				return -1;
			}
		}
	return 0;
}

struct roles *roles_parse(const char *text, const char *name, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je), *roles;
	struct roles *r = calloc(1, sizeof(*r));
	const char *key;
	json_t *o;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", name, je.line, je.column, je.text);
		goto fail;
	}
	roles = json_object_get(root, "roles");
	if (strv_get(json_object_get(root, "actions"), &r->actions, &r->nactions) < 0 ||
	    !json_is_object(roles) || json_object_size(roles) == 0) {
		snprintf(err, errlen,
			 "%s: needs \"actions\" (array of names) and \"roles\" (object of roles)", name);
		goto fail;
	}
	r->v = calloc(json_object_size(roles), sizeof(*r->v));
	if (r->v == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	json_object_foreach (roles, key, o) {
		if (role_parse(r, &r->v[r->n++], key, o, name, err, errlen) < 0)
			goto fail;
	}
	if (roles_check(r, name, err, errlen) < 0)
		goto fail;
	json_decref(root);
	return r;
fail:
	json_decref(root);
	roles_free(r);
	return NULL;
}

struct roles *roles_load(const char *path, char *err, size_t errlen)
{
	char *text = file_read_all(path, NULL, err, errlen);
	struct roles *r;

	if (text == NULL)
		return NULL;
	r = roles_parse(text, path, err, errlen);
	free(text);
	return r;
}
