/* tenderd requests over one connection: JSON lines out, bounded lines in, replies matched by id. */
#ifndef TENDERCTL_RPC_H
#define TENDERCTL_RPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "client/net.h"
#include "client/opts.h"

/* One connection and its input buffer. */
struct rpc {
	struct net *net;
	struct net_conf conf;  /* how it was opened, for rpc_diagnose */
	long lines;            /* lines received on it */
	int diagnosed;         /* rpc_diagnose ran (it runs once) */
	char *buf;             /* unread input is buf[start .. start + len) */
	size_t cap;            /* longest line + CR LF */
	size_t start;
	size_t len;
	long long next_id;     /* id given to the next request that has none */
	int json;              /* --json: print raw reply lines */
	int64_t timeout_ms;    /* --timeout */
	int64_t skew_ms;       /* server clock minus ours */
	int64_t skew_rtt;      /* round trip of the skew sample, -1 before the first */
	json_t *side_id;       /* a second request in flight whose reply rpc_wait keeps, or NULL */
	json_t *side_reply;    /* that reply once it came (owned), or NULL */
	int quiet;             /* print nothing (rpc_wait_side) */
	int hide_ok;           /* --json: do not print an ok reply (rpc_call_quiet) */
	int verbatim;          /* keep control characters in received text: it goes back to the
				* server, not to the terminal */
	const char *servers;   /* --server: HOST:PORT, or several separated by commas */
	int nservers;          /* how many */
	int cur;               /* the one connected to (index), -1 for a named primary */
	char server[300];      /* its address (conf.server points here) */
	int moving;            /* rpc_call moves on after a `standby` reply: rpc_wait keeps it quiet */
};

/* Connect as the options say; CTL_OK or CTL_CONN / CTL_TIMEOUT after printing why. */
int rpc_open(struct rpc *r, const struct opts *o);

/* Close the connection and free the buffer. */
void rpc_close(struct rpc *r);

/* Connect again after the connection was lost or the server answered `standby`: the named
 * `primary` first when given, then every server of --server in turn from the one after the
 * current, round after round with a growing pause (0.25 s doubling to 5 s) until `deadline`
 * (time_mono_ms, -1: for ever). Unread input is dropped. CTL_OK, or CTL_CONN after printing
 * why. */
int rpc_reconnect(struct rpc *r, const char *primary, int64_t deadline);

/* When reply is the `standby` error of a server that is not the primary: the primary it names
 * (borrowed from reply; "" when it names none); else NULL. */
const char *rpc_standby(json_t *reply);

/* Send req as one line, giving it an id if it has none; *id borrows it from req.
 * CTL_OK, or CTL_CONN / CTL_TIMEOUT after printing why. */
int rpc_send(struct rpc *r, json_t *req, json_t **id);

/* Read the next message before `deadline` (time_mono_ms, -1 for ever). CTL_OK with *msg (a new
 * reference; terminal control characters in its strings replaced unless verbatim is set) and
 * *raw (the line, valid until the next read); CTL_TIMEOUT without a message; CTL_CONN after
 * printing why. */
int rpc_read(struct rpc *r, int64_t deadline, json_t **msg, const char **raw);

/* The event name of msg, NULL when msg is a reply. */
const char *rpc_event(json_t *msg);

/* Whether reply answers the request with this id. */
int rpc_matches(json_t *reply, json_t *id);

/* An "error" or "shutdown" event ends the connection: print it, return CTL_CONN; else CTL_OK. */
int rpc_fatal_event(struct rpc *r, json_t *msg, const char *raw);

/* Print an error reply as "error: CODE: message" to stderr. */
void rpc_print_error(json_t *reply);

/* Whether reply says ok:true. */
int rpc_ok(json_t *reply);

/* Take a clock-skew sample from a reply carrying server_time. */
void rpc_note_time(struct rpc *r, json_t *reply, int64_t sent_wall, int64_t rtt);

/* Wait for the reply to `id` until `deadline`, skipping events and other replies (the reply to
 * side_id is kept in side_reply); with --json print it. CTL_OK (ok:true), CTL_ERROR (printed),
 * CTL_CONN or CTL_TIMEOUT (printed). */
int rpc_wait(struct rpc *r, json_t *id, int64_t deadline, int64_t sent_wall, int64_t sent_mono,
	     json_t **reply);

/* Wait quietly until `deadline` for the reply to side_id if it has not come yet. */
void rpc_wait_side(struct rpc *r, int64_t deadline);

/* Send req and wait for its reply within --timeout; as rpc_wait. */
int rpc_call(struct rpc *r, json_t *req, json_t **reply);

/* As rpc_call, but print nothing for an ok reply even with --json (a request the command makes
 * for itself, such as reading the server's clock); an error reply is printed as usual. */
int rpc_call_quiet(struct rpc *r, json_t *req, json_t **reply);

/* Keep-alive period of a connection that only listens. */
#define RPC_PING_MS 60000

/* The keep-alive of a connection that only listens: a hello every RPC_PING_MS, so that the
 * server's idle timeout does not close it; its replies also sample the clock skew. */
struct rpc_ping {
	json_t *id;          /* the hello in flight (owned), or NULL */
	int64_t at;          /* mono time of the next hello */
	int64_t deadline;    /* mono time by which the reply to the one in flight must come */
	int64_t sent_wall;
	int64_t sent_mono;
};

/* Start keeping alive: the first hello goes RPC_PING_MS after `now_mono`. */
void rpc_ping_start(struct rpc_ping *p, int64_t now_mono);

/* When the keep-alive next needs attention (mono ms). */
int64_t rpc_ping_deadline(const struct rpc_ping *p);

/* Send the hello when it is due; CTL_TIMEOUT (printed) when the last one was not answered
 * within --timeout; else CTL_OK or the failure to send. */
int rpc_ping_timer(struct rpc *r, struct rpc_ping *p);

/* Whether msg answers the hello in flight (then it is taken: clock sample, next hello). */
int rpc_ping_reply(struct rpc *r, struct rpc_ping *p, json_t *msg);

/* Release the keep-alive. */
void rpc_ping_free(struct rpc_ping *p);

#endif
