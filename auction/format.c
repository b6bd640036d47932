/*
 * The registry of auction formats: every format by its name (auction.create's `format`).
 * It sits above the formats (english.c, clock.c), which sit above nothing but the engine's
 * shared code (auction.c); a new format is one more entry here.
 */
#include <string.h>

#include "auction/auction.h"

/* Every format, looked up by name. */
static const struct auction_format *const formats[] = {
	&auction_english_reverse,
	&auction_english_forward,
	&auction_dutch_reverse,
	&auction_dutch_forward,
	&auction_japanese_reverse,
	/* sealed-bid */
	&auction_sealed_first_price,
	&auction_sealed_second_price,
	/* rounds with turns */
	&auction_rounds,
};

/* The format called `name`, or NULL. */
const struct auction_format *auction_format_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}

/* The names of every format, comma-separated. */
const char *auction_format_names(void)
{
	return "english_reverse, english_forward, dutch_reverse, dutch_forward, japanese_reverse, "
	    "sealed_first_price, sealed_second_price, rounds";
}
