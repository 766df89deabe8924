/*
 * The CLI's one HTTP client for gamedayd's API (docs/api.md), over libcurl: base URL from
 * --url / GAMEDAY_URL, token from --token / --token-file / GAMEDAY_TOKEN sent as
 * "Authorization: Bearer", JSON bodies, http and https only, no redirects followed, replies
 * capped in size, connect and total timeouts.
 *
 * Every call returns an exit code (cli.h): CLI_OK with a reply, or CLI_FAILED / CLI_USAGE
 * having printed why on stderr; an error reply {"error": {"message", "details"}} is printed
 * as "gameday: MESSAGE" and one "  PATH: MESSAGE" line per detail.
 */
#ifndef GD_CLI_CLIENT_H
#define GD_CLI_CLIENT_H

#include <cjson/cJSON.h>

#include "cli.h"

/* A reply larger than this is refused: the largest real one, an audit page, is far smaller. */
#define CLIENT_MAX_REPLY_BYTES		(16 * 1024 * 1024)
/* Connecting (TCP and TLS) may take this long. */
#define CLIENT_CONNECT_TIMEOUT_S	5
/* A whole request may take this long, unless the caller asks for longer (long-polls). */
#define CLIENT_TIMEOUT_S		60
/* A token is at most this long (ours are 68 bytes). */
#define CLIENT_MAX_TOKEN_BYTES		4096

/*
 * Sends method path (with its query, already escaped) to the controller, with body
 * (len bytes of JSON) unless body is NULL, and waits at most timeout_s seconds (0: the
 * default).  On CLI_OK, *ret_reply is the reply, a JSON object the caller owns
 * (cJSON_Delete()), and *ret_status (if not NULL) its HTTP status, a 2xx.
 */
int client_call(struct cli *cli, const char *method, const char *path, const char *body,
    size_t len, int timeout_s, cJSON **ret_reply, long *ret_status);
/* client_call() with a GET. */
int client_get(struct cli *cli, const char *path, int timeout_s, cJSON **ret_reply);
/* client_call() with a POST of body (NULL: "{}"). */
int client_post(struct cli *cli, const char *path, const cJSON *body, cJSON **ret_reply,
    long *ret_status);

/* s percent-encoded for a URL path segment or query value; the caller owns it (gd_free()). */
char *client_escape(const char *s);

/* Frees what the first call made; takes NULL and returns NULL. */
struct client *client_free(struct client *c);

#endif
