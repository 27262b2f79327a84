/* http_payload.h — the JSON body an HTTP target sends (issue 13 item 2): one
 * unit's batch of changes, plain or as CloudEvents, and its batch id.  Pure.
 *
 * Values arrive as PostgreSQL text output plus the column's type OID and are
 * written as:
 *   int2/int4/int8/oid, numeric, float4/float8  a JSON number, PostgreSQL's
 *       own digits verbatim (exact on the wire, numeric included: no trip
 *       through double); NaN, Infinity, -Infinity (no JSON number exists)
 *       as the strings "NaN", "Infinity", "-Infinity"
 *   bool          true / false
 *   date          "2026-08-22"; timestamp "2026-08-22T10:00:00[.ffffff]";
 *   timestamptz   "2026-08-22T10:00:00+07:00" (an offset with seconds, as
 *                 PostgreSQL prints local mean time before 1906, is turned
 *                 into the same instant in UTC, "...Z"); BC years as ISO 8601
 *                 astronomical years ("0044-03-15 BC" -> "-0043-03-15"), years
 *                 past 9999 with a "+"; "infinity"/"-infinity" as those strings
 *   bytea         base64 (RFC 4648, padded) of the \x hex output
 *   NULL          null
 *   everything else (text, varchar, uuid, json, arrays, time, ...) a JSON
 *                 string holding the text, which must be valid UTF-8, in
 *                 NFC for Latin letters with marks (common/nfc.c: "e" +
 *                 U+0302 + U+0303 goes out as U+1EC5; text already NFC is
 *                 kept byte for byte), only '"', '\' and control
 *                 characters escaped
 * An unchanged TOASTed value (CV_ABSENT) is left out of "row" and its column
 * named in the change's "unchanged" array.  A value that does not fit its
 * type is refused with the table and column named. */
#ifndef SYNCD_CONNECTORS_HTTP_PAYLOAD_H
#define SYNCD_CONNECTORS_HTTP_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "connectors/connector.h"

enum http_op {
	HTTP_OP_INSERT,
	HTTP_OP_UPDATE,
	HTTP_OP_DELETE,
	HTTP_OP_TRUNCATE,
};

enum http_format {
	HTTP_FORMAT_JSON,	 /* application/json: {"source",...,"changes":[...]} */
	HTTP_FORMAT_CLOUDEVENTS, /* application/cloudevents-batch+json: [event, ...] */
};

/* The batch id: "<source>-<unit>-<lsn_from>-<lsn_to>", each LSN as 16
 * upper-case hex digits (so one unit's ids sort in commit order), the source
 * name with every byte outside [A-Za-z0-9._~-] written %XX.  The same inputs
 * give the same id across retries and restarts; it is a valid HTTP header
 * value (visible ASCII, no space) of at most HTTP_BATCH_ID_MAX bytes.
 * Returns 0, or -1 with err set when the source name makes it longer. */
#define HTTP_BATCH_ID_MAX 255
#define HTTP_BATCH_ID_BUF (HTTP_BATCH_ID_MAX + 12) /* room for a piece's "-N" */
int http_batch_id(const char *source, int unit, uint64_t lsn_from, uint64_t lsn_to, char *out, size_t outlen,
		  char *err, size_t errlen) __attribute__((warn_unused_result));

/* "insert", "update", "delete", "truncate". */
const char *http_op_name(enum http_op op);

/* The Content-Type of a rendered body. */
const char *http_format_content_type(enum http_format format);

struct http_batch;

/* Returns a new, empty batch (names copied), caller frees with
 * http_batch_free(); NULL when memory runs out. */
struct http_batch *http_batch_new(const char *source, int unit);
void http_batch_free(struct http_batch *b);

/* Number of changes added so far. */
size_t http_batch_count(const struct http_batch *b);

/* Adds one change committed at commit_lsn (not below the previous change's:
 * the first and last become lsn_from and lsn_to).
 *   insert:   row (one value per column of t); "key" is the row's key columns
 *   update:   row as for insert; old_key (one value per key column, in key
 *             order) when the key changed, else NULL
 *   delete:   old_key, the removed row's key; row NULL
 *   truncate: row and old_key NULL
 * "key" is the row's identity after the change, "old_key" before it: a
 * receiver finds the row to replace or remove by old_key when present, else
 * by key.  Returns 0, or -1 with err naming table and column (the batch is
 * then unchanged). */
int http_batch_add(struct http_batch *b, uint64_t commit_lsn, enum http_op op,
		   const struct connector_table *t, const struct connector_value *row,
		   const struct connector_value *old_key, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Sets the batch's place in its unit's stream, overriding what the changes'
 * commit LSNs gave: lsn_from and lsn_to, and part (0: the whole batch; N > 0:
 * the Nth piece of one split by size, whose id ends in "-N"). */
void http_batch_set_position(struct http_batch *b, uint64_t lsn_from, uint64_t lsn_to, unsigned part);

/* The batch's id (http_batch_id of its source, unit and LSNs, plus "-N" for
 * a piece) into out.  Returns 0, or -1 with err set. */
int http_batch_get_id(const struct http_batch *b, char *out, size_t outlen, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The body of the batch in format: *body is a new NUL-terminated string of
 * *len bytes, caller frees with free().  CloudEvents: one event per change,
 * id "<batch id>/<index from 0>", source "syncd/<source>", type
 * "vn.cantho.syncd.<op>", subject "<unit>/<table>", data the change as in
 * the plain form.  Returns 0, or -1 with err set (an empty batch, a batch id
 * too long, memory). */
int http_batch_render(const struct http_batch *b, enum http_format format, char **body, size_t *len,
		      char *err, size_t errlen) __attribute__((warn_unused_result));

/* body compressed as gzip (Content-Encoding: gzip): *out a new buffer of
 * *outlen bytes, caller frees.  Returns 0, or -1 (memory, or a body over
 * 4 GiB). */
int http_gzip(const char *in, size_t len, char **out, size_t *outlen) __attribute__((warn_unused_result));

#endif
