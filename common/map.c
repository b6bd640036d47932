#include "common/map.h"

#include <stdlib.h>
#include <string.h>

#define MAP_EMPTY 0
#define MAP_DELETED 1

/* Mix an integer key (splitmix64 finaliser); never 0 or 1. */
static uint64_t
map_hash_int(int64_t k)
{
	uint64_t x = (uint64_t)k + 0x9e3779b97f4a7c15ULL;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x < 2 ? x + 2 : x;
}

/* FNV-1a over a string; never 0 or 1. */
static uint64_t
map_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h < 2 ? h + 2 : h;
}

/* Initialise an empty map. */
void
map_init(struct map *m, int strings)
{
	memset(m, 0, sizeof(*m));
	m->strings = strings;
}

/* Free the slots and copied keys (not the values). */
void
map_free(struct map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].hash > MAP_DELETED)
			free(m->slots[i].skey);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = m->used = 0;
}

/* Find the slot of a key, or the slot to insert it into. */
static struct map_slot *
map_find(const struct map *m, uint64_t h, int64_t ik, const char *sk, int for_insert)
{
	struct map_slot *tomb = NULL;
	size_t mask = m->cap - 1, i = h & mask;

	for (;;) {
		struct map_slot *s = &m->slots[i];
		if (s->hash == MAP_EMPTY)
			return for_insert ? (tomb ? tomb : s) : NULL;
		if (s->hash == MAP_DELETED) {
			if (tomb == NULL)
				tomb = s;
		} else if (s->hash == h && (sk ? strcmp(s->skey, sk) == 0 : s->ikey == ik)) {
			return s;
		}
		i = (i + 1) & mask;
	}
}

/* Double the table (or create it). */
static int
map_grow(struct map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct map_slot *old = m->slots, *ns;
	size_t ocap = m->cap;

	if (m->len * 4 < m->cap)  /* mostly tombstones: rehash at the same size */
		ncap = m->cap;
	ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return -1;
	m->slots = ns;
	m->cap = ncap;
	m->used = m->len;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].hash > MAP_DELETED) {
			struct map_slot *s = map_find(m, old[i].hash, old[i].ikey, old[i].skey, 1);
			*s = old[i];
		}
	}
	free(old);
	return 0;
}

/* Shared insert for both key kinds. */
static int
map_insert(struct map *m, uint64_t h, int64_t ik, const char *sk, void *val)
{
	struct map_slot *s;

	if ((m->used + 1) * 4 >= m->cap * 3 && map_grow(m) < 0)
		return -1;
	s = map_find(m, h, ik, sk, 1);
	if (s->hash > MAP_DELETED) {
		s->val = val;
		return 0;
	}
	if (sk) {
		char *copy = strdup(sk);
		if (copy == NULL)
			return -1;
		s->skey = copy;
	} else {
		s->skey = NULL;
	}
	if (s->hash == MAP_EMPTY)
		m->used++;
	s->hash = h;
	s->ikey = ik;
	s->val = val;
	m->len++;
	return 0;
}

/* Shared removal for both key kinds. */
static void *
map_remove(struct map *m, uint64_t h, int64_t ik, const char *sk)
{
	struct map_slot *s;
	void *v;

	if (m->cap == 0 || (s = map_find(m, h, ik, sk, 0)) == NULL)
		return NULL;
	v = s->val;
	free(s->skey);
	s->skey = NULL;
	s->hash = MAP_DELETED;
	s->val = NULL;
	m->len--;
	return v;
}

/* Look up an integer key. */
void *
map_get(const struct map *m, int64_t key)
{
	struct map_slot *s;

	if (m->cap == 0)
		return NULL;
	s = map_find(m, map_hash_int(key), key, NULL, 0);
	return s ? s->val : NULL;
}

/* Look up a string key. */
void *
map_sget(const struct map *m, const char *key)
{
	struct map_slot *s;

	if (m->cap == 0)
		return NULL;
	s = map_find(m, map_hash_str(key), 0, key, 0);
	return s ? s->val : NULL;
}

/* Insert or replace under an integer key. */
int
map_put(struct map *m, int64_t key, void *val)
{
	return map_insert(m, map_hash_int(key), key, NULL, val);
}

/* Insert or replace under a string key. */
int
map_sput(struct map *m, const char *key, void *val)
{
	return map_insert(m, map_hash_str(key), 0, key, val);
}

/* Remove an integer key. */
void *
map_del(struct map *m, int64_t key)
{
	return map_remove(m, map_hash_int(key), key, NULL);
}

/* Remove a string key. */
void *
map_sdel(struct map *m, const char *key)
{
	return map_remove(m, map_hash_str(key), 0, key);
}

/* Step through the live entries. */
int
map_next(const struct map *m, size_t *it, int64_t *ikey, const char **skey, void **val)
{
	while (*it < m->cap) {
		struct map_slot *s = &m->slots[(*it)++];
		if (s->hash > MAP_DELETED) {
			if (ikey)
				*ikey = s->ikey;
			if (skey)
				*skey = s->skey;
			if (val)
				*val = s->val;
			return 1;
		}
	}
	return 0;
}
