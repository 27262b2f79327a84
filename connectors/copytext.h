/* copytext.h — PostgreSQL COPY text format: one row is fields separated by
 * TAB, ending in '\n'; "\N" is NULL; backslash escapes the rest.  Pure. */
#ifndef SYNCD_CONNECTORS_COPYTEXT_H
#define SYNCD_CONNECTORS_COPYTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct copy_field {
	const char *p; /* borrowed from the row; escaped as on the wire */
	size_t len;
};

/* Splits a row (trailing '\n' optional) into at most max fields.  Returns
 * the number of fields in the row (which may exceed max). */
int copytext_split(const char *row, size_t len, struct copy_field *fields, int max);

static inline bool copytext_is_null(const struct copy_field *f)
{
	return f->len == 2 && f->p[0] == '\\' && f->p[1] == 'N';
}

/* True when the field holds no backslash, so its wire form is its value. */
static inline bool copytext_is_plain(const struct copy_field *f)
{
	for (size_t i = 0; i < f->len; i++)
		if (f->p[i] == '\\')
			return false;
	return true;
}

/* Appends the value of a (non-NULL) field to out.  Returns 0 or -1. */
int copytext_unescape(const struct copy_field *f, struct buf *out) __attribute__((warn_unused_result));

/* Appends a value in wire form.  Returns 0 or -1. */
int copytext_escape(const char *in, size_t len, struct buf *out) __attribute__((warn_unused_result));

#endif
