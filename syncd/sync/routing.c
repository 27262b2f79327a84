/* routing.c — loading and validating the routing policy: routing.json, the unit
 * files, split rules and overrides; what a reload would change. */
#include "syncd/sync/routing.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "syncd/sync/policy.h"

/* ---- unit files --------------------------------------------------------- */

/* Reads a policy file and adds it to the policy's digest. */
static char *policy_read(struct routing *r, const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	char *data = file_read_all(path, &len, err, errlen);

	if (data != NULL && r->md != NULL && EVP_DigestUpdate(r->md, data, len) != 1) {
		snprintf(err, errlen, "%s: cannot digest", path);
		free(data);
		return NULL;
	}
	return data;
}

static int units_load_list(struct routing *r, const char *path, char *err, size_t errlen)
{
	char *data = policy_read(r, path, err, errlen);
	char *line, *save = NULL;
	int lineno = 0;

	if (data == NULL)
		return -1;
	for (int i = 0; i < ROUTING_CODE_SPACE; i++)
		r->new_index[i] = -1;
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *f[8];
		int nf, code;
		struct unit_info *u;

		lineno++;
		if (lineno == 1)
			continue; /* header */
		nf = csv_split(line, f, 8);
		if (nf == 1 && f[0][0] == '\0')
			continue;
		if (nf < 4 || (code = routing_code_parse(f[0], strlen(f[0]))) < 0) {
			snprintf(err, errlen, "%s:%d: expected new_code,new_name,new_type,new_full_name,...",
				 path, lineno);
			goto fail;
		}
		if (r->new_index[code] >= 0) {
			snprintf(err, errlen, "%s:%d: unit %05d listed twice", path, lineno, code);
			goto fail;
		}
		u = realloc(r->units, (r->nunits + 1) * sizeof(*u));
		if (u == NULL)
			goto oom;
		r->units = u;
		u = &r->units[r->nunits];
		u->code = code;
		u->name = strdup(f[1]);
		u->type = strdup(f[2]);
		u->full_name = strdup(f[3]);
		if (u->name == NULL || u->type == NULL || u->full_name == NULL) {
			r->nunits++;
			goto oom;
		}
		r->new_index[code] = (short)r->nunits++;
	}
	free(data);
	if (r->nunits == 0) {
		snprintf(err, errlen, "%s: no units listed", path);
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
fail:
	free(data);
	return -1;
}

static int units_load_mapping(struct routing *r, const char *path, char *err, size_t errlen)
{
	char *data = policy_read(r, path, err, errlen);
	char *line, *save = NULL;
	int lineno = 0;

	if (data == NULL)
		return -1;
	r->old = calloc(ROUTING_CODE_SPACE, sizeof(*r->old));
	if (r->old == NULL) {
		free(data);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *f[16];
		int nf, oc, nc;
		struct old_unit *o;

		lineno++;
		if (lineno == 1)
			continue;
		nf = csv_split(line, f, 16);
		if (nf == 1 && f[0][0] == '\0')
			continue;
		if (nf < 6 || (oc = routing_code_parse(f[0], strlen(f[0]))) < 0 ||
		    (nc = routing_code_parse(f[3], strlen(f[3]))) < 0) {
			snprintf(
				err, errlen,
				"%s:%d: expected old_code,old_name,old_province,new_code,new_name,merge_type,...",
				path, lineno);
			goto fail;
		}
		if (r->new_index[nc] < 0) {
			snprintf(err, errlen, "%s:%d: new unit %05d is not in the unit list", path, lineno,
				 nc);
			goto fail;
		}
		o = &r->old[oc];
		if (strcmp(f[5], "full") == 0 && o->ntargets > 0) {
			snprintf(err, errlen, "%s:%d: old unit %05d mapped twice but merge_type is full",
				 path, lineno, oc);
			goto fail;
		}
		if (strcmp(f[5], "full") != 0 && strcmp(f[5], "partial") != 0) {
			snprintf(err, errlen, "%s:%d: merge_type must be full or partial, not \"%s\"", path,
				 lineno, f[5]);
			goto fail;
		}
		if (o->ntargets == MAX_SUCCESSORS) {
			snprintf(err, errlen, "%s:%d: old unit %05d has more than %d successors", path,
				 lineno, oc, MAX_SUCCESSORS);
			goto fail;
		}
		o->targets[o->ntargets++] = nc;
	}
	free(data);
	return 0;
fail:
	free(data);
	return -1;
}

static int override_cmp(const void *a, const void *b)
{
	const struct override *x = a, *y = b;
	int c = strcmp(x->table, y->table);

	return c != 0 ? c : strcmp(x->key, y->key);
}

static int units_load_overrides(struct routing *r, const char *path, char *err, size_t errlen)
{
	char *data = policy_read(r, path, err, errlen);
	char *line, *save = NULL;
	int lineno = 0;

	if (data == NULL)
		return -1;
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		int nf, unit;
		struct override *o;

		lineno++;
		if (lineno == 1 && strncmp(line, "table,", 6) == 0)
			continue;
		nf = csv_split(line, f, 4);
		if (nf == 1 && f[0][0] == '\0')
			continue;
		if (nf != 3 || (unit = routing_code_parse(f[2], strlen(f[2]))) < 0) {
			snprintf(err, errlen, "%s:%d: expected table,key,unit", path, lineno);
			goto fail;
		}
		if (r->new_index[unit] < 0) {
			snprintf(err, errlen, "%s:%d: unit %05d is not a post-2025 unit", path, lineno, unit);
			goto fail;
		}
		o = realloc(r->overrides, (r->noverrides + 1) * sizeof(*o));
		if (o == NULL)
			goto oom;
		r->overrides = o;
		o = &r->overrides[r->noverrides++];
		o->table = strdup(f[0]);
		o->key = strdup(f[1]);
		o->unit = unit;
		if (o->table == NULL || o->key == NULL)
			goto oom;
	}
	free(data);
	if (r->noverrides > 0) /* none: overrides is NULL, which qsort may not be given */
		qsort(r->overrides, r->noverrides, sizeof(*r->overrides), override_cmp);
	for (size_t i = 1; i < r->noverrides; i++)
		if (override_cmp(&r->overrides[i - 1], &r->overrides[i]) == 0) {
			snprintf(err, errlen, "%s: key %s of %s is listed twice", path, r->overrides[i].key,
				 r->overrides[i].table);
			return -1;
		}
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
fail:
	free(data);
	return -1;
}

/* ---- routing.json ---------------------------------------------------------- */

static char *path_join(const char *dir, const char *file)
{
	char *p;

	if (file[0] == '/')
		return strdup(file);
	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return NULL;
	return p;
}

/* Rejects keys a reader would expect to work but that would be ignored. */
static int check_keys(json_t *obj, const char *const *allowed, const char *where, const char *file, char *err,
		      size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach (obj, k, v) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			snprintf(err, errlen, "%s: %s: unknown key \"%s\"", file, where, k);
			return -1;
		}
	}
	return 0;
}

static int json_code(json_t *v, int *code)
{
	const char *s;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	*code = routing_code_parse(s, strlen(s));
	return *code < 0 ? -1 : 0;
}

/* Parses one range {"from","to","unit"} (+ "old_unit" in table-level rules). */
static int range_parse(const struct routing *r, json_t *jr, int old_code, struct split_range *out,
		       const char *where, const char *file, char *err, size_t errlen)
{
	static const char *const keys[] = {"from", "to", "unit", "old_unit", NULL};
	json_t *jf = json_object_get(jr, "from"), *jt = json_object_get(jr, "to");
	const struct old_unit *o;
	bool ok = false;

	if (!json_is_object(jr) || check_keys(jr, keys, where, file, err, errlen) < 0) {
		if (!json_is_object(jr))
			snprintf(err, errlen, "%s: %s: a split range is an object {\"from\",\"to\",\"unit\"}",
				 file, where);
		return -1;
	}
	if (old_code < 0 && json_code(json_object_get(jr, "old_unit"), &old_code) < 0) {
		snprintf(err, errlen, "%s: %s: \"old_unit\" must be a 5-digit unit code string", file, where);
		return -1;
	}
	if (!json_is_integer(jf) || !json_is_integer(jt) || json_integer_value(jf) > json_integer_value(jt)) {
		snprintf(err, errlen, "%s: %s: \"from\" and \"to\" must be integers with from <= to", file,
			 where);
		return -1;
	}
	if (json_code(json_object_get(jr, "unit"), &out->unit) < 0) {
		snprintf(err, errlen, "%s: %s: \"unit\" must be a 5-digit unit code string", file, where);
		return -1;
	}
	o = &r->old[old_code];
	for (int i = 0; i < o->ntargets && o->ntargets > 1; i++)
		if (o->targets[i] == out->unit)
			ok = true;
	if (o->ntargets < 2) {
		snprintf(err, errlen,
			 "%s: %s: old unit %05d was not split (merge_type partial) in the mapping file", file,
			 where, old_code);
		return -1;
	}
	if (!ok) {
		snprintf(err, errlen,
			 "%s: %s: unit %05d is not one of the units old unit %05d was split into", file,
			 where, out->unit, old_code);
		return -1;
	}
	out->old_code = old_code;
	out->from = (long)json_integer_value(jf);
	out->to = (long)json_integer_value(jt);
	return 0;
}

static int ranges_check_overlap(const struct split_range *rg, size_t n, const char *where, const char *file,
				char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (rg[i].old_code == rg[j].old_code && rg[i].from <= rg[j].to &&
			    rg[j].from <= rg[i].to) {
				snprintf(
					err, errlen,
					"%s: %s: overlapping split rules for old unit %05d: [%ld,%ld] -> %05d and [%ld,%ld] -> %05d; make the ranges disjoint",
					file, where, rg[i].old_code, rg[i].from, rg[i].to, rg[i].unit,
					rg[j].from, rg[j].to, rg[j].unit);
				return -1;
			}
	return 0;
}

static int split_rules_parse(struct routing *r, json_t *js, const char *file, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (js == NULL)
		return 0;
	if (!json_is_object(js)) {
		snprintf(err, errlen, "%s: \"split_rules\" must be an object keyed by old unit code", file);
		return -1;
	}
	json_object_foreach (js, k, v) {
		static const char *const keys[] = {"ranges", "registers_kept_by", NULL};
		char where[64];
		int oc = routing_code_parse(k, strlen(k));
		json_t *jr = json_object_get(v, "ranges"), *jk = json_object_get(v, "registers_kept_by");
		struct split_rule *rule;
		size_t i;
		json_t *e;

		snprintf(where, sizeof(where), "split_rules.%s", k);
		if (oc < 0 || !json_is_object(v)) {
			snprintf(err, errlen, "%s: %s: expected a 5-digit old unit code with an object", file,
				 where);
			return -1;
		}
		if (check_keys(v, keys, where, file, err, errlen) < 0)
			return -1;
		if (r->old[oc].ntargets < 2) {
			snprintf(
				err, errlen,
				"%s: %s: old unit %05d was not split (merge_type partial) in the mapping file",
				file, where, oc);
			return -1;
		}
		rule = realloc(r->rules, (r->nrules + 1) * sizeof(*rule));
		if (rule == NULL)
			goto oom;
		r->rules = rule;
		rule = &r->rules[r->nrules++];
		rule->old_code = oc;
		rule->registers_kept_by = 0;
		if (jk != NULL) {
			bool ok = false;

			if (json_code(jk, &rule->registers_kept_by) < 0) {
				snprintf(err, errlen,
					 "%s: %s: \"registers_kept_by\" must be a unit code string", file,
					 where);
				return -1;
			}
			for (int t = 0; t < r->old[oc].ntargets; t++)
				ok |= r->old[oc].targets[t] == rule->registers_kept_by;
			if (!ok) {
				snprintf(
					err, errlen,
					"%s: %s: unit %05d is not one of the units old unit %05d was split into",
					file, where, rule->registers_kept_by, oc);
				return -1;
			}
		}
		if (jr != NULL && !json_is_array(jr)) {
			snprintf(err, errlen, "%s: %s: \"ranges\" must be an array", file, where);
			return -1;
		}
		json_array_foreach (jr, i, e) {
			struct split_range *rg = realloc(r->ranges, (r->nranges + 1) * sizeof(*rg));

			if (rg == NULL)
				goto oom;
			r->ranges = rg;
			if (range_parse(r, e, oc, &r->ranges[r->nranges], where, file, err, errlen) < 0)
				return -1;
			r->nranges++;
		}
	}
	return ranges_check_overlap(r->ranges, r->nranges, "split_rules", file, err, errlen);
oom:
	snprintf(err, errlen, "%s: out of memory", file);
	return -1;
}

static char *dup_str(json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static const char *const field_type_names[] = {"text", "integer",     "numeric",
					       "date", "timestamptz", "boolean"};
#define NFIELD_TYPES (sizeof(field_type_names) / sizeof(field_type_names[0]))

const char *routing_field_type_name(enum routing_field_type t)
{
	return (size_t)t < NFIELD_TYPES ? field_type_names[t] : "?";
}

static int field_index(const struct routing_table *t, const char *col)
{
	for (size_t i = 0; i < t->nfields; i++)
		if (strcmp(t->fields[i].column, col) == 0)
			return (int)i;
	return -1;
}

static bool column_listed(const struct routing_table *t, const char *col)
{
	if (t->fields != NULL)
		return field_index(t, col) >= 0;
	if (t->columns == NULL)
		return true;
	for (size_t i = 0; i < t->ncolumns; i++)
		if (strcmp(t->columns[i], col) == 0)
			return true;
	return false;
}

/* A table's names: "source", "table" (schema-qualified, split into schema
 * and name), "unit_column" and "target_table" (the name by default). */
static int table_names_parse(json_t *jt, struct routing_table *t, const char *where, const char *file,
			     char *err, size_t errlen)
{
	const char *dot;

	t->source = dup_str(json_object_get(jt, "source"));
	t->table = dup_str(json_object_get(jt, "table"));
	t->unit_column = dup_str(json_object_get(jt, "unit_column"));
	if (t->source == NULL || t->table == NULL || t->unit_column == NULL) {
		snprintf(err, errlen,
			 "%s: %s: \"source\", \"table\" and \"unit_column\" are required strings", file,
			 where);
		return -1;
	}
	dot = strchr(t->table, '.');
	if (dot == NULL || dot == t->table || dot[1] == '\0' || strchr(dot + 1, '.') != NULL) {
		snprintf(err, errlen, "%s: %s: \"table\" must be schema-qualified, e.g. \"public.%s\"", file,
			 where, t->table);
		return -1;
	}
	t->schema = strndup(t->table, (size_t)(dot - t->table));
	t->name = strdup(dot + 1);
	t->target_table = json_object_get(jt, "target_table") != NULL
				  ? dup_str(json_object_get(jt, "target_table"))
				  : strdup(t->name);
	if (t->schema == NULL || t->name == NULL || t->target_table == NULL) {
		snprintf(err, errlen, "%s: %s: \"target_table\" must be a string", file, where);
		return -1;
	}
	return 0;
}

/* "era": "new", "old" or {"by_date": "COLUMN"}. */
static int table_era_parse(json_t *je, struct routing_table *t, const char *where, const char *file,
			   char *err, size_t errlen)
{
	if (json_is_string(je) && strcmp(json_string_value(je), "new") == 0) {
		t->era = ROUTING_ERA_NEW;
	} else if (json_is_string(je) && strcmp(json_string_value(je), "old") == 0) {
		t->era = ROUTING_ERA_OLD;
	} else if (json_is_object(je) && json_object_size(je) == 1 &&
		   json_is_string(json_object_get(je, "by_date"))) {
		t->era = ROUTING_ERA_BY_DATE;
		t->date_column = dup_str(json_object_get(je, "by_date"));
	} else {
		snprintf(err, errlen, "%s: %s: \"era\" must be \"new\", \"old\" or {\"by_date\": \"COLUMN\"}",
			 file, where);
		return -1;
	}
	return 0;
}

/* "split.rules": the table's own ranges of split.column, disjoint. */
static int table_split_rules_parse(struct routing *r, json_t *jr, struct routing_table *t, const char *where,
				   const char *file, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(jr) || t->split_column == NULL) {
		snprintf(err, errlen, "%s: %s: \"split.rules\" must be an array and needs \"split.column\"",
			 file, where);
		return -1;
	}
	t->ranges = calloc(json_array_size(jr) + 1, sizeof(*t->ranges));
	if (t->ranges == NULL)
		return -1;
	json_array_foreach (jr, i, e) {
		if (range_parse(r, e, -1, &t->ranges[i], where, file, err, errlen) < 0)
			return -1;
		t->nranges++;
	}
	return ranges_check_overlap(t->ranges, t->nranges, where, file, err, errlen);
}

/* "split" (optional): {"column", "rules", "registers"}. */
static int table_split_parse(struct routing *r, json_t *js, struct routing_table *t, const char *where,
			     const char *file, char *err, size_t errlen)
{
	static const char *const skeys[] = {"column", "rules", "registers", NULL};
	json_t *jr = json_object_get(js, "rules");

	if (js == NULL)
		return 0;
	if (!json_is_object(js) || check_keys(js, skeys, where, file, err, errlen) < 0) {
		if (!json_is_object(js))
			snprintf(err, errlen, "%s: %s: \"split\" must be an object", file, where);
		return -1;
	}
	if (json_object_get(js, "column") != NULL &&
	    (t->split_column = dup_str(json_object_get(js, "column"))) == NULL) {
		snprintf(err, errlen, "%s: %s: \"split.column\" must be a string", file, where);
		return -1;
	}
	if (json_object_get(js, "registers") != NULL) {
		if (!json_is_boolean(json_object_get(js, "registers"))) {
			snprintf(err, errlen, "%s: %s: \"split.registers\" must be true or false", file,
				 where);
			return -1;
		}
		t->split_registers = json_is_true(json_object_get(js, "registers"));
	}
	if (t->split_column == NULL && !t->split_registers) {
		snprintf(
			err, errlen,
			"%s: %s: \"split\" needs \"column\" (split by that column's value) or \"registers\": true (the unit keeping the old registers)",
			file, where);
		return -1;
	}
	if (jr != NULL)
		return table_split_rules_parse(r, jr, t, where, file, err, errlen);
	return 0;
}

/* "columns" (optional): the column names copied, or ["*"] for all. */
static int table_columns_parse(json_t *jc, struct routing_table *t, const char *where, const char *file,
			       char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (jc == NULL)
		return 0;
	if (!json_is_array(jc) || json_array_size(jc) == 0) {
		snprintf(err, errlen, "%s: %s: \"columns\" must be a non-empty array (or [\"*\"])", file,
			 where);
		return -1;
	}
	if (json_array_size(jc) == 1 && json_is_string(json_array_get(jc, 0)) &&
	    strcmp(json_string_value(json_array_get(jc, 0)), "*") == 0)
		return 0;
	t->columns = calloc(json_array_size(jc), sizeof(char *));
	if (t->columns == NULL)
		return -1;
	json_array_foreach (jc, i, e) {
		if (!json_is_string(e) || strcmp(json_string_value(e), "*") == 0) {
			snprintf(err, errlen, "%s: %s: \"columns\" entries must be column names", file,
				 where);
			return -1;
		}
		t->columns[t->ncolumns++] = strdup(json_string_value(e));
	}
	return 0;
}

/* "mask" (optional): {"column": "last4" | "null" | "sha256"}, each a copied
 * column other than the unit column. */
static int table_masks_parse(json_t *jm, struct routing_table *t, const char *where, const char *file,
			     char *err, size_t errlen)
{
	const char *col;
	json_t *v;

	if (jm == NULL)
		return 0;
	if (!json_is_object(jm)) {
		snprintf(err, errlen, "%s: %s: \"mask\" must be an object {\"column\": \"last4\"}", file,
			 where);
		return -1;
	}
	t->masks = calloc(json_object_size(jm) + 1, sizeof(*t->masks));
	if (t->masks == NULL)
		return -1;
	json_object_foreach (jm, col, v) {
		struct column_mask *m = &t->masks[t->nmasks];
		const char *kind = json_is_string(v) ? json_string_value(v) : "";

		if (strcmp(kind, "last4") == 0)
			m->kind = MASK_LAST4;
		else if (strcmp(kind, "null") == 0)
			m->kind = MASK_NULL;
		else if (strcmp(kind, "sha256") == 0)
			m->kind = MASK_SHA256;
		else {
			snprintf(err, errlen,
				 "%s: %s: mask of \"%s\" must be \"last4\", \"null\" or \"sha256\"", file,
				 where, col);
			return -1;
		}
		if (!column_listed(t, col)) {
			snprintf(err, errlen, "%s: %s: masked column \"%s\" is not in \"%s\"", file, where,
				 col, t->fields ? "fields" : "columns");
			return -1;
		}
		if (strcmp(col, t->unit_column) == 0) {
			snprintf(err, errlen, "%s: %s: the unit column \"%s\" cannot be masked", file, where,
				 col);
			return -1;
		}
		m->column = strdup(col);
		t->nmasks++;
	}
	return 0;
}

/* One entry of "fields": "column": {"field": "json.path", "type": "..."}. */
static int table_field_parse(const char *col, json_t *jf, struct routing_field *f, const char *where,
			     const char *file, char *err, size_t errlen)
{
	static const char *const fkeys[] = {"field", "type", NULL};
	json_t *jp = json_object_get(jf, "field"), *jt = json_object_get(jf, "type");
	char fwhere[256];
	size_t k;

	snprintf(fwhere, sizeof(fwhere), "%s: fields.%s", where, col);
	if (!json_is_object(jf)) {
		snprintf(err, errlen, "%s: %s: expected {\"field\": \"json.path\", \"type\": \"text\"}", file,
			 fwhere);
		return -1;
	}
	if (check_keys(jf, fkeys, fwhere, file, err, errlen) < 0)
		return -1;
	if (!json_is_string(jp) || json_string_length(jp) == 0 || json_string_value(jp)[0] == '.' ||
	    strstr(json_string_value(jp), "..") != NULL ||
	    json_string_value(jp)[json_string_length(jp) - 1] == '.') {
		snprintf(err, errlen,
			 "%s: %s: \"field\" must be the record's field, a dotted path such as \"unit.code\"",
			 file, fwhere);
		return -1;
	}
	for (k = 0; k < NFIELD_TYPES; k++)
		if (json_is_string(jt) && strcmp(json_string_value(jt), field_type_names[k]) == 0)
			break;
	if (k == NFIELD_TYPES) {
		snprintf(err, errlen,
			 "%s: %s: \"type\" must be text, integer, numeric, date, timestamptz or boolean",
			 file, fwhere);
		return -1;
	}
	f->column = strdup(col);
	f->path = strdup(json_string_value(jp));
	f->type = (enum routing_field_type)k;
	if (f->column == NULL || f->path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* "key": the key columns, each one of "fields", none twice. */
static int table_key_parse(json_t *jk, struct routing_table *t, const char *where, const char *file,
			   char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(jk) || json_array_size(jk) == 0 || json_array_size(jk) > 8) {
		snprintf(
			err, errlen,
			"%s: %s: \"key\" is required with \"fields\": an array of 1 to 8 of its columns, e.g. [\"id\"]",
			file, where);
		return -1;
	}
	t->key = calloc(json_array_size(jk), sizeof(char *));
	if (t->key == NULL)
		return -1;
	json_array_foreach (jk, i, e) {
		const char *c = json_is_string(e) ? json_string_value(e) : "";

		if (field_index(t, c) < 0) {
			snprintf(err, errlen, "%s: %s: key column \"%s\" is not one of \"fields\"", file,
				 where, c);
			return -1;
		}
		for (size_t j = 0; j < t->nkey; j++)
			if (strcmp(t->key[j], c) == 0) {
				snprintf(err, errlen, "%s: %s: key column \"%s\" is listed twice", file,
					 where, c);
				return -1;
			}
		if ((t->key[t->nkey++] = strdup(c)) == NULL)
			return -1;
	}
	return 0;
}

/* "fields" and "key" (a kind = http source's table, both or neither): the
 * unit table's columns and types, each from a record's JSON path. */
static int table_fields_parse(json_t *jt, struct routing_table *t, const char *where, const char *file,
			      char *err, size_t errlen)
{
	json_t *jf = json_object_get(jt, "fields"), *v;
	const char *col;

	if (jf == NULL) {
		if (json_object_get(jt, "key") == NULL)
			return 0;
		snprintf(err, errlen, "%s: %s: \"key\" goes with \"fields\" (a kind = http source's table)",
			 file, where);
		return -1;
	}
	if (!json_is_object(jf) || json_object_size(jf) == 0) {
		snprintf(
			err, errlen,
			"%s: %s: \"fields\" must be an object {\"column\": {\"field\": \"json.path\", \"type\": \"text\"}}",
			file, where);
		return -1;
	}
	if (json_object_get(jt, "columns") != NULL) {
		snprintf(err, errlen,
			 "%s: %s: \"columns\" and \"fields\" exclude each other: the columns are the fields",
			 file, where);
		return -1;
	}
	t->fields = calloc(json_object_size(jf), sizeof(*t->fields));
	if (t->fields == NULL)
		return -1;
	json_object_foreach (jf, col, v) {
		if (table_field_parse(col, v, &t->fields[t->nfields], where, file, err, errlen) < 0)
			return -1;
		t->nfields++;
	}
	return table_key_parse(json_object_get(jt, "key"), t, where, file, err, errlen);
}

/* With "fields", the routing columns are fields too. */
static int table_fields_check(const struct routing_table *t, const char *where, const char *file, char *err,
			      size_t errlen)
{
	const char *cols[2] = {t->date_column, t->split_column};

	for (size_t i = 0; t->fields != NULL && i < 2; i++)
		if (cols[i] != NULL && field_index(t, cols[i]) < 0) {
			snprintf(err, errlen, "%s: %s: the %s column \"%s\" must be one of \"fields\"", file,
				 where, i == 0 ? "by_date" : "split", cols[i]);
			return -1;
		}
	return 0;
}

/* tables[idx] of routing.json into *t. */
static int table_parse(struct routing *r, json_t *jt, struct routing_table *t, size_t idx, const char *file,
		       char *err, size_t errlen)
{
	static const char *const keys[] = {"source", "table",	     "unit_column", "era", "split", "columns",
					   "mask",   "target_table", "fields",	    "key", NULL};
	char where[128];

	snprintf(where, sizeof(where), "tables[%zu]", idx);
	if (!json_is_object(jt)) {
		snprintf(err, errlen, "%s: %s: expected an object", file, where);
		return -1;
	}
	if (json_is_string(json_object_get(jt, "table")))
		snprintf(where, sizeof(where), "tables[%zu] (%s)", idx,
			 json_string_value(json_object_get(jt, "table")));
	if (check_keys(jt, keys, where, file, err, errlen) < 0 ||
	    table_names_parse(jt, t, where, file, err, errlen) < 0 ||
	    table_era_parse(json_object_get(jt, "era"), t, where, file, err, errlen) < 0 ||
	    table_split_parse(r, json_object_get(jt, "split"), t, where, file, err, errlen) < 0 ||
	    table_fields_parse(jt, t, where, file, err, errlen) < 0 ||
	    table_columns_parse(json_object_get(jt, "columns"), t, where, file, err, errlen) < 0 ||
	    table_masks_parse(json_object_get(jt, "mask"), t, where, file, err, errlen) < 0 ||
	    table_fields_check(t, where, file, err, errlen) < 0)
		return -1;
	if (!column_listed(t, t->unit_column)) {
		snprintf(err, errlen, "%s: %s: the unit column \"%s\" must be in \"%s\"", file, where,
			 t->unit_column, t->fields ? "fields" : "columns");
		return -1;
	}
	return 0;
}

/* routing.json read (into the digest) and parsed: an object with only the
 * known top-level keys.  Returns a new reference, or NULL with err set. */
static json_t *routing_root_read(struct routing *r, const char *file, char *err, size_t errlen)
{
	static const char *const top_keys[] = {"units", "split_rules", "tables", NULL};
	json_error_t jerr;
	json_t *root;
	char *p = policy_read(r, file, err, errlen);

	if (p == NULL)
		return NULL;
	root = json_loads(p, JSON_REJECT_DUPLICATES, &jerr);
	free(p);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", file, jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(root) || check_keys(root, top_keys, "top level", file, err, errlen) < 0) {
		if (!json_is_object(root))
			snprintf(err, errlen, "%s: expected a JSON object", file);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* One unit file named by ju's key (relative to dir) loaded with load. */
static int units_file_load(struct routing *r, const char *dir, json_t *ju, const char *key,
			   int (*load)(struct routing *, const char *, char *, size_t), char *err,
			   size_t errlen)
{
	char *p = path_join(dir, json_string_value(json_object_get(ju, key)));
	int rc;

	if (p == NULL)
		return -1;
	rc = load(r, p, err, errlen);
	free(p);
	return rc;
}

/* "units": the cutover date and the unit list, mapping and split overrides
 * files it names. */
static int units_section_load(struct routing *r, const char *dir, json_t *ju, const char *file, char *err,
			      size_t errlen)
{
	static const char *const unit_keys[] = {"list", "mapping", "cutover", "split_overrides", NULL};
	const char *s;
	int y, m, d;

	if (!json_is_object(ju) || check_keys(ju, unit_keys, "units", file, err, errlen) < 0) {
		if (!json_is_object(ju))
			snprintf(err, errlen,
				 "%s: \"units\" is required: {\"list\", \"mapping\", \"cutover\"}", file);
		return -1;
	}
	if (!json_is_string(json_object_get(ju, "list")) || !json_is_string(json_object_get(ju, "mapping"))) {
		snprintf(err, errlen, "%s: units.list and units.mapping must name the unit CSV files", file);
		return -1;
	}
	s = json_string_value(json_object_get(ju, "cutover"));
	if (s == NULL)
		s = "2025-07-01";
	if (sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 ||
	    (r->cutover = routing_date_parse(s, strlen(s))) < 0) {
		snprintf(err, errlen, "%s: units.cutover must be a date YYYY-MM-DD, not \"%s\"", file, s);
		return -1;
	}
	if (units_file_load(r, dir, ju, "list", units_load_list, err, errlen) < 0 ||
	    units_file_load(r, dir, ju, "mapping", units_load_mapping, err, errlen) < 0)
		return -1;
	if (json_is_string(json_object_get(ju, "split_overrides")) &&
	    units_file_load(r, dir, ju, "split_overrides", units_load_overrides, err, errlen) < 0)
		return -1;
	return 0;
}

/* tables[i] against the tables before it: no source table routed twice, no
 * two tables with one name in the unit databases. */
static int table_check_unique(const struct routing *r, size_t i, const char *file, char *err, size_t errlen)
{
	for (size_t j = 0; j < i; j++) {
		if (strcmp(r->tables[j].source, r->tables[i].source) == 0 &&
		    strcmp(r->tables[j].table, r->tables[i].table) == 0) {
			snprintf(err, errlen, "%s: tables[%zu]: %s of source %s is routed twice", file, i,
				 r->tables[i].table, r->tables[i].source);
			return -1;
		}
		if (strcmp(r->tables[j].target_table, r->tables[i].target_table) == 0) {
			snprintf(
				err, errlen,
				"%s: tables[%zu]: %s and %s would both be \"%s\" in each unit; set \"target_table\" on one of them",
				file, i, r->tables[j].table, r->tables[i].table, r->tables[i].target_table);
			return -1;
		}
	}
	return 0;
}

/* "tables": a non-empty array, each table parsed and unique. */
static int tables_load(struct routing *r, json_t *jt, const char *file, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(jt) || json_array_size(jt) == 0) {
		snprintf(err, errlen, "%s: \"tables\" must be a non-empty array", file);
		return -1;
	}
	r->tables = calloc(json_array_size(jt), sizeof(*r->tables));
	if (r->tables == NULL)
		return -1;
	json_array_foreach (jt, i, e) {
		r->ntables++;
		if (table_parse(r, e, &r->tables[i], i, file, err, errlen) < 0 ||
		    table_check_unique(r, i, file, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* The digest of every policy file read, as hex into r->digest. */
static int digest_finish(struct routing *r, const char *file, char *err, size_t errlen)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_DigestFinal_ex(r->md, md, &mdlen) != 1) {
		snprintf(err, errlen, "%s: cannot digest", file);
		return -1;
	}
	for (unsigned int k = 0; k < mdlen && k < 32; k++)
		snprintf(r->digest + 2 * k, 3, "%02x", md[k]);
	EVP_MD_CTX_free(r->md);
	r->md = NULL;
	return 0;
}

struct routing *routing_load(const char *dir, char *err, size_t errlen)
{
	struct routing *r = calloc(1, sizeof(*r));
	char *file = path_join(dir, "routing.json");
	json_t *root = NULL;

	if (r == NULL || file == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r->md = EVP_MD_CTX_new();
	if (r->md == NULL || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	root = routing_root_read(r, file, err, errlen);
	if (root == NULL ||
	    units_section_load(r, dir, json_object_get(root, "units"), file, err, errlen) < 0 ||
	    split_rules_parse(r, json_object_get(root, "split_rules"), file, err, errlen) < 0 ||
	    tables_load(r, json_object_get(root, "tables"), file, err, errlen) < 0 ||
	    digest_finish(r, file, err, errlen) < 0)
		goto fail;
	json_decref(root);
	free(file);
	return r;
fail:
	json_decref(root);
	free(file);
	routing_free(r);
	return NULL;
}

static void table_free(struct routing_table *t)
{
	free(t->source);
	free(t->table);
	free(t->schema);
	free(t->name);
	free(t->target_table);
	free(t->unit_column);
	free(t->date_column);
	free(t->split_column);
	free(t->ranges);
	for (size_t i = 0; i < t->ncolumns; i++)
		free(t->columns[i]);
	free(t->columns);
	for (size_t i = 0; i < t->nmasks; i++)
		free(t->masks[i].column);
	free(t->masks);
	for (size_t i = 0; i < t->nfields; i++) {
		free(t->fields[i].column);
		free(t->fields[i].path);
	}
	free(t->fields);
	for (size_t i = 0; i < t->nkey; i++)
		free(t->key[i]);
	free(t->key);
}

void routing_free(struct routing *r)
{
	if (r == NULL)
		return;
	EVP_MD_CTX_free(r->md);
	for (size_t i = 0; i < r->nunits; i++) {
		free(r->units[i].name);
		free(r->units[i].type);
		free(r->units[i].full_name);
	}
	free(r->units);
	free(r->old);
	free(r->ranges);
	free(r->rules);
	for (size_t i = 0; i < r->noverrides; i++) {
		free(r->overrides[i].table);
		free(r->overrides[i].key);
	}
	free(r->overrides);
	for (size_t i = 0; i < r->ntables; i++)
		table_free(&r->tables[i]);
	free(r->tables);
	free(r);
}

const char *routing_digest(const struct routing *r)
{
	return r->digest;
}

size_t routing_table_count(const struct routing *r)
{
	return r->ntables;
}

const struct routing_table *routing_table_get(const struct routing *r, size_t i)
{
	return i < r->ntables ? &r->tables[i] : NULL;
}

size_t routing_unit_count(const struct routing *r)
{
	return r->nunits;
}

const struct unit_info *routing_unit_get(const struct routing *r, size_t i)
{
	return i < r->nunits ? &r->units[i] : NULL;
}

int routing_unit_index(const struct routing *r, int code)
{
	if (code < 0 || code >= ROUTING_CODE_SPACE)
		return -1;
	return r->new_index[code];
}

const struct unit_info *routing_unit_find(const struct routing *r, int code)
{
	int i = routing_unit_index(r, code);

	return i < 0 ? NULL : &r->units[i];
}

/* ---- reload ------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool ranges_eq(const struct split_range *a, size_t na, const struct split_range *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].old_code != b[i].old_code || a[i].from != b[i].from || a[i].to != b[i].to ||
		    a[i].unit != b[i].unit)
			return false;
	return true;
}

static const struct routing_table *table_find(const struct routing *r, const char *source, const char *table)
{
	for (size_t i = 0; i < r->ntables; i++)
		if (strcmp(r->tables[i].source, source) == 0 && strcmp(r->tables[i].table, table) == 0)
			return &r->tables[i];
	return NULL;
}

int routing_compare(const struct routing *a, const struct routing *b, char *msg, size_t msglen)
{
	int other = 0;

	msg[0] = '\0';
	if (strcmp(a->digest, b->digest) == 0)
		return 0;
	/* where rows go: units, the old->new mapping, the cutover, split rules, overrides */
	if (a->nunits != b->nunits || a->cutover != b->cutover ||
	    memcmp(a->new_index, b->new_index, sizeof(a->new_index)) != 0 ||
	    memcmp(a->old, b->old, ROUTING_CODE_SPACE * sizeof(*a->old)) != 0 ||
	    !ranges_eq(a->ranges, a->nranges, b->ranges, b->nranges) || a->nrules != b->nrules ||
	    (a->nrules && memcmp(a->rules, b->rules, a->nrules * sizeof(*a->rules)) != 0) ||
	    a->noverrides != b->noverrides) {
		snprintf(msg, msglen,
			 "the units, the old->new mapping, the cutover or the split rules changed");
		return 1;
	}
	for (size_t i = 0; i < a->noverrides; i++)
		if (strcmp(a->overrides[i].table, b->overrides[i].table) != 0 ||
		    strcmp(a->overrides[i].key, b->overrides[i].key) != 0 ||
		    a->overrides[i].unit != b->overrides[i].unit) {
			snprintf(msg, msglen, "the split overrides changed");
			return 1;
		}
	for (size_t i = 0; i < a->ntables; i++) {
		const struct routing_table *t = &a->tables[i], *u = table_find(b, t->source, t->table);

		if (u == NULL) {
			snprintf(msg, msglen, "%s of source %s is no longer routed", t->table, t->source);
			other = 2;
			continue;
		}
		if (!str_eq(t->unit_column, u->unit_column) || t->era != u->era ||
		    !str_eq(t->date_column, u->date_column) || !str_eq(t->split_column, u->split_column) ||
		    t->split_registers != u->split_registers ||
		    !ranges_eq(t->ranges, t->nranges, u->ranges, u->nranges)) {
			snprintf(msg, msglen, "how %s of source %s is routed changed", t->table, t->source);
			return 1;
		}
		if (!str_eq(t->target_table, u->target_table) || t->ncolumns != u->ncolumns ||
		    t->nmasks != u->nmasks || t->nfields != u->nfields || t->nkey != u->nkey) {
			snprintf(msg, msglen, "the columns, masks or target of %s changed", t->table);
			other = 2;
		}
	}
	if (other == 0 && b->ntables > a->ntables) {
		snprintf(msg, msglen, "%zu tables were added", b->ntables - a->ntables);
		return 3;
	}
	if (other == 0) {
		snprintf(msg, msglen, "the columns or masks of a table changed");
		other = 2;
	}
	return other;
}
