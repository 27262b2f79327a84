/* config.c — policies/documents.json: the kinds of document, their fields,
 * permissions, registration target and search columns, checked at load;
 * with it the signers (roles.json titles, signers.csv) and the print setup. */
#include "syncd/documents/documents.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"

struct documents {
	struct doc_kind *k;
	size_t n;
	struct roles *roles;	 /* the signer titles (roles.json next to documents.json) */
	struct signers *signers; /* policies/signers.csv; NULL: none */
};

static void kind_free(struct doc_kind *k)
{
	free(k->name);
	free(k->source);
	free(k->table);
	free(k->key);
	free(k->perm);
	free(k->read_perm);
	free(k->title);
	free(k->target);
	for (size_t i = 0; i < k->nfields; i++) {
		free(k->fields[i].column);
		free(k->fields[i].label);
	}
	free(k->fields);
	free(k->reg_source);
	free(k->reg_table);
	free(k->reg_target);
	for (size_t i = 0; i < k->nsearch; i++)
		free(k->search[i]);
	free(k->search);
}

void documents_free(struct documents *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		kind_free(&d->k[i]);
	free(d->k);
	roles_free(d->roles);
	signers_free(d->signers);
	free(d);
}

const struct doc_kind *documents_kind(const struct documents *d, const char *name)
{
	for (size_t i = 0; d != NULL && i < d->n; i++)
		if (strcmp(d->k[i].name, name) == 0)
			return &d->k[i];
	return NULL;
}

static char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && s[0] ? strdup(s) : NULL;
}

/* "register": {"source", "table"} an intake table of a city database, or
 * {"target": NAME} an HTTP target of syncd.conf. */
static int register_load(struct doc_kind *k, json_t *reg, const char *path, const char *name, char *err,
			 size_t errlen)
{
	if (json_object_get(reg, "target") != NULL) {
		/* up to a city system over HTTP: the serial is the Idempotency-Key */
		k->reg_target = str(reg, "target");
		if (k->reg_target == NULL || json_object_size(reg) != 1) {
			snprintf(
				err, errlen,
				"%s: kind %s: register {\"target\": NAME} names one [target NAME] of syncd.conf and nothing else",
				path, name);
			return -1;
		}
		return 0;
	}
	k->reg_source = str(reg, "source");
	k->reg_table = str(reg, "table");
	if (k->reg_source == NULL || k->reg_table == NULL || strchr(k->reg_table, '.') == NULL) {
		snprintf(
			err, errlen,
			"%s: kind %s: register needs \"source\" and a schema-qualified \"table\", or \"target\"",
			path, name);
		return -1;
	}
	return 0;
}

/* The routed table source.table (the last rule naming it), or NULL. */
static const struct routing_table *routed(const struct routing *rt, const char *source, const char *table)
{
	const struct routing_table *t = NULL;

	for (size_t j = 0; j < routing_table_count(rt); j++) {
		const struct routing_table *c = routing_table_get(rt, j);

		if (strcmp(c->source, source) == 0 && strcmp(c->table, table) == 0)
			t = c;
	}
	return t;
}

static struct documents *kinds_load(const char *path, const struct routing *rt, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je), *kinds, *o;
	struct documents *d = calloc(1, sizeof(*d));
	const char *name;

	if (d == NULL)
		goto oom;
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		goto fail;
	}
	kinds = json_object_get(root, "kinds");
	if (!json_is_object(kinds) || (d->k = calloc(json_object_size(kinds) + 1, sizeof(*d->k))) == NULL) {
		snprintf(err, errlen, "%s: needs \"kinds\": an object of document kinds", path);
		goto fail;
	}
	json_object_foreach (kinds, name, o) {
		struct doc_kind *k = &d->k[d->n++];
		json_t *fields = json_object_get(o, "fields"), *reg = json_object_get(o, "register"), *f;
		const struct routing_table *t;
		size_t i;

		k->name = strdup(name);
		k->source = str(o, "source");
		k->table = str(o, "table");
		k->key = str(o, "key");
		k->perm = str(o, "permission");
		k->read_perm = str(o, "read_permission");
		k->title = str(o, "title");
		if (k->name == NULL || k->source == NULL || k->table == NULL || k->key == NULL ||
		    k->perm == NULL || k->read_perm == NULL || k->title == NULL || !json_is_array(fields) ||
		    json_array_size(fields) == 0) {
			snprintf(
				err, errlen,
				"%s: kind %s needs source, table, key, permission, read_permission, title and fields",
				path, name);
			goto fail;
		}
		if ((t = routed(rt, k->source, k->table)) == NULL) {
			snprintf(err, errlen,
				 "%s: kind %s: %s of source %s is not routed to the units (routing.json)",
				 path, name, k->table, k->source);
			goto fail;
		}
		k->target = strdup(t->target_table ? t->target_table : t->name);
		k->fields = calloc(json_array_size(fields), sizeof(*k->fields));
		if (k->target == NULL || k->fields == NULL)
			goto oom;
		json_array_foreach (fields, i, f) {
			k->fields[i].column = str(f, "column");
			k->fields[i].label = str(f, "label");
			k->nfields++;
			if (k->fields[i].column == NULL || k->fields[i].label == NULL) {
				snprintf(err, errlen,
					 "%s: kind %s: fields[%zu] needs \"column\" and \"label\"", path,
					 name, i);
				goto fail;
			}
		}
		{
			json_t *sr = json_object_get(o, "search"), *v;

			k->search = calloc(json_array_size(sr) + 1, sizeof(char *));
			if (k->search == NULL)
				goto oom;
			json_array_foreach (sr, i, v) {
				if (!json_is_string(v) ||
				    (k->search[k->nsearch] = strdup(json_string_value(v))) == NULL) {
					snprintf(err, errlen,
						 "%s: kind %s: \"search\" is a list of column names", path,
						 name);
					goto fail;
				}
				k->nsearch++;
			}
		}
		if (reg != NULL && register_load(k, reg, path, name, err, errlen) < 0)
			goto fail;
	}
	json_decref(root);
	return d;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(root);
	documents_free(d);
	return NULL;
}

static bool unit_known(int unit, const void *rt)
{
	return routing_unit_find(rt, unit) != NULL;
}

/* roles.json and signers.csv from documents.json's folder: -1 with err. */
static int signers_open(struct documents *d, const char *path, const struct routing *rt, char *err,
			size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char file[4096];
	char *text;

	snprintf(file, sizeof(file), "%.*sroles.json", slash ? (int)(slash - path + 1) : 0, path);
	if (access(file, F_OK) == 0 && (d->roles = roles_load(file, err, errlen)) == NULL)
		return -1;
	snprintf(file, sizeof(file), "%.*ssigners.csv", slash ? (int)(slash - path + 1) : 0, path);
	if (access(file, F_OK) != 0)
		return 0;
	if ((text = file_read_all(file, NULL, err, errlen)) == NULL)
		return -1;
	d->signers = signers_parse(text, file, d->roles, unit_known, rt, err, errlen);
	free(text);
	return d->signers != NULL ? 0 : -1;
}

struct documents *documents_load(const char *path, const struct routing *rt, char *err, size_t errlen)
{
	struct documents *d = kinds_load(path, rt, err, errlen);

	if (d != NULL && signers_open(d, path, rt, err, errlen) < 0) {
		documents_free(d);
		return NULL;
	}
	return d;
}

void documents_print_setup(const struct documents *d, const struct config *cfg, const struct doc_record *r,
			   struct doc_print *p)
{
	const struct doc_kind *k = documents_kind(d, r->kind);

	memset(p, 0, sizeof(*p));
	if (cfg->public_url != NULL && cfg->public_url[0] != '\0')
		snprintf(p->base, sizeof(p->base), "%.*s", (int)strcspn(cfg->public_url, " "),
			 cfg->public_url);
	else
		snprintf(p->base, sizeof(p->base), "%s://%s", cfg->tls_cert_file ? "https" : "http",
			 cfg->listen);
	while (p->base[0] && p->base[strlen(p->base) - 1] == '/')
		p->base[strlen(p->base) - 1] = '\0';
	p->info_sheet = k != NULL && k->reg_source != NULL;
	p->nlines = d != NULL ? signers_resolve(d->signers, d->roles, r->unit, r->signer_role, p->lines,
						sizeof(p->lines) / sizeof(p->lines[0]), &p->name)
			      : 0;
	if (p->name == NULL)
		p->name = "";
}

size_t documents_count(const struct documents *d)
{
	return d != NULL ? d->n : 0;
}

const struct doc_kind *documents_nth(const struct documents *d, size_t i)
{
	return &d->k[i];
}
