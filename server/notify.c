/* sd_notify protocol: datagrams to $NOTIFY_SOCKET (see notify.h). */
#include "server/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/* READY=1 was sent once: reloads are reported from then on. */
static int notify_was_ready;

/* Send `msg` to $NOTIFY_SOCKET in one datagram, without blocking the event loop (a full
 * queue at the receiver loses the report, logged like any failure). */
int
notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t plen;
	socklen_t salen;
	ssize_t n;
	int fd;
	static int warned;

	if (path == NULL || path[0] == '\0')
		return 1;
	plen = strlen(path);
	/* a path, or '@' for the abstract namespace (its name starts with a NUL byte) */
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path)) {
		if (warned++ == 0)
			log_warn("NOTIFY_SOCKET '%s' is not a socket path: not reporting to it", path);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		n = -1;
	else {
		n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
		close(fd);
	}
	if (n < 0) {
		if (warned++ == 0)
			log_warn("NOTIFY_SOCKET %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Send a STATUS= line, formatted. */
void
notify_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	memcpy(buf, "STATUS=", 7);
	va_start(ap, fmt);
	n = vsnprintf(buf + 7, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	if (n >= 0)
		notify_send(buf);
}

/* READY=1 with a status line. */
void
notify_ready(void)
{
	notify_was_ready = 1;
	notify_send("READY=1\nSTATUS=serving: listening, database connected, writer lock held");
}

/* READY=1 for a standby: it is up and answers clients (with `standby`) while it waits for
 * the primary lock; notify_ready() updates the status once it has taken over. Without
 * it, a standby under Type=notify would be killed at TimeoutStartSec. */
void
notify_standby(const char *primary)
{
	char buf[320];

	notify_was_ready = 1;
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=standby: waiting for the primary lock "
	    "(the primary is at %.200s)", primary && *primary ? primary : "an unknown address");
	notify_send(buf);
}

/* RELOADING=1 with the monotonic time systemd asks for (Type=notify-reload). */
void
notify_reloading(void)
{
	char buf[128];
	struct timespec ts;

	if (!notify_was_ready || getenv("NOTIFY_SOCKET") == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	notify_send(buf);
}

/* READY=1 again after a reload, when READY=1 was sent before it. */
void
notify_reloaded(void)
{
	if (notify_was_ready)
		notify_ready();
}

/* STOPPING=1. */
void
notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping");
}
