/*
 * Readiness and state reports to the service manager (the sd_notify protocol, without
 * libsystemd): one datagram per report to the unix socket named by $NOTIFY_SOCKET (a path,
 * or '@' and a name in the abstract namespace). Every call is a no-op when
 * NOTIFY_SOCKET is unset, and a failure to send is logged once and otherwise ignored:
 * tenderd serves the same with or without a service manager.
 */
#ifndef TENDERD_NOTIFY_H
#define TENDERD_NOTIFY_H

/* READY=1: listening, connected to PostgreSQL, the writer lock held (after a reload:
 * the reload is over). Sent with a STATUS= line. */
void notify_ready(void);

/* READY=1 with a standby's status: up, answering `standby`, waiting to take over. */
void notify_standby(const char *primary);

/* RELOADING=1 (with MONOTONIC_USEC=): a SIGHUP reload starts; notify_reloaded() ends it.
 * Both are no-ops before the first READY=1 (a reload during start-up is not reported). */
void notify_reloading(void);
void notify_reloaded(void);

/* STOPPING=1: a clean stop has begun. */
void notify_stopping(void);

/* STATUS=...: a one-line status shown by `systemctl status`. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send `msg` (newline-separated KEY=VALUE lines) as it is; 0, 1 without NOTIFY_SOCKET,
 * or -1 when it could not be sent. */
int notify_send(const char *msg);

#endif
