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

/* On a standby, refuse every operation but hello with error `standby`; 1 when refused. */
int
standby_refuse(const struct server *s, struct conn *c, json_t *id, const char *op)
{
	const char *p;
	char msg[400];
	json_t *r;

	if (!s->standby || strcmp(op, "hello") == 0)
		return 0;
	p = standby_primary(s);
	if (p[0])
		snprintf(msg, sizeof(msg), "this tenderd is a standby; the primary is at %.300s", p);
	else
		snprintf(msg, sizeof(msg), "this tenderd is a standby; the primary is not known");
	r = proto_error(id, "standby", msg, NULL);
	json_object_set_new(json_object_get(r, "error"), "primary", p[0] ? json_string(p) :
	    json_null());
	conn_send(c, r);
	return 1;
}
