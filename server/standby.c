/* What a standby answers (docs/protocol.md, "standby"), and what hello says of the
 * server's role. */
#include <stdio.h>
#include <string.h>

#include "server/server.h"

/* The address the primary advertises: this tenderd's own when it is the primary. */
static const char *
standby_primary(const struct server *s)
{
	if (!s->standby)
		return s->cfg.advertise[0] ? s->cfg.advertise : s->cfg.listen;
	return db_role_primary(s->role);
}

/* hello's "server": {"role":"primary"|"standby","primary":ADDRESS|null}. */
json_t *
standby_hello(const struct server *s)
{
	const char *p = standby_primary(s);

	return json_pack("{s:s, s:o}", "role", s->standby ? "standby" : "primary",
	    "primary", p[0] ? json_string(p) : json_null());
}

/* On a standby, refuse every operation but hello (see server.h). */
const char *
standby_refusal(const struct server *s, const char *op, char *msg, size_t n)
{
	const char *p;

	if (!s->standby || strcmp(op, "hello") == 0)
		return NULL;
	p = standby_primary(s);
	if (p[0])
		snprintf(msg, n, "this tenderd is a standby; the primary is at %.300s", p);
	else
		snprintf(msg, n, "this tenderd is a standby; the primary is not known");
	return p;
}
