/* fuzz_copytext.c — libFuzzer target for connectors/copytext.c, the COPY
 * text format a snapshot reads from the source and the HTTP target reads
 * from its outbox.
 *
 * The input is cut into rows at '\n'; each row (in a buffer of its exact
 * size, so ASan sees a read past it) is split into fields, with room for
 * few and for many.  Checked: the field count is the row's tabs plus one;
 * the fields, joined by tabs, are the row; a field's unescaped value is no
 * longer than its wire form.  Then each field's bytes, taken as a value,
 * are escaped: the wire form holds no TAB, newline or carriage return, is
 * one field, is never the NULL marker, and unescapes to the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "connectors/copytext.h"
#include "tests/fuzz/fuzz_util.h"

static void round_trip(const char *v, size_t len)
{
	struct buf wire = {0}, back = {0};
	struct copy_field f[2];

	if (copytext_escape(v, len, &wire) < 0)
		abort();
	if (wire.len > 0 && (memchr(wire.data, '\t', wire.len) || memchr(wire.data, '\n', wire.len) ||
			     memchr(wire.data, '\r', wire.len)))
		abort(); /* a value would spill into the next field or row */
	if (copytext_split(wire.data ? wire.data : "", wire.len, f, 2) != 1)
		abort();
	if (copytext_is_null(&f[0]))
		abort(); /* a value read back as NULL */
	if (copytext_unescape(&f[0], &back) < 0)
		abort();
	if (back.len != len || (len > 0 && memcmp(back.data, v, len) != 0))
		abort();
	buf_free(&wire);
	buf_free(&back);
}

static void one_row(const char *row, size_t len)
{
	struct copy_field few[4], many[256];
	size_t tabs = 0, body = len > 0 && row[len - 1] == '\n' ? len - 1 : len;
	int n = copytext_split(row, len, few, 4);

	for (size_t i = 0; i < body; i++)
		tabs += row[i] == '\t';
	if (n != (int)tabs + 1 || copytext_split(row, len, many, 256) != n)
		abort();
	for (int i = 0; i < n && i < 256; i++) {
		struct buf v = {0};

		/* each field starts where the one before it ended, past one TAB */
		if (many[i].p != (i == 0 ? row : many[i - 1].p + many[i - 1].len + 1) ||
		    many[i].p + many[i].len > row + body)
			abort();
		if (i < 4 && (few[i].p != many[i].p || few[i].len != many[i].len))
			abort();
		if (!copytext_is_null(&many[i])) {
			if (copytext_unescape(&many[i], &v) < 0)
				abort();
			if (v.len > many[i].len)
				abort();
		}
		copytext_is_plain(&many[i]);
		round_trip(many[i].p, many[i].len);
		buf_free(&v);
	}
	if (n <= 256 && many[n - 1].p + many[n - 1].len != row + body)
		abort(); /* the last field ends the row */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off <= size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t end = nl != NULL ? (size_t)(nl - data) + 1 : size;
		char *row = malloc(end - off > 0 ? end - off : 1);

		if (row == NULL)
			abort();
		memcpy(row, data + off, end - off);
		one_row(row, end - off);
		free(row);
		if (nl == NULL)
			break;
		off = end;
	}
	round_trip((const char *)data, size);
	return 0;
}
