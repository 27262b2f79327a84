/* qr.c — a QR code (ISO/IEC 18004, libqrencode) as inline SVG: one path
 * of the dark modules, a 4-module quiet zone, no script or style. */
#include "syncd/documents/documents.h"

#include <qrencode.h>
#include <stdlib.h>

#include "common/buf.h"

#define QUIET 4

char *qr_svg(const char *text, int *modules)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	struct buf b = {0};
	int w, bad = 0;

	if (q == NULL)
		return NULL;
	w = q->width;
	if (modules != NULL)
		*modules = w;
	bad |= buf_printf(&b,
			  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 %d %d\" "
			  "width=\"30mm\" height=\"30mm\" shape-rendering=\"crispEdges\" role=\"img\" "
			  "aria-label=\"Mã QR kiểm tra văn bản\"><rect width=\"%d\" height=\"%d\" "
			  "fill=\"#fff\"/><path fill=\"#000\" d=\"",
			  w + 2 * QUIET, w + 2 * QUIET, w + 2 * QUIET, w + 2 * QUIET) < 0;
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w;) {
			int run = 0;

			while (x + run < w && (q->data[y * w + x + run] & 1))
				run++;
			if (run > 0)
				bad |= buf_printf(&b, "M%d %dh%dv1h-%dz", x + QUIET, y + QUIET, run, run) < 0;
			x += run > 0 ? run : 1;
		}
	bad |= buf_puts(&b, "\"/></svg>") < 0;
	QRcode_free(q);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}
