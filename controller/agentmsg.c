#include "agentmsg.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "limits.h"

const char *const proto_poll_keys[] = { "host", "tags", "lease_ms", "wait_ms", "faults",
	"seq", NULL };
const char *const proto_report_keys[] = { "host", "order", "status", "fault_id", "state",
	"error", "plan", "seq", NULL };

/* An agent's message number: a whole number a double holds exactly. */
#define MAX_SEQ		((1LL << 53) - 1)

bool
proto_valid_host(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PROTO_MAX_HOST || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return false;
	return true;
}

int
proto_tags(const cJSON *in, const char *key, char **ret, struct gd_err *err)
{
	const cJSON *tags = j_get(in, key), *t;
	struct jctx jc;
	size_t n = 0;

	jctx_init(&jc, err);
	*ret = NULL;
	if (tags == NULL || cJSON_IsNull(tags)) {
		*ret = gd_strdup("{}");
		return *ret != NULL ? 0 : -ENOMEM;
	}
	if (!cJSON_IsObject(tags)) {
		j_error(&jc, key, "must be an object of strings, not %s", j_type_name(tags));
		return -EINVAL;
	}
	cJSON_ArrayForEach(t, tags) {
		if (++n > GD_MAX_TAGS || !cJSON_IsString(t) || t->string == NULL ||
		    t->string[0] == '\0' || strlen(t->string) > GD_MAX_NAME_BYTES ||
		    strlen(t->valuestring) > GD_MAX_SHORT_STRING_BYTES) {
			j_error(&jc, key, "must be at most %d non-empty keys of at most %d bytes "
			    "with string values of at most %d bytes", GD_MAX_TAGS,
			    GD_MAX_NAME_BYTES, GD_MAX_SHORT_STRING_BYTES);
			return -EINVAL;
		}
	}
	*ret = cJSON_PrintUnformatted(tags);
	return *ret != NULL ? 0 : -ENOMEM;
}

/* An optional string that may also be null. */
static void
opt_string(struct jctx *jc, const cJSON *in, const char *key, size_t max, const char **ret)
{
	const cJSON *v = j_get(in, key);

	*ret = NULL;
	if (v != NULL && !cJSON_IsNull(v))
		(void)j_string(jc, in, key, false, max, ret);
}

int
agentmsg_poll_parse(const cJSON *in, struct agent_poll *ret, struct gd_err *err)
{
	struct jctx jc;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->lease_ms = 15000;
	jctx_init(&jc, err);
	if (!j_object(&jc, in, proto_poll_keys))
		return -EINVAL;
	if (j_string(&jc, in, "host", true, PROTO_MAX_HOST, &ret->host) &&
	    !proto_valid_host(ret->host))
		j_error(&jc, "host", "%s is not a host name", j_quote(ret->host));
	(void)j_int(&jc, in, "lease_ms", false, 1000, 24LL * 3600 * 1000, &ret->lease_ms);
	(void)j_int(&jc, in, "wait_ms", false, 0, 3600 * 1000, &ret->wait_ms);
	(void)j_int(&jc, in, "seq", false, 1, MAX_SEQ, &ret->seq);
	ret->faults = j_array(&jc, in, "faults", false, 0, PROTO_MAX_FAULTS, &ret->nfaults);
	if ((r = proto_tags(in, "tags", &ret->tags, err)) == -ENOMEM)
		return r;
	if (gd_err_count(err) > 0) {
		gd_free(ret->tags);
		ret->tags = NULL;
		return -EINVAL;
	}
	return 0;
}

int
agentmsg_report_parse(const cJSON *in, struct agent_report *ret, struct gd_err *err)
{
	static const char *const statuses[] = { "done", "failed", "refused", NULL };
	struct jctx jc;
	bool known = false;

	memset(ret, 0, sizeof(*ret));
	jctx_init(&jc, err);
	if (!j_object(&jc, in, proto_report_keys))
		return -EINVAL;
	if (j_string(&jc, in, "host", true, PROTO_MAX_HOST, &ret->host) &&
	    !proto_valid_host(ret->host))
		j_error(&jc, "host", "%s is not a host name", j_quote(ret->host));
	(void)j_string(&jc, in, "order", true, GD_MAX_ORDER_ID_BYTES, &ret->order);
	if (j_string(&jc, in, "status", true, 16, &ret->status)) {
		for (size_t i = 0; statuses[i] != NULL; i++)
			known |= strcmp(ret->status, statuses[i]) == 0;
		if (!known)
			j_error(&jc, "status", "must be done, failed or refused");
	}
	opt_string(&jc, in, "fault_id", 64, &ret->fault_id);
	opt_string(&jc, in, "state", 32, &ret->state);
	opt_string(&jc, in, "error", PROTO_MAX_ERROR, &ret->error);
	opt_string(&jc, in, "plan", PROTO_MAX_PLAN, &ret->plan);
	(void)j_int(&jc, in, "seq", false, 1, MAX_SEQ, &ret->seq);
	return gd_err_count(err) > 0 ? -EINVAL : 0;
}
