/*
 * node/xml: the strict escaper (xml.h).  UTF-8 is read with proto/mp's
 * reader, the one that the content rules use, so "valid UTF-8" means the
 * same here as on the wire (no overlong forms, no surrogates).
 */
#include "xml.h"

#include <stdint.h>

#include "error.h"
#include "mp.h"

/* XML 1.0's Char production */
static int char_ok(uint32_t cp)
{
	return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
	       (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

int xml_valid(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, n;
	uint32_t cp = 0;

	while (i < len) {
		if ((n = mp_utf8_next(p + i, len - i, &cp)) == 0 || !char_ok(cp))
			return 0;
		i += n;
	}
	return 1;
}

int xml_put(FILE *f, const char *s, size_t len, size_t *replaced)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, n;
	uint32_t cp = 0;

	if (!replaced && !xml_valid(s, len))
		return WM_EINVAL;
	while (i < len) {
		n = mp_utf8_next(p + i, len - i, &cp);
		if (n == 0 || !char_ok(cp)) {
			/* one U+FFFD per bad byte, or per character XML cannot hold */
			fputs("\xef\xbf\xbd", f);
			(*replaced)++;
			i += n ? n : 1;
			continue;
		}
		switch (cp) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '\r': fputs("&#xD;", f); break;
		default: fwrite(p + i, 1, n, f); break;
		}
		i += n;
	}
	return 0;
}
