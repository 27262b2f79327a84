/* signers.c — who signs a document for the committee: the issuing role's
 * "signer_title" (roles.json), overridden per unit by policies/signers.csv. */
#include "syncd/documents/documents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

struct signer_entry {
	int unit;
	char *role;
	char **lines;
	size_t nlines;
	char *name; /* "" when not configured */
};

struct signers {
	struct signer_entry *v;
	size_t n;
};

#define SIGNERS_HEADER "unit_code,role,title,name"

static void entry_free(struct signer_entry *e)
{
	for (size_t i = 0; i < e->nlines; i++)
		free(e->lines[i]);
	free(e->lines);
	free(e->role);
	free(e->name);
}

void signers_free(struct signers *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->v[i]);
	free(s->v);
	free(s);
}

/* "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH" -> the lines; -1 when a line is empty,
 * longer than 80 bytes, or there are more than 4. */
static int title_split(const char *title, struct signer_entry *e)
{
	const char *p = title;

	e->lines = calloc(5, sizeof(char *));
	if (e->lines == NULL)
		return -1;
	for (;;) {
		const char *sep = strstr(p, " / ");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);

		while (len > 0 && p[0] == ' ')
			p++, len--;
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0 || len > 80 || e->nlines == 4 || (e->lines[e->nlines] = strndup(p, len)) == NULL)
			return -1;
		e->nlines++;
		if (sep == NULL)
			return 0;
		p = sep + 3;
	}
}

static bool entry_exists(const struct signers *s, int unit, const char *role)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].unit == unit && strcmp(s->v[i].role, role) == 0)
			return true;
	return false;
}

/* One data line (split into f[0..nf-1]) into s->v[s->n]; -1 with err. */
static int entry_parse(struct signers *s, char **f, int nf, const struct roles *roles,
		       bool (*unit_known)(int unit, const void *arg), const void *arg, const char *where,
		       char *err, size_t errlen)
{
	struct signer_entry *e = &s->v[s->n];
	char *end;
	long unit;

	if (nf < 3 || nf > 4) {
		snprintf(err, errlen,
			 "%s: needs 3 or 4 fields, %s (title lines separated by \" / \", name optional); "
			 "quote a field that holds a comma",
			 where, SIGNERS_HEADER);
		return -1;
	}
	unit = strtol(f[0], &end, 10);
	if (strlen(f[0]) != 5 || *end != '\0' || !unit_known((int)unit, arg)) {
		snprintf(err, errlen,
			 "%s: unit \"%s\" is not a unit of the city; use a 5-digit new_code from "
			 "policies/units/cantho_new_units.csv",
			 where, f[0]);
		return -1;
	}
	if (roles_find(roles, f[1]) == NULL) {
		snprintf(err, errlen,
			 "%s: role \"%s\" is not in roles.json; use a role name from its \"roles\" "
			 "(e.g. civil_registrar, land_officer)",
			 where, f[1]);
		return -1;
	}
	if (entry_exists(s, (int)unit, f[1])) {
		snprintf(err, errlen, "%s: unit %s, role %s is already given on an earlier line; keep one",
			 where, f[0], f[1]);
		return -1;
	}
	e->unit = (int)unit;
	s->n++; /* owned from here: signers_free frees what was set */
	if ((e->role = strdup(f[1])) == NULL || (e->name = strdup(nf == 4 ? f[3] : "")) == NULL ||
	    title_split(f[2], e) < 0 || strlen(e->name) > 120) {
		snprintf(err, errlen,
			 "%s: the title needs 1-4 lines of 1-80 bytes separated by \" / \" (e.g. "
			 "\"KT. CHỦ TỊCH / PHÓ CHỦ TỊCH\"), the name at most 120 bytes",
			 where);
		return -1;
	}
	return 0;
}

static bool line_blank_or_comment(const char *line)
{
	line += strspn(line, " \t");
	return line[0] == '\0' || line[0] == '#';
}

struct signers *signers_parse(const char *text, const char *name, const struct roles *roles,
			      bool (*unit_known)(int unit, const void *arg), const void *arg, char *err,
			      size_t errlen)
{
	struct signers *s = calloc(1, sizeof(*s));
	char *copy = strdup(text), *line;
	size_t cap = 1;
	int lineno = 0;

	for (const char *p = text; *p; p++)
		cap += *p == '\n';
	if (s == NULL || copy == NULL || (s->v = calloc(cap, sizeof(*s->v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (char *rest = copy; (line = strsep(&rest, "\n")) != NULL;) {
		char *f[6], where[300];
		int nf;

		lineno++;
		line[strcspn(line, "\r")] = '\0';
		if (line_blank_or_comment(line) || strcmp(line, SIGNERS_HEADER) == 0)
			continue;
		snprintf(where, sizeof(where), "%s:%d", name, lineno);
		nf = csv_split(line, f, 6);
		if (nf < 0) {
			snprintf(err, errlen, "%s: a quote is not closed; close it or remove it", where);
			goto fail;
		}
		if (entry_parse(s, f, nf, roles, unit_known, arg, where, err, errlen) < 0)
			goto fail;
	}
	free(copy);
	return s;
fail:
	free(copy);
	signers_free(s);
	return NULL;
}

size_t signers_resolve(const struct signers *s, const struct roles *roles, int unit, const char *role,
		       const char **lines, size_t max, const char **name)
{
	const struct role *ro = role != NULL && role[0] ? roles_find(roles, role) : NULL;
	size_t n = 0;

	*name = "";
	for (size_t i = 0; s != NULL && role != NULL && i < s->n; i++) {
		if (s->v[i].unit != unit || strcmp(s->v[i].role, role) != 0)
			continue;
		for (; n < s->v[i].nlines && n < max; n++)
			lines[n] = s->v[i].lines[n];
		*name = s->v[i].name;
		return n;
	}
	for (; ro != NULL && n < ro->nsigner_title && n < max; n++)
		lines[n] = ro->signer_title[n];
	return n;
}
