/* fuzz_pgoutput.c — libFuzzer target for connectors/pgoutput.c.
 *
 * The input is used three ways:
 *  1. whole, as one CopyData frame (and its XLogData payload) and as one
 *     pgoutput message for protocol 1 and 2;
 *  2. as a sequence of chunks, each a big-endian Int16 length and that many
 *     bytes, fed in order to one protocol-1 and one protocol-2 parser (so
 *     the Stream Start/Stop state is explored), each chunk also as a frame;
 *  3. its first bytes as LSN text: what parses must format and re-parse to
 *     the same value.
 * Every chunk is copied to a buffer of its exact size so that ASan catches
 * a read past it.  Whatever an event points to is read in full.
 *
 * Build and run (from the repository root):
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_pgoutput.c connectors/pgoutput.c -o build/fuzz/fuzz_pgoutput
 *   mkdir -p build/fuzz/corpus
 *   build/fuzz/fuzz_pgoutput -max_total_time=120 -max_len=16384 \
 *     build/fuzz/corpus tests/fuzz/corpus/pgoutput
 * New inputs go to the first directory; tests/fuzz/corpus/ keeps only the
 * few seeds cut from tests/data/pgoutput/. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/pgoutput.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t x = 0;

	for (size_t i = 0; i < n; i++)
		x ^= b[i];
	sink ^= x;
}

static void touch_str(const char *s)
{
	touch(s, strlen(s) + 1);
}

static void touch_tuple(const struct pgo_tuple *t)
{
	for (uint16_t i = 0; i < t->ncols; i++) {
		const struct pgo_value *v = &t->values[i];

		if (v->kind == 't' || v->kind == 'b')
			touch(v->data, v->len);
		else if (v->kind != 'n' && v->kind != 'u')
			abort(); /* the parser let an unknown kind through */
	}
}

static void touch_event(const struct pgo_event *ev)
{
	switch (ev->type) {
	case PGO_ORIGIN: touch_str(ev->u.origin.name); break;
	case PGO_RELATION:
		touch_str(ev->u.relation.nspname);
		touch_str(ev->u.relation.relname);
		for (uint16_t i = 0; i < ev->u.relation.ncols; i++)
			touch_str(ev->u.relation.cols[i].name);
		break;
	case PGO_TYPE:
		touch_str(ev->u.type_info.nspname);
		touch_str(ev->u.type_info.name);
		break;
	case PGO_INSERT:
	case PGO_UPDATE:
	case PGO_DELETE:
		touch_tuple(&ev->u.change.old_tuple);
		touch_tuple(&ev->u.change.new_tuple);
		break;
	case PGO_TRUNCATE: touch(ev->u.truncate.relids, ev->u.truncate.nrels * sizeof(uint32_t)); break;
	case PGO_MESSAGE:
		touch_str(ev->u.message.prefix);
		touch(ev->u.message.content, ev->u.message.len);
		break;
	default: break;
	}
}

static void feed(struct pgo_parser *p, const uint8_t *buf, size_t len)
{
	struct pgo_event ev;
	char err[256];

	err[0] = '\0';
	if (pgo_parse(p, buf, len, &ev, err, sizeof(err)) == 0)
		touch_event(&ev);
	else if (strncmp(err, "pgoutput: ", 10) != 0)
		abort(); /* a failure must say why */
}

static void feed_frame(struct pgo_parser *p, const uint8_t *buf, size_t len)
{
	struct pgo_frame f;
	char err[256];

	if (pgo_frame_parse(buf, len, &f, err, sizeof(err)) == 0 && f.kind == 'w')
		feed(p, f.payload, f.payload_len);
}

static void lsn_text(const uint8_t *data, size_t size)
{
	char s[24], out[24];
	uint64_t a, b;
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = '\0';
	if (pgo_lsn_parse(s, &a) != 0)
		return;
	pgo_lsn_format(a, out, sizeof(out));
	if (pgo_lsn_parse(out, &b) != 0 || a != b)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgo_parser *p1 = pgo_parser_new(1), *p2 = pgo_parser_new(2);
	size_t off = 0;

	if (p1 == NULL || p2 == NULL)
		abort();

	feed_frame(p1, data, size);
	feed(p1, data, size);
	feed(p2, data, size);
	pgo_parser_free(p1);
	pgo_parser_free(p2);

	p1 = pgo_parser_new(1);
	p2 = pgo_parser_new(2);
	if (p1 == NULL || p2 == NULL)
		abort();
	while (size - off >= 2) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		uint8_t *chunk;

		off += 2;
		if (n > size - off)
			n = size - off;
		chunk = malloc(n > 0 ? n : 1);
		if (chunk == NULL)
			abort();
		memcpy(chunk, data + off, n);
		off += n;
		feed(p1, chunk, n);
		feed(p2, chunk, n);
		feed_frame(p2, chunk, n);
		free(chunk);
	}
	pgo_parser_free(p1);
	pgo_parser_free(p2);

	lsn_text(data, size);
	return 0;
}
