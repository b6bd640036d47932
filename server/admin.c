/*
 * Runtime administration: SIGHUP reloads the settings and the TLS files, SIGUSR1 reopens
 * the log file, a timer
 * reloads the TLS files when they change on disk, and the operators' `stats` operation.
 *
 * A reload builds everything new first (the settings from the command line and its
 * file, a new TLS context from the certificate, key, CA bundle and CRL) and swaps only
 * when all of it loaded cleanly; otherwise the settings and context in force stay and
 * the failure is logged as an error. Connections keep the TLS context they were
 * accepted with (OpenSSL counts its references); after a swap their certificates are
 * verified again against the new CA bundle and CRL (conn_reload).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/version.h"
#include "server/notify.h"
#include "server/metrics.h"
#include "server/server.h"

/* The watched TLS files; ADMIN_CA to ADMIN_CRL verify client certificates. */
enum { ADMIN_CERT, ADMIN_KEY, ADMIN_CA, ADMIN_CADIR, ADMIN_CRL, ADMIN_NFILES };

/* What a watched file looked like: a change of any field means a new file. For the CA
 * directory, `sum` covers the name and these fields of every regular file in it. */
struct admin_file {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	uint64_t sum;
};

struct admin {
	struct admin_file files[ADMIN_NFILES];   /* as last seen (loaded or not) */
	struct admin_file loaded[ADMIN_NFILES];  /* as loaded into the context in force */
	uint64_t reloads, reload_failures;
	int64_t tls_loaded_at;       /* wall ms the context in force was built */
	int crl_expired_logged;      /* the CRL in force was reported as expired */
	struct event *sig_usr1;      /* reopens the log file (logrotate) */
	uint64_t log_reopens;
};

/* FNV-1a of `n` bytes, continuing from `h`. */
static uint64_t
admin_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* The signature of the CA directory: its regular files' names, inodes, sizes and times,
 * whatever the order readdir gives (each file's hash is summed). */
static uint64_t
admin_dir_sum(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	uint64_t sum = 0;
	char file[PATH_MAX];
	struct stat st;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		uint64_t h = 0xcbf29ce484222325ULL;
		if (snprintf(file, sizeof(file), "%s/%s", path, e->d_name) >= (int)sizeof(file) ||
		    stat(file, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		h = admin_fnv(h, e->d_name, strlen(e->d_name) + 1);
		h = admin_fnv(h, &st.st_ino, sizeof(st.st_ino));
		h = admin_fnv(h, &st.st_size, sizeof(st.st_size));
		h = admin_fnv(h, &st.st_mtim, sizeof(st.st_mtim));
		sum += h;
	}
	closedir(d);
	return sum;
}

/* Stat the TLS files of `c` (the CA directory and CRL only when configured). */
static void
admin_stat_files(const struct config *c, struct admin_file f[ADMIN_NFILES])
{
	const char *paths[ADMIN_NFILES] = { c->cert, c->key, c->ca, c->ca_dir, c->crl };
	struct stat st;

	memset(f, 0, sizeof(struct admin_file) * ADMIN_NFILES);
	for (int i = 0; i < ADMIN_NFILES; i++) {
		if (paths[i][0] == '\0' || stat(paths[i], &st) < 0)
			continue;
		f[i].exists = 1;
		f[i].dev = st.st_dev;
		f[i].ino = st.st_ino;
		f[i].size = st.st_size;
		f[i].mtime = st.st_mtim;
		if (i == ADMIN_CADIR)
			f[i].sum = admin_dir_sum(paths[i]);
	}
}

/* True when two sets of `n` file signatures differ. */
static int
admin_files_differ(const struct admin_file *a, const struct admin_file *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i].exists != b[i].exists || a[i].dev != b[i].dev || a[i].ino != b[i].ino ||
		    a[i].size != b[i].size || a[i].mtime.tv_sec != b[i].mtime.tv_sec ||
		    a[i].mtime.tv_nsec != b[i].mtime.tv_nsec || a[i].sum != b[i].sum)
			return 1;
	return 0;
}

/* True when the CA bundle, the CA directory or the CRL differs: open connections must be
 * verified again. */
static int
admin_trust_differs(const struct admin_file *a, const struct admin_file *b)
{
	return admin_files_differ(a + ADMIN_CA, b + ADMIN_CA, ADMIN_CRL - ADMIN_CA + 1);
}

/* Report the CRL in force, loudly when it is past its nextUpdate. */
static void
admin_crl_report(struct server *s, int always)
{
	struct admin *a = s->admin;
	char tu[TIME_BUF], nu[TIME_BUF];
	int expired = tls_crl_expired(&s->crl, time_now_ms());

	if (!s->crl.present)
		return;
	if (!always && expired == a->crl_expired_logged)
		return;
	a->crl_expired_logged = expired;
	time_format(s->crl.this_update, tu);
	if (s->crl.next_update)
		time_format(s->crl.next_update, nu);
	else
		snprintf(nu, sizeof(nu), "none");
	if (!expired)
		log_info("crl %s: this_update=%s next_update=%s revoked=%ld", s->cfg.crl, tu, nu,
		    s->crl.revoked);
	else if (strcmp(s->cfg.crl_expired, "refuse") == 0)
		log_error("CRL EXPIRED: %s passed its nextUpdate %s: EVERY CLIENT IS REFUSED "
		    "(crl_expired = refuse) until a current CRL is installed", s->cfg.crl, nu);
	else
		log_warn("CRL EXPIRED: %s passed its nextUpdate %s: serving anyway (crl_expired = "
		    "warn), but revocations issued since are unknown; reissue the CRL", s->cfg.crl, nu);
}

/* Build a TLS context from `c`; the file signatures are taken before loading, so
 * that a change during the load is seen at the next check. */
static struct ssl_ctx_st *
admin_tls_build(const struct config *c, struct tls_crl_info *crl,
    struct admin_file files[ADMIN_NFILES], char *cause, size_t n)
{
	admin_stat_files(c, files);
	return tls_server_ctx(c, crl, cause, n);
}

/* Put a new TLS context in force. */
static void
admin_tls_swap(struct server *s, struct ssl_ctx_st *ctx, const struct tls_crl_info *crl,
    const struct admin_file files[ADMIN_NFILES])
{
	struct admin *a = s->admin;

	tls_ctx_free(s->ssl_ctx);
	s->ssl_ctx = ctx;
	s->crl = *crl;
	memcpy(a->files, files, sizeof(a->files));
	memcpy(a->loaded, files, sizeof(a->loaded));
	a->tls_loaded_at = crl->loaded_at;
	a->reloads++;
}

/* The TLS files changed on disk: load them again with the settings in force. */
static void
admin_tls_reload(struct server *s, const char *why)
{
	struct admin *a = s->admin;
	struct admin_file files[ADMIN_NFILES];
	struct tls_crl_info crl;
	struct ssl_ctx_st *ctx;
	char cause[512];
	int recheck;

	if ((ctx = admin_tls_build(&s->cfg, &crl, files, cause, sizeof(cause))) == NULL) {
		memcpy(a->files, files, sizeof(a->files));  /* try again at the next change */
		a->reload_failures++;
		log_error("TLS RELOAD FAILED (%s): %s; the certificate, CA bundle and CRL in force "
		    "stay", why, cause);
		return;
	}
	recheck = admin_trust_differs(files, a->loaded);
	admin_tls_swap(s, ctx, &crl, files);
	log_info("TLS reloaded (%s): cert=%s ca=%s ca_dir=%s crl=%s", why, s->cfg.cert, s->cfg.ca,
	    s->cfg.ca_dir[0] ? s->cfg.ca_dir : "none", s->cfg.crl[0] ? s->cfg.crl : "none");
	admin_crl_report(s, 1);
	conn_reload(s, recheck);
}

/* The next check of the TLS files, every tls_watch_interval seconds (none when 0). */
static void
admin_arm_watch(struct server *s)
{
	struct timeval tv = { s->cfg.tls_watch_interval, 0 };

	if (s->cfg.tls_watch_interval > 0)
		evtimer_add(s->watch_timer, &tv);
	else
		evtimer_del(s->watch_timer);
}

/* Timer: reload the TLS files if one changed; report a CRL that just expired. */
static void
admin_on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct admin *a = s->admin;
	struct admin_file now[ADMIN_NFILES];

	if (s->stopping)
		return;
	admin_stat_files(&s->cfg, now);
	if (admin_files_differ(now, a->files, ADMIN_NFILES))
		admin_tls_reload(s, "file changed");
	admin_crl_report(s, 0);
	admin_arm_watch(s);
}

/* What a reload found: settings that need a restart are kept at their running value. */
struct admin_diff {
	struct config *next;
	int changed;
};

/* config_each_change: a setting that cannot change at runtime keeps its value. */
static void
admin_keep_restart_only(void *arg, const char *key, const char *was, const char *now)
{
	struct admin_diff *d = arg;
	char cause[256];

	if (!config_restart_only(key))
		return;
	log_warn("reload: %s changed (%s -> %s): ignored until restart", key, was, now);
	if (config_set(d->next, key, was, cause, sizeof(cause)) < 0)
		log_error("reload: %s: %s", key, cause);
}

/* config_each_change: log a setting that takes effect now. */
static void
admin_log_change(void *arg, const char *key, const char *was, const char *now)
{
	struct admin_diff *d = arg;

	d->changed++;
	log_info("reload: %s: %s -> %s", key, was, now);
}

/* SIGHUP: read the settings again and load the TLS files; swap only when all is well. */
static void
admin_reload(struct server *s)
{
	struct admin *a = s->admin;
	struct admin_diff d = { 0 };
	struct admin_file files[ADMIN_NFILES];
	struct tls_crl_info crl;
	struct ssl_ctx_st *ctx;
	struct config *next = malloc(sizeof(*next));
	char cause[512];
	int recheck;

	if (next == NULL)
		return;
	if (s->cmdline_config(s->argc, s->argv, 1, next, cause, sizeof(cause)) < 0) {
		a->reload_failures++;
		log_error("RELOAD FAILED: %s; the settings in force stay", cause);
		free(next);
		return;
	}
	d.next = next;
	config_each_change(&s->cfg, next, admin_keep_restart_only, &d);
	if ((ctx = admin_tls_build(next, &crl, files, cause, sizeof(cause))) == NULL ||
	    tls_set_required_policy(next->required_policy) < 0) {
		a->reload_failures++;
		log_error("RELOAD FAILED: %s; the settings, certificate, CA bundle and CRL in force "
		    "stay", ctx ? "required_policy is not an OID" : cause);
		tls_ctx_free(ctx);
		free(next);
		return;
	}
	config_each_change(&s->cfg, next, admin_log_change, &d);
	/* open connections are verified again only when what verifies them changed */
	recheck = admin_trust_differs(files, a->loaded) || strcmp(s->cfg.ca, next->ca) != 0 ||
	    strcmp(s->cfg.ca_dir, next->ca_dir) != 0 || strcmp(s->cfg.crl, next->crl) != 0 ||
	    strcmp(s->cfg.crl_expired, next->crl_expired) != 0 ||
	    strcmp(s->cfg.required_policy, next->required_policy) != 0;
	s->cfg = *next;
	free(next);
	log_set_level((enum log_level)log_level_parse(s->cfg.log_level));
	log_set_format((enum log_format)log_format_parse(s->cfg.log_format));
	tls_set_crl_policy(strcmp(s->cfg.crl_expired, "refuse") == 0);
	admin_tls_swap(s, ctx, &crl, files);
	log_info("reloaded on SIGHUP: %d setting(s) changed; TLS files loaded (crl=%s)", d.changed,
	    s->cfg.crl[0] ? s->cfg.crl : "none");
	admin_crl_report(s, 1);
	conn_reload(s, recheck);
	admin_arm_watch(s);
}

/* SIGHUP handler. */
static void
admin_on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	if (s->stopping)
		return;
	log_info("signal %d (SIGHUP): reloading", (int)sig);
	notify_reloading();
	admin_reload(s);
	notify_reloaded();
}

/* SIGUSR1: open log_file again (logrotate has renamed it); on standard error, nothing. */
static void
admin_on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	struct admin *a = s->admin;
	char cause[600];

	if (s->cfg.log_file[0] == '\0') {
		log_info("signal %d (SIGUSR1): logging to standard error, nothing to reopen", (int)sig);
		return;
	}
	if (log_reopen(cause, sizeof(cause)) < 0) {
		log_error("LOG REOPEN FAILED on SIGUSR1: %s; logging to the file open before", cause);
		return;
	}
	a->log_reopens++;
	log_info("log file reopened on SIGUSR1: %s", s->cfg.log_file);
}

/*
 * Make the descriptor limit hold max_conns connections plus 64 for the listener, the
 * database, logs and the TLS files: raise the soft limit towards the hard one (as far as
 * needed), and warn when even the hard limit is too low: accept() would fail with EMFILE
 * before max_conns is reached (conn.c pauses accepting then).
 */
static void
admin_check_nofile(const struct server *s)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)s->cfg.max_conns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != rl.rlim_cur) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info("descriptor limit raised from %llu to %llu", (unsigned long long)was,
			    (unsigned long long)rl.rlim_cur);
		else if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return;
		if (rl.rlim_cur >= want)
			return;
	}
	log_warn("the descriptor limit (%llu) is below max_conns (%ld) + 64: connections "
	    "beyond it wait in the kernel's queue; raise it (LimitNOFILE) or lower max_conns",
	    (unsigned long long)rl.rlim_cur, s->cfg.max_conns);
}

/* Install SIGHUP and the file watch for the context in force. */
int
admin_init(struct server *s, int argc, char **argv)
{
	struct admin *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -1;
	s->admin = a;
	s->argc = argc;
	s->argv = argv;
	admin_stat_files(&s->cfg, a->files);
	memcpy(a->loaded, a->files, sizeof(a->loaded));
	a->tls_loaded_at = s->crl.loaded_at;
	tls_set_crl_policy(strcmp(s->cfg.crl_expired, "refuse") == 0);
	s->sig_hup = evsignal_new(s->base, SIGHUP, admin_on_hup, s);
	s->watch_timer = evtimer_new(s->base, admin_on_watch, s);
	a->sig_usr1 = evsignal_new(s->base, SIGUSR1, admin_on_usr1, s);
	if (s->sig_hup == NULL || s->watch_timer == NULL || evsignal_add(s->sig_hup, NULL) < 0 ||
	    a->sig_usr1 == NULL || evsignal_add(a->sig_usr1, NULL) < 0)
		return -1;
	admin_check_nofile(s);
	admin_crl_report(s, 1);
	admin_arm_watch(s);
	return 0;
}

/* Free what admin_init made. */
void
admin_free(struct server *s)
{
	if (s->sig_hup)
		event_free(s->sig_hup);
	if (s->watch_timer)
		event_free(s->watch_timer);
	if (s->admin && ((struct admin *)s->admin)->sig_usr1)
		event_free(((struct admin *)s->admin)->sig_usr1);
	free(s->admin);
	s->admin = NULL;
}

/* The CRL part of the stats (null when no CRL is configured). */
static json_t *
admin_stats_crl(struct server *s)
{
	json_t *o;

	if (!s->crl.present)
		return json_null();
	o = json_pack("{s:s, s:o, s:o, s:o, s:b, s:I, s:s}", "file", s->cfg.crl,
	    "this_update", proto_time(s->crl.this_update),
	    "next_update", s->crl.next_update ? proto_time(s->crl.next_update) : json_null(),
	    "loaded_at", proto_time(s->crl.loaded_at),
	    "expired", tls_crl_expired(&s->crl, time_now_ms()),
	    "revoked", (json_int_t)s->crl.revoked, "on_expiry", s->cfg.crl_expired);
	return o;
}

/* The reply of `stats`. */
json_t *
admin_stats(struct server *s, json_t *id)
{
	struct admin *a = s->admin;
	json_t *r = proto_ok(id), *by_addr = json_object();
	size_t handshaking, open, it = 0;
	const char *addr;
	void *v;

	conn_counts(s, &handshaking, &open);
	while (map_next(&s->refused_addrs, &it, NULL, &addr, &v))
		json_object_set_new(by_addr, addr, json_integer((json_int_t)*(uint64_t *)v));
	json_object_set_new(r, "stats", json_pack(
	    "{s:s, s:o, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:o}, "
	    "s:{s:s, s:o, s:I, s:I}, s:o}",
	    "version", TENDERD_VERSION,
	    "started_at", proto_time(s->started_at),
	    "uptime_s", (json_int_t)((time_now_ms() - s->started_at) / 1000),
	    "connections", "open", (json_int_t)open, "handshaking", (json_int_t)handshaking,
	    "max_conns", (json_int_t)s->cfg.max_conns,
	    "handshakes", "completed", (json_int_t)s->hs_completed,
	    "failed", (json_int_t)s->hs_failed,
	    "refused", "max_conns", (json_int_t)s->refused_max_conns,
	    "max_conns_per_addr", (json_int_t)s->refused_conns_per_addr,
	    "max_handshakes_per_addr", (json_int_t)s->refused_handshakes_per_addr,
	    "other_addrs", (json_int_t)s->refused_other, "by_addr", by_addr,
	    "tls", "min_version", s->cfg.tls_min_version,
	    "loaded_at", proto_time(a->tls_loaded_at),
	    "reloads", (json_int_t)a->reloads, "reload_failures", (json_int_t)a->reload_failures,
	    "crl", admin_stats_crl(s)));
	metrics_stats(s, json_object_get(r, "stats"));
	return r;
}
