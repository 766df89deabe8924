/*
 * Tokens and roles.  A token is a prefix and 32 bytes from getrandom() in hex: gdu_ (a
 * user's), gde_ (an enrolment token: single use, expires), gda_ (an agent's credential).
 * Only SHA-256(token) is stored; a presented token is hashed and looked up by its hash, and
 * the stored hash compared in constant time.
 */
#ifndef GD_AUTH_H
#define GD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

enum role { ROLE_NONE, ROLE_VIEWER, ROLE_OPERATOR, ROLE_APPROVER, ROLE_ADMIN };

enum principal_kind { PRINCIPAL_NONE, PRINCIPAL_USER, PRINCIPAL_AGENT, PRINCIPAL_ENROLL };

struct principal {
	enum principal_kind kind;
	enum role role;			/* Users only. */
	char name[128];			/* A user's name, an agent's host. */
	int64_t token_id;		/* Users and enrolment tokens. */
};

#define AUTH_TOKEN_LEN	(4 + 64)	/* "gdu_" and 64 hex digits. */
#define AUTH_MAX_USER	64

const char *role_name(enum role r);
/* ROLE_NONE when s names no role. */
enum role role_parse(const char *s);

/* A fresh token with the given prefix ("gdu_", "gde_", "gda_"). */
int auth_new_token(const char *prefix, char ret[AUTH_TOKEN_LEN + 1]);
/* SHA-256 hex of a token, what the store keeps. */
int auth_token_hash(const char *token, char ret[65]);

/*
 * Creates a user token / an enrolment token in the store (audited as actor "gamedayd",
 * the local administrator).  On success ret holds the token, which is shown once.
 */
int auth_create_user_token(struct store *s, const char *user, enum role role,
    char ret[AUTH_TOKEN_LEN + 1], char *why, size_t whylen);
int auth_create_enroll_token(struct store *s, int64_t ttl_ms,
    char ret[AUTH_TOKEN_LEN + 1], char *why, size_t whylen);
/* Revokes every token of user; *ret_n counts them. */
int auth_revoke_user(struct store *s, const char *user, int *ret_n, char *why,
    size_t whylen);

/*
 * Who presents this Authorization header value?  0 with *ret filled, -EACCES for a
 * missing, malformed, unknown, revoked, spent or expired token (ret->kind NONE), -EIO when
 * the store failed.  Takes the store's lock itself.
 */
int auth_authenticate(struct store *s, const char *authorization, struct principal *ret);

/* A user name: 1..64 of [A-Za-z0-9._@-], not starting with '-'. */
bool auth_valid_user(const char *s);

#endif
