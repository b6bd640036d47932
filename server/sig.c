/*
 * Signed statements: the checks of a signed request (on the event loop) and a
 * small pool of worker threads that verifies the CMS signatures.
 *
 * Threads. The event loop is the only thread that touches tenderd's state;
 * the workers (signature_workers of them) touch only:
 *
 *   - the pool's two lists, `todo` and `done`, and `stop`, under `mu`;
 *   - their own caches of parsed and of verified certificates (thread-local, below);
 *   - a job between the moment they take it from `todo` and the moment they put
 *     it on `done`: they read its inputs (statement, der, store, store_gen, crl_warn: set
 *     by the loop before the job was queued and never changed after) and write
 *     its results (ok, why, signer, cert, cert_ok, cert_why);
 *   - the X509_STORE of the TLS context the job was submitted under (a
 *     reference taken by the loop; OpenSSL locks the store inside), and
 *     OpenSSL's own thread-safe state;
 *   - the eventfd, written once per finished job.
 *
 * The loop reads a job's results only after it took the job off `done`, and
 * the fields `done`, `dropped`, `next_free` are the loop's alone. A job whose
 * command went away while a worker held it is marked `dropped` and freed by
 * the loop when it comes back. Nothing else is shared: the registry, the
 * settings, the nonce memory and the commands stay on the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/log.h"
#include "common/map.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/server.h"
#include "server/sig.h"
#include "server/tls.h"

#define SIG_NONCE_MIN 16
#define SIG_NONCE_MAX 64

/* One signature check. */
struct sig_job {
	/* inputs: set by the loop before the job is queued, read-only after */
	char *statement;
	size_t slen;
	unsigned char *der;
	size_t derlen;
	X509_STORE *store;          /* a reference to the TLS context's store */
	unsigned long store_gen;    /* which store it is (a new one after each TLS reload) */
	int crl_warn;               /* crl_expired = warn: a CRL past nextUpdate is used anyway */
	/* results: written by the worker, read by the loop once the job is back */
	int ok;                     /* the signature verifies over the statement */
	char why[200];
	char signer[TLS_FP_LEN + 1];
	X509 *cert;                 /* the signer's certificate (NULL: none) */
	int cert_ok;                /* it verifies against the CA store and CRL */
	char cert_why[200];
	/* the loop's alone */
	int done;                   /* back from the worker (or never sent) */
	int dropped;                /* nobody wants it any more: freed when back */
	struct sig_job *next;       /* in `todo` or `done`, under mu */
};

/* A remembered nonce, in the order remembered (pruning goes from the oldest). */
struct sig_nonce {
	char *key;                  /* "<participant>:<nonce>" */
	int64_t until;              /* wall ms after which its statement is stale anyway */
};

/* The pool and the nonce memory. */
struct sig_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sig_job *todo, *todo_tail, *done, *done_tail;   /* under mu */
	int stop;                                             /* under mu */
	int efd;
	pthread_t *threads;
	int nthreads;
	/* the loop's alone */
	struct server *s;
	struct event *ev;
	void (*on_done)(struct server *s);
	struct map nonces;          /* key -> (void *)1: the nonces in `ring` */
	struct sig_nonce *ring;
	size_t rhead, rlen, rcap;
	X509_STORE *last_store;     /* the store of the last job (a reference), and its number */
	unsigned long store_gen;
};

/*
 * Each worker remembers, for a minute, the certificates whose chain and revocation it
 * verified under a store (by the store's number: a reload makes a new store, and so a new
 * number, so a new CRL is always used at once). A certificate seen again is then checked
 * for its validity period only: the chain's signatures are not verified again for every
 * statement. The cache is the worker's own (thread-local): nothing is shared.
 */
#define SIG_CACHE 256
#define SIG_CACHE_S 60
struct sig_cache_ent {
	char fp[TLS_FP_LEN + 1];
	unsigned long gen;
	time_t until;
};
static _Thread_local struct sig_cache_ent sig_cache[SIG_CACHE];

/* Free a job. */
static void
sig_job_free(struct sig_job *j)
{
	if (j == NULL)
		return;
	free(j->statement);
	free(j->der);
	X509_STORE_free(j->store);
	X509_free(j->cert);
	free(j);
}

/* ---- the worker's part ---- */

/* A CRL past its nextUpdate is accepted under crl_expired = warn, as in a handshake. */
static int
sig_verify_cb(int ok, X509_STORE_CTX *sc)
{
	const struct sig_job *j = X509_STORE_CTX_get_app_data(sc);

	if (!ok && X509_STORE_CTX_get_error(sc) == X509_V_ERR_CRL_HAS_EXPIRED && j->crl_warn) {
		X509_STORE_CTX_set_error(sc, X509_V_OK);
		return 1;
	}
	return ok;
}

/* The worker's cache slot of a fingerprint. */
static struct sig_cache_ent *
sig_cache_slot(const char *fp)
{
	unsigned h = 0;

	for (int i = 0; i < 8 && fp[i]; i++)
		h = h * 31 + (unsigned char)fp[i];
	return &sig_cache[h % SIG_CACHE];
}

/* The signer's certificate against the CA store (chain, validity now, CRL); a certificate
 * this worker verified under the same store within SIG_CACHE_S is checked for its validity
 * period only. */
static void
sig_check_cert(struct sig_job *j)
{
	struct sig_cache_ent *c = sig_cache_slot(j->signer);
	time_t now = time(NULL);
	X509_STORE_CTX *sc;

	if (c->gen == j->store_gen && c->until > now && strcmp(c->fp, j->signer) == 0) {
		if (X509_cmp_current_time(X509_get0_notBefore(j->cert)) < 0 &&
		    X509_cmp_current_time(X509_get0_notAfter(j->cert)) > 0) {
			j->cert_ok = 1;
			return;
		}
		c->until = 0;  /* out of its validity: the full check says why */
	}
	sc = X509_STORE_CTX_new();

	if (sc == NULL || X509_STORE_CTX_init(sc, j->store, j->cert, NULL) != 1) {
		snprintf(j->cert_why, sizeof(j->cert_why), "cannot check the certificate");
	} else {
		X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_CLIENT);
		X509_STORE_CTX_set_app_data(sc, j);
		X509_STORE_CTX_set_verify_cb(sc, sig_verify_cb);
		j->cert_ok = X509_verify_cert(sc) == 1;
		if (j->cert_ok) {
			snprintf(c->fp, sizeof(c->fp), "%s", j->signer);
			c->gen = j->store_gen;
			c->until = now + SIG_CACHE_S;
		}
		if (!j->cert_ok)
			snprintf(j->cert_why, sizeof(j->cert_why), "%s",
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
	}
	X509_STORE_CTX_free(sc);
}

/* Hex SHA-256 of a certificate's DER. */
static void
sig_fingerprint(X509 *x, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (unsigned int i = 0; i < n && i * 2 < TLS_FP_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/*
 * Parsed certificates. Decoding a certificate's public key is most of what parsing a CMS
 * message costs (OpenSSL 3.0 looks its decoder up anew each time), and a participant signs
 * with the same certificate again and again. So a worker takes the certificates out of the
 * message's DER (they are not covered by the signature), parses the rest, and gives
 * CMS_verify the certificates from its own cache of parsed ones, keyed by the SHA-256 of
 * their DER: a certificate is parsed once per worker (until its slot is taken by another).
 */
#define SIG_CERTS 128
struct sig_cert_ent {
	char fp[TLS_FP_LEN + 1];
	X509 *x;
};
static _Thread_local struct sig_cert_ent sig_certs[SIG_CERTS];

/* The header of the DER element at p (at most n bytes): tag, class, header and content
 * lengths. 0, or -1 when it is not a definite-length element within n. */
static int
sig_tlv(const unsigned char *p, long n, int *tag, int *cls, long *hlen, long *clen)
{
	const unsigned char *q = p;
	long len;
	int r;

	if (n <= 0)
		return -1;
	r = ASN1_get_object(&q, &len, tag, cls, n);
	if ((r & 0x80) || (r & 1) || len > n - (q - p))
		return -1;
	*hlen = q - p;
	*clen = len;
	return 0;
}

/*
 * Split a DER ContentInfo holding a SignedData: *out (malloc'd) is the same message without
 * its `certificates` field, and *certs (inside der) that field's content. 0, or -1 when der
 * is not so shaped or has no certificates (it is then parsed as it is).
 */
static int
sig_split(const unsigned char *der, long n, unsigned char **out, long *outlen,
    const unsigned char **certs, long *certslen)
{
	const unsigned char *p = der, *oid, *sd, *end, *e, *cf = NULL;
	long h, l, oidlen, h1, l1, h2, l2, cflen = 0, nsd, n1, total;
	int tag, cls;
	unsigned char *o;

	if (sig_tlv(p, n, &tag, &cls, &h, &l) || tag != V_ASN1_SEQUENCE || h + l != n)
		return -1;
	p += h;
	if (sig_tlv(p, l, &tag, &cls, &h, &oidlen) || tag != V_ASN1_OBJECT)
		return -1;
	oid = p;
	oidlen += h;
	p += oidlen;
	if (sig_tlv(p, der + n - p, &tag, &cls, &h1, &l1) || tag != 0 ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || p + h1 + l1 != der + n)
		return -1;
	p += h1;
	if (sig_tlv(p, l1, &tag, &cls, &h2, &l2) || tag != V_ASN1_SEQUENCE || h2 + l2 != l1)
		return -1;
	sd = p + h2;
	end = sd + l2;
	for (e = sd; e < end; e += h + l) {
		if (sig_tlv(e, end - e, &tag, &cls, &h, &l))
			return -1;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0 && cf == NULL) {
			cf = e;
			cflen = h + l;
			*certs = e + h;
			*certslen = l;
		}
	}
	if (cf == NULL)
		return -1;
	nsd = l2 - cflen;
	n1 = ASN1_object_size(1, nsd, V_ASN1_SEQUENCE);
	total = ASN1_object_size(1, oidlen + ASN1_object_size(1, n1, 0), V_ASN1_SEQUENCE);
	if (nsd < 0 || n1 < 0 || total < 0 || (o = *out = malloc((size_t)total)) == NULL)
		return -1;
	ASN1_put_object(&o, 1, oidlen + ASN1_object_size(1, n1, 0), V_ASN1_SEQUENCE,
	    V_ASN1_UNIVERSAL);
	memcpy(o, oid, (size_t)oidlen);
	o += oidlen;
	ASN1_put_object(&o, 1, n1, 0, V_ASN1_CONTEXT_SPECIFIC);
	ASN1_put_object(&o, 1, nsd, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(o, sd, (size_t)(cf - sd));
	o += cf - sd;
	memcpy(o, cf + cflen, (size_t)(end - cf - cflen));
	o += end - cf - cflen;
	*outlen = o - *out;
	return 0;
}

/* The certificates of a `certificates` field's content, from the worker's cache (parsed
 * and added when new), on a stack that does not own them; NULL when one does not parse. */
static STACK_OF(X509) *
sig_certs_of(const unsigned char *p, long n)
{
	STACK_OF(X509) *st = sk_X509_new_null();
	long h, l;
	int tag, cls;

	for (const unsigned char *e = p; st && e < p + n; e += h + l) {
		unsigned char md[32];
		char fp[TLS_FP_LEN + 1];
		const unsigned char *q = e;
		struct sig_cert_ent *c;
		unsigned hash = 0;
		if (sig_tlv(e, p + n - e, &tag, &cls, &h, &l) || tag != V_ASN1_SEQUENCE ||
		    EVP_Digest(e, (size_t)(h + l), md, NULL, EVP_sha256(), NULL) != 1)
			goto bad;
		for (int i = 0; i < 32; i++)
			snprintf(fp + 2 * i, 3, "%02x", md[i]);
		for (int i = 0; i < 4; i++)
			hash = hash * 256 + md[i];
		c = &sig_certs[hash % SIG_CERTS];
		if (c->x == NULL || strcmp(c->fp, fp) != 0) {
			X509 *x = d2i_X509(NULL, &q, h + l);
			if (x == NULL || q != e + h + l) {
				X509_free(x);
				goto bad;
			}
			X509_free(c->x);
			c->x = x;
			snprintf(c->fp, sizeof(c->fp), "%s", fp);
		}
		if (sk_X509_push(st, c->x) <= 0)
			goto bad;
	}
	return st;
bad:
	sk_X509_free(st);
	return NULL;
}

/* Free the worker's parsed certificates (it is stopping). */
static void
sig_certs_free(void)
{
	for (int i = 0; i < SIG_CERTS; i++) {
		X509_free(sig_certs[i].x);
		sig_certs[i].x = NULL;
	}
}

/* Verify one job: a detached SignedData with one signer, over the statement's bytes. */
static void
sig_check(struct sig_job *j)
{
	unsigned char *bare = NULL;
	const unsigned char *certs = NULL, *p;
	long barelen = 0, certslen = 0;
	STACK_OF(X509) *signers = NULL, *given = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	int whole;

	/* the message without its certificates, which come from the cache */
	if (sig_split(j->der, (long)j->derlen, &bare, &barelen, &certs, &certslen) == 0 &&
	    (given = sig_certs_of(certs, certslen)) != NULL) {
		p = bare;
		cms = d2i_CMS_ContentInfo(NULL, &p, barelen);
		whole = p == bare + barelen;
	} else {
		p = j->der;
		cms = d2i_CMS_ContentInfo(NULL, &p, (long)j->derlen);
		whole = p == j->der + j->derlen;
	}
	if (cms == NULL || !whole) {
		snprintf(j->why, sizeof(j->why), "the signature is not one DER-encoded CMS message");
	} else if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		snprintf(j->why, sizeof(j->why), "the signature is not a CMS SignedData");
	} else if (!CMS_is_detached(cms)) {
		snprintf(j->why, sizeof(j->why), "the signature must be detached (the statement "
		    "travels beside it)");
	} else if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		snprintf(j->why, sizeof(j->why), "the signature must have exactly one signer");
	} else if ((in = BIO_new_mem_buf(j->statement, (int)j->slen)) == NULL) {
		snprintf(j->why, sizeof(j->why), "out of memory");
	} else if (CMS_verify(cms, given, NULL, in, NULL,
	    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		snprintf(j->why, sizeof(j->why), "the signature does not verify over the statement's "
		    "bytes, or does not hold the signer's certificate");
	} else if ((signers = CMS_get0_signers(cms)) == NULL || sk_X509_num(signers) != 1) {
		snprintf(j->why, sizeof(j->why), "the signature does not hold the signer's certificate");
	} else {
		j->ok = 1;
		j->cert = sk_X509_value(signers, 0);
		X509_up_ref(j->cert);
		sig_fingerprint(j->cert, j->signer);
		sig_check_cert(j);
	}
	ERR_clear_error();
	sk_X509_free(signers);
	sk_X509_free(given);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	free(bare);
}

/* A worker: take a job, check it, hand it back, until told to stop. */
static void *
sig_worker(void *arg)
{
	struct sig_pool *pl = arg;
	uint64_t one = 1;

	for (;;) {
		struct sig_job *j;
		pthread_mutex_lock(&pl->mu);
		while (pl->todo == NULL && !pl->stop)
			pthread_cond_wait(&pl->cv, &pl->mu);
		if (pl->stop) {
			pthread_mutex_unlock(&pl->mu);
			sig_certs_free();
			return NULL;
		}
		j = pl->todo;
		if ((pl->todo = j->next) == NULL)
			pl->todo_tail = NULL;
		pthread_mutex_unlock(&pl->mu);
		j->next = NULL;
		sig_check(j);
		pthread_mutex_lock(&pl->mu);
		if (pl->done_tail)
			pl->done_tail->next = j;
		else
			pl->done = j;
		pl->done_tail = j;
		pthread_mutex_unlock(&pl->mu);
		while (write(pl->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
}

/* ---- the loop's part ---- */

/* Finished checks: mark them done (free the dropped ones), then tell the write path. */
static void
sig_collect(evutil_socket_t fd, short what, void *arg)
{
	struct sig_pool *pl = arg;
	struct sig_job *j, *next;
	uint64_t v;

	if (read(pl->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("signature workers: cannot read their eventfd: %s", strerror(errno));
	pthread_mutex_lock(&pl->mu);
	j = pl->done;
	pl->done = pl->done_tail = NULL;
	pthread_mutex_unlock(&pl->mu);
	for (; j; j = next) {
		next = j->next;
		j->next = NULL;
		j->done = 1;
		if (j->dropped)
			sig_job_free(j);
	}
	if (pl->on_done)
		pl->on_done(pl->s);
}

/* Start the workers; see sig.h. */
int
sig_init(struct server *s, void (*done)(struct server *s), char *cause, size_t n)
{
	struct sig_pool *pl = calloc(1, sizeof(*pl));
	sigset_t all, old;

	if (pl == NULL) {
		snprintf(cause, n, "out of memory");
		return -1;
	}
	s->sig = pl;
	pl->efd = -1;
	pl->s = s;
	pl->on_done = done;
	map_init(&pl->nonces, 1);
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->cv, NULL);
	if ((pl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (pl->ev = event_new(s->base, pl->efd, EV_READ | EV_PERSIST, sig_collect, pl)) == NULL ||
	    event_add(pl->ev, NULL) < 0) {
		snprintf(cause, n, "signature workers: %s", strerror(errno));
		return -1;
	}
	pl->threads = calloc((size_t)s->cfg.signature_workers, sizeof(*pl->threads));
	if (pl->threads == NULL) {
		snprintf(cause, n, "out of memory");
		return -1;
	}
	/* the workers take no signals: the event loop handles them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (long i = 0; i < s->cfg.signature_workers; i++) {
		int e = pthread_create(&pl->threads[i], NULL, sig_worker, pl);
		if (e != 0) {
			snprintf(cause, n, "cannot start a signature worker: %s", strerror(e));
			break;
		}
		pl->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pl->nthreads == s->cfg.signature_workers ? 0 : -1;
}

/* Free the jobs of a list (shutdown: the dropped ones; the others belong to commands
 * that are freed with the write path, which has stopped by now). */
static void
sig_free_list(struct sig_job *j)
{
	struct sig_job *next;

	for (; j; j = next) {
		next = j->next;
		j->next = NULL;
		j->done = 1;
		if (j->dropped)
			sig_job_free(j);
	}
}

/* Stop the workers and free the pool. */
void
sig_free(struct server *s)
{
	struct sig_pool *pl = s->sig;
	if (pl == NULL)
		return;
	pthread_mutex_lock(&pl->mu);
	pl->stop = 1;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	for (int i = 0; i < pl->nthreads; i++)
		pthread_join(pl->threads[i], NULL);
	sig_free_list(pl->todo);
	sig_free_list(pl->done);
	if (pl->ev)
		event_free(pl->ev);
	if (pl->efd >= 0)
		close(pl->efd);
	for (size_t i = 0; i < pl->rlen; i++)
		free(pl->ring[(pl->rhead + i) % pl->rcap].key);
	free(pl->ring);
	map_free(&pl->nonces);
	X509_STORE_free(pl->last_store);
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->cv);
	free(pl->threads);
	free(pl);
	s->sig = NULL;
}

/* Queue a job for the workers. */
static void
sig_submit(struct sig_pool *pl, struct sig_job *j)
{
	pthread_mutex_lock(&pl->mu);
	if (pl->todo_tail)
		pl->todo_tail->next = j;
	else
		pl->todo = j;
	pl->todo_tail = j;
	pthread_cond_signal(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
}

/* See sig.h. */
int
sig_pending(const struct sig_job *j)
{
	return !j->done;
}

/* See sig.h. */
void
sig_job_drop(struct sig_job *j)
{
	if (j == NULL)
		return;
	if (j->done)
		sig_job_free(j);
	else
		j->dropped = 1;
}

/* See sig.h. */
const char *
sig_statement(const struct sig_job *j)
{
	return j->statement;
}

/* See sig.h. */
const unsigned char *
sig_der(const struct sig_job *j, size_t *len)
{
	*len = j->derlen;
	return j->der;
}

/* See sig.h. */
const char *
sig_signer(const struct sig_job *j)
{
	return j->signer;
}

/* See sig.h. */
int
sig_verdict(struct server *s, const struct sig_job *j, const struct participant *who,
    const char **code, char *message, size_t n)
{
	const struct cert *c;
	char why[200];

	if (!j->ok) {
		*code = "bad_signature";
		snprintf(message, n, "%s", j->why);
		return -1;
	}
	c = map_sget(&s->certs, j->signer);
	if (c == NULL || c->who != who) {
		*code = "wrong_signer";
		snprintf(message, n, "the statement is signed by certificate %.16s..., which is not a "
		    "registered certificate of this participant", j->signer);
		return -1;
	}
	if (!j->cert_ok) {
		*code = "signer_invalid";
		snprintf(message, n, "the signer's certificate is not valid: %s", j->cert_why);
		return -1;
	}
	/* the platform's required certificate policy (required_policy), as in the handshake */
	if (!tls_cert_policy_ok(j->cert, why, sizeof(why))) {
		*code = "signer_invalid";
		snprintf(message, n, "the signer's certificate is not valid: %s", why);
		return -1;
	}
	return 0;
}

/* ---- nonces ---- */

/* Forget the nonces whose statements are stale by now. */
static void
sig_nonce_prune(struct sig_pool *pl, int64_t now)
{
	while (pl->rlen > 0 && pl->ring[pl->rhead].until < now) {
		struct sig_nonce *e = &pl->ring[pl->rhead];
		map_sdel(&pl->nonces, e->key);
		free(e->key);
		pl->rhead = (pl->rhead + 1) % pl->rcap;
		pl->rlen--;
	}
}

/* Remember a nonce until `until`; -1 when out of memory. */
static int
sig_nonce_add(struct sig_pool *pl, const char *key, int64_t until)
{
	if (pl->rlen == pl->rcap) {
		size_t ncap = pl->rcap ? pl->rcap * 2 : 256;
		struct sig_nonce *nr = malloc(ncap * sizeof(*nr));
		if (nr == NULL)
			return -1;
		for (size_t i = 0; i < pl->rlen; i++)
			nr[i] = pl->ring[(pl->rhead + i) % pl->rcap];
		free(pl->ring);
		pl->ring = nr;
		pl->rcap = ncap;
		pl->rhead = 0;
	}
	struct sig_nonce *e = &pl->ring[(pl->rhead + pl->rlen) % pl->rcap];
	if ((e->key = strdup(key)) == NULL)
		return -1;
	e->until = until;
	if (map_sput(&pl->nonces, key, (void *)1) < 0) {
		free(e->key);
		return -1;
	}
	pl->rlen++;
	return 0;
}

/* A nonce as the statement format allows it: 16 to 64 of [A-Za-z0-9_-]. */
static int
sig_nonce_ok(const char *v)
{
	size_t n = strlen(v);

	if (n < SIG_NONCE_MIN || n > SIG_NONCE_MAX)
		return 0;
	return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* See sig.h. */
void
sig_remember(struct server *s, int64_t participant, const char *statement)
{
	json_t *st = json_loads(statement, 0, NULL);
	const char *nonce = json_string_value(json_object_get(st, "nonce"));
	const char *t = json_string_value(json_object_get(st, "time"));
	int64_t at, skew = s->cfg.signature_skew * 1000;
	char key[128];

	if (s->sig && nonce && t && sig_nonce_ok(nonce) && time_parse(t, &at) == 0 &&
	    at + skew >= time_now_ms()) {
		snprintf(key, sizeof(key), "%lld:%s", (long long)participant, nonce);
		if (map_sget(&s->sig->nonces, key) == NULL)
			sig_nonce_add(s->sig, key, time_now_ms() + 2 * skew);
	}
	json_decref(st);
}

/* ---- the statement ---- */

static unsigned char *sig_unbase64(const char *in, size_t len, size_t *outlen);

/* Every string of a JSON value in NFC, in place, as the request's strings are. */
static int
sig_nfc(json_t *v)
{
	const char *key;
	json_t *x;
	size_t i, n;
	char *nfc;
	int rc;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, key, x)
			if (sig_nfc(x) < 0)
				return -1;
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			if (sig_nfc(x) < 0)
				return -1;
		return 0;
	case JSON_STRING:
		rc = text_nfc(json_string_value(v), json_string_length(v), &nfc, &n);
		if (rc == 1) {
			rc = json_string_setn_nocheck(v, nfc, n);
			free(nfc);
		}
		return rc < 0 ? -1 : 0;
	default:
		return 0;
	}
}

/* True for the members of a request that are not part of what is signed. */
static int
sig_envelope(const char *key)
{
	return strcmp(key, "id") == 0 || strcmp(key, "statement") == 0 ||
	    strcmp(key, "signature") == 0;
}

/* Hex SHA-256 of the bytes that base64 text `b64` encodes; -1 when it is not base64. */
static int
sig_content_sha256(const char *b64, size_t len, char *hex)
{
	unsigned char *bytes, md[32];
	size_t n = 0;

	if (len == 0) {
		bytes = NULL;
	} else if ((bytes = sig_unbase64(b64, len, &n)) == NULL) {
		return -1;
	}
	if (EVP_Digest(bytes ? bytes : (unsigned char *)"", n, md, NULL, EVP_sha256(), NULL) != 1) {
		free(bytes);
		return -1;
	}
	free(bytes);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/*
 * A statement's value says what the request's value says: equal JSON, except that
 * inside objects a document's `content` (base64) may be stated as `content_sha256`,
 * the lowercase hex SHA-256 of the bytes it encodes (the digest form: a statement
 * need not repeat a whole document).
 */
static int
sig_equal(json_t *st, json_t *rq)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(st) && json_is_array(rq)) {
		if (json_array_size(st) != json_array_size(rq))
			return 0;
		json_array_foreach(rq, i, v)
			if (!sig_equal(json_array_get(st, i), v))
				return 0;
		return 1;
	}
	if (!json_is_object(st) || !json_is_object(rq))
		return json_equal(st, rq);
	json_object_foreach(rq, key, v) {
		json_t *digest = json_object_get(st, "content_sha256");
		char hex[65];
		if (strcmp(key, "content") == 0 && json_is_string(v) &&
		    json_object_get(st, "content") == NULL && json_is_string(digest)) {
			if (sig_content_sha256(json_string_value(v), json_string_length(v), hex) < 0 ||
			    strcmp(hex, json_string_value(digest)) != 0)
				return 0;
		} else if (!sig_equal(json_object_get(st, key), v)) {
			return 0;
		}
	}
	json_object_foreach(st, key, v)
		if (json_object_get(rq, key) == NULL && !(strcmp(key, "content_sha256") == 0 &&
		    json_is_string(json_object_get(rq, "content"))))
			return 0;
	return 1;
}

/* The statement says what the request does: `op`, then every field of the request
 * but id, statement and signature with an equal value, and nothing else but nonce
 * and time. 0, or -1 with the field that differs. */
static int
sig_match(json_t *st, json_t *req, const char *op, const char **field)
{
	const char *key;
	json_t *v;

	if (!json_is_string(json_object_get(st, "op")) ||
	    strcmp(json_string_value(json_object_get(st, "op")), op) != 0) {
		*field = "op";
		return -1;
	}
	json_object_foreach(req, key, v) {
		if (sig_envelope(key) || strcmp(key, "op") == 0)
			continue;
		if (!sig_equal(json_object_get(st, key), v)) {
			*field = key;
			return -1;
		}
	}
	json_object_foreach(st, key, v) {
		if (strcmp(key, "op") == 0 || strcmp(key, "nonce") == 0 || strcmp(key, "time") == 0)
			continue;
		if (sig_envelope(key) || json_object_get(req, key) == NULL) {
			*field = key;
			return -1;
		}
	}
	return 0;
}

/* Base64 (no line breaks) to bytes; NULL when it is not base64. */
static unsigned char *
sig_unbase64(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || (out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) < 0) {
		free(out);
		return NULL;
	}
	pad = (in[len - 1] == '=') + (in[len - 2] == '=');
	*outlen = (size_t)n - (size_t)pad;
	return out;
}

#define SIG_REFUSE(c, f, ...) do { *code = (c); *field = (f); \
	snprintf(message, n, __VA_ARGS__); goto refused; } while (0)

/* See sig.h. */
int
sig_request(struct server *s, const struct participant *who, const char *op, json_t *req,
    int required, struct sig_job **job, const char **code, char *message, size_t n,
    const char **field)
{
	json_t *jst = json_object_get(req, "statement"), *jsig = json_object_get(req, "signature");
	json_t *st = NULL;
	const char *nonce, *t;
	struct sig_job *j = NULL;
	int64_t at, now = time_now_ms(), skew = s->cfg.signature_skew * 1000;
	char key[128];

	*job = NULL;
	if (jst == NULL && jsig == NULL && !required)
		return 0;
	if (jst == NULL || jsig == NULL)
		SIG_REFUSE("signature_required", jst == NULL ? "statement" : "signature",
		    "%s must be signed: send 'statement' (the exact bytes signed) and 'signature' "
		    "(base64 of a detached CMS signature over them)", op);
	if (!json_is_string(jst) || json_string_length(jst) == 0)
		SIG_REFUSE("bad_statement", "statement", "'statement' must be a non-empty string");
	if (!json_is_string(jsig))
		SIG_REFUSE("bad_signature", "signature", "'signature' must be a base64 string");
	st = json_loadb(json_string_value(jst), json_string_length(jst), JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(st))
		SIG_REFUSE("bad_statement", "statement", "'statement' must be a JSON object");
	if (sig_nfc(st) < 0)
		SIG_REFUSE("internal", NULL, "out of memory");
	nonce = json_string_value(json_object_get(st, "nonce"));
	t = json_string_value(json_object_get(st, "time"));
	if (nonce == NULL || !sig_nonce_ok(nonce))
		SIG_REFUSE("bad_statement", "nonce", "the statement's 'nonce' must be %d to %d "
		    "characters of A-Z, a-z, 0-9, '_' and '-'", SIG_NONCE_MIN, SIG_NONCE_MAX);
	if (t == NULL || time_parse(t, &at) < 0)
		SIG_REFUSE("bad_statement", "time", "the statement's 'time' must be an RFC 3339 UTC "
		    "time with milliseconds (\"2026-11-22T10:00:00.000Z\")");
	if (sig_match(st, req, op, field) < 0) {
		/* the name may be the statement's, freed below: the loop's own copy */
		static char name[65];
		snprintf(name, sizeof(name), "%s", *field);
		*field = name;
		*code = "statement_mismatch";
		snprintf(message, n, "the statement does not say what the request does: '%.64s' "
		    "differs", *field);
		goto refused;
	}
	if (at < now - skew || at > now + skew)
		SIG_REFUSE("stale_statement", "time", "the statement's time %s is more than %ld s "
		    "from the server's clock", t, s->cfg.signature_skew);
	sig_nonce_prune(s->sig, now);
	snprintf(key, sizeof(key), "%lld:%s", (long long)who->id, nonce);
	if (map_sget(&s->sig->nonces, key) != NULL)
		SIG_REFUSE("nonce_reused", "nonce", "nonce '%s' was already used by this participant",
		    nonce);
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->statement = strndup(json_string_value(jst), json_string_length(jst))) == NULL)
		SIG_REFUSE("internal", NULL, "out of memory");
	j->slen = json_string_length(jst);
	if ((j->der = sig_unbase64(json_string_value(jsig), json_string_length(jsig),
	    &j->derlen)) == NULL)
		SIG_REFUSE("bad_signature", "signature", "'signature' is not base64 (without line "
		    "breaks)");
	if (sig_nonce_add(s->sig, key, now + 2 * skew) < 0)
		SIG_REFUSE("internal", NULL, "out of memory");
	j->store = SSL_CTX_get_cert_store(s->ssl_ctx);
	X509_STORE_up_ref(j->store);
	if (j->store != s->sig->last_store) {
		/* a new TLS context (a reload): its store gets a new number; the pool keeps a
		 * reference to the last one, so that no later store can have its address */
		X509_STORE_free(s->sig->last_store);
		X509_STORE_up_ref(j->store);
		s->sig->last_store = j->store;
		s->sig->store_gen++;
	}
	j->store_gen = s->sig->store_gen;
	j->crl_warn = strcmp(s->cfg.crl_expired, "refuse") != 0;
	json_decref(st);
	sig_submit(s->sig, j);
	*job = j;
	return 0;
refused:
	json_decref(st);
	sig_job_free(j);
	return -1;
}
