/* fold.h — the folding a name search matches through: Vietnamese letters
 * with their marks (both cases, đ/Đ) and the base letter each becomes. */
#ifndef SYNCD_DOCUMENTS_FOLD_H
#define SYNCD_DOCUMENTS_FOLD_H

#include "common/buf.h"

/* The two lists SQL translate(text, from, to) takes: the n-th character of
 * *from (UTF-8, every precomposed Vietnamese letter with a mark) becomes
 * the n-th character of *to (its ASCII base, same case).  Appended to the
 * buffers; 0, or -1 when out of memory.  The search folds a text as
 * lower(translate(normalize(text, NFC), from, to)). */
int fold_lists(struct buf *from, struct buf *to);

#endif
