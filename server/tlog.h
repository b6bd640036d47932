/*
 * The transparency log in memory (server/tlog.c): the Merkle tree whose leaves
 * are the committed rows of `changes` in seq order, the signed tree heads, and
 * the platform's log key that signs them (docs/trust.md).
 *
 * The tree keeps every level of complete subtrees: level 0 holds the leaf
 * hashes, level l+1 the hash of each pair of level l, so a tree of n leaves
 * holds about 2n hashes (64 MB for a million rows). Any complete subtree is
 * then one lookup, which is what common/merkle.c's proofs and roots ask for.
 *
 * Leaves are appended only when the batch that wrote them has committed (db.c
 * hands them over before the batch's replies go out), and at start-up from
 * `changes.leaf_hash`. Heads are added to the list once the transaction that
 * stored them in `tree_heads` has committed, so what is published is stored.
 */
#ifndef TENDERD_TLOG_H
#define TENDERD_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/merkle.h"

/* Longest signature kept (ECDSA P-521 or RSA-4096 fit). */
#define TLOG_SIG_MAX 520
/* A key's fingerprint: SHA-256 of its certificate's DER, lower-case hex. */
#define TLOG_FP_LEN 64

/* One signed tree head. */
struct tlog_head {
	int64_t size;                    /* leaves covered: the changes with seq 1..size */
	merkle_hash root;
	int64_t at;                      /* ms since the epoch, as signed */
	unsigned char sig[TLOG_SIG_MAX];
	size_t siglen;
	char key_fp[TLOG_FP_LEN + 1];    /* the key that signed it (log_keys) */
};

struct tlog;

struct tlog *tlog_new(void);
void tlog_free(struct tlog *t);

/* Load the signing key and its certificate (PEM files); the key must match the
 * certificate. 0, or -1 with `cause`. */
int tlog_load_key(struct tlog *t, const char *key_path, const char *cert_path, char *cause,
    size_t n);
/* The loaded key's certificate: fingerprint and PEM (NULL before tlog_load_key). */
const char *tlog_key_fp(const struct tlog *t);
const char *tlog_key_pem(const struct tlog *t);

/* Append the leaf of change `seq`: it must be the next (size + 1); a seq already in
 * the tree is ignored (0). -1 for a gap or out of memory. */
int tlog_append(struct tlog *t, int64_t seq, const merkle_hash leaf);
/* Leaves in the tree. */
int64_t tlog_size(const struct tlog *t);
/* The leaf hash of change `seq` (0), or -1 when not in the tree. */
int tlog_leaf(const struct tlog *t, int64_t seq, merkle_hash out);
/* The root of the tree of the first `size` leaves (size <= tlog_size). */
void tlog_root(const struct tlog *t, int64_t size, merkle_hash out);
/* The inclusion proof of change `seq` in the tree of `size` leaves, and the
 * consistency proof between sizes `from` and `to`: the number of hashes written
 * to `out` (MERKLE_MAX_PATH of room), -1 for sizes out of range. */
int tlog_inclusion(const struct tlog *t, int64_t seq, int64_t size, merkle_hash *out);
int tlog_consistency(const struct tlog *t, int64_t from, int64_t to, merkle_hash *out);

/* The exact bytes a head signs (docs/trust.md), NUL-terminated; their length. */
size_t tlog_head_text(const struct tlog_head *h, char *buf, size_t n);
/* Sign the head of the first `size` leaves at time `at` with the loaded key. 0, or -1. */
int tlog_sign(const struct tlog *t, int64_t size, int64_t at, struct tlog_head *out);

/* A head stored in tree_heads (its size above every earlier one): it joins the list. */
int tlog_add_head(struct tlog *t, const struct tlog_head *h);
/* The latest head, NULL when none was signed. */
const struct tlog_head *tlog_latest(const struct tlog *t);
/* The head of size `size`, NULL when none has it. */
const struct tlog_head *tlog_head_of(const struct tlog *t, int64_t size);
/* A certificate of a log key (log_keys), by fingerprint; PEM or NULL. */
int tlog_add_key(struct tlog *t, const char *fp, const char *pem);
const char *tlog_key_of(const struct tlog *t, const char *fp);

/* The content hash of a sealed change (docs/trust.md), noted when its leaf is
 * appended and taken (forgotten) by its receipt. 0, or -1 when none is known. */
int tlog_set_content(struct tlog *t, int64_t seq, const merkle_hash h);
int tlog_take_content(struct tlog *t, int64_t seq, merkle_hash out);

#endif
