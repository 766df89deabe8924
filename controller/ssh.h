/*
 * A small SSH client (libssh2) for the one-shot agent: on hosts with no running agent, and to
 * rescue a frozen one, the controller runs `gameday-agent ...` over SSH (DESIGN §4).
 *
 * Security: the host key is always checked against an OpenSSH known_hosts file (unknown or
 * different: refused); the user authenticates with a private key file only; the command is
 * a list of fixed words, each matching ^[A-Za-z0-9/._=:,+@-]+$ (nothing the remote shell
 * would interpret), joined by single spaces (DESIGN §7.6).  Data such as a fault's JSON
 * travels on the command's stdin, never on its command line.
 *
 * Non-blocking throughout: every step, from connect() to the channel's close, is bounded by
 * one deadline.  Thread-safe: calls from different threads share nothing.
 */
#ifndef GD_SSH_H
#define GD_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

struct ssh_target {
	char address[64];			/* IPv4 or IPv6 literal (no DNS). */
	uint16_t port;
	char user[64];
	/*
	 * Private key file, unencrypted, OpenSSH or PEM format: ed25519, ecdsa or rsa.  With
	 * libssh2 < 1.11 an RSA key signs with ssh-rsa (SHA-1), which OpenSSH >= 8.8 refuses.
	 */
	char key[GD_MAX_PATH_BYTES];
	/* OpenSSH known_hosts file holding the host's key as "[addr]:port" or "addr". */
	char known_hosts[GD_MAX_PATH_BYTES];
};

struct ssh_result {
	int exit_status;	/* The remote command's exit status; -1 if killed by a signal. */
	char out[8192];		/* Its stdout, cut to fit, NUL-terminated. */
	size_t outlen;
	char err[4096];		/* Its stderr, the same. */
	size_t errlen;
	bool out_truncated;	/* It wrote more than out holds (the rest was dropped). */
	bool err_truncated;
};

/*
 * The longest command line (words and the spaces between them).  The agent's own command
 * lines are a few hundred bytes; anything big belongs on stdin.
 */
#define SSH_MAX_COMMAND_BYTES	4096

/*
 * Checks argv (NULL-terminated, at least one word) as ssh_run() does and writes the command
 * line into cmd.  0, or -EINVAL (a word with a character outside the set, an empty word, no
 * word) or -E2BIG (longer than cmdlen - 1 bytes) with why saying which word.
 */
int ssh_command_line(const char *const *argv, char *cmd, size_t cmdlen, char *why,
    size_t whylen);

/*
 * Connects to t (non-blocking connect), handshakes, verifies the host key against
 * t->known_hosts, authenticates as t->user with t->key, runs argv (checked as above: nothing
 * is connected when a word is refused), writes stdin_data[0..len) to its stdin then EOF,
 * and reads its stdout and stderr until the channel closes.  All of it within timeout_ms:
 * when the deadline passes, everything is closed and -ETIMEDOUT returned.
 *
 * Returns 0 when the command ran, whatever its exit status (ret->exit_status).  Otherwise a
 * negative errno with why filled in:
 *   -EINVAL        a refused word, a bad target (not an IP literal, port 0), an unusable key;
 *   -ETIMEDOUT     "timed out after 5000 ms during the handshake with 10.0.0.5:22";
 *   -ECONNREFUSED and other connect() errors: "connect 10.0.0.5:22: Connection refused";
 *   -EPERM         host key unknown, different or @revoked: "host key of 10.0.0.5:22 does
 *                  not match known_hosts /x";
 *   -EACCES        "authentication as root with /k refused by 10.0.0.5:22";
 *   -ENOENT etc.   the key or the known_hosts file cannot be read (nothing is connected);
 *   -ENOMEM        out of memory, here or inside libssh2;
 *   -EPROTO, -ECONNRESET  the SSH session failed (libssh2's message in why), e.g. when the
 *                  server has no host key of a type known_hosts lists for it.
 * *ret is cleared first and keeps what was read even on failure (partial output helps to
 * diagnose a timeout); on failure its exit_status is -1.
 */
int ssh_run(const struct ssh_target *t, const char *const *argv, const char *stdin_data,
    size_t len, int timeout_ms, struct ssh_result *ret, char *why, size_t whylen);

#endif
