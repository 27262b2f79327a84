/* buf.h — a growable byte buffer (always NUL-terminated for convenience). */
#ifndef SYNCD_COMMON_BUF_H
#define SYNCD_COMMON_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* All return 0, or -1 when memory runs out (the buffer is then unchanged). */
int buf_reserve(struct buf *b, size_t extra) __attribute__((warn_unused_result));
int buf_append(struct buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_puts(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3), warn_unused_result));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
