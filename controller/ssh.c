/*
 * The SSH client of ssh.h, on libssh2's non-blocking API.  Every libssh2 call that says
 * EAGAIN is followed by poll() on the directions libssh2_session_block_directions() names,
 * with what is left of the one deadline as the timeout; so a server that accepts and never
 * speaks, or a command that never ends, costs timeout_ms and no more.
 *
 * libssh2 keeps a half-sent packet inside the session.  When a call stops with part of its
 * packet unsent (EAGAIN with the OUTBOUND direction), the next call on the session must be
 * the same one, with the same arguments: another call that sends would finish that packet
 * in its own place (libssh2 PR #169 and #1945).  The I/O loop honours that with io->pending
 * (the test forces such partial sends with 4 KB TCP buffers).
 *
 * The private key and the known_hosts file are read here (O_CLOEXEC, size-bounded) rather
 * than by libssh2's fopen(): the key is cleared from memory after use, unreadable
 * known_hosts lines are skipped rather than failing the whole file, and @revoked lines are
 * honoured.
 */
#include "ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh2.h>

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

/*
 * Local bounds on files this module reads whole (no other module reads these files, so
 * they live here rather than in limits.h): an OpenSSH private key is a few KB even for RSA
 * 16384, and a known_hosts file of 10,000 hosts is about 1 MB.
 */
#define SSH_MAX_KEY_BYTES		(64 * 1024)
#define SSH_MAX_KNOWN_HOSTS_BYTES	(4 * 1024 * 1024)
/* One read from, or write to, the channel; the SSH packet size libssh2 uses is 32 KB. */
#define SSH_IO_CHUNK			(32 * 1024)

/* The steps of the I/O loop (see the top of this file about pending). */
enum ssh_op {
	SSH_OP_NONE,
	SSH_OP_OUT,		/* Read stdout. */
	SSH_OP_ERR,		/* Read stderr. */
	SSH_OP_WRITE,		/* Write stdin. */
	SSH_OP_EOF,		/* Send EOF once stdin is written. */
};

/* One ssh_run(): everything it opens, so that one function closes it all. */
struct ssh_conn {
	const struct ssh_target *t;	/* Borrowed: the caller's. */
	char name[80];			/* "10.0.0.5:22" or "[::1]:22", for messages. */
	int fd;
	LIBSSH2_SESSION *s;
	LIBSSH2_CHANNEL *ch;
	LIBSSH2_KNOWNHOSTS *hosts;
	char *kh;			/* known_hosts, each line a NUL-terminated string. */
	size_t khlen;
	size_t kh_skipped;		/* Its lines libssh2 could not read. */
	char hostkey_prefs[160];	/* Host key algorithms asked for, or "". */
	char *key;			/* The private key file, cleared before it is freed. */
	size_t keylen;
	int64_t deadline;		/* gd_mono_ms() */
	int timeout_ms;
	const char *phase;		/* "during the handshake with", for timeouts. */
	char *why;			/* Borrowed: the caller's. */
	size_t whylen;
};

struct ssh_io {
	const char *in;			/* Borrowed: stdin_data. */
	size_t inlen, inoff;
	bool in_stopped;		/* The remote side stopped taking stdin. */
	bool eof_sent;
	bool out_eof, err_eof;
	enum ssh_op pending;		/* Must be called again before anything else. */
};

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;		/* Written once, under ssh_once. */

static void
ssh_init_once(void)
{
	ssh_init_rc = libssh2_init(0);
}

/* libssh2's allocations go through gd_malloc() like every other (GD_ALLOC_FAIL_AT). */
static void *
ssh_alloc(size_t n, void **abstract)
{
	(void)abstract;
	return gd_malloc(n);
}

static void *
ssh_realloc(void *p, size_t n, void **abstract)
{
	(void)abstract;
	return gd_realloc(p, n);
}

static void
ssh_free(void *p, void **abstract)
{
	(void)abstract;
	gd_free(p);
}

static void __attribute__((format(printf, 3, 4)))
why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static const char *
ssh_strerror(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

static bool
ssh_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("/._=:,+@-", ch) != NULL);
}

int
ssh_command_line(const char *const *argv, char *cmd, size_t cmdlen, char *why, size_t whylen)
{
	size_t len = 0, n;

	if (argv == NULL || argv[0] == NULL) {
		why_set(why, whylen, "no command to run");
		return -EINVAL;
	}
	for (size_t i = 0; argv[i] != NULL; i++) {
		const char *w = argv[i];

		if (w[0] == '\0') {
			why_set(why, whylen, "word %zu of the command is empty", i);
			return -EINVAL;
		}
		for (const char *p = w; *p != '\0'; p++)
			if (!ssh_word_char(*p)) {
				why_set(why, whylen, "word %zu of the command (\"%s\") has a "
				    "character outside [A-Za-z0-9/._=:,+@-]", i, log_esc(w));
				return -EINVAL;
			}
		n = strlen(w);
		if (len + (i > 0) + n >= cmdlen) {
			why_set(why, whylen, "the command is longer than %zu bytes", cmdlen - 1);
			return -E2BIG;
		}
		if (i > 0)
			cmd[len++] = ' ';
		memcpy(cmd + len, w, n);
		len += n;
		cmd[len] = '\0';
	}
	return 0;
}

/* Reads all of path, at most max bytes, into a NUL-terminated buffer the caller frees. */
static int
ssh_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	size_t len = 0, size;
	char *buf = NULL;
	ssize_t n;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		r = -EINVAL;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	size = (size_t)st.st_size;
	if ((buf = gd_malloc(size + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* A file that grows meanwhile is cut at the size fstat() saw. */
	while (len < size && (n = read(fd, buf + len, size - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = -errno;
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
out:
	if (buf != NULL) {
		explicit_bzero(buf, size);
		gd_free(buf);
	}
	(void)close(fd);
	return r;
}

static int
ssh_timeout(struct ssh_conn *c)
{
	why_set(c->why, c->whylen, "timed out after %d ms %s %s", c->timeout_ms, c->phase,
	    c->name);
	return -ETIMEDOUT;
}

/* Waits until fd is ready for events, or the deadline: 0, -ETIMEDOUT or -errno. */
static int
ssh_poll(struct ssh_conn *c, short events)
{
	struct pollfd pfd;
	int64_t left;
	char ebuf[64];
	int n;

	for (;;) {
		if ((left = c->deadline - gd_mono_ms()) <= 0)
			return ssh_timeout(c);
		pfd = (struct pollfd){ .fd = c->fd, .events = events };
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR) {
			n = errno;
			why_set(c->why, c->whylen, "poll: %s", ssh_strerror(n, ebuf, sizeof(ebuf)));
			return -n;
		}
	}
}

/* After EAGAIN: waits for what libssh2 is blocked on. */
static int
ssh_wait(struct ssh_conn *c)
{
	int dir = libssh2_session_block_directions(c->s);
	short events = 0;

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		events |= POLLOUT;
	return ssh_poll(c, events != 0 ? events : POLLIN);
}

/* libssh2's message about its last error.  Borrowed: valid until the next libssh2 call. */
static const char *
ssh_errmsg(struct ssh_conn *c)
{
	char *msg = NULL;

	if (c->s != NULL)
		(void)libssh2_session_last_error(c->s, &msg, NULL, 0);
	return msg != NULL && msg[0] != '\0' ? msg : "unknown libssh2 error";
}

/* A libssh2 failure (rc) during what: why gets libssh2's own message. */
static int
ssh_fail(struct ssh_conn *c, int rc, const char *what)
{
	why_set(c->why, c->whylen, "%s %s failed: %s", what, c->name, ssh_errmsg(c));
	switch (rc) {
	case LIBSSH2_ERROR_ALLOC:
		return -ENOMEM;
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
		return -ECONNRESET;
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
		return -ETIMEDOUT;
	default:
		return -EPROTO;
	}
}

static int
ssh_target_check(struct ssh_conn *c, const struct ssh_target *t, int timeout_ms)
{
	const char *bad = NULL;

	if (timeout_ms <= 0)
		bad = "timeout_ms must be positive";
	else if (memchr(t->address, '\0', sizeof(t->address)) == NULL || t->address[0] == '\0')
		bad = "no address";
	else if (t->port == 0)
		bad = "port 0";
	else if (memchr(t->user, '\0', sizeof(t->user)) == NULL || t->user[0] == '\0')
		bad = "no user";
	else if (memchr(t->key, '\0', sizeof(t->key)) == NULL || t->key[0] == '\0')
		bad = "no private key file";
	else if (memchr(t->known_hosts, '\0', sizeof(t->known_hosts)) == NULL ||
	    t->known_hosts[0] == '\0')
		bad = "no known_hosts file";
	if (bad != NULL) {
		why_set(c->why, c->whylen, "bad SSH target: %s", bad);
		return -EINVAL;
	}
	(void)snprintf(c->name, sizeof(c->name), strchr(t->address, ':') != NULL ? "[%s]:%u" :
	    "%s:%u", t->address, (unsigned)t->port);
	return 0;
}

/* A TCP connection to the target, non-blocking from the start. */
static int
ssh_connect(struct ssh_conn *c)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sslen, errlen = sizeof(int);
	int one = 1, e = 0, r;
	char ebuf[64];

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, c->t->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->t->port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, c->t->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->t->port);
		sslen = sizeof(*sin6);
	} else {
		why_set(c->why, c->whylen, "\"%s\" is not an IPv4 or IPv6 address",
		    log_esc(c->t->address));
		return -EINVAL;
	}
	c->phase = "connecting to";
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd == -1) {
		e = errno;
		goto fail;
	}
	/* Small packets (the handshake, EOF) go out at once. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&ss, sslen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR) {
		e = errno;
		goto fail;
	}
	if ((r = ssh_poll(c, POLLOUT)) < 0)
		return r;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &errlen) == -1)
		e = errno;
	if (e == 0)
		return 0;
fail:
	why_set(c->why, c->whylen, "connect %s: %s", c->name, ssh_strerror(e, ebuf, sizeof(ebuf)));
	return -e;
}

/* The private key, read before anything is connected. */
static int
ssh_key_load(struct ssh_conn *c)
{
	char ebuf[64];
	int r;

	if ((r = ssh_read_file(c->t->key, SSH_MAX_KEY_BYTES, &c->key, &c->keylen)) < 0)
		why_set(c->why, c->whylen, "cannot read private key %s: %s", c->t->key,
		    ssh_strerror(-r, ebuf, sizeof(ebuf)));
	return r;
}

/* Whether the line at p starts with the known_hosts marker word m ("@revoked"). */
static bool
ssh_kh_marker(const char *p, const char *m)
{
	size_t n = strlen(m);

	return strncmp(p, m, n) == 0 && (p[n] == ' ' || p[n] == '\t');
}

/*
 * Reads t->known_hosts into c->hosts, line by line: comments and blank lines are skipped,
 * and so are marker lines (@revoked is checked later by ssh_kh_revoked(); @cert-authority
 * is of no use without certificate support) and lines libssh2 cannot read (counted).
 * Every '\r' and '\n' becomes a NUL first: each line is then a string of its own (libssh2
 * would otherwise take a '\r', or a '\n' it was not told about, as part of the key).
 */
static int
ssh_kh_load(struct ssh_conn *c)
{
	char ebuf[64], *line, *p;
	int r;

	if ((r = ssh_read_file(c->t->known_hosts, SSH_MAX_KNOWN_HOSTS_BYTES, &c->kh,
	    &c->khlen)) < 0) {
		why_set(c->why, c->whylen, "cannot read known_hosts %s: %s", c->t->known_hosts,
		    ssh_strerror(-r, ebuf, sizeof(ebuf)));
		return r;
	}
	for (p = c->kh; (p = memchr(p, '\n', c->khlen - (size_t)(p - c->kh))) != NULL; )
		*p = '\0';
	for (p = c->kh; (p = memchr(p, '\r', c->khlen - (size_t)(p - c->kh))) != NULL; )
		*p = '\0';
	if ((c->hosts = libssh2_knownhost_init(c->s)) == NULL)
		return ssh_fail(c, LIBSSH2_ERROR_ALLOC, "reading known_hosts for");
	for (line = c->kh; line < c->kh + c->khlen; line += strlen(line) + 1) {
		p = line + strspn(line, " \t");
		if (*p == '@' || *p == '#' || *p == '\0')
			continue;
		r = libssh2_knownhost_readline(c->hosts, p, strlen(p),
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH);
		if (r == LIBSSH2_ERROR_ALLOC)
			return ssh_fail(c, r, "reading known_hosts for");
		if (r != 0)
			c->kh_skipped++;
	}
	return 0;
}

/* The host key algorithms that can give a key of knownhost key type bits. */
static const char *
ssh_kh_algorithms(int bits)
{
	switch (bits) {
	case LIBSSH2_KNOWNHOST_KEY_ED25519:
		return "ssh-ed25519";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_521:
		return "ecdsa-sha2-nistp521";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_384:
		return "ecdsa-sha2-nistp384";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_256:
		return "ecdsa-sha2-nistp256";
	case LIBSSH2_KNOWNHOST_KEY_SSHRSA:
		return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
	case LIBSSH2_KNOWNHOST_KEY_SSHDSS:
		return "ssh-dss";
	default:
		return NULL;
	}
}

/*
 * As OpenSSH does: when known_hosts names this host (in plain text) with keys of some
 * types, ask the server for a key of those types, so that a host with several host keys
 * is checked against the one we know.  Hashed entries cannot be told apart: they leave
 * libssh2's default order.
 */
static void
ssh_hostkey_prefs(struct ssh_conn *c)
{
	static const int order[] = { LIBSSH2_KNOWNHOST_KEY_ED25519,
	    LIBSSH2_KNOWNHOST_KEY_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	    LIBSSH2_KNOWNHOST_KEY_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_SSHRSA,
	    LIBSSH2_KNOWNHOST_KEY_SSHDSS };
	struct libssh2_knownhost *e = NULL;
	bool seen[sizeof(order) / sizeof(order[0])] = { false };
	char bracket[80], *prefs = c->hostkey_prefs;
	size_t len = 0;

	(void)snprintf(bracket, sizeof(bracket), "[%s]:%u", c->t->address, (unsigned)c->t->port);
	while (libssh2_knownhost_get(c->hosts, &e, e) == 0) {
		if (e->name == NULL || (strcmp(e->name, bracket) != 0 &&
		    strcmp(e->name, c->t->address) != 0))
			continue;
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
			seen[i] |= (e->typemask & LIBSSH2_KNOWNHOST_KEY_MASK) == order[i];
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (seen[i])
			len += (size_t)snprintf(prefs + len, sizeof(c->hostkey_prefs) - len, "%s%s",
			    len > 0 ? "," : "", ssh_kh_algorithms(order[i]));
	/* Fails only when libssh2 knows none of them: then its defaults stand. */
	if (len > 0 && libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, prefs) != 0)
		prefs[0] = '\0';
}

static int
ssh_handshake(struct ssh_conn *c)
{
	int rc, r;

	c->phase = "during the handshake with";
	while ((rc = libssh2_session_handshake(c->s, c->fd)) == LIBSSH2_ERROR_EAGAIN)
		if ((r = ssh_wait(c)) < 0)
			return r;
	if (rc == 0)
		return 0;
	r = ssh_fail(c, rc, "handshake with");
	/* The likeliest cause: the server has no host key of a type known_hosts lists. */
	if (rc == LIBSSH2_ERROR_KEX_FAILURE && c->hostkey_prefs[0] != '\0' && c->why != NULL &&
	    c->whylen > 0) {
		size_t n = strlen(c->why);

		why_set(c->why + n, c->whylen - n, " (known_hosts %s has only %s keys for it)",
		    c->t->known_hosts, c->hostkey_prefs);
	}
	return r;
}

/* Standard base64 with padding, as known_hosts writes keys; out has room for it. */
static void
ssh_b64(const unsigned char *in, size_t len, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < len ? a[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* Skips one field and the blanks after it. */
static const char *
ssh_kh_field(const char *p)
{
	p += strcspn(p, " \t");
	return p + strspn(p, " \t");
}

/*
 * Whether a "@revoked hosts type base64" line of known_hosts lists the key.  Any host
 * pattern counts: a revoked key is refused for every host.
 */
static int
ssh_kh_revoked(struct ssh_conn *c, const char *key, size_t keylen, bool *ret_revoked)
{
	const char *line, *p, *b;
	size_t n, blen;
	char *enc;

	if (gd_add_size(keylen, 2, &n) < 0 || gd_mul_size(n / 3, 4, &n) < 0 ||
	    gd_add_size(n, 1, &n) < 0)
		return -EOVERFLOW;
	if ((enc = gd_malloc(n)) == NULL)
		return -ENOMEM;
	ssh_b64((const unsigned char *)key, keylen, enc);
	blen = strlen(enc);
	*ret_revoked = false;
	for (line = c->kh; line < c->kh + c->khlen && !*ret_revoked; line += strlen(line) + 1) {
		p = line + strspn(line, " \t");
		if (!ssh_kh_marker(p, "@revoked"))
			continue;
		b = ssh_kh_field(ssh_kh_field(ssh_kh_field(p)));
		*ret_revoked = strcspn(b, " \t") == blen && memcmp(b, enc, blen) == 0;
	}
	gd_free(enc);
	return 0;
}

/* The host key against known_hosts: unknown or different is refused (-EPERM). */
static int
ssh_hostkey_check(struct ssh_conn *c)
{
	static const int bits[] = {
		[LIBSSH2_HOSTKEY_TYPE_RSA] = LIBSSH2_KNOWNHOST_KEY_SSHRSA,
		[LIBSSH2_HOSTKEY_TYPE_DSS] = LIBSSH2_KNOWNHOST_KEY_SSHDSS,
		[LIBSSH2_HOSTKEY_TYPE_ECDSA_256] = LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
		[LIBSSH2_HOSTKEY_TYPE_ECDSA_384] = LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
		[LIBSSH2_HOSTKEY_TYPE_ECDSA_521] = LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
		[LIBSSH2_HOSTKEY_TYPE_ED25519] = LIBSSH2_KNOWNHOST_KEY_ED25519,
	};
	const char *key, *kh = c->t->known_hosts;
	bool revoked = false;
	size_t keylen = 0;
	int type = 0, r;

	if ((key = libssh2_session_hostkey(c->s, &keylen, &type)) == NULL)
		return ssh_fail(c, LIBSSH2_ERROR_PROTO, "reading the host key of");
	if (type <= 0 || (size_t)type >= sizeof(bits) / sizeof(bits[0]) || bits[type] == 0) {
		why_set(c->why, c->whylen, "host key of %s is of a type (%d) that cannot be "
		    "checked, refused", c->name, type);
		return -EPERM;
	}
	if ((r = ssh_kh_revoked(c, key, keylen, &revoked)) < 0)
		return r;
	if (revoked) {
		why_set(c->why, c->whylen, "host key of %s is marked @revoked in known_hosts %s",
		    c->name, kh);
		return -EPERM;
	}
	switch (libssh2_knownhost_checkp(c->hosts, c->t->address, c->t->port, key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bits[type], NULL)) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return 0;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		why_set(c->why, c->whylen, "host key of %s does not match known_hosts %s", c->name,
		    kh);
		return -EPERM;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		why_set(c->why, c->whylen, "host key of %s is unknown: no %s key for it in "
		    "known_hosts %s%s, refused", c->name, ssh_kh_algorithms(bits[type]), kh,
		    c->kh_skipped > 0 ? " (which has lines that cannot be read)" : "");
		return -EPERM;
	default:
		return ssh_fail(c, LIBSSH2_ERROR_KNOWN_HOSTS, "checking the host key of");
	}
}

static int
ssh_auth(struct ssh_conn *c)
{
	const char *user = c->t->user;
	int rc, r;

	c->phase = "authenticating to";
	/* No public key: libssh2 derives it from the private key. */
	while ((rc = libssh2_userauth_publickey_frommemory(c->s, user, strlen(user), NULL, 0,
	    c->key, c->keylen, NULL)) == LIBSSH2_ERROR_EAGAIN)
		if ((r = ssh_wait(c)) < 0)
			return r;
	switch (rc) {
	case 0:
		return 0;
	case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
	case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
		why_set(c->why, c->whylen, "authentication as %s with %s refused by %s",
		    log_esc(user), c->t->key, c->name);
		return -EACCES;
	case LIBSSH2_ERROR_ALLOC:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
		return ssh_fail(c, rc, "authenticating to");
	default:
		/*
		 * libssh2 reads the key before it sends anything, and its parsers fail with
		 * many codes (FILE, PROTO, METHOD_NOT_SUPPORTED...): the key is the likely
		 * culprit, and libssh2's message says more.
		 */
		why_set(c->why, c->whylen, "cannot use private key %s (not a key, encrypted, or "
		    "of a type libssh2 cannot use): %s", c->t->key, ssh_errmsg(c));
		return -EINVAL;
	}
}

static int
ssh_exec(struct ssh_conn *c, const char *cmd)
{
	int rc, r;

	c->phase = "opening a session on";
	while ((c->ch = libssh2_channel_open_session(c->s)) == NULL &&
	    libssh2_session_last_errno(c->s) == LIBSSH2_ERROR_EAGAIN)
		if ((r = ssh_wait(c)) < 0)
			return r;
	if (c->ch == NULL)
		return ssh_fail(c, libssh2_session_last_errno(c->s), "opening a session on");
	c->phase = "starting the command on";
	while ((rc = libssh2_channel_exec(c->ch, cmd)) == LIBSSH2_ERROR_EAGAIN)
		if ((r = ssh_wait(c)) < 0)
			return r;
	return rc == 0 ? 0 : ssh_fail(c, rc, "starting the command on");
}

/* Appends src[0..n) to a NUL-terminated buffer of cap bytes; the rest is dropped, flagged. */
static void
ssh_append(char *dst, size_t cap, size_t *len, bool *truncated, const char *src, size_t n)
{
	size_t room = cap - 1 - *len;

	if (n > room) {
		*truncated = true;
		n = room;
	}
	memcpy(dst + *len, src, n);
	*len += n;
	dst[*len] = '\0';
}

/* One step of the I/O loop: 1 when it made progress, 0 when not now, or -errno. */
static int
ssh_step(struct ssh_conn *c, struct ssh_io *io, enum ssh_op op, struct ssh_result *ret)
{
	char buf[SSH_IO_CHUNK];
	size_t left = io->inlen - io->inoff;
	ssize_t n;

	switch (op) {
	case SSH_OP_OUT:
	case SSH_OP_ERR:
		if (op == SSH_OP_OUT ? io->out_eof : io->err_eof)
			return 0;
		n = libssh2_channel_read_ex(c->ch, op == SSH_OP_ERR ? SSH_EXTENDED_DATA_STDERR : 0,
		    buf, sizeof(buf));
		if (n == 0)
			*(op == SSH_OP_OUT ? &io->out_eof : &io->err_eof) = true;
		else if (n > 0 && op == SSH_OP_OUT)
			ssh_append(ret->out, sizeof(ret->out), &ret->outlen, &ret->out_truncated,
			    buf, (size_t)n);
		else if (n > 0)
			ssh_append(ret->err, sizeof(ret->err), &ret->errlen, &ret->err_truncated,
			    buf, (size_t)n);
		break;
	case SSH_OP_WRITE:
		if (left == 0 || io->in_stopped)
			return 0;
		n = libssh2_channel_write(c->ch, io->in + io->inoff,
		    left < SSH_IO_CHUNK ? left : SSH_IO_CHUNK);
		if (n > 0)
			io->inoff += (size_t)n;
		else if (n == 0)
			return 0;	/* No window: libssh2 waits for the server's adjust. */
		break;
	case SSH_OP_EOF:
		if (left > 0 || io->in_stopped || io->eof_sent)
			return 0;
		if ((n = libssh2_channel_send_eof(c->ch)) == 0)
			io->eof_sent = true;
		break;
	default:
		return 0;
	}
	if (n >= 0)
		return 1;
	if (n == LIBSSH2_ERROR_EAGAIN) {
		if (libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			io->pending = op;
		return 0;
	}
	/* The command ended, or closed its side, before taking all of stdin: not an error. */
	if ((op == SSH_OP_WRITE || op == SSH_OP_EOF) && (n == LIBSSH2_ERROR_CHANNEL_CLOSED ||
	    n == LIBSSH2_ERROR_CHANNEL_EOF_SENT)) {
		io->in_stopped = true;
		return 1;
	}
	return ssh_fail(c, (int)n, op == SSH_OP_WRITE || op == SSH_OP_EOF ?
	    "writing the command's stdin on" : "reading the command's output on");
}

/*
 * Feeds stdin and drains stdout and stderr together, so that neither side can fill up
 * while the other waits, until the command's output ends.  Reads come first and the write
 * last in each round: the write then sees every window adjust the reads brought in.
 */
static int
ssh_io(struct ssh_conn *c, const char *in, size_t inlen, struct ssh_result *ret)
{
	static const enum ssh_op ops[] = { SSH_OP_OUT, SSH_OP_ERR, SSH_OP_WRITE, SSH_OP_EOF };
	struct ssh_io io = { .in = in, .inlen = in != NULL ? inlen : 0 };
	enum ssh_op op;
	int r, progress;

	c->phase = "while the command ran on";
	while (!io.out_eof || !io.err_eof) {
		/* A command that writes without end must not outlive the deadline either. */
		if (gd_mono_ms() >= c->deadline)
			return ssh_timeout(c);
		progress = 0;
		if ((op = io.pending) != SSH_OP_NONE) {
			io.pending = SSH_OP_NONE;
			if ((progress = ssh_step(c, &io, op, ret)) < 0)
				return progress;
		} else {
			for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
				if ((r = ssh_step(c, &io, ops[i], ret)) < 0)
					return r;
				progress |= r;
				if (io.pending != SSH_OP_NONE)
					break;
			}
		}
		/* Data or EOF already inside libssh2 needs no wait. */
		if (progress || (io.pending == SSH_OP_NONE &&
		    (libssh2_poll_channel_read(c->ch, 1) > 0 || libssh2_channel_eof(c->ch) == 1)))
			continue;
		if ((r = ssh_wait(c)) < 0)
			return r;
	}
	return 0;
}

/* Waits for the server to close the channel, reads the exit status, and closes ours. */
static int
ssh_finish(struct ssh_conn *c, struct ssh_result *ret)
{
	char *sig = NULL;
	size_t siglen = 0;
	int rc, r;

	c->phase = "waiting for the command to end on";
	while ((rc = libssh2_channel_wait_closed(c->ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((r = ssh_wait(c)) < 0)
			return r;
	if (rc != 0)
		return ssh_fail(c, rc, "waiting for the command to end on");
	ret->exit_status = libssh2_channel_get_exit_status(c->ch);
	if (libssh2_channel_get_exit_signal(c->ch, &sig, &siglen, NULL, NULL, NULL, NULL) == 0 &&
	    sig != NULL) {
		ret->exit_status = -1;
		libssh2_free(c->s, sig);
	}
	/* One try: the command has ended, and saying goodbye cannot change its outcome. */
	(void)libssh2_channel_close(c->ch);
	return 0;
}

/* Prefixes why with "out of memory: " and returns -ENOMEM. */
static int
ssh_out_of_memory(char *why, size_t whylen)
{
	char was[256];

	if (why != NULL && whylen > 0) {
		(void)snprintf(was, sizeof(was), "%s", why);
		why_set(why, whylen, "out of memory: %s", was);
	}
	return -ENOMEM;
}

/*
 * Closes everything.  After a clean run the server gets a disconnect message (one try);
 * otherwise the socket is shut down first, so that libssh2's own goodbyes fail at once
 * instead of saying EAGAIN, which would leave the channel or the session unfreed.
 */
static void
ssh_conn_close(struct ssh_conn *c, bool clean)
{
	if (c->s != NULL && c->fd != -1 && clean) {
		if (c->ch != NULL && libssh2_channel_free(c->ch) == 0)
			c->ch = NULL;
		(void)libssh2_session_disconnect(c->s, "done");
	}
	if (c->fd != -1)
		(void)shutdown(c->fd, SHUT_RDWR);
	for (int i = 0; c->ch != NULL && i < 4; i++)
		if (libssh2_channel_free(c->ch) != LIBSSH2_ERROR_EAGAIN)
			c->ch = NULL;
	if (c->hosts != NULL)
		libssh2_knownhost_free(c->hosts);
	for (int i = 0; c->s != NULL && i < 4; i++)
		if (libssh2_session_free(c->s) != LIBSSH2_ERROR_EAGAIN)
			c->s = NULL;
	if (c->fd != -1)
		(void)close(c->fd);
	if (c->key != NULL) {
		explicit_bzero(c->key, c->keylen);
		gd_free(c->key);
	}
	gd_free(c->kh);
	*c = (struct ssh_conn){ .fd = -1 };
}

int
ssh_run(const struct ssh_target *t, const char *const *argv, const char *stdin_data,
    size_t len, int timeout_ms, struct ssh_result *ret, char *why, size_t whylen)
{
	struct ssh_conn c = { .t = t, .fd = -1, .timeout_ms = timeout_ms, .why = why,
	    .whylen = whylen, .phase = "starting" };
	unsigned long failures = gd_alloc_failures();
	char cmd[SSH_MAX_COMMAND_BYTES];
	bool ran = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->exit_status = -1;
	why_set(why, whylen, "%s", "");
	/* Nothing is read or connected for a command or a target that would be refused. */
	if ((r = ssh_command_line(argv, cmd, sizeof(cmd), why, whylen)) < 0 ||
	    (r = ssh_target_check(&c, t, timeout_ms)) < 0)
		return r;
	c.deadline = gd_mono_ms() + timeout_ms;
	(void)pthread_once(&ssh_once, ssh_init_once);
	if (ssh_init_rc != 0) {
		why_set(why, whylen, "libssh2_init failed (%d)", ssh_init_rc);
		return -ENOMEM;
	}
	if ((c.s = libssh2_session_init_ex(ssh_alloc, ssh_free, ssh_realloc, NULL)) == NULL) {
		why_set(why, whylen, "out of memory for an SSH session");
		return -ENOMEM;
	}
	libssh2_session_set_blocking(c.s, 0);
	if ((r = ssh_key_load(&c)) < 0 || (r = ssh_kh_load(&c)) < 0)
		goto out;
	ssh_hostkey_prefs(&c);
	if ((r = ssh_connect(&c)) < 0 || (r = ssh_handshake(&c)) < 0 ||
	    (r = ssh_hostkey_check(&c)) < 0 || (r = ssh_auth(&c)) < 0 ||
	    (r = ssh_exec(&c, cmd)) < 0 || (r = ssh_io(&c, stdin_data, len, ret)) < 0 ||
	    (r = ssh_finish(&c, ret)) < 0)
		goto out;
	ran = true;
out:
	ssh_conn_close(&c, ran);
	if (!ran)
		ret->exit_status = -1;
	/* libssh2 reports some failed allocations as other errors (or as a refusal). */
	if (r < 0 && r != -ENOMEM && gd_alloc_failures() != failures)
		r = ssh_out_of_memory(why, whylen);
	return r;
}
