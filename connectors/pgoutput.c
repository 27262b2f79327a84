/* pgoutput.c — the pure decoder of replication frames and pgoutput messages
 * (v1/v2), every length checked, and the standby status update.
 * Layouts follow PostgreSQL 15's src/backend/replication/logical/proto.c
 * and the "Logical Replication Message Formats" chapter of its docs. */
#include "connectors/pgoutput.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

/* 2000-01-01 00:00:00 UTC in Unix seconds (10957 days). */
#define PGO_EPOCH_UNIX_US (INT64_C(946684800) * 1000000)

struct pgo_parser {
	int proto_version;
	bool in_stream; /* between Stream Start and Stream Stop */
	uint32_t stream_xid;
	/* Reused across calls; an Update needs two tuples at once. */
	struct pgo_value *old_vals, *new_vals;
	size_t old_cap, new_cap;
	struct pgo_column *cols;
	size_t cols_cap;
	uint32_t *relids;
	size_t relids_cap;
};

/* ---- bounds-checked reader ------------------------------------------------ */

struct reader {
	const uint8_t *buf;
	size_t len, off;
	const char *what; /* "pgoutput: <what>: ..." */
	char *err;
	size_t errlen;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "pgoutput: <what>: <message> (offset N)"; always returns -1. */
static int rd_fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int rd_fail(struct reader *r, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(r->err, r->errlen, "pgoutput: %s: %s (offset %zu)", r->what, msg, r->off);
	return -1;
}

static size_t rd_left(const struct reader *r)
{
	return r->len - r->off;
}

static int rd_need(struct reader *r, size_t n, const char *field)
{
	if (rd_left(r) < n)
		return rd_fail(r, "%s: message ends early (need %zu bytes, %zu left)", field, n, rd_left(r));
	return 0;
}

static int rd_u8(struct reader *r, const char *field, uint8_t *v)
{
	if (rd_need(r, 1, field) < 0)
		return -1;
	*v = r->buf[r->off++];
	return 0;
}

static int rd_u16(struct reader *r, const char *field, uint16_t *v)
{
	if (rd_need(r, 2, field) < 0)
		return -1;
	*v = be16(r->buf + r->off);
	r->off += 2;
	return 0;
}

static int rd_u32(struct reader *r, const char *field, uint32_t *v)
{
	if (rd_need(r, 4, field) < 0)
		return -1;
	*v = be32(r->buf + r->off);
	r->off += 4;
	return 0;
}

static int rd_u64(struct reader *r, const char *field, uint64_t *v)
{
	if (rd_need(r, 8, field) < 0)
		return -1;
	*v = be64(r->buf + r->off);
	r->off += 8;
	return 0;
}

static int rd_i64(struct reader *r, const char *field, int64_t *v)
{
	uint64_t u;

	if (rd_u64(r, field, &u) < 0)
		return -1;
	*v = (int64_t)u;
	return 0;
}

/* A NUL-terminated string; the result points into the message. */
static int rd_str(struct reader *r, const char *field, const char **s)
{
	const uint8_t *nul = memchr(r->buf + r->off, '\0', rd_left(r));

	if (nul == NULL)
		return rd_fail(r, "%s: string not terminated within the message", field);
	*s = (const char *)(r->buf + r->off);
	r->off = (size_t)(nul - r->buf) + 1;
	return 0;
}

static int rd_end(struct reader *r)
{
	if (r->off != r->len)
		return rd_fail(r, "%zu bytes of trailing data after the message", rd_left(r));
	return 0;
}

/* "'x' (0x78)" for a printable byte, "0x05" otherwise. */
static const char *byte_desc(uint8_t b, char *buf, size_t n)
{
	if (b >= 0x20 && b < 0x7f)
		snprintf(buf, n, "'%c' (0x%02x)", b, b);
	else
		snprintf(buf, n, "0x%02x", b);
	return buf;
}

/* The byte just read is not one of those allowed: report it at its offset. */
static int rd_unexpected(struct reader *r, const char *field, uint8_t b, const char *expected)
{
	char d[16];

	r->off--;
	return rd_fail(r, "%s: unexpected %s, expected %s", field, byte_desc(b, d, sizeof(d)), expected);
}

/* ---- parser state --------------------------------------------------------- */

struct pgo_parser *pgo_parser_new(int proto_version)
{
	struct pgo_parser *p;

	if (proto_version != 1 && proto_version != 2) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->proto_version = proto_version;
	return p;
}

void pgo_parser_free(struct pgo_parser *p)
{
	if (p == NULL)
		return;
	free(p->old_vals);
	free(p->new_vals);
	free(p->cols);
	free(p->relids);
	free(p);
}

/* Makes room for n elements of size sz in arr (capacity *cap); *out gets
 * the (possibly moved) array.  On failure arr is left as it was. */
static int reserve(void *arr, size_t *cap, size_t n, size_t sz, void **out)
{
	size_t ncap;
	void *a;

	*out = arr;
	if (n <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < n)
		ncap *= 2;
	a = realloc(arr, ncap * sz);
	if (a == NULL)
		return -1;
	*out = a;
	*cap = ncap;
	return 0;
}

/* ---- message bodies ------------------------------------------------------- */

/* TupleData: Int16 ncols, then per column Byte1 kind and, for 't'/'b', Int32
 * length + bytes.  which is "old" or "new". */
static int rd_tuple(struct pgo_parser *p, struct reader *r, const char *which, struct pgo_tuple *t)
{
	bool old = which[0] == 'o';
	struct pgo_value **vals = old ? &p->old_vals : &p->new_vals;
	size_t *cap = old ? &p->old_cap : &p->new_cap;
	char field[32];
	uint16_t n;
	void *mem;

	/* field names are built only for a message: this loop runs per column */
	if (rd_left(r) < 2) {
		snprintf(field, sizeof(field), "%s tuple column count", which);
		return rd_u16(r, field, &n);
	}
	(void)rd_u16(r, "", &n);
	/* Each column takes at least its kind byte: refuse before allocating. */
	if (n > rd_left(r))
		return rd_fail(r, "%s tuple: %u columns but %zu bytes left", which, (unsigned)n, rd_left(r));
	if (reserve(*vals, cap, n, sizeof(**vals), &mem) < 0)
		return rd_fail(r, "%s tuple: out of memory for %u columns", which, (unsigned)n);
	*vals = mem;
	for (uint16_t i = 0; i < n; i++) {
		struct pgo_value *v = &(*vals)[i];
		uint8_t kind;
		uint32_t len;

		if (rd_left(r) < 1) {
			snprintf(field, sizeof(field), "%s tuple column %u", which, (unsigned)i + 1);
			return rd_u8(r, field, &kind);
		}
		(void)rd_u8(r, "", &kind);
		v->kind = (char)kind;
		v->data = NULL;
		v->len = 0;
		switch (kind) {
		case 'n':
		case 'u': break;
		case 't':
		case 'b':
			if (rd_left(r) < 4) {
				snprintf(field, sizeof(field), "%s tuple column %u", which, (unsigned)i + 1);
				return rd_u32(r, field, &len);
			}
			(void)rd_u32(r, "", &len);
			if (len > rd_left(r)) {
				snprintf(field, sizeof(field), "%s tuple column %u", which, (unsigned)i + 1);
				r->off -= 4;
				return rd_fail(r, "%s: length %u exceeds message", field, len);
			}
			v->data = r->buf + r->off;
			v->len = len;
			r->off += len;
			break;
		default:
			snprintf(field, sizeof(field), "%s tuple column %u", which, (unsigned)i + 1);
			return rd_unexpected(r, field, kind, "'n', 'u', 't' or 'b'");
		}
	}
	t->ncols = n;
	t->values = *vals;
	return 0;
}

static int rd_begin(struct reader *r, struct pgo_event *ev)
{
	if (rd_u64(r, "final LSN", &ev->u.begin.final_lsn) < 0 ||
	    rd_i64(r, "commit time", &ev->u.begin.commit_time) < 0 || rd_u32(r, "xid", &ev->xid) < 0)
		return -1;
	return 0;
}

static int rd_commit(struct reader *r, struct pgo_event *ev)
{
	if (rd_u8(r, "flags", &ev->u.commit.flags) < 0 ||
	    rd_u64(r, "commit LSN", &ev->u.commit.commit_lsn) < 0 ||
	    rd_u64(r, "end LSN", &ev->u.commit.end_lsn) < 0 ||
	    rd_i64(r, "commit time", &ev->u.commit.commit_time) < 0)
		return -1;
	return 0;
}

static int rd_origin(struct reader *r, struct pgo_event *ev)
{
	if (rd_u64(r, "origin LSN", &ev->u.origin.lsn) < 0 ||
	    rd_str(r, "origin name", &ev->u.origin.name) < 0)
		return -1;
	return 0;
}

static int rd_relation(struct pgo_parser *p, struct reader *r, struct pgo_event *ev)
{
	char field[32];
	uint8_t ident;
	uint16_t n;
	void *mem;

	if (rd_u32(r, "relation OID", &ev->u.relation.oid) < 0 ||
	    rd_str(r, "namespace", &ev->u.relation.nspname) < 0 ||
	    rd_str(r, "relation name", &ev->u.relation.relname) < 0 ||
	    rd_u8(r, "replica identity", &ident) < 0)
		return -1;
	if (ident != 'd' && ident != 'n' && ident != 'f' && ident != 'i')
		return rd_unexpected(r, "replica identity", ident, "'d', 'n', 'f' or 'i'");
	ev->u.relation.replident = (char)ident;
	if (rd_u16(r, "column count", &n) < 0)
		return -1;
	/* A column is at least flags, an empty name, type OID and typmod. */
	if ((size_t)n * 10 > rd_left(r))
		return rd_fail(r, "%u columns but %zu bytes left", (unsigned)n, rd_left(r));
	if (reserve(p->cols, &p->cols_cap, n, sizeof(*p->cols), &mem) < 0)
		return rd_fail(r, "out of memory for %u columns", (unsigned)n);
	p->cols = mem;
	for (uint16_t i = 0; i < n; i++) {
		struct pgo_column *c = &p->cols[i];
		uint8_t flags;
		uint32_t typmod;

		snprintf(field, sizeof(field), "column %u", (unsigned)i + 1);
		if (rd_u8(r, field, &flags) < 0 || rd_str(r, field, &c->name) < 0 ||
		    rd_u32(r, field, &c->type_oid) < 0 || rd_u32(r, field, &typmod) < 0)
			return -1;
		c->key = (flags & 1) != 0;
		c->typmod = (int32_t)typmod;
	}
	ev->u.relation.ncols = n;
	ev->u.relation.cols = p->cols;
	return 0;
}

static int rd_type(struct reader *r, struct pgo_event *ev)
{
	if (rd_u32(r, "type OID", &ev->u.type_info.oid) < 0 ||
	    rd_str(r, "namespace", &ev->u.type_info.nspname) < 0 ||
	    rd_str(r, "type name", &ev->u.type_info.name) < 0)
		return -1;
	return 0;
}

static int rd_tag(struct reader *r, uint8_t *tag)
{
	return rd_u8(r, "tuple tag", tag);
}

static int rd_change(struct pgo_parser *p, struct reader *r, struct pgo_event *ev)
{
	uint8_t tag;

	if (rd_u32(r, "relation OID", &ev->u.change.relid) < 0 || rd_tag(r, &tag) < 0)
		return -1;
	switch (ev->type) {
	case PGO_INSERT:
		if (tag != 'N')
			return rd_unexpected(r, "tuple tag", tag, "'N'");
		return rd_tuple(p, r, "new", &ev->u.change.new_tuple);
	case PGO_UPDATE:
		if (tag == 'K' || tag == 'O') {
			ev->u.change.old_kind = (char)tag;
			if (rd_tuple(p, r, "old", &ev->u.change.old_tuple) < 0 || rd_tag(r, &tag) < 0)
				return -1;
			if (tag != 'N')
				return rd_unexpected(r, "tuple tag", tag, "'N'");
		} else if (tag != 'N') {
			return rd_unexpected(r, "tuple tag", tag, "'K', 'O' or 'N'");
		}
		return rd_tuple(p, r, "new", &ev->u.change.new_tuple);
	default: /* PGO_DELETE */
		if (tag != 'K' && tag != 'O')
			return rd_unexpected(r, "tuple tag", tag, "'K' or 'O'");
		ev->u.change.old_kind = (char)tag;
		return rd_tuple(p, r, "old", &ev->u.change.old_tuple);
	}
}

static int rd_truncate(struct pgo_parser *p, struct reader *r, struct pgo_event *ev)
{
	uint32_t n;
	void *mem;

	if (rd_u32(r, "relation count", &n) < 0 || rd_u8(r, "options", &ev->u.truncate.options) < 0)
		return -1;
	if ((uint64_t)n * 4 > rd_left(r))
		return rd_fail(r, "%u relations but %zu bytes left", n, rd_left(r));
	if (reserve(p->relids, &p->relids_cap, n, sizeof(*p->relids), &mem) < 0)
		return rd_fail(r, "out of memory for %u relations", n);
	p->relids = mem;
	for (uint32_t i = 0; i < n; i++) {
		p->relids[i] = be32(r->buf + r->off);
		r->off += 4;
	}
	ev->u.truncate.nrels = n;
	ev->u.truncate.relids = p->relids;
	return 0;
}

static int rd_message(struct reader *r, struct pgo_event *ev)
{
	uint32_t len;

	if (rd_u8(r, "flags", &ev->u.message.flags) < 0 || rd_u64(r, "LSN", &ev->u.message.lsn) < 0 ||
	    rd_str(r, "prefix", &ev->u.message.prefix) < 0 || rd_u32(r, "content length", &len) < 0)
		return -1;
	if (len > rd_left(r)) {
		r->off -= 4;
		return rd_fail(r, "content length %u exceeds message", len);
	}
	ev->u.message.content = r->buf + r->off;
	ev->u.message.len = len;
	r->off += len;
	return 0;
}

static int rd_stream_start(struct reader *r, struct pgo_event *ev)
{
	uint8_t first;

	if (rd_u32(r, "xid", &ev->xid) < 0 || rd_u8(r, "first segment", &first) < 0)
		return -1;
	if (first > 1)
		return rd_unexpected(r, "first segment", first, "0 or 1");
	ev->u.stream_start.first_segment = first == 1;
	return 0;
}

static int rd_stream_commit(struct reader *r, struct pgo_event *ev)
{
	if (rd_u32(r, "xid", &ev->xid) < 0)
		return -1;
	return rd_commit(r, ev);
}

static int rd_stream_abort(struct reader *r, struct pgo_event *ev)
{
	if (rd_u32(r, "xid", &ev->xid) < 0 || rd_u32(r, "subtransaction xid", &ev->u.stream_abort.subxid) < 0)
		return -1;
	return 0;
}

/* ---- dispatch ------------------------------------------------------------- */

static const char *type_name(uint8_t t)
{
	switch (t) {
	case PGO_BEGIN: return "Begin";
	case PGO_COMMIT: return "Commit";
	case PGO_ORIGIN: return "Origin";
	case PGO_RELATION: return "Relation";
	case PGO_TYPE: return "Type";
	case PGO_INSERT: return "Insert";
	case PGO_UPDATE: return "Update";
	case PGO_DELETE: return "Delete";
	case PGO_TRUNCATE: return "Truncate";
	case PGO_MESSAGE: return "Message";
	case PGO_STREAM_START: return "Stream Start";
	case PGO_STREAM_STOP: return "Stream Stop";
	case PGO_STREAM_COMMIT: return "Stream Commit";
	case PGO_STREAM_ABORT: return "Stream Abort";
	default: return NULL;
	}
}

/* Messages that carry an Int32 xid after the type byte inside a stream.
 * Message ('M') counts: only transactional messages are decoded inside a
 * streamed block, and those carry the xid (pgoutput_message in PG15). */
static bool takes_stream_xid(uint8_t t)
{
	return t == PGO_RELATION || t == PGO_TYPE || t == PGO_INSERT || t == PGO_UPDATE || t == PGO_DELETE ||
	       t == PGO_TRUNCATE || t == PGO_MESSAGE;
}

static bool is_v2_only(uint8_t t)
{
	return t == PGO_STREAM_START || t == PGO_STREAM_STOP || t == PGO_STREAM_COMMIT ||
	       t == PGO_STREAM_ABORT;
}

int pgo_parse(struct pgo_parser *p, const uint8_t *buf, size_t len, struct pgo_event *ev, char *err,
	      size_t errlen)
{
	struct reader r = {.buf = buf, .len = len, .off = 0, .err = err, .errlen = errlen};
	uint8_t t;
	int rc;

	memset(ev, 0, sizeof(*ev));
	if (len == 0) {
		set_err(err, errlen, "pgoutput: empty message");
		return -1;
	}
	t = buf[0];
	r.what = type_name(t);
	if (r.what == NULL) {
		char d[16];

		set_err(err, errlen, "pgoutput: unknown message type %s", byte_desc(t, d, sizeof(d)));
		return -1;
	}
	ev->type = (enum pgo_type)t;
	if (is_v2_only(t) && p->proto_version < 2)
		return rd_fail(&r, "not part of protocol version %d", p->proto_version);
	if (p->in_stream && (t == PGO_BEGIN || t == PGO_COMMIT || t == PGO_STREAM_START ||
			     t == PGO_STREAM_COMMIT || t == PGO_STREAM_ABORT))
		return rd_fail(&r, "inside a streamed block (Stream Start of xid %u without Stream Stop)",
			       p->stream_xid);
	if (t == PGO_STREAM_STOP && !p->in_stream)
		return rd_fail(&r, "without Stream Start");
	r.off = 1;
	if (p->in_stream && takes_stream_xid(t)) {
		if (rd_u32(&r, "xid", &ev->xid) < 0)
			return -1;
		ev->has_xid = true;
	}

	switch (t) {
	case PGO_BEGIN: rc = rd_begin(&r, ev); break;
	case PGO_COMMIT: rc = rd_commit(&r, ev); break;
	case PGO_ORIGIN: rc = rd_origin(&r, ev); break;
	case PGO_RELATION: rc = rd_relation(p, &r, ev); break;
	case PGO_TYPE: rc = rd_type(&r, ev); break;
	case PGO_INSERT:
	case PGO_UPDATE:
	case PGO_DELETE: rc = rd_change(p, &r, ev); break;
	case PGO_TRUNCATE: rc = rd_truncate(p, &r, ev); break;
	case PGO_MESSAGE: rc = rd_message(&r, ev); break;
	case PGO_STREAM_START: rc = rd_stream_start(&r, ev); break;
	case PGO_STREAM_STOP:
		ev->xid = p->stream_xid; /* the xid of the block it ends */
		rc = 0;
		break;
	case PGO_STREAM_COMMIT: rc = rd_stream_commit(&r, ev); break;
	default: rc = rd_stream_abort(&r, ev); break;
	}
	if (rc < 0 || rd_end(&r) < 0)
		return -1;

	/* Only a message that parsed completely moves the stream state. */
	if (t == PGO_STREAM_START) {
		p->in_stream = true;
		p->stream_xid = ev->xid;
	} else if (t == PGO_STREAM_STOP) {
		p->in_stream = false;
	}
	return 0;
}

int pgo_parse_streamed(struct pgo_parser *p, const uint8_t *buf, size_t len, struct pgo_event *ev, char *err,
		       size_t errlen)
{
	bool in_stream = p->in_stream;
	uint32_t stream_xid = p->stream_xid;
	int rc;

	p->in_stream = true;
	rc = pgo_parse(p, buf, len, ev, err, errlen);
	p->in_stream = in_stream;
	p->stream_xid = stream_xid;
	return rc;
}

/* ---- CopyData frames ------------------------------------------------------ */

#define XLOGDATA_HDR  25 /* 'w' + 3 Int64 */
#define KEEPALIVE_LEN 18 /* 'k' + 2 Int64 + Byte1 */

int pgo_frame_parse(const uint8_t *buf, size_t len, struct pgo_frame *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (len == 0) {
		set_err(err, errlen, "pgoutput: empty CopyData frame");
		return -1;
	}
	switch (buf[0]) {
	case 'w':
		if (len < XLOGDATA_HDR) {
			set_err(err, errlen,
				"pgoutput: XLogData frame: %zu bytes, shorter than its %d-byte header", len,
				XLOGDATA_HDR);
			return -1;
		}
		out->wal_start = be64(buf + 1);
		out->wal_end = be64(buf + 9);
		out->send_time = (int64_t)be64(buf + 17);
		out->payload = buf + XLOGDATA_HDR;
		out->payload_len = len - XLOGDATA_HDR;
		break;
	case 'k':
		if (len != KEEPALIVE_LEN) {
			set_err(err, errlen, "pgoutput: keepalive frame: %zu bytes, expected %d", len,
				KEEPALIVE_LEN);
			return -1;
		}
		out->wal_end = be64(buf + 1);
		out->send_time = (int64_t)be64(buf + 9);
		out->reply_requested = buf[17] != 0;
		break;
	default: {
		char d[16];

		set_err(err, errlen, "pgoutput: unknown CopyData frame kind %s",
			byte_desc(buf[0], d, sizeof(d)));
		return -1;
	}
	}
	out->kind = (char)buf[0];
	return 0;
}

size_t pgo_status_build(uint8_t out[PGO_STATUS_LEN], uint64_t written, uint64_t flushed, uint64_t applied,
			int64_t now, bool reply_requested)
{
	out[0] = 'r';
	put64(out + 1, written);
	put64(out + 9, flushed);
	put64(out + 17, applied);
	put64(out + 25, (uint64_t)now);
	out[33] = reply_requested ? 1 : 0;
	return PGO_STATUS_LEN;
}

int64_t pgo_time_from_unix(int64_t unix_us)
{
	return unix_us - PGO_EPOCH_UNIX_US;
}

/* ---- LSN text ------------------------------------------------------------- */

/* 1 to 8 hex digits, as PostgreSQL's pg_lsn input accepts. */
static const char *lsn_half(const char *s, uint32_t *v)
{
	int n = 0, d;

	*v = 0;
	while ((d = hex_digit(s[n])) >= 0) {
		if (++n > 8)
			return NULL;
		*v = *v << 4 | (uint32_t)d;
	}
	return n == 0 ? NULL : s + n;
}

int pgo_lsn_parse(const char *s, uint64_t *lsn)
{
	uint32_t hi, lo;

	if (s == NULL)
		return -1;
	s = lsn_half(s, &hi);
	if (s == NULL || *s != '/')
		return -1;
	s = lsn_half(s + 1, &lo);
	if (s == NULL || *s != '\0')
		return -1;
	*lsn = (uint64_t)hi << 32 | lo;
	return 0;
}

void pgo_lsn_format(uint64_t lsn, char *out, size_t outlen)
{
	snprintf(out, outlen, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}
