/*
 * The agent's identity with the controller (docs/api.md, "Agent protocol"): its tags, the
 * enrolment token an operator gives it once (--token-file), and the credential it keeps in
 * STATE/credential afterwards.  Secrets are read only from files nobody else can read, are
 * wiped from our buffers once used, and are never logged.
 */
#ifndef GD_ENROLL_H
#define GD_ENROLL_H

#include <signal.h>

#include <cjson/cJSON.h>

#include "limits.h"
#include "uplink.h"

/*
 * Parses --tags ("role=db,zone=a": keys 1 to 64 of [A-Za-z0-9_.-/], values 1 to 256
 * printable bytes without ',' or '=') into a JSON object the caller owns.  -EINVAL and
 * *why when it is not one; "" and NULL give {}.
 */
int enroll_tags_parse(const char *s, cJSON **ret, const char **why);

/* The token on the first line of path, refused (-EPERM) when group or others may read it. */
int enroll_token_read(const char *path, char ret[GD_MAX_TOKEN_BYTES + 1]);

/*
 * STATE/credential (state_fd is the state dir): -ENOENT when this agent has not enrolled,
 * -EPERM when the file is not ours or others may read it.  Logs why it cannot be used.
 */
int enroll_credential_read(int state_fd, const char *state_dir,
    char ret[GD_MAX_TOKEN_BYTES + 1]);
/* Stores cred atomically: a temporary file (0600), fsync, rename, fsync the directory. */
int enroll_credential_store(int state_fd, const char *cred);

/*
 * POST /v1/agent/enroll with token and body, the credential into ret_cred.  A controller
 * that cannot be reached or fails (5xx: it may be starting) is tried again, 1 s to 5 s
 * apart, until *stop is set (-ECANCELED); a refusal (4xx) is final (-EPERM): the token is
 * spent, expired or wrong, and trying again would not change that.  Logs each event.
 */
int enroll_run(struct uplink *ul, const char *token, const char *body,
    volatile sig_atomic_t *stop, char ret_cred[GD_MAX_TOKEN_BYTES + 1]);

#endif
