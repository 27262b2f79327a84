/* text.h — text that is safe to log, audit and export: valid UTF-8 with no
 * control characters, whatever bytes came in. */
#ifndef SYNCD_COMMON_TEXT_H
#define SYNCD_COMMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Copies inlen bytes of in to out (outlen > 0) as valid UTF-8: a byte that
 * does not start a well-formed sequence (overlong, surrogate, beyond
 * U+10FFFF, cut short) becomes U+FFFD; C0 controls, DEL and C1 controls
 * become \xNN and a backslash \\, so a CR/LF, an ESC or a "<3>" after a
 * newline can forge nothing.  Stops at a character boundary when out is
 * full.  Returns the length written (out is NUL-terminated). */
size_t text_clean(const char *in, size_t inlen, char *out, size_t outlen);

/* The same into a new string (caller frees); NULL when memory runs out. */
char *text_clean_dup(const char *in);

/* Whether s (len bytes) is valid UTF-8 with no control characters, i.e.
 * text_clean would return it unchanged. */
bool text_is_clean(const char *s, size_t len);

/* A spreadsheet cannot run it: a cell that starts with = + - @, TAB or CR
 * gets a leading apostrophe (OWASP's CSV injection advice).  Returns a new
 * string, RFC 4180-quoted when it holds a comma, a quote or a line break. */
char *text_csv_cell(const char *s);

#endif
