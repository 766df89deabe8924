#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "audit.h"
#include "hash.h"
#include "log.h"
#include "timeutil.h"

static const char *const role_names[] = {
	[ROLE_NONE] = "none", [ROLE_VIEWER] = "viewer", [ROLE_OPERATOR] = "operator",
	[ROLE_APPROVER] = "approver", [ROLE_ADMIN] = "admin",
};

const char *
role_name(enum role r)
{
	return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "none";
}

enum role
role_parse(const char *s)
{
	for (size_t i = ROLE_VIEWER; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(s, role_names[i]) == 0)
			return (enum role)i;
	return ROLE_NONE;
}

bool
auth_valid_user(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AUTH_MAX_USER || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._@-", s[i]) != NULL))
			return false;
	return true;
}

int
auth_new_token(const char *prefix, char ret[AUTH_TOKEN_LEN + 1])
{
	uint8_t raw[32];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		got += (size_t)n;
	}
	memcpy(ret, prefix, 4);
	gd_hex(raw, sizeof(raw), ret + 4);
	ret[AUTH_TOKEN_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int
auth_token_hash(const char *token, char ret[65])
{
	return gd_sha256_hex(token, strlen(token), ret);
}

/* Appends the audit row of a local command and commits; anchors the chain head. */
static int
commit_audited(struct store *s, const char *action, const char *object, cJSON *details)
{
	char hash[GD_SHA256_HEX_LEN];
	int64_t seq;
	int r;

	r = audit_append(s->db, gd_now_ms(), "gamedayd", action, object, details, &seq, hash);
	cJSON_Delete(details);
	if (r < 0) {
		store_rollback(s);
		return r;
	}
	if ((r = store_commit_hold(s)) == 0)
		r = audit_anchor_write(s->anchor_path, seq, hash);
	store_unlock(s);
	return r;
}

int
auth_create_user_token(struct store *s, const char *user, enum role role,
    char ret[AUTH_TOKEN_LEN + 1], char *why, size_t whylen)
{
	char hash[65], now[24];
	cJSON *d;
	int r;

	if (!auth_valid_user(user)) {
		(void)snprintf(why, whylen, "user name '%s' is not 1-64 characters of "
		    "A-Z a-z 0-9 . _ @ - (not starting with -)", log_esc(user));
		return -EINVAL;
	}
	if (role == ROLE_NONE) {
		(void)snprintf(why, whylen, "role must be viewer, operator, approver or admin");
		return -EINVAL;
	}
	if ((r = auth_new_token("gdu_", ret)) < 0 || (r = auth_token_hash(ret, hash)) < 0) {
		(void)snprintf(why, whylen, "cannot make a token: %s", strerror(-r));
		return r;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	if ((r = store_begin(s)) < 0)
		goto fail;
	if ((r = store_exec(s, "INSERT INTO tokens (user, role, hash, created) "
	    "VALUES (?, ?, ?, ?)", 4, user, role_name(role), hash, now)) < 0) {
		store_rollback(s);
		goto fail;
	}
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "role", role_name(role));
	if ((r = commit_audited(s, "token.create", user, d)) < 0)
		goto fail;
	return 0;
fail:
	(void)snprintf(why, whylen, "cannot store the token: %s (see the log above)",
	    strerror(-r));
	explicit_bzero(ret, AUTH_TOKEN_LEN + 1);
	return r;
}

int
auth_create_enroll_token(struct store *s, int64_t ttl_ms, char ret[AUTH_TOKEN_LEN + 1],
    char *why, size_t whylen)
{
	char hash[65], now[24], exp[24];
	int64_t t = gd_now_ms();
	cJSON *d;
	int r;

	if ((r = auth_new_token("gde_", ret)) < 0 || (r = auth_token_hash(ret, hash)) < 0) {
		(void)snprintf(why, whylen, "cannot make a token: %s", strerror(-r));
		return r;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)t);
	(void)snprintf(exp, sizeof(exp), "%lld", (long long)(t + ttl_ms));
	if ((r = store_begin(s)) < 0)
		goto fail;
	if ((r = store_exec(s, "INSERT INTO enroll_tokens (hash, created, expires) "
	    "VALUES (?, ?, ?)", 3, hash, now, exp)) < 0) {
		store_rollback(s);
		goto fail;
	}
	d = cJSON_CreateObject();
	(void)cJSON_AddNumberToObject(d, "ttl_ms", (double)ttl_ms);
	/* The hash's first 12 digits name the token in the audit without revealing it. */
	hash[12] = '\0';
	if ((r = commit_audited(s, "enroll_token.create", hash, d)) < 0)
		goto fail;
	return 0;
fail:
	(void)snprintf(why, whylen, "cannot store the token: %s (see the log above)",
	    strerror(-r));
	explicit_bzero(ret, AUTH_TOKEN_LEN + 1);
	return r;
}

int
auth_revoke_user(struct store *s, const char *user, int *ret_n, char *why, size_t whylen)
{
	char now[24];
	int r;

	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	if ((r = store_begin(s)) < 0)
		goto fail;
	if ((r = store_exec(s, "UPDATE tokens SET revoked = ? WHERE user = ? AND "
	    "revoked IS NULL", 2, now, user)) < 0) {
		store_rollback(s);
		goto fail;
	}
	*ret_n = sqlite3_changes(s->db);
	if ((r = commit_audited(s, "token.revoke", user, NULL)) < 0)
		goto fail;
	return 0;
fail:
	(void)snprintf(why, whylen, "cannot revoke: %s (see the log above)", strerror(-r));
	return r;
}

/* Looks up hash in one table; fills ret from the row.  1 found, 0 not, -EIO. */
static int
lookup(struct store *s, const char *sql, const char *hash, enum principal_kind kind,
    struct principal *ret)
{
	sqlite3_stmt *st;
	int r = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, "auth lookup");
	(void)sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 2, gd_now_ms());
	switch (sqlite3_step(st)) {
	case SQLITE_ROW: {
		const char *stored = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *role = (const char *)sqlite3_column_text(st, 2);

		/* The index found it by hash; compare again, in constant time, to be sure. */
		if (stored == NULL || strlen(stored) != 64 || !gd_consttime_eq(stored, hash, 64))
			break;
		ret->kind = kind;
		(void)snprintf(ret->name, sizeof(ret->name), "%s", name != NULL ? name : "");
		ret->role = role != NULL ? role_parse(role) : ROLE_NONE;
		ret->token_id = sqlite3_column_int64(st, 3);
		r = 1;
		break;
	}
	case SQLITE_DONE:
		break;
	default:
		r = store_fail(s, "auth lookup");
	}
	sqlite3_finalize(st);
	return r;
}

int
auth_authenticate(struct store *s, const char *authorization, struct principal *ret)
{
	static const char bearer[] = "Bearer ";
	const char *tok;
	char hash[65];
	int r;

	memset(ret, 0, sizeof(*ret));
	if (authorization == NULL || strncmp(authorization, bearer, sizeof(bearer) - 1) != 0)
		return -EACCES;
	tok = authorization + sizeof(bearer) - 1;
	if (strlen(tok) != AUTH_TOKEN_LEN || tok[3] != '_')
		return -EACCES;
	if (auth_token_hash(tok, hash) < 0)
		return -EIO;
	(void)pthread_mutex_lock(&s->lock);
	if (strncmp(tok, "gdu_", 4) == 0)
		r = lookup(s, "SELECT hash, user, role, id FROM tokens WHERE hash = ? AND "
		    "revoked IS NULL AND ?2 = ?2", hash, PRINCIPAL_USER, ret);
	else if (strncmp(tok, "gda_", 4) == 0)
		r = lookup(s, "SELECT cred_hash, host, NULL, 0 FROM agents WHERE cred_hash = ? "
		    "AND ?2 = ?2", hash, PRINCIPAL_AGENT, ret);
	else if (strncmp(tok, "gde_", 4) == 0)
		r = lookup(s, "SELECT hash, NULL, NULL, id FROM enroll_tokens WHERE hash = ? "
		    "AND used IS NULL AND expires > ?", hash, PRINCIPAL_ENROLL, ret);
	else
		r = 0;
	(void)pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	if (r == 0 || (ret->kind == PRINCIPAL_USER && ret->role == ROLE_NONE)) {
		memset(ret, 0, sizeof(*ret));
		return -EACCES;
	}
	return 0;
}
