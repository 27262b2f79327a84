/* text.c — text safe to log, audit and export: invalid UTF-8 made U+FFFD,
 * controls escaped, spreadsheet formulas made inert in CSV; see text.h. */
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Whether the sequence of len bytes at s is a control character (C0, DEL, C1). */
static bool is_control(const unsigned char *s, size_t len)
{
	return (len == 1 && (s[0] < 0x20 || s[0] == 0x7f)) || (len == 2 && s[0] == 0xc2 && s[1] < 0xa0);
}

size_t text_clean(const char *in, size_t inlen, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < inlen) {
		size_t len = utf8_len(s + i, inlen - i);
		char piece[8];
		size_t plen;

		if (len == 0) {
			memcpy(piece, "\xef\xbf\xbd", 3); /* U+FFFD */
			plen = 3;
			len = 1;
		} else if (is_control(s + i, len)) {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", len == 1 ? s[i] : s[i + 1]);
		} else if (s[i] == '\\') {
			memcpy(piece, "\\\\", 2);
			plen = 2;
		} else {
			memcpy(piece, s + i, len);
			plen = len;
		}
		if (o + plen >= outlen)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
		i += len;
	}
	out[o] = '\0';
	return o;
}

char *text_clean_dup(const char *in)
{
	size_t n = strlen(in), cap = n * 4 + 1; /* \xNN: 4 bytes for 1 */
	char *out = malloc(cap);

	if (out != NULL)
		text_clean(in, n, out, cap);
	return out;
}

bool text_is_clean(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t l = utf8_len(u + i, len - i);

		if (l == 0 || is_control(u + i, l) || u[i] == '\\')
			return false;
		i += l;
	}
	return true;
}

char *text_csv_cell(const char *s)
{
	bool lead = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	bool quote = strpbrk(s, ",\"\r\n") != NULL || lead;
	size_t n = strlen(s);
	char *out = malloc(2 * n + 4), *o = out;

	if (out == NULL)
		return NULL;
	if (quote)
		*o++ = '"';
	if (lead)
		*o++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			*o++ = '"';
		*o++ = *p;
	}
	if (quote)
		*o++ = '"';
	*o = '\0';
	return out;
}
