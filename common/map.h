/*
 * Open-addressing hash maps from int64 or string keys to pointers. The map
 * does not own the values; string keys are copied.
 */
#ifndef TENDERD_MAP_H
#define TENDERD_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_slot {
	uint64_t hash;      /* 0 = empty, 1 = deleted */
	int64_t ikey;
	char *skey;
	void *val;
};

struct map {
	struct map_slot *slots;
	size_t cap, len, used;  /* used counts deleted slots too */
	int strings;
};

/* Initialise an integer-keyed (strings = 0) or string-keyed map. */
void map_init(struct map *m, int strings);
void map_free(struct map *m);

/* Lookups return NULL when absent. */
void *map_get(const struct map *m, int64_t key);
void *map_sget(const struct map *m, const char *key);

/* Insert or replace; 0 on success, -1 when out of memory. */
int map_put(struct map *m, int64_t key, void *val);
int map_sput(struct map *m, const char *key, void *val);

/* Remove and return the value, NULL when absent. */
void *map_del(struct map *m, int64_t key);
void *map_sdel(struct map *m, const char *key);

/* Iterate: start with *it = 0; returns 0 at the end. */
int map_next(const struct map *m, size_t *it, int64_t *ikey, const char **skey, void **val);

#endif
