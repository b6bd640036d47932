/* Participants, organizations and roles in memory: loaded at start-up, added to
 * by participant.register after its commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/server.h"

static const char *const role_names[] = { "buyer", "supplier", "operator" };

/* Role as text. */
const char *
role_name(enum role r)
{
	return role_names[r];
}

/* Text to role. */
int
role_parse(const char *s, enum role *out)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum role)i;
			return 0;
		}
	}
	return -1;
}

/* Find or add an organization. */
struct org *
registry_org(struct server *s, int64_t id, const char *name)
{
	struct org *o = map_get(&s->orgs, id);
	char *key;

	if (o)
		return o;
	if ((o = calloc(1, sizeof(*o))) == NULL || (o->name = strdup(name)) == NULL) {
		free(o);
		return NULL;
	}
	o->id = id;
	if (map_put(&s->orgs, id, o) < 0)
		return NULL;
	/* by folded name: "Acme" and "ACME" are one organization */
	if ((key = text_fold(name)) == NULL)
		return NULL;
	if (map_sget(&s->orgs_by_name, key) != NULL)
		log_warn("organization=%lld \"%s\" has the name of another organization up to case "
		    "and Unicode normalization", (long long)id, name);
	else if (map_sput(&s->orgs_by_name, key, o) < 0)
		o = NULL;
	free(key);
	return o;
}

/* The organization whose name folds like `name`, or NULL. */
struct org *
registry_org_named(struct server *s, const char *name)
{
	char *key = text_fold(name);
	struct org *o = key ? map_sget(&s->orgs_by_name, key) : NULL;

	free(key);
	return o;
}

/* Add a participant and one of its certificates. */
struct participant *
registry_participant(struct server *s, int64_t id, int64_t org_id, const char *name,
    const char *role, const char *status, const char *fp)
{
	struct participant *p = map_get(&s->participants, id);
	struct cert *c;

	if (p == NULL) {
		struct org *o = map_get(&s->orgs, org_id);
		if (o == NULL || (p = calloc(1, sizeof(*p))) == NULL)
			return NULL;
		p->id = id;
		p->org = o;
		p->name = strdup(name);
		if (role_parse(role, &p->role) < 0)
			p->role = ROLE_SUPPLIER;
		p->suspended = status && strcmp(status, "suspended") == 0;
		if (p->name == NULL || map_put(&s->participants, id, p) < 0)
			return NULL;
	}
	if (fp && map_sget(&s->certs, fp) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		snprintf(c->fp, sizeof(c->fp), "%s", fp);
		c->who = p;
		if (map_sput(&s->certs, fp, c) < 0)
			return NULL;
	}
	return p;
}

/* Describe a registered certificate. */
int
registry_cert_describe(struct server *s, const char *fp, const struct tls_cert_info *info,
    int64_t registered_by, int64_t registered_at)
{
	struct cert *c = map_sget(&s->certs, fp);

	if (c == NULL)
		return -1;
	if (info != NULL) {
		free(c->subject);
		free(c->serial);
		c->subject = strdup(info->subject);
		c->serial = strdup(info->serial);
		c->not_before = info->not_before;
		c->not_after = info->not_after;
		if (c->subject == NULL || c->serial == NULL)
			return -1;
	}
	c->registered_by = registered_by;
	c->registered_at = registered_at;
	return 0;
}

/* Free a certificate. */
void
registry_cert_free(struct cert *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->serial);
	free(c);
}

/* Fingerprints claimed by registrations of the batch being built (registry_fp_claim). */
static struct map registry_claims;
static int64_t registry_claims_batch = -1;

/* Claim a fingerprint in batch `batch`. */
int
registry_fp_claim(struct server *s, int64_t batch, const char *fp)
{
	if (registry_claims_batch != batch) {  /* the first claim of a new batch */
		if (registry_claims_batch >= 0)
			map_free(&registry_claims);
		map_init(&registry_claims, 1);
		registry_claims_batch = batch;
	}
	if (map_sget(&s->certs, fp) != NULL || map_sget(&registry_claims, fp) != NULL)
		return -1;
	return map_sput(&registry_claims, fp, s) < 0 ? -1 : 0;
}

/* A time in ms as JSON (null when not known). */
static json_t *
registry_time(int64_t ms)
{
	char t[TIME_BUF];

	if (ms == 0)
		return json_null();
	time_format(ms, t);
	return json_string(t);
}

/* The certificate as the protocol shows it. */
json_t *
registry_cert_json(const struct cert *c)
{
	return json_pack("{s:s, s:I, s:s?, s:s?, s:o, s:o, s:o, s:o}", "fingerprint", c->fp,
	    "participant", (json_int_t)c->who->id, "subject", c->subject, "serial", c->serial,
	    "not_before", registry_time(c->not_before), "not_after", registry_time(c->not_after),
	    "registered_by", c->registered_by ? json_integer(c->registered_by) : json_null(),
	    "registered_at", registry_time(c->registered_at));
}
