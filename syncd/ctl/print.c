/* print.c — what syncctl shows of syncd's API answers: the grants, audit
 * and document tables and summaries on a terminal, and the audit log as CSV. */
#include "syncd/ctl/print.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "syncd/ctl/apiclient.h"

/* ---- tables ---- */

/* A cell of a table: a new string; "-" for null, missing or empty. */
static char *cell_text(const json_t *v)
{
	char *s = NULL;

	if (json_is_string(v) && json_string_length(v) > 0)
		s = strdup(json_string_value(v));
	else if (json_is_integer(v)) {
		if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			s = NULL;
	} else if (json_is_boolean(v))
		s = strdup(json_is_true(v) ? "yes" : "no");
	else if (v == NULL || json_is_null(v) || json_is_string(v))
		s = strdup("-");
	else
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s != NULL)
		api_text_sanitize(s);
	return s;
}

/* columns on a terminal: one per UTF-8 character (Vietnamese letters are
 * precomposed and one column wide) */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

const char *api_grant_state(const json_t *grant, time_t now)
{
	time_t t;

	if (json_is_true(json_object_get(grant, "revoked")))
		return "revoked";
	if (api_time_parse(json_string_value(json_object_get(grant, "not_after")), &t) == 0 && t <= now)
		return "expired";
	if (api_time_parse(json_string_value(json_object_get(grant, "not_before")), &t) == 0 && t > now)
		return "pending";
	return "active";
}

/* An array whose elements are all objects (a list a table is made of). */
static bool array_of_objects(const json_t *a)
{
	size_t i;
	const json_t *v;

	if (!json_is_array(a))
		return false;
	json_array_foreach (a, i, v)
		if (!json_is_object(v))
			return false;
	return true;
}

/* s (a new string) cut to at most maxw columns, ending in "…" (without the
 * blanks before the cut); 0 keeps it whole.  Returns s or a new string in
 * its place, NULL when memory runs out. */
static char *cell_cut(char *s, size_t maxw)
{
	size_t w = 0;
	char *p, *t;

	if (s == NULL || maxw == 0 || text_width(s) <= maxw)
		return s;
	for (p = s; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (w == maxw - 1)
				break;
			w++;
		}
	}
	while (p > s && p[-1] == ' ')
		p--;
	if (asprintf(&t, "%.*s\u2026", (int)(p - s), s) < 0)
		t = NULL;
	free(s);
	return t;
}

/* "2026-11-27T10:00:00.123456Z" to the second, "2026-11-27T10:00:00Z" (cut,
 * not rounded: the event happened in that second).  In place; other
 * strings stay as they are. */
static void time_to_second(char *s)
{
	size_t n = strlen(s);

	if (n > 21 && s[10] == 'T' && s[19] == '.' && (s[n - 1] == 'Z' || s[n - 1] == 'z') &&
	    strspn(s + 20, "0123456789") == n - 21) {
		s[19] = 'Z';
		s[20] = '\0';
	}
}

#define TABLE_MAX_COLS 16

/* head (ncols titles, at most TABLE_MAX_COLS) over nrows rows of cells,
 * columns two spaces apart; the last column is not padded. */
static void table_print(FILE *f, const char *const *head, size_t ncols, char *const *cells, size_t nrows)
{
	size_t width[TABLE_MAX_COLS];

	if (ncols == 0 || ncols > TABLE_MAX_COLS)
		return;
	for (size_t k = 0; k < ncols; k++) {
		width[k] = text_width(head[k]);
		for (size_t i = 0; i < nrows; i++)
			if (text_width(cells[i * ncols + k]) > width[k])
				width[k] = text_width(cells[i * ncols + k]);
	}
	for (size_t i = 0; i <= nrows; i++) {
		for (size_t k = 0; k < ncols; k++) {
			const char *s = i == 0 ? head[k] : cells[(i - 1) * ncols + k];

			fputs(s, f);
			if (k < ncols - 1)
				fprintf(f, "%*s", (int)(width[k] - text_width(s) + 2), "");
		}
		fputc('\n', f);
	}
}

static void cells_free(char **cells, size_t n)
{
	if (cells == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
	free(cells);
}

#define GRANT_COLS 8

int api_grants_print(FILE *f, const json_t *grants, time_t now)
{
	static const char *const head[GRANT_COLS] = {"ID",	  "USER",  "ROLE",    "UNIT",
						     "NOT AFTER", "DEPTH", "GRANTOR", "STATE"};
	static const char *const keys[GRANT_COLS - 1] = {"id",	      "grantee",      "role",	"unit",
							 "not_after", "may_delegate", "grantor"};
	size_t n;
	char **cells;
	int r = -1;

	if (!array_of_objects(grants))
		return -1;
	n = json_array_size(grants);
	if (n == 0) {
		fputs("no grants\n", f);
		return 0;
	}
	cells = calloc(n * GRANT_COLS, sizeof(*cells));
	if (cells == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *g = json_array_get(grants, i);
		char **row = cells + i * GRANT_COLS;

		for (size_t k = 0; k < GRANT_COLS; k++) {
			row[k] = k < GRANT_COLS - 1 ? cell_text(json_object_get(g, keys[k]))
						    : strdup(api_grant_state(g, now));
			if (row[k] == NULL)
				goto out;
		}
	}
	table_print(f, head, GRANT_COLS, cells, n);
	r = 0;
out:
	cells_free(cells, n * GRANT_COLS);
	return r;
}

int api_check_allowed(const json_t *check)
{
	const char *d = json_string_value(json_object_get(check, "decision"));

	if (d != NULL && strcmp(d, "allow") == 0)
		return 1;
	if (d != NULL && strcmp(d, "deny") == 0)
		return 0;
	return -1;
}

int api_check_print(FILE *f, const json_t *check)
{
	static const char *const keys[6] = {"id", "role", "unit", "grantee", "grantor", "not_after"};
	int allowed = api_check_allowed(check);
	const json_t *link;
	size_t i;

	if (allowed < 0)
		return -1;
	if (allowed) {
		fputs("allow\n", f);
	} else {
		char *reason = cell_text(json_object_get(check, "reason"));

		fprintf(f, "deny: %s\n", reason ? reason : "-");
		free(reason);
	}
	json_array_foreach (json_object_get(check, "chain"), i, link) {
		char *v[6];
		bool ok = true;

		for (size_t k = 0; k < 6; k++) {
			v[k] = cell_text(json_object_get(link, keys[k]));
			if (v[k] == NULL)
				ok = false;
		}
		if (ok)
			fprintf(f, "  grant %s: %s in %s to %s from %s until %s\n", v[0], v[1], v[2], v[3],
				v[4], strcmp(v[5], "-") == 0 ? "revoked" : v[5]);
		for (size_t k = 0; k < 6; k++)
			free(v[k]);
	}
	return allowed;
}

/* ---- the audit log ---- */

#define AUDIT_COLS 8

int api_audit_print(FILE *f, const json_t *events)
{
	static const char *const head[AUDIT_COLS] = {"SEQ",  "AT",     "ACTOR",	   "ACTION",
						     "UNIT", "OBJECT", "DECISION", "REASON"};
	static const char *const keys[AUDIT_COLS] = {"seq",  "at",     "actor",	   "action",
						     "unit", "object", "decision", "reason"};
	/* the widest a cell is shown (0: whole); a uid, an action such as
	 * civil.extract.issue, a serial or a grant id, a reason in a few words */
	static const size_t maxw[AUDIT_COLS] = {0, 30, 20, 24, 8, 24, 8, 48};
	size_t n;
	char **cells;
	int r = -1;

	if (!array_of_objects(events))
		return -1;
	n = json_array_size(events);
	if (n == 0) {
		fputs("no audit events\n", f);
		return 0;
	}
	cells = calloc(n * AUDIT_COLS, sizeof(*cells));
	if (cells == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(events, i);
		char **row = cells + i * AUDIT_COLS;

		for (size_t k = 0; k < AUDIT_COLS; k++) {
			row[k] = cell_text(json_object_get(e, keys[k]));
			if (row[k] != NULL && k == 1)
				time_to_second(row[k]);
			row[k] = cell_cut(row[k], maxw[k]);
			if (row[k] == NULL)
				goto out;
		}
	}
	table_print(f, head, AUDIT_COLS, cells, n);
	r = 0;
out:
	cells_free(cells, n * AUDIT_COLS);
	return r;
}

int api_audit_intact(const json_t *verify)
{
	const json_t *ok = json_object_get(verify, "ok");

	return json_is_boolean(ok) ? json_is_true(ok) : -1;
}

int api_audit_verify_print(FILE *f, const json_t *verify)
{
	static const char *const keys[4] = {"seq", "problem", "expected", "found"};
	int intact = api_audit_intact(verify);
	const json_t *broken = json_object_get(verify, "first_broken");
	char *v[4] = {NULL};

	if (intact < 0)
		return -1;
	if (intact) {
		v[0] = cell_text(json_object_get(verify, "rows"));
		v[1] = cell_text(json_object_get(verify, "checkpoints"));
		if (v[0] != NULL && v[1] != NULL)
			fprintf(f, "audit log intact: %s row%s, %s signed checkpoint%s\n", v[0],
				strcmp(v[0], "1") == 0 ? "" : "s", v[1], strcmp(v[1], "1") == 0 ? "" : "s");
	} else if (!json_is_object(broken)) {
		fputs("audit log BROKEN (the answer names no row)\n", f);
	} else {
		for (size_t k = 0; k < 4; k++)
			v[k] = cell_text(json_object_get(broken, keys[k]));
		if (v[0] != NULL && v[1] != NULL && v[2] != NULL && v[3] != NULL)
			fprintf(f, "audit log BROKEN at seq %s: %s\n  expected: %s\n  found:    %s\n", v[0],
				v[1], v[2], v[3]);
	}
	for (size_t k = 0; k < 4; k++)
		free(v[k]);
	return intact;
}

/* ---- the audit log as CSV ---- */

/* One cell of csv from *pos into cell (unquoted, "" made "); *end set to
 * the character after it (',' '\n' or '\0' at the end).  -1: an unclosed
 * quote or a quote in the middle of a cell. */
static int csv_cell(const char *csv, size_t len, size_t *pos, char *cell, char *end)
{
	size_t i = *pos, n = 0;

	if (i < len && csv[i] == '"') {
		for (i++;; i++) {
			if (i >= len)
				return -1;
			if (csv[i] == '"' && i + 1 < len && csv[i + 1] == '"')
				cell[n++] = csv[i++];
			else if (csv[i] == '"')
				break;
			else
				cell[n++] = csv[i];
		}
		i++;
	} else {
		for (; i < len && csv[i] != ',' && csv[i] != '\n' && csv[i] != '\r'; i++) {
			if (csv[i] == '"')
				return -1;
			cell[n++] = csv[i];
		}
	}
	cell[n] = '\0';
	if (i < len && csv[i] == '\r')
		i++;
	if (i < len && csv[i] != ',' && csv[i] != '\n')
		return -1;
	*end = i < len ? csv[i] : '\0';
	*pos = i < len ? i + 1 : i;
	return 0;
}

int api_csv_print(FILE *f, const char *csv, size_t len, bool skip_header)
{
	char *cell = malloc(len + 1), end = '\n';
	size_t pos = 0;
	int records = 0, r = 0;
	bool first = true, skip = skip_header;

	if (cell == NULL)
		return -1;
	while (pos < len && r == 0) {
		char *out;

		if (csv_cell(csv, len, &pos, cell, &end) < 0) {
			r = -1;
			break;
		}
		if (!skip) {
			out = text_csv_cell(cell);
			if (out == NULL || fprintf(f, "%s%s", first ? "" : ",", out) < 0 ||
			    (end != ',' && fputs("\r\n", f) < 0))
				r = -1;
			free(out);
		}
		first = end != ',';
		if (end != ',') {
			records += !skip;
			skip = false;
		}
	}
	if (r == 0 && end == ',' && !skip) { /* a last record cut after a comma */
		if (fputs("\r\n", f) < 0)
			r = -1;
		records++;
	}
	free(cell);
	return r < 0 ? -1 : records;
}

/* ---- issued documents ---- */

/* "key: value" with the value as a table cell shows it */
static void print_line(FILE *f, const char *key, const json_t *v)
{
	char *s = cell_text(v);

	if (s != NULL)
		fprintf(f, "%s %s\n", key, s);
	free(s);
}

int api_document_print(FILE *f, const json_t *doc)
{
	const json_t *field, *fields = json_object_get(doc, "fields");
	char *unit, *name, *issued, *at, *why;
	size_t i;
	int r = -1;

	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "serial")))
		return -1;
	unit = cell_text(json_object_get(doc, "unit"));
	name = cell_text(json_object_get(doc, "unit_name"));
	issued = cell_text(json_object_get(doc, "issued_at"));
	at = cell_text(json_object_get(doc, "revoked_at"));
	why = cell_text(json_object_get(doc, "revoke_reason"));
	if (unit == NULL || name == NULL || issued == NULL || at == NULL || why == NULL)
		goto out;
	time_to_second(issued);
	time_to_second(at);
	print_line(f, "serial:", json_object_get(doc, "serial"));
	if (json_object_get(doc, "title") != NULL)
		print_line(f, "title: ", json_object_get(doc, "title"));
	print_line(f, "kind:  ", json_object_get(doc, "kind"));
	if (strcmp(name, "-") != 0)
		fprintf(f, "unit:   %s %s\n", unit, name);
	else
		fprintf(f, "unit:   %s\n", unit);
	fprintf(f, "issued: %s\n", issued);
	print_line(f, "issuer:", json_object_get(doc, "issuer"));
	if (!json_is_true(json_object_get(doc, "revoked")))
		fputs("state:  valid\n", f);
	else if (strcmp(at, "-") == 0)
		fprintf(f, "state:  revoked: %s\n", why);
	else
		fprintf(f, "state:  revoked %s: %s\n", at, why);
	if (json_array_size(fields) > 0)
		fputc('\n', f);
	json_array_foreach (fields, i, field) {
		char *label = cell_text(json_object_get(field, "label"));
		char *value = cell_text(json_object_get(field, "value"));

		if (label != NULL && value != NULL)
			fprintf(f, "%s: %s\n", label, value);
		free(label);
		free(value);
	}
	r = 0;
out:
	free(unit);
	free(name);
	free(issued);
	free(at);
	free(why);
	return r;
}

int api_document_valid(const json_t *verify)
{
	const char *st = json_string_value(json_object_get(verify, "status"));

	if (st != NULL && strcmp(st, "valid") == 0)
		return 1;
	if (st != NULL && (strcmp(st, "revoked") == 0 || strcmp(st, "unknown") == 0))
		return 0;
	return -1;
}

int api_document_verify_print(FILE *f, const json_t *verify)
{
	static const char *const keys[6] = {"serial", "kind", "unit", "issued_on", "hash", "signature"};
	int valid = api_document_valid(verify);
	const char *st = json_string_value(json_object_get(verify, "status"));
	char *v[6], *at = NULL;
	bool ok = true;

	if (valid < 0)
		return -1;
	for (size_t k = 0; k < 6; k++)
		if ((v[k] = cell_text(json_object_get(verify, keys[k]))) == NULL)
			ok = false;
	if (ok && strcmp(st, "unknown") == 0) {
		fprintf(f, "%s: unknown: syncd issued no document with this serial\n", v[0]);
	} else if (ok) {
		if (valid) {
			fprintf(f, "%s: valid (%s, %s, %s)\n", v[0], v[1], v[2], v[3]);
		} else {
			at = cell_text(json_object_get(verify, "revoked_at"));
			if (at != NULL)
				time_to_second(at);
			fprintf(f, "%s: revoked%s%s (%s, %s, %s)\n", v[0], at && strcmp(at, "-") ? " " : "",
				at && strcmp(at, "-") ? at : "", v[1], v[2], v[3]);
		}
		fprintf(f, "  sha256: %s\n  signature: %s\n", v[4], v[5]);
	}
	for (size_t k = 0; k < 6; k++)
		free(v[k]);
	free(at);
	return valid;
}

/* ---- dead letters ---- */

#define DEADLETTER_COLS 10

/* "open", or how it was resolved */
static const char *deadletter_state(const json_t *dl)
{
	const char *r = json_string_value(json_object_get(dl, "resolution"));

	return r != NULL && r[0] != '\0' ? r : "open";
}

int api_deadletters_print(FILE *f, const json_t *list)
{
	static const char *const head[DEADLETTER_COLS] = {"ID",	     "DEAD AT",	 "TARGET", "UNIT",  "BATCH",
							  "CHANGES", "ATTEMPTS", "HTTP",   "ERROR", "STATE"};
	static const char *const keys[DEADLETTER_COLS - 1] = {
		"id", "dead_at", "target", "unit", "batch_id", "changes", "attempts", "http_status", "error"};
	/* an error in a few words; the whole of it with deadletter show */
	static const size_t maxw[DEADLETTER_COLS] = {0, 0, 20, 0, 0, 0, 0, 0, 40, 0};
	size_t n;
	char **cells;
	int r = -1;

	if (!array_of_objects(list))
		return -1;
	n = json_array_size(list);
	if (n == 0) {
		fputs("no dead letters\n", f);
		return 0;
	}
	cells = calloc(n * DEADLETTER_COLS, sizeof(*cells));
	if (cells == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *dl = json_array_get(list, i);
		char **row = cells + i * DEADLETTER_COLS;

		for (size_t k = 0; k < DEADLETTER_COLS; k++) {
			row[k] = k < DEADLETTER_COLS - 1 ? cell_text(json_object_get(dl, keys[k]))
							 : strdup(deadletter_state(dl));
			if (row[k] != NULL && k == 1)
				time_to_second(row[k]);
			row[k] = cell_cut(row[k], maxw[k]);
			if (row[k] == NULL)
				goto out;
		}
	}
	table_print(f, head, DEADLETTER_COLS, cells, n);
	r = 0;
out:
	cells_free(cells, n * DEADLETTER_COLS);
	return r;
}

/* text line by line, each made safe for a terminal, indented by two */
static void print_lines(FILE *f, const char *text)
{
	char *copy = strdup(text), *save = NULL;

	if (copy == NULL)
		return;
	for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		api_text_sanitize(l);
		fprintf(f, "  %s\n", l);
	}
	free(copy);
}

/* The batch's body: indented JSON when it parses, else as it is. */
static void deadletter_body_print(FILE *f, const json_t *dl)
{
	const char *body = json_string_value(json_object_get(dl, "body"));
	char *ctype = cell_text(json_object_get(dl, "content_type"));
	json_t *j;
	char *pretty = NULL;

	if (body == NULL) {
		free(ctype);
		return;
	}
	fprintf(f, "\nbody (%s, %zu bytes):\n", ctype ? ctype : "-", strlen(body));
	free(ctype);
	j = json_loads(body, JSON_DECODE_ANY, NULL);
	if (j != NULL)
		pretty = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	json_decref(j);
	print_lines(f, pretty ? pretty : body);
	free(pretty);
}

int api_deadletter_print(FILE *f, const json_t *dl)
{
	static const struct {
		const char *label, *key;
	} lines[] = {
		{"target:     ", "target"},
		{"unit:       ", "unit"},
		{"batch:      ", "batch"},
		{"batch id:   ", "batch_id"},
		{"batch state:", "batch_state"},
		{"source:     ", "source"},
		{"changes:    ", "changes"},
		{"lsn from:   ", "lsn_from"},
		{"lsn to:     ", "lsn_to"},
		{"queued at:  ", "created_at"},
		{"attempts:   ", "attempts"},
		{"dead at:    ", "dead_at"},
		{"http status:", "http_status"},
		{"error:      ", "error"},
		{"response:   ", "response_excerpt"},
		{"paused:     ", "paused"},
	};
	char *v[4] = {NULL};

	if (!json_is_object(dl) || !json_is_integer(json_object_get(dl, "id")))
		return -1;
	fprintf(f, "dead letter %" JSON_INTEGER_FORMAT ": %s\n",
		json_integer_value(json_object_get(dl, "id")), deadletter_state(dl));
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		print_line(f, lines[i].label, json_object_get(dl, lines[i].key));
	if (json_is_string(json_object_get(dl, "resolution"))) {
		v[0] = cell_text(json_object_get(dl, "resolution"));
		v[1] = cell_text(json_object_get(dl, "resolved_by"));
		v[2] = cell_text(json_object_get(dl, "resolved_at"));
		v[3] = cell_text(json_object_get(dl, "reason"));
		if (v[0] != NULL && v[1] != NULL && v[2] != NULL && v[3] != NULL)
			fprintf(f, "resolved:    %s by %s at %s: %s\n", v[0], v[1], v[2], v[3]);
		for (size_t k = 0; k < 4; k++)
			free(v[k]);
	}
	deadletter_body_print(f, dl);
	return 0;
}

int api_deadletter_resolution_print(FILE *f, const json_t *r)
{
	static const char *const keys[5] = {"resolution", "target", "unit", "batch_id", "reason"};
	const json_t *id = json_object_get(r, "id");
	char *v[5];
	bool ok = true;

	if (!json_is_integer(id) || !json_is_string(json_object_get(r, "resolution")))
		return -1;
	for (size_t k = 0; k < 5; k++)
		if ((v[k] = cell_text(json_object_get(r, keys[k]))) == NULL)
			ok = false;
	if (ok) {
		fprintf(f, "%s dead letter %" JSON_INTEGER_FORMAT " (target %s, unit %s, batch %s)", v[0],
			json_integer_value(id), v[1], v[2], v[3]);
		if (strcmp(v[4], "-") != 0)
			fprintf(f, ": %s", v[4]);
		fputc('\n', f);
		if (json_is_true(json_object_get(r, "unpaused")))
			fprintf(f, "unit %s of target %s is no longer paused\n", v[2], v[1]);
		else if (json_is_true(json_object_get(r, "paused")))
			fprintf(f,
				"unit %s of target %s stays paused: another of its dead letters is open "
				"(syncctl deadletter list --target %s --unit %s)\n",
				v[2], v[1], v[1], v[2]);
	}
	for (size_t k = 0; k < 5; k++)
		free(v[k]);
	return 0;
}
