/* test_pgoutput.c — the pgoutput parser on messages captured from
 * PostgreSQL 15 (tests/data/pgoutput/, see its README.md): decoded fields,
 * stream state, every truncation of every message and a trailing byte after
 * it; hand-made malformed messages; CopyData frames, the status update,
 * LSN text and timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "connectors/pgoutput.h"

#define DATA "tests/data/pgoutput/"

/* Type OIDs from pg_type.dat. */
#define INT4OID	 23
#define INT8OID	 20
#define TEXTOID	 25
#define BYTEAOID 17

/* 2025-01-02 03:04:05 UTC: the commit time set with
 * pg_replication_origin_xact_setup() in the captures. */
#define ORIGIN_TS_UNIX_US (INT64_C(1735787045) * 1000000)

/* ---- fixtures ------------------------------------------------------------- */

struct fixture {
	size_t n;
	uint8_t **msg; /* each malloc'ed to its exact length: ASan sees overreads */
	size_t *len;
};

/* One message per line in hex; blank lines and '#' lines are comments. */
static struct fixture *fixture_load(const char *name)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char path[256], *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	FILE *f;

	assert_non_null(fx);
	snprintf(path, sizeof(path), DATA "%s", name);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s (tests run from the repository root)", path);
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len;
		uint8_t *m;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (n % 2 != 0)
			fail_msg("%s:%zu: odd number of hex digits", path, lineno);
		len = (size_t)n / 2;
		m = malloc(len);
		assert_non_null(m);
		for (size_t i = 0; i < len; i++) {
			int hi = hex_digit((char)line[2 * i]), lo = hex_digit((char)line[2 * i + 1]);

			if (hi < 0 || lo < 0)
				fail_msg("%s:%zu: not hex", path, lineno);
			m[i] = (uint8_t)(hi << 4 | lo);
		}
		fx->msg = realloc(fx->msg, (fx->n + 1) * sizeof(*fx->msg));
		fx->len = realloc(fx->len, (fx->n + 1) * sizeof(*fx->len));
		assert_non_null(fx->msg);
		assert_non_null(fx->len);
		fx->msg[fx->n] = m;
		fx->len[fx->n] = len;
		fx->n++;
	}
	free(line);
	fclose(f);
	assert_true(fx->n > 0);
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	for (size_t i = 0; i < fx->n; i++)
		free(fx->msg[i]);
	free(fx->msg);
	free(fx->len);
	free(fx);
}

/* ---- helpers -------------------------------------------------------------- */

static void parse_ok(struct pgo_parser *p, const uint8_t *buf, size_t len, struct pgo_event *ev)
{
	char err[256] = "";

	if (pgo_parse(p, buf, len, ev, err, sizeof(err)) != 0)
		fail_msg("pgo_parse failed: %s", err);
}

/* Parses and expects failure; returns the error text. */
static const char *parse_fails(struct pgo_parser *p, const uint8_t *buf, size_t len)
{
	static char err[256];
	struct pgo_event ev;

	err[0] = '\0';
	assert_int_equal(pgo_parse(p, buf, len, &ev, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "pgoutput: ", 10), 0);
	return err;
}

static void assert_text(const struct pgo_value *v, const char *s)
{
	assert_int_equal(v->kind, 't');
	assert_int_equal(v->len, strlen(s));
	if (v->len > 0)
		assert_memory_equal(v->data, s, v->len);
}

static void assert_kind(const struct pgo_value *v, char kind)
{
	assert_int_equal(v->kind, kind);
	if (kind == 'n' || kind == 'u') {
		assert_null(v->data);
		assert_int_equal(v->len, 0);
	}
}

/* Every value of the tuple lies inside the message. */
static void assert_tuple_inside(const struct pgo_tuple *t, const uint8_t *buf, size_t len)
{
	for (uint16_t i = 0; i < t->ncols; i++) {
		const struct pgo_value *v = &t->values[i];

		if (v->kind == 't' || v->kind == 'b') {
			assert_true(v->data >= buf);
			assert_true(v->data + v->len <= buf + len);
		}
	}
}

static bool plausible_lsn(uint64_t lsn)
{
	return lsn > 0x1000000 && lsn < (UINT64_C(1) << 40);
}

/* Send/commit times between 2020 and 2040, in PostgreSQL-epoch µs. */
static bool plausible_time(int64_t t)
{
	return t > pgo_time_from_unix(INT64_C(1577836800) * 1000000) &&
	       t < pgo_time_from_unix(INT64_C(2208988800) * 1000000);
}

/* The message types of a fixture, run-length encoded: "BYRIRI2C..." */
static void type_runs(const struct fixture *fx, int version, char *out, size_t outlen)
{
	struct pgo_parser *p = pgo_parser_new(version);
	size_t o = 0;
	char prev = 0;
	int run = 0;

	assert_non_null(p);
	out[0] = '\0';
	for (size_t i = 0; i <= fx->n; i++) {
		struct pgo_event ev;
		char t = 0;

		if (i < fx->n) {
			parse_ok(p, fx->msg[i], fx->len[i], &ev);
			t = (char)ev.type;
		}
		if (t == prev) {
			run++;
			continue;
		}
		if (prev != 0)
			o += (size_t)(run > 1 ? snprintf(out + o, outlen - o, "%c%d", prev, run)
					      : snprintf(out + o, outlen - o, "%c", prev));
		assert_true(o < outlen);
		prev = t;
		run = 1;
	}
	pgo_parser_free(p);
}

/* Relation cache of a walk over a fixture. */
struct rel {
	uint32_t oid;
	char name[64];
	uint16_t ncols;
	uint32_t types[8];
};

struct walk {
	struct rel rels[4];
	int nrels;
	bool in_txn;
	uint64_t final_lsn, last_end_lsn;
	int64_t commit_time;
};

static struct rel *walk_rel(struct walk *w, uint32_t oid)
{
	for (int i = 0; i < w->nrels; i++)
		if (w->rels[i].oid == oid)
			return &w->rels[i];
	fail_msg("change for relation %u before its Relation message", oid);
	return NULL;
}

/* Invariants of any transaction stream: Begin/Commit pair up with matching
 * LSNs and times, commits in LSN order, changes follow their relation's
 * Relation message and match its column count, values lie in the message. */
static void walk_check(struct walk *w, const struct pgo_event *ev, const uint8_t *buf, size_t len)
{
	struct rel *r;

	switch (ev->type) {
	case PGO_BEGIN:
		assert_false(w->in_txn);
		assert_true(plausible_lsn(ev->u.begin.final_lsn));
		assert_true(ev->u.begin.final_lsn > w->last_end_lsn);
		assert_true(plausible_time(ev->u.begin.commit_time));
		assert_true(ev->xid >= 3); /* FirstNormalTransactionId */
		w->in_txn = true;
		w->final_lsn = ev->u.begin.final_lsn;
		w->commit_time = ev->u.begin.commit_time;
		break;
	case PGO_COMMIT:
		assert_true(w->in_txn);
		assert_int_equal(ev->u.commit.flags, 0);
		assert_int_equal(ev->u.commit.commit_lsn, w->final_lsn);
		assert_true(ev->u.commit.end_lsn > ev->u.commit.commit_lsn);
		assert_int_equal(ev->u.commit.commit_time, w->commit_time);
		w->in_txn = false;
		w->last_end_lsn = ev->u.commit.end_lsn;
		break;
	case PGO_RELATION:
		for (int i = 0; i < w->nrels; i++)
			if (w->rels[i].oid == ev->u.relation.oid)
				w->rels[i] = w->rels[--w->nrels];
		assert_true(w->nrels < 4);
		assert_true(ev->u.relation.ncols <= 8);
		r = &w->rels[w->nrels++];
		r->oid = ev->u.relation.oid;
		snprintf(r->name, sizeof(r->name), "%s", ev->u.relation.relname);
		r->ncols = ev->u.relation.ncols;
		for (uint16_t i = 0; i < r->ncols; i++)
			r->types[i] = ev->u.relation.cols[i].type_oid;
		break;
	case PGO_INSERT:
	case PGO_UPDATE:
	case PGO_DELETE:
		r = walk_rel(w, ev->u.change.relid);
		if (ev->type != PGO_INSERT && ev->u.change.old_kind != 0) {
			assert_int_equal(ev->u.change.old_tuple.ncols, r->ncols);
			assert_tuple_inside(&ev->u.change.old_tuple, buf, len);
		}
		if (ev->type != PGO_DELETE) {
			assert_int_equal(ev->u.change.new_tuple.ncols, r->ncols);
			assert_tuple_inside(&ev->u.change.new_tuple, buf, len);
		}
		break;
	case PGO_TRUNCATE:
		for (uint32_t i = 0; i < ev->u.truncate.nrels; i++)
			walk_rel(w, ev->u.truncate.relids[i]);
		break;
	default: break;
	}
}

/* ---- captured protocol 1 -------------------------------------------------- */

#define V1_RUNS "BYRIRI2CBUCBUCBUCBUCBD2CBMICMBOICBYR2TC"

static void test_v1_types(void **state)
{
	struct fixture *fx = fixture_load("v1.hex");
	char runs[256];

	(void)state;
	type_runs(fx, 1, runs, sizeof(runs));
	assert_string_equal(runs, V1_RUNS);
	/* Without streaming, protocol 2 sends the same messages. */
	type_runs(fx, 2, runs, sizeof(runs));
	assert_string_equal(runs, V1_RUNS);
	fixture_free(fx);
}

/* Fields of tests/data/pgoutput/v1.hex, message by message (0-based). */
/* The ids of the fixture's type and relations, learned as they arrive. */
struct v1_ids {
	uint32_t mood, toasty, plain;
};

/* v1.hex messages 1-6: the type and relations, the first rows. */
static void v1_check_schema(size_t i, const struct pgo_event *ev, struct v1_ids *ids)
{
	const struct pgo_value *nv = ev->u.change.new_tuple.values;

	switch (i) {
	case 1: /* Type: the enum, before the Relation that uses it */
		assert_int_equal(ev->type, PGO_TYPE);
		assert_string_equal(ev->u.type_info.nspname, "public");
		assert_string_equal(ev->u.type_info.name, "mood");
		assert_true(ev->u.type_info.oid >= 16384); /* FirstNormalObjectId */
		ids->mood = ev->u.type_info.oid;
		break;
	case 2:
		assert_int_equal(ev->type, PGO_RELATION);
		assert_string_equal(ev->u.relation.nspname, "public");
		assert_string_equal(ev->u.relation.relname, "toasty");
		assert_int_equal(ev->u.relation.replident, 'f');
		assert_int_equal(ev->u.relation.ncols, 4);
		assert_string_equal(ev->u.relation.cols[0].name, "id");
		assert_int_equal(ev->u.relation.cols[0].type_oid, INT8OID);
		assert_string_equal(ev->u.relation.cols[1].name, "label");
		assert_int_equal(ev->u.relation.cols[1].type_oid, TEXTOID);
		assert_string_equal(ev->u.relation.cols[2].name, "payload");
		assert_int_equal(ev->u.relation.cols[2].type_oid, BYTEAOID);
		assert_string_equal(ev->u.relation.cols[3].name, "feel");
		assert_int_equal(ev->u.relation.cols[3].type_oid, ids->mood);
		for (int c = 0; c < 4; c++) {
			assert_true(ev->u.relation.cols[c].key); /* FULL: every column */
			assert_int_equal(ev->u.relation.cols[c].typmod, -1);
		}
		ids->toasty = ev->u.relation.oid;
		break;
	case 3: /* the TOASTed bytea arrives whole in an Insert */
		assert_int_equal(ev->type, PGO_INSERT);
		assert_int_equal(ev->u.change.relid, ids->toasty);
		assert_int_equal(ev->u.change.old_kind, 0);
		assert_int_equal(ev->u.change.old_tuple.ncols, 0);
		assert_text(&nv[0], "1");
		assert_text(&nv[1], "first");
		assert_int_equal(nv[2].kind, 't');
		assert_int_equal(nv[2].len, 2 + 2 * 2104);
		assert_memory_equal(nv[2].data, "\\x0123456789abcdef", 18);
		assert_text(&nv[3], "happy");
		break;
	case 4:
		assert_int_equal(ev->type, PGO_RELATION);
		assert_string_equal(ev->u.relation.relname, "plain");
		assert_int_equal(ev->u.relation.replident, 'd');
		assert_int_equal(ev->u.relation.ncols, 4);
		assert_true(ev->u.relation.cols[0].key);
		assert_int_equal(ev->u.relation.cols[0].type_oid, INT8OID);
		assert_false(ev->u.relation.cols[1].key);
		assert_int_equal(ev->u.relation.cols[2].type_oid, INT4OID);
		assert_false(ev->u.relation.cols[2].key);
		assert_string_equal(ev->u.relation.cols[3].name, "doc");
		assert_int_equal(ev->u.relation.cols[3].type_oid, TEXTOID);
		ids->plain = ev->u.relation.oid;
		assert_true(ids->plain != ids->toasty);
		break;
	case 5:
		assert_int_equal(ev->type, PGO_INSERT);
		assert_text(&nv[0], "1");
		assert_int_equal(nv[3].len, 2100); /* repeat('lorem ', 350) */
		assert_memory_equal(nv[3].data, "lorem lorem ", 12);
		break;
	case 6:
		assert_text(&nv[1], "two");
		assert_kind(&nv[2], 'n');
		assert_text(&nv[3], "short");
		break;
	default: break;
	}
}

/* v1.hex messages 9-37: identities, TOAST, messages, origins, truncate. */
static void v1_check_changes(size_t i, const struct pgo_event *ev, const struct walk *w,
			     const struct v1_ids *ids)
{
	const struct pgo_value *o = ev->u.change.old_tuple.values, *nv = ev->u.change.new_tuple.values;

	switch (i) {
	case 9: /* FULL identity: old row complete (TOAST included), new 'u' */
		assert_int_equal(ev->type, PGO_UPDATE);
		assert_int_equal(ev->u.change.relid, ids->toasty);
		assert_int_equal(ev->u.change.old_kind, 'O');
		assert_text(&o[1], "first");
		assert_int_equal(o[2].kind, 't');
		assert_int_equal(o[2].len, 2 + 2 * 2104);
		assert_text(&nv[1], "second");
		assert_kind(&nv[2], 'u');
		assert_text(&nv[3], "happy");
		assert_true(o != nv);
		break;
	case 12: /* the TOASTed column changed: its new value is sent */
		assert_int_equal(ev->u.change.old_kind, 'O');
		assert_memory_equal(o[2].data, "\\x0123", 6);
		assert_int_equal(nv[2].kind, 't');
		assert_memory_equal(nv[2].data, "\\xfedcba", 8);
		assert_text(&nv[3], "ok");
		break;
	case 15: /* default identity, key unchanged: no old tuple */
		assert_int_equal(ev->type, PGO_UPDATE);
		assert_int_equal(ev->u.change.relid, ids->plain);
		assert_int_equal(ev->u.change.old_kind, 0);
		assert_int_equal(ev->u.change.old_tuple.ncols, 0);
		assert_null(ev->u.change.old_tuple.values);
		assert_text(&nv[1], "uno");
		assert_kind(&nv[3], 'u');
		break;
	case 18: /* key changed: old key, non-key columns NULL */
		assert_int_equal(ev->u.change.old_kind, 'K');
		assert_text(&o[0], "1");
		assert_kind(&o[1], 'n');
		assert_kind(&o[2], 'n');
		assert_kind(&o[3], 'n');
		assert_text(&nv[0], "10");
		assert_kind(&nv[3], 'u');
		break;
	case 21:
		assert_int_equal(ev->type, PGO_DELETE);
		assert_int_equal(ev->u.change.relid, ids->plain);
		assert_int_equal(ev->u.change.old_kind, 'K');
		assert_text(&o[0], "2");
		assert_kind(&o[1], 'n');
		assert_int_equal(ev->u.change.new_tuple.ncols, 0);
		break;
	case 22:
		assert_int_equal(ev->type, PGO_DELETE);
		assert_int_equal(ev->u.change.relid, ids->toasty);
		assert_int_equal(ev->u.change.old_kind, 'O');
		assert_text(&o[1], "second");
		assert_int_equal(o[2].len, 2 + 2 * 2104);
		break;
	case 25: /* transactional message, inside its transaction */
		assert_int_equal(ev->type, PGO_MESSAGE);
		assert_true(w->in_txn);
		assert_int_equal(ev->u.message.flags, 1);
		assert_string_equal(ev->u.message.prefix, "syncd");
		assert_int_equal(ev->u.message.len, 5);
		assert_memory_equal(ev->u.message.content, "hello", 5);
		assert_true(ev->u.message.lsn > w->last_end_lsn && ev->u.message.lsn < w->final_lsn);
		break;
	case 28: /* non-transactional message, outside any transaction */
		assert_int_equal(ev->type, PGO_MESSAGE);
		assert_false(w->in_txn);
		assert_int_equal(ev->u.message.flags, 0);
		assert_memory_equal(ev->u.message.content, "nontx", 5);
		assert_true(plausible_lsn(ev->u.message.lsn));
		break;
	case 29: /* the origin's commit time replaces the local one */
		assert_int_equal(ev->type, PGO_BEGIN);
		assert_int_equal(ev->u.begin.commit_time, pgo_time_from_unix(ORIGIN_TS_UNIX_US));
		break;
	case 30:
		assert_int_equal(ev->type, PGO_ORIGIN);
		assert_int_equal(ev->u.origin.lsn, UINT64_C(0x123456789)); /* '1/23456789' */
		assert_string_equal(ev->u.origin.name, "upstream");
		break;
	case 37:
		assert_int_equal(ev->type, PGO_TRUNCATE);
		assert_int_equal(ev->u.truncate.nrels, 2);
		assert_int_equal(ev->u.truncate.options, 0);
		assert_int_equal(ev->u.truncate.relids[0], ids->toasty);
		assert_int_equal(ev->u.truncate.relids[1], ids->plain);
		break;
	default: break;
	}
}

static void test_v1_fields(void **state)
{
	struct fixture *fx = fixture_load("v1.hex");
	struct pgo_parser *p = pgo_parser_new(1);
	struct walk w = {0};
	struct v1_ids ids = {0};

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < fx->n; i++) {
		struct pgo_event ev;

		parse_ok(p, fx->msg[i], fx->len[i], &ev);
		assert_false(ev.has_xid);
		walk_check(&w, &ev, fx->msg[i], fx->len[i]);
		v1_check_schema(i, &ev, &ids);
		v1_check_changes(i, &ev, &w, &ids);
	}
	assert_false(w.in_txn);
	assert_int_equal(w.nrels, 2);
	pgo_parser_free(p);
	fixture_free(fx);
}

/* binary 'true': int8, int4, bytea and the enum arrive as 'b'. */
static void test_v1_binary(void **state)
{
	struct fixture *fx = fixture_load("v1-binary.hex");
	struct pgo_parser *p = pgo_parser_new(1);
	struct pgo_event ev;
	struct walk w = {0};
	char runs[256];
	const struct pgo_value *nv;
	static const uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1}, ten[4] = {0, 0, 0, 10};

	(void)state;
	assert_non_null(p);
	type_runs(fx, 1, runs, sizeof(runs));
	assert_string_equal(runs, V1_RUNS);
	for (size_t i = 0; i < fx->n; i++) {
		parse_ok(p, fx->msg[i], fx->len[i], &ev);
		walk_check(&w, &ev, fx->msg[i], fx->len[i]);
		nv = ev.u.change.new_tuple.values;
		if (i == 3) {
			assert_int_equal(nv[0].kind, 'b');
			assert_int_equal(nv[0].len, 8);
			assert_memory_equal(nv[0].data, one, 8);
			assert_int_equal(nv[2].kind, 'b');
			assert_int_equal(nv[2].len, 2104);
			assert_memory_equal(nv[2].data, "\x01\x23\x45\x67", 4);
			assert_int_equal(nv[3].kind, 'b');
			assert_memory_equal(nv[3].data, "happy", 5);
		} else if (i == 5) {
			assert_int_equal(nv[2].kind, 'b');
			assert_int_equal(nv[2].len, 4);
			assert_memory_equal(nv[2].data, ten, 4);
		} else if (i == 15) {
			assert_kind(&nv[3], 'u');
		}
	}
	pgo_parser_free(p);
	fixture_free(fx);
}

/* ---- captured protocol 2, streaming --------------------------------------- */

struct summary {
	char type;
	bool has_xid, first_segment;
	uint32_t xid, subxid;
};

static void test_v2_stream(void **state)
{
	struct fixture *fx = fixture_load("v2-stream.hex");
	struct pgo_parser *p = pgo_parser_new(2);
	struct summary *s = calloc(fx->n, sizeof(*s));
	struct walk w = {0};
	char runs[256];
	bool in_stream = false;
	uint32_t top, sub1, sub2, big;

	(void)state;
	assert_non_null(p);
	assert_non_null(s);
	type_runs(fx, 2, runs, sizeof(runs));
	assert_string_equal(runs, "SORI10MI410EASRI10EcSRI421EA");
	for (size_t i = 0; i < fx->n; i++) {
		struct pgo_event ev;

		parse_ok(p, fx->msg[i], fx->len[i], &ev);
		s[i].type = (char)ev.type;
		s[i].has_xid = ev.has_xid;
		s[i].xid = ev.xid;
		if (ev.type == PGO_STREAM_ABORT)
			s[i].subxid = ev.u.stream_abort.subxid;
		if (ev.type == PGO_STREAM_START)
			s[i].first_segment = ev.u.stream_start.first_segment;
		/* inside a block everything but Origin carries the xid */
		assert_int_equal(ev.has_xid,
				 in_stream && ev.type != PGO_ORIGIN && ev.type != PGO_STREAM_STOP);
		if (ev.type == PGO_STREAM_START)
			in_stream = true;
		else if (ev.type == PGO_STREAM_STOP)
			in_stream = false;
		w.in_txn = true; /* changes come without Begin here */
		walk_check(&w, &ev, fx->msg[i], fx->len[i]);
		if (ev.type == PGO_ORIGIN) {
			assert_int_equal(ev.u.origin.lsn, 0); /* not sent inside a stream */
			assert_string_equal(ev.u.origin.name, "upstream");
		} else if (ev.type == PGO_MESSAGE) {
			assert_int_equal(ev.u.message.flags, 1);
			assert_string_equal(ev.u.message.prefix, "syncd");
			assert_memory_equal(ev.u.message.content, "inside", 6);
		} else if (ev.type == PGO_STREAM_COMMIT) {
			assert_int_equal(ev.u.commit.flags, 0);
			assert_true(plausible_lsn(ev.u.commit.commit_lsn));
			assert_true(ev.u.commit.end_lsn > ev.u.commit.commit_lsn);
			assert_int_equal(ev.u.commit.commit_time, pgo_time_from_unix(ORIGIN_TS_UNIX_US));
		} else if (ev.type == PGO_INSERT && i == 3) {
			assert_text(&ev.u.change.new_tuple.values[1], "row 100");
		}
	}
	assert_false(in_stream);

	/* transaction 12: first segment, its subtransaction, the abort of it */
	top = s[0].xid;
	assert_true(s[0].first_segment);
	assert_true(s[2].has_xid && s[2].xid == top); /* Relation */
	assert_int_equal(s[3].xid, top);	      /* Insert, top level */
	assert_int_equal(s[13].xid, top);	      /* Message */
	sub1 = s[14].xid;			      /* Insert in SAVEPOINT s */
	assert_true(sub1 != top);
	assert_int_equal(s[423].xid, sub1);
	assert_int_equal(s[424].type, PGO_STREAM_STOP);
	assert_int_equal(s[424].xid, top);
	assert_int_equal(s[425].type, PGO_STREAM_ABORT);
	assert_int_equal(s[425].xid, top);
	assert_int_equal(s[425].subxid, sub1); /* only the subtransaction */
	/* last segment: a new subtransaction after ROLLBACK TO, then commit */
	assert_int_equal(s[426].xid, top);
	assert_false(s[426].first_segment);
	sub2 = s[428].xid;
	assert_true(sub2 != top && sub2 != sub1);
	assert_int_equal(s[439].type, PGO_STREAM_COMMIT);
	assert_int_equal(s[439].xid, top);
	/* transaction 13: one segment, then the whole transaction aborts */
	big = s[440].xid;
	assert_true(big != top);
	assert_true(s[440].first_segment);
	assert_int_equal(s[862].xid, big);
	assert_int_equal(s[864].type, PGO_STREAM_ABORT);
	assert_int_equal(s[864].xid, big);
	assert_int_equal(s[864].subxid, big);

	free(s);
	pgo_parser_free(p);
	fixture_free(fx);
}

/* The stream messages are protocol 2; xid-prefixed messages need a block. */
static void test_v2_stream_misuse(void **state)
{
	struct fixture *fx = fixture_load("v2-stream.hex");
	struct fixture *v1 = fixture_load("v1.hex");
	struct pgo_parser *p = pgo_parser_new(1);
	struct pgo_event ev;
	const char *err;

	(void)state;
	assert_non_null(p);
	err = parse_fails(p, fx->msg[0], fx->len[0]);
	assert_string_equal(err, "pgoutput: Stream Start: not part of protocol version 1 (offset 0)");
	parse_fails(p, fx->msg[424], fx->len[424]); /* Stream Stop */
	parse_fails(p, fx->msg[425], fx->len[425]); /* Stream Abort */
	parse_fails(p, fx->msg[439], fx->len[439]); /* Stream Commit */
	pgo_parser_free(p);

	p = pgo_parser_new(2);
	assert_non_null(p);
	/* an Insert with its xid, outside a block */
	parse_fails(p, fx->msg[3], fx->len[3]);
	parse_fails(p, fx->msg[2], fx->len[2]); /* Relation */
	/* A Message with its xid is well-formed outside a block too (xid bytes
	 * become flags and LSN, the LSN's tail joins the prefix): only the
	 * stream state tells them apart. */
	parse_ok(p, fx->msg[13], fx->len[13], &ev);
	assert_string_not_equal(ev.u.message.prefix, "syncd");
	err = parse_fails(p, fx->msg[424], fx->len[424]);
	assert_string_equal(err, "pgoutput: Stream Stop: without Stream Start (offset 0)");

	parse_ok(p, fx->msg[0], fx->len[0], &ev);
	err = parse_fails(p, fx->msg[0], fx->len[0]); /* nested */
	assert_non_null(strstr(err, "Stream Start: inside a streamed block"));
	err = parse_fails(p, v1->msg[0], v1->len[0]); /* Begin */
	assert_non_null(strstr(err, "Begin: inside a streamed block"));
	parse_fails(p, v1->msg[7], v1->len[7]);	      /* Commit */
	parse_fails(p, fx->msg[439], fx->len[439]);   /* Stream Commit */
	parse_fails(p, fx->msg[425], fx->len[425]);   /* Stream Abort */
	parse_fails(p, v1->msg[3], v1->len[3]);	      /* Insert without xid */
	parse_ok(p, fx->msg[1], fx->len[1], &ev);     /* Origin: no xid */
	parse_ok(p, fx->msg[3], fx->len[3], &ev);     /* still in the block */
	parse_ok(p, fx->msg[424], fx->len[424], &ev); /* Stream Stop */
	parse_ok(p, v1->msg[3], v1->len[3], &ev);     /* out again */
	pgo_parser_free(p);
	fixture_free(v1);
	fixture_free(fx);
}

/* A message of a block read back later (staged until its Stream Commit)
 * parses as inside a block, whatever the stream state, and leaves it. */
static void test_v2_stream_parse_streamed(void **state)
{
	struct fixture *fx = fixture_load("v2-stream.hex");
	struct fixture *v1 = fixture_load("v1.hex");
	struct pgo_parser *p = pgo_parser_new(2), *q = pgo_parser_new(2);
	size_t staged = 0;

	(void)state;
	assert_non_null(p);
	assert_non_null(q);
	for (size_t i = 0; i < fx->n; i++) {
		struct pgo_event ev, back;
		char err[256];

		parse_ok(p, fx->msg[i], fx->len[i], &ev);
		if (!ev.has_xid)
			continue;
		if (pgo_parse_streamed(q, fx->msg[i], fx->len[i], &back, err, sizeof(err)) != 0)
			fail_msg("message %zu read back: %s", i, err);
		assert_int_equal(back.type, ev.type);
		assert_true(back.has_xid);
		assert_int_equal(back.xid, ev.xid);
		staged++;
		/* q is still outside any block */
		parse_ok(q, v1->msg[3], v1->len[3], &back);
		assert_false(back.has_xid);
	}
	assert_true(staged > 800);
	/* inside a block it stays inside */
	{
		struct pgo_event ev;
		char err[256];

		parse_ok(q, fx->msg[0], fx->len[0], &ev);
		assert_int_equal(pgo_parse_streamed(q, fx->msg[3], fx->len[3], &ev, err, sizeof(err)), 0);
		parse_ok(q, fx->msg[3], fx->len[3], &ev);
		assert_true(ev.has_xid);
		/* what never belongs inside a block still fails */
		assert_int_equal(pgo_parse_streamed(q, v1->msg[0], v1->len[0], &ev, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "Begin: inside a streamed block"));
	}
	pgo_parser_free(p);
	pgo_parser_free(q);
	fixture_free(v1);
	fixture_free(fx);
}

/* ---- every truncation, and a trailing byte -------------------------------- */

/* Replays a fixture; before each message, every proper prefix of it (in a
 * buffer of exactly that size) and the message plus one byte must fail
 * without changing the parser's state. */
static void check_truncations(const char *name, int version)
{
	struct fixture *fx = fixture_load(name);
	struct pgo_parser *p = pgo_parser_new(version);
	struct pgo_event ev;

	assert_non_null(p);
	for (size_t i = 0; i < fx->n; i++) {
		size_t len = fx->len[i];
		uint8_t *b;
		const char *err;

		for (size_t k = 0; k < len; k++) {
			b = malloc(k > 0 ? k : 1);
			assert_non_null(b);
			memcpy(b, fx->msg[i], k);
			err = parse_fails(p, b, k);
			free(b);
			if (k == 0)
				assert_string_equal(err, "pgoutput: empty message");
		}
		b = malloc(len + 1);
		assert_non_null(b);
		memcpy(b, fx->msg[i], len);
		b[len] = 0;
		err = parse_fails(p, b, len + 1);
		assert_non_null(strstr(err, "1 bytes of trailing data"));
		free(b);
		parse_ok(p, fx->msg[i], len, &ev);
	}
	pgo_parser_free(p);
	fixture_free(fx);
}

static void test_truncated_v1(void **state)
{
	(void)state;
	check_truncations("v1.hex", 1);
	check_truncations("v1.hex", 2);
}

static void test_truncated_v1_binary(void **state)
{
	(void)state;
	check_truncations("v1-binary.hex", 1);
}

static void test_truncated_v2(void **state)
{
	(void)state;
	check_truncations("v2-stream.hex", 2);
}

/* ---- hand-made messages --------------------------------------------------- */

struct mb {
	uint8_t b[512];
	size_t n;
};

static void mb_u8(struct mb *m, uint8_t v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = v;
}

static void mb_u16(struct mb *m, uint16_t v)
{
	mb_u8(m, (uint8_t)(v >> 8));
	mb_u8(m, (uint8_t)v);
}

static void mb_u32(struct mb *m, uint32_t v)
{
	mb_u16(m, (uint16_t)(v >> 16));
	mb_u16(m, (uint16_t)v);
}

static void mb_u64(struct mb *m, uint64_t v)
{
	mb_u32(m, (uint32_t)(v >> 32));
	mb_u32(m, (uint32_t)v);
}

static void mb_mem(struct mb *m, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mb_u8(m, ((const uint8_t *)p)[i]);
}

static void mb_str(struct mb *m, const char *s)
{
	mb_mem(m, s, strlen(s) + 1);
}

static const char *mb_fails(struct pgo_parser *p, const struct mb *m)
{
	return parse_fails(p, m->b, m->n);
}

/* Tuples: lengths past the end, unknown kinds, missing or wrong sub-tags. */
static void malformed_tuples(struct pgo_parser *p)
{
	struct pgo_event ev;
	struct mb m;

	/* a text value longer than what is left */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'U');
	mb_u32(&m, 16384);
	mb_u8(&m, 'N');
	mb_u16(&m, 3);
	mb_u8(&m, 't');
	mb_u32(&m, 1);
	mb_u8(&m, 'a');
	mb_u8(&m, 'n');
	mb_u8(&m, 't');
	mb_u32(&m, 70000);
	mb_mem(&m, "xy", 2);
	assert_string_equal(mb_fails(p, &m),
			    "pgoutput: Update: new tuple column 3: length 70000 exceeds message (offset 16)");
	m.n -= 6; /* length 0xffffffff */
	mb_u32(&m, UINT32_MAX);
	mb_mem(&m, "xy", 2);
	mb_fails(p, &m);
	m.n -= 6; /* length exactly what is left: fine */
	mb_u32(&m, 2);
	mb_mem(&m, "xy", 2);
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.u.change.new_tuple.ncols, 3);
	assert_text(&ev.u.change.new_tuple.values[2], "xy");

	/* unknown tuple kind */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'I');
	mb_u32(&m, 16384);
	mb_u8(&m, 'N');
	mb_u16(&m, 2);
	mb_u8(&m, 'n');
	mb_u8(&m, 'x');
	assert_string_equal(
		mb_fails(p, &m),
		"pgoutput: Insert: new tuple column 2: unexpected 'x' (0x78), expected 'n', 'u', 't' or "
		"'b' (offset 9)");
	/* more columns announced than bytes left: refused before allocating */
	m.n = 6;
	mb_u16(&m, 65535);
	mb_u8(&m, 'n');
	assert_non_null(strstr(mb_fails(p, &m), "65535 columns but 1 bytes left"));
	/* Insert without 'N', with 'K' */
	m.n = 5;
	mb_u8(&m, 'K');
	mb_u16(&m, 0);
	assert_non_null(strstr(mb_fails(p, &m), "tuple tag: unexpected 'K'"));

	/* Update sub-tags */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'U');
	mb_u32(&m, 16384);
	mb_u8(&m, 'X');
	mb_u16(&m, 0);
	assert_non_null(strstr(mb_fails(p, &m),
			       "Update: tuple tag: unexpected 'X' (0x58), expected 'K', 'O' or 'N'"));
	m.n = 5; /* 'K' tuple then no 'N' */
	mb_u8(&m, 'K');
	mb_u16(&m, 1);
	mb_u8(&m, 'n');
	mb_u8(&m, 'K');
	mb_u16(&m, 1);
	mb_u8(&m, 'n');
	assert_non_null(strstr(mb_fails(p, &m), "expected 'N'"));
	m.n = 5; /* 'O' old row (1 column) + 'N' new row (2 columns) */
	mb_u8(&m, 'O');
	mb_u16(&m, 1);
	mb_u8(&m, 't');
	mb_u32(&m, 3);
	mb_mem(&m, "old", 3);
	mb_u8(&m, 'N');
	mb_u16(&m, 2);
	mb_u8(&m, 'u');
	mb_u8(&m, 'b');
	mb_u32(&m, 0);
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.u.change.old_kind, 'O');
	assert_int_equal(ev.u.change.old_tuple.ncols, 1);
	assert_text(&ev.u.change.old_tuple.values[0], "old");
	assert_int_equal(ev.u.change.new_tuple.ncols, 2);
	assert_kind(&ev.u.change.new_tuple.values[0], 'u');
	assert_int_equal(ev.u.change.new_tuple.values[1].kind, 'b');
	assert_int_equal(ev.u.change.new_tuple.values[1].len, 0);

	/* Delete needs 'K' or 'O' */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'D');
	mb_u32(&m, 16384);
	mb_u8(&m, 'N');
	mb_u16(&m, 0);
	assert_non_null(strstr(mb_fails(p, &m), "expected 'K' or 'O'"));
}

/* Message types, strings, relations, truncates and logical messages. */
static void malformed_messages(struct pgo_parser *p)
{
	struct pgo_event ev;
	struct mb m;

	/* unknown message types; empty message */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'Z');
	assert_string_equal(mb_fails(p, &m), "pgoutput: unknown message type 'Z' (0x5a)");
	m.b[0] = 0;
	assert_string_equal(mb_fails(p, &m), "pgoutput: unknown message type 0x00");
	m.b[0] = 'P'; /* Prepare (protocol 3): not ours */
	mb_fails(p, &m);
	assert_int_equal(pgo_parse(p, m.b, 0, &ev, NULL, 0), -1); /* no err buffer */

	/* unterminated strings */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'Y');
	mb_u32(&m, 16385);
	mb_str(&m, "public");
	mb_mem(&m, "mood", 4);
	assert_string_equal(
		mb_fails(p, &m),
		"pgoutput: Type: type name: string not terminated within the message (offset 12)");
	mb_u8(&m, 0);
	parse_ok(p, m.b, m.n, &ev);
	assert_string_equal(ev.u.type_info.name, "mood");

	/* Relation: bad replica identity, too many columns, a good one */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'R');
	mb_u32(&m, 16386);
	mb_str(&m, "");
	mb_str(&m, "t");
	mb_u8(&m, 'x');
	mb_u16(&m, 0);
	assert_non_null(strstr(mb_fails(p, &m), "Relation: replica identity: unexpected 'x'"));
	m.b[8] = 'i';
	m.n = 9;
	mb_u16(&m, 2);
	mb_u8(&m, 1);
	mb_str(&m, "a");
	mb_u32(&m, 23);
	assert_non_null(strstr(mb_fails(p, &m), "2 columns but 7 bytes left"));
	mb_u32(&m, UINT32_MAX);
	mb_u8(&m, 0);
	mb_str(&m, "");
	mb_u32(&m, 25);
	mb_u32(&m, 5);
	parse_ok(p, m.b, m.n, &ev);
	assert_string_equal(ev.u.relation.nspname, "");
	assert_int_equal(ev.u.relation.replident, 'i');
	assert_int_equal(ev.u.relation.ncols, 2);
	assert_true(ev.u.relation.cols[0].key);
	assert_int_equal(ev.u.relation.cols[0].typmod, -1);
	assert_false(ev.u.relation.cols[1].key);
	assert_string_equal(ev.u.relation.cols[1].name, "");
	assert_int_equal(ev.u.relation.cols[1].typmod, 5);

	/* Truncate with more relations than bytes */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'T');
	mb_u32(&m, UINT32_MAX);
	mb_u8(&m, 3);
	mb_u32(&m, 16384);
	assert_non_null(strstr(mb_fails(p, &m), "4294967295 relations but 4 bytes left"));
	m.n = 1;
	mb_u32(&m, 1);
	mb_u8(&m, 3);
	mb_u32(&m, 16384);
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.u.truncate.nrels, 1);
	assert_int_equal(ev.u.truncate.options, 3);
	assert_int_equal(ev.u.truncate.relids[0], 16384);

	/* Message content longer than the message */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'M');
	mb_u8(&m, 0);
	mb_u64(&m, 0x1000);
	mb_str(&m, "p");
	mb_u32(&m, 3);
	mb_mem(&m, "ab", 2);
	assert_string_equal(mb_fails(p, &m),
			    "pgoutput: Message: content length 3 exceeds message (offset 12)");
}

/* The streaming messages of protocol 2. */
static void malformed_streams(struct pgo_parser *p)
{
	struct pgo_event ev;
	struct mb m;

	/* Stream Start's flag is 0 or 1; Stream Stop has no body */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'S');
	mb_u32(&m, 700);
	mb_u8(&m, 2);
	assert_non_null(strstr(mb_fails(p, &m), "first segment: unexpected 0x02"));
	m.b[5] = 0;
	parse_ok(p, m.b, m.n, &ev);
	assert_false(ev.u.stream_start.first_segment);
	assert_int_equal(ev.xid, 700);
	m = (struct mb){.n = 0};
	mb_u8(&m, 'E');
	mb_u8(&m, 0);
	assert_string_equal(mb_fails(p, &m),
			    "pgoutput: Stream Stop: 1 bytes of trailing data after the message (offset 1)");
	m.n = 1;
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.xid, 700);
	assert_false(ev.has_xid);

	/* Stream Abort is two xids (no abort LSN before protocol 4) */
	m = (struct mb){.n = 0};
	mb_u8(&m, 'A');
	mb_u32(&m, 700);
	mb_u32(&m, 701);
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.xid, 700);
	assert_int_equal(ev.u.stream_abort.subxid, 701);
	mb_u64(&m, 0x1000);
	mb_fails(p, &m);
}

static void test_malformed(void **state)
{
	struct pgo_parser *p = pgo_parser_new(2);

	(void)state;
	assert_non_null(p);

	malformed_tuples(p);
	malformed_messages(p);
	malformed_streams(p);

	pgo_parser_free(p);
	pgo_parser_free(NULL);
}

/* The parser's arrays are reused: a narrow tuple after a wide one. */
static void test_reuse(void **state)
{
	struct pgo_parser *p = pgo_parser_new(1);
	struct pgo_event ev;
	struct mb m = {.n = 0};

	(void)state;
	assert_non_null(p);
	mb_u8(&m, 'I');
	mb_u32(&m, 1);
	mb_u8(&m, 'N');
	mb_u16(&m, 100);
	for (int i = 0; i < 100; i++)
		mb_u8(&m, 'n');
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.u.change.new_tuple.ncols, 100);
	m.n = 6;
	mb_u16(&m, 1);
	mb_u8(&m, 't');
	mb_u32(&m, 1);
	mb_u8(&m, 'z');
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.u.change.new_tuple.ncols, 1);
	assert_text(&ev.u.change.new_tuple.values[0], "z");
	m.n = 6; /* zero columns */
	mb_u16(&m, 0);
	parse_ok(p, m.b, m.n, &ev);
	assert_int_equal(ev.u.change.new_tuple.ncols, 0);
	pgo_parser_free(p);

	assert_null(pgo_parser_new(0));
	assert_null(pgo_parser_new(3));
}

/* ---- CopyData frames ------------------------------------------------------ */

static void test_frames_captured(void **state)
{
	struct fixture *fx = fixture_load("frames.hex");
	struct pgo_parser *p = pgo_parser_new(1);
	struct pgo_frame f;
	struct pgo_event ev;
	char err[256];
	static const char kinds[] = "kwwwwkkk";

	(void)state;
	assert_non_null(p);
	assert_int_equal(fx->n, strlen(kinds));
	for (size_t i = 0; i < fx->n; i++) {
		assert_int_equal(pgo_frame_parse(fx->msg[i], fx->len[i], &f, err, sizeof(err)), 0);
		assert_int_equal(f.kind, kinds[i]);
		if (i != 2) /* the Relation frame: dataStart = walEnd = 0 */
			assert_true(plausible_lsn(f.wal_end));
		assert_true(plausible_time(f.send_time));
		if (f.kind == 'w') {
			assert_false(f.reply_requested);
			assert_ptr_equal(f.payload, fx->msg[i] + 25);
			assert_int_equal(f.payload_len, fx->len[i] - 25);
			parse_ok(p, f.payload, f.payload_len, &ev);
		} else {
			assert_null(f.payload);
			assert_int_equal(f.payload_len, 0);
			assert_int_equal(f.wal_start, 0);
		}
		switch (i) {
		case 0: assert_false(f.reply_requested); break;
		case 1:
			assert_int_equal(ev.type, PGO_BEGIN);
			assert_int_equal(f.wal_start, f.wal_end);
			break;
		case 2:
			assert_int_equal(ev.type, PGO_RELATION);
			assert_int_equal(f.wal_start, 0);
			assert_int_equal(f.wal_end, 0);
			assert_string_equal(ev.u.relation.relname, "plain");
			break;
		case 3:
			assert_int_equal(ev.type, PGO_INSERT);
			assert_text(&ev.u.change.new_tuple.values[1], "seven");
			break;
		case 4:
			assert_int_equal(ev.type, PGO_COMMIT);
			assert_int_equal(f.wal_start, ev.u.commit.end_lsn);
			break;
		case 7: assert_true(f.reply_requested); break;
		default: break;
		}
		/* a frame cut inside its header fails */
		for (size_t k = 0; k < fx->len[i] && k < 25; k++) {
			uint8_t *b = malloc(k > 0 ? k : 1);

			assert_non_null(b);
			memcpy(b, fx->msg[i], k);
			assert_int_equal(pgo_frame_parse(b, k, &f, err, sizeof(err)), -1);
			free(b);
		}
	}
	pgo_parser_free(p);
	fixture_free(fx);
}

static void test_frames_made(void **state)
{
	uint8_t b[40] = {0};
	struct pgo_frame f;
	char err[256];

	(void)state;
	b[0] = 'w';
	for (int i = 1; i < 25; i++)
		b[i] = (uint8_t)i;
	b[25] = 'E';
	assert_int_equal(pgo_frame_parse(b, 26, &f, err, sizeof(err)), 0);
	assert_int_equal(f.kind, 'w');
	assert_int_equal(f.wal_start, UINT64_C(0x0102030405060708));
	assert_int_equal(f.wal_end, UINT64_C(0x090a0b0c0d0e0f10));
	assert_int_equal(f.send_time, INT64_C(0x1112131415161718));
	assert_int_equal(f.payload_len, 1);
	assert_int_equal(f.payload[0], 'E');
	assert_int_equal(pgo_frame_parse(b, 25, &f, err, sizeof(err)), 0); /* empty payload */
	assert_int_equal(f.payload_len, 0);
	assert_int_equal(pgo_frame_parse(b, 24, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "pgoutput: XLogData frame: 24 bytes, shorter than its 25-byte header");

	b[0] = 'k';
	b[17] = 1;
	assert_int_equal(pgo_frame_parse(b, 18, &f, err, sizeof(err)), 0);
	assert_int_equal(f.kind, 'k');
	assert_int_equal(f.wal_end, UINT64_C(0x0102030405060708));
	assert_int_equal(f.send_time, INT64_C(0x090a0b0c0d0e0f10));
	assert_true(f.reply_requested);
	assert_int_equal(pgo_frame_parse(b, 17, &f, err, sizeof(err)), -1);
	assert_int_equal(pgo_frame_parse(b, 19, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "pgoutput: keepalive frame: 19 bytes, expected 18");

	b[0] = 'd';
	assert_int_equal(pgo_frame_parse(b, 18, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "pgoutput: unknown CopyData frame kind 'd' (0x64)");
	assert_int_equal(pgo_frame_parse(b, 0, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "pgoutput: empty CopyData frame");
}

/* ---- status update, time, LSN --------------------------------------------- */

static void test_status(void **state)
{
	uint8_t out[PGO_STATUS_LEN + 1];
	static const uint8_t want[PGO_STATUS_LEN] = {
		'r',  0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x48, /* written 16/B374D848 */
		0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x00,	      /* flushed 16/B374D800 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,	      /* applied 0/1 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,	      /* time -2 */
		0x01,						      /* reply requested */
	};

	(void)state;
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(pgo_status_build(out, UINT64_C(0x16B374D848), UINT64_C(0x16B374D800), 1, -2, true),
			 PGO_STATUS_LEN);
	assert_memory_equal(out, want, PGO_STATUS_LEN);
	assert_int_equal(out[PGO_STATUS_LEN], 0xaa); /* nothing past the end */
	assert_int_equal(pgo_status_build(out, 0, 0, 0, 0, false), 34);
	assert_int_equal(out[0], 'r');
	for (int i = 1; i < PGO_STATUS_LEN; i++)
		assert_int_equal(out[i], 0);
}

static void test_time(void **state)
{
	(void)state;
	assert_int_equal(pgo_time_from_unix(INT64_C(946684800000000)), 0);
	assert_int_equal(pgo_time_from_unix(0), INT64_C(-946684800000000));
	assert_int_equal(pgo_time_from_unix(ORIGIN_TS_UNIX_US), INT64_C(789102245000000));
}

static void test_lsn(void **state)
{
	static const char *const good[] = {"16/B374D848", "0/0", "FFFFFFFF/FFFFFFFF", "0/15470A8", "1/0"};
	static const char *const bad[] = {
		"",	"/",	 "0/",	 "/0",	"123456789/0", "0/123456789", "0/0 ",	    " 0/0",
		"+1/0", "0x1/0", "1/-1", "g/0", "1/2/3",       "1:2",	      "16/B374D84G"};
	static const uint64_t vals[] = {
		0, 1, UINT64_C(0xFFFFFFFF), UINT64_C(0x100000000), UINT64_MAX, UINT64_C(0x16B374D848)};
	char buf[18];
	uint64_t lsn;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(pgo_lsn_parse(good[i], &lsn), 0);
		pgo_lsn_format(lsn, buf, sizeof(buf));
		assert_string_equal(buf, good[i]);
	}
	assert_int_equal(pgo_lsn_parse("16/B374D848", &lsn), 0);
	assert_int_equal(lsn, UINT64_C(0x16B374D848));
	assert_int_equal(pgo_lsn_parse("00000016/b374d848", &lsn), 0); /* as pg_lsn accepts */
	assert_int_equal(lsn, UINT64_C(0x16B374D848));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lsn = 42;
		if (pgo_lsn_parse(bad[i], &lsn) != -1)
			fail_msg("\"%s\" parsed", bad[i]);
		assert_int_equal(lsn, 42);
	}
	assert_int_equal(pgo_lsn_parse(NULL, &lsn), -1);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		pgo_lsn_format(vals[i], buf, sizeof(buf));
		assert_int_equal(pgo_lsn_parse(buf, &lsn), 0);
		assert_int_equal(lsn, vals[i]);
	}
	pgo_lsn_format(UINT64_MAX, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 17);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_types),
		cmocka_unit_test(test_v1_fields),
		cmocka_unit_test(test_v1_binary),
		cmocka_unit_test(test_v2_stream),
		cmocka_unit_test(test_v2_stream_misuse),
		cmocka_unit_test(test_v2_stream_parse_streamed),
		cmocka_unit_test(test_truncated_v1),
		cmocka_unit_test(test_truncated_v1_binary),
		cmocka_unit_test(test_truncated_v2),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_frames_captured),
		cmocka_unit_test(test_frames_made),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_lsn),
	};

	return cmocka_run_group_tests_name("pgoutput", tests, NULL, NULL);
}
