/* pull.h — a kind = http source (issue 13 item 6): a paged JSON API pulled
 * every interval, each page's records mapped to their table's columns
 * (routing.json "fields"), routed like a stream's rows and upserted into
 * the units, exactly once: a page's number is its position in the units'
 * checkpoints, and the cursor after it commits with the quarantine. */
#ifndef SYNCD_SYNC_PULL_H
#define SYNCD_SYNC_PULL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "connectors/connector.h"
#include "syncd/config.h"
#include "syncd/sync/routing.h"
#include "syncd/sync/stream.h"

/* Pure: the value at path ("a.b": field b of object a) of a record;
 * borrowed from rec, NULL when a step is missing or not an object. */
json_t *pull_path_get(json_t *rec, const char *path);

/* Pure: one JSON value as PostgreSQL text of type t, appended to out (a
 * JSON null: *is_null, nothing appended).  Returns 0, or -1 with why
 * saying what was expected ("an integer, got \"abc\""). */
int pull_value_text(const json_t *v, enum routing_field_type t, struct buf *out, bool *is_null, char *why,
		    size_t whylen);

/* Pure: a record's columns (rt->fields order) into vals, their text kept in
 * store.  A key or unit column that is missing or null, or a value that does
 * not fit its type, is an error: -1 with err naming the field and column. */
int pull_record_map(const struct routing_table *rt, json_t *rec, struct connector_value *vals,
		    struct buf *store, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Pure: the cursor after a page, into out.  With next_field: the page's
 * token (string or number; *more true), or none (missing, null or "":
 * *more false, out untouched).  Without: the greatest cursor_field of the
 * records (numbers as numbers, strings as text; *more true).  Returns 0, or
 * -1 with err (a record without its cursor field, types mixed). */
int pull_page_cursor(json_t *page, json_t *records, const char *next_field, const char *cursor_field,
		     struct buf *out, bool *more, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Checks before anything is written: the source's routed table (exactly
 * one, with "fields" and "key"). */
int pull_check_source(const struct config *cfg, const struct routing *rt, const struct config_source *src,
		      char *err, size_t errlen);

/* Pulls src every src->interval seconds until opt->stop (opt->once: one
 * round).  Same contract as stream_run: 0 when stopped (or once done), -1
 * with err on a malformed page or bad configuration (the source stops);
 * an API or database that does not answer is retried every interval. */
int pull_run(const struct config *cfg, const struct routing *rt, const struct config_source *src,
	     const struct stream_options *opt, struct stream_result *res, char *err, size_t errlen);

#endif
