/* nfc.h — Unicode Normalization Form C for Latin letters with marks (every
 * Vietnamese letter): what the HTTP target sends text as.  Pure. */
#ifndef SYNCD_COMMON_NFC_H
#define SYNCD_COMMON_NFC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* False when p (n bytes of UTF-8) holds no combining mark (U+0300-U+036F),
 * so it is NFC as far as nfc_append goes: the fast way out. */
bool nfc_maybe(const char *p, size_t n);

/* Appends p (valid UTF-8) to out with every base letter and its combining
 * marks composed where Unicode has the precomposed letter (marks first put
 * in canonical order); everything else as it is.  0, or -1 out of memory. */
int nfc_append(const char *p, size_t n, struct buf *out) __attribute__((warn_unused_result));

#endif
