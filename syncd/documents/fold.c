/* fold.c — the one table of Vietnamese letters with marks (tones, breve,
 * circumflex, horn, đ) and their base letters, for the search's folding. */
#include "syncd/documents/fold.h"

#include <stddef.h>

/* Each row: a base letter, then every precomposed letter that folds to it,
 * tones in the order huyền, sắc, hỏi, ngã, nặng (tests/unit/test_fold.c
 * checks the table against Unicode's decompositions). */
static const struct {
	char base;
	const char *marked;
} letters[] = {
	{'a', "àáảãạ"
	      "ăằắẳẵặ"
	      "âầấẩẫậ"},
	{'A', "ÀÁẢÃẠ"
	      "ĂẰẮẲẴẶ"
	      "ÂẦẤẨẪẬ"},
	{'e', "èéẻẽẹ"
	      "êềếểễệ"},
	{'E', "ÈÉẺẼẸ"
	      "ÊỀẾỂỄỆ"},
	{'i', "ìíỉĩị"},
	{'I', "ÌÍỈĨỊ"},
	{'o', "òóỏõọ"
	      "ôồốổỗộ"
	      "ơờớởỡợ"},
	{'O', "ÒÓỎÕỌ"
	      "ÔỒỐỔỖỘ"
	      "ƠỜỚỞỠỢ"},
	{'u', "ùúủũụ"
	      "ưừứửữự"},
	{'U', "ÙÚỦŨỤ"
	      "ƯỪỨỬỮỰ"},
	{'y', "ỳýỷỹỵ"},
	{'Y', "ỲÝỶỸỴ"},
	{'d', "đ"},
	{'D', "Đ"},
};

int fold_lists(struct buf *from, struct buf *to)
{
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++) {
		const char *p = letters[i].marked;

		if (buf_puts(from, p) < 0)
			return -1;
		/* one base letter per UTF-8 character: count the lead bytes */
		for (; *p; p++)
			if ((*p & 0xC0) != 0x80 && buf_printf(to, "%c", letters[i].base) < 0)
				return -1;
	}
	return 0;
}
