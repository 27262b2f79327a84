/* copytext.c — PostgreSQL's COPY text format: splitting a row into fields,
 * unescaping and escaping values; see copytext.h. */
#include "connectors/copytext.h"

#include <string.h>

#include "common/hex.h"

int copytext_split(const char *row, size_t len, struct copy_field *fields, int max)
{
	const char *p = row, *end = row + len;
	int n = 0;

	if (len > 0 && end[-1] == '\n')
		end--;
	for (;;) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *fe = tab != NULL ? tab : end;

		if (n < max) {
			fields[n].p = p;
			fields[n].len = (size_t)(fe - p);
		}
		n++;
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	return n;
}

int copytext_unescape(const struct copy_field *f, struct buf *out)
{
	const char *p = f->p, *end = f->p + f->len;

	if (buf_reserve(out, f->len) < 0)
		return -1;
	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		char c;

		if (bs == NULL) {
			return buf_append(out, p, (size_t)(end - p));
		}
		if (buf_append(out, p, (size_t)(bs - p)) < 0)
			return -1;
		p = bs + 1;
		if (p == end) /* a lone trailing backslash stands for itself */
			return buf_append(out, "\\", 1);
		c = *p++;
		switch (c) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'v': c = '\v'; break;
		case 'x': {
			int v = 0, d, k = 0;

			while (k < 2 && p < end && (d = hex_digit(*p)) >= 0) {
				v = v * 16 + d;
				p++;
				k++;
			}
			if (k == 0) {
				c = 'x';
				break;
			}
			c = (char)v;
			break;
		}
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0', k = 1;

				while (k < 3 && p < end && *p >= '0' && *p <= '7') {
					v = v * 8 + (*p++ - '0');
					k++;
				}
				c = (char)v;
			}
			break; /* any other char stands for itself */
		}
		if (buf_append(out, &c, 1) < 0)
			return -1;
	}
	return 0;
}

int copytext_escape(const char *in, size_t len, struct buf *out)
{
	if (buf_reserve(out, len + 16) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;

		switch (in[i]) {
		case '\\': rep = "\\\\"; break;
		case '\t': rep = "\\t"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		default: break;
		}
		if (rep != NULL) {
			if (buf_append(out, rep, 2) < 0)
				return -1;
		} else if (buf_append(out, &in[i], 1) < 0) {
			return -1;
		}
	}
	return 0;
}
