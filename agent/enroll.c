#include "enroll.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fdio.h"
#include "json.h"
#include "log.h"

#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		5000
#define ENROLL_TIMEOUT_MS	30000
/* Our copy of a token file: a token is one line; more is not a token file. */
#define TOKEN_FILE_MAX_BYTES	4096

static bool
tag_key_ok(const char *s, size_t n)
{
	if (n == 0 || n > GD_MAX_NAME_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-' ||
		    s[i] == '/'))
			return false;
	return true;
}

static bool
tag_value_ok(const char *s, size_t n)
{
	if (n == 0 || n > GD_MAX_SHORT_STRING_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Adds one "key=value" of length n to o. */
static int
tag_add(cJSON *o, const char *s, size_t n, const char **why)
{
	const char *eq = memchr(s, '=', n);
	char key[GD_MAX_NAME_BYTES + 1], value[GD_MAX_SHORT_STRING_BYTES + 1];
	size_t klen, vlen;

	if (eq == NULL) {
		*why = "each tag is key=value";
		return -EINVAL;
	}
	klen = (size_t)(eq - s);
	vlen = n - klen - 1;
	if (!tag_key_ok(s, klen) || !tag_value_ok(eq + 1, vlen) || memchr(eq + 1, '=', vlen)) {
		*why = "a tag is key=value: a key of 1 to 64 letters, digits and _ . - /, a value "
		    "of 1 to 256 printable bytes without , or =";
		return -EINVAL;
	}
	memcpy(key, s, klen);
	key[klen] = '\0';
	memcpy(value, eq + 1, vlen);
	value[vlen] = '\0';
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL) {
		*why = "a tag key appears twice";
		return -EINVAL;
	}
	if (cJSON_GetArraySize(o) >= GD_MAX_TAGS) {
		*why = "more than 32 tags";
		return -EINVAL;
	}
	return cJSON_AddStringToObject(o, key, value) != NULL ? 0 : -ENOMEM;
}

int
enroll_tags_parse(const char *s, cJSON **ret, const char **why)
{
	cJSON *o = cJSON_CreateObject();
	int r = 0;

	if (o == NULL)
		return -ENOMEM;
	while (s != NULL && *s != '\0' && r == 0) {
		const char *comma = strchr(s, ',');
		size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);

		r = tag_add(o, s, n, why);
		s = comma != NULL ? comma + 1 : NULL;
		if (r == 0 && s != NULL && *s == '\0') {
			*why = "a tag list does not end with ,";
			r = -EINVAL;
		}
	}
	if (r < 0) {
		cJSON_Delete(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* Tokens and credentials are letters, digits, _ and - ("gde_" or "gda_" and hex). */
static bool
token_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= GD_MAX_TOKEN_BYTES && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* The first line of what fd holds, trimmed, when it looks like a token. */
static int
read_token(int fd, char ret[GD_MAX_TOKEN_BYTES + 1], const char **why)
{
	char buf[TOKEN_FILE_MAX_BYTES + 1];
	size_t len = 0, start = 0, end;
	ssize_t n;
	int r = 0;

	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = -errno;
			*why = strerror(-r);
			explicit_bzero(buf, sizeof(buf));
			return r;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	for (end = 0; end < len && buf[end] != '\n'; end++)
		;
	while (start < end && (buf[start] == ' ' || buf[start] == '\t'))
		start++;
	while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t' || buf[end - 1] == '\r'))
		end--;
	buf[end] = '\0';
	if (end == start || end - start > GD_MAX_TOKEN_BYTES) {
		*why = end == start ? "it is empty" : "its first line is too long for a token";
		r = -EINVAL;
	} else if (!token_ok(buf + start)) {
		*why = "its first line is not a token (letters, digits, _ and -)";
		r = -EINVAL;
	} else {
		memcpy(ret, buf + start, end - start + 1);
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}

int
enroll_token_read(const char *path, char ret[GD_MAX_TOKEN_BYTES + 1])
{
	const char *why = NULL;
	struct stat st;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		r = -errno;
		log_warnx("cannot open the token file %s: %s", log_esc(path), strerror(-r));
		return r;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		log_warnx("the token file %s is not a regular file", log_esc(path));
		return -EINVAL;
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		log_warnx("the token file %s is open to group or others (mode %03o); it holds a "
		    "secret: chmod 600 it", log_esc(path), (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	r = read_token(fd, ret, &why);
	close(fd);
	if (r < 0)
		log_warnx("the token file %s cannot be used: %s", log_esc(path), why);
	return r;
}

int
enroll_credential_read(int state_fd, const char *state_dir, char ret[GD_MAX_TOKEN_BYTES + 1])
{
	const char *why = NULL;
	struct stat st;
	int fd, r;

	if ((fd = openat(state_fd, "credential", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return -ENOENT;
		r = -errno;
		log_warnx("cannot open %s/credential: %s", log_esc(state_dir), strerror(-r));
		return r;
	}
	/* A credential that others could have read or replaced is not used: look at it. */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		close(fd);
		log_warnx("%s/credential must be a regular file of this user with mode 0600; "
		    "refusing to use it", log_esc(state_dir));
		return -EPERM;
	}
	r = read_token(fd, ret, &why);
	close(fd);
	if (r < 0)
		log_warnx("%s/credential cannot be used: %s", log_esc(state_dir), why);
	return r;
}

int
enroll_credential_store(int state_fd, const char *cred)
{
	char line[GD_MAX_TOKEN_BYTES + 2];
	int fd, r = 0;

	(void)unlinkat(state_fd, ".credential.tmp", 0);
	fd = openat(state_fd, ".credential.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -errno;
	/* 0600 at creation; a umask can only take bits away. */
	(void)snprintf(line, sizeof(line), "%s\n", cred);
	if ((r = gd_write_all(fd, line, strlen(line))) < 0 || fsync(fd) == -1)
		r = r < 0 ? r : -errno;
	explicit_bzero(line, sizeof(line));
	if (close(fd) == -1 && r == 0)
		r = -errno;
	if (r == 0 && renameat(state_fd, ".credential.tmp", state_fd, "credential") == -1)
		r = -errno;
	if (r == 0 && fsync(state_fd) == -1)
		r = -errno;
	if (r < 0)
		(void)unlinkat(state_fd, ".credential.tmp", 0);
	return r;
}


/* The credential from an enrolment reply, into ret. */
static int
enroll_reply(const struct uplink_reply *rep, char ret[GD_MAX_TOKEN_BYTES + 1])
{
	struct gd_err *err = gd_malloc(sizeof(*err));
	cJSON *root = NULL, *cred;
	int r = 0;

	if (err == NULL)
		return -ENOMEM;
	gd_err_init(err);
	if (rep->body == NULL || json_parse_doc(rep->body, rep->len, GD_MAX_SMALL_REPLY_BYTES,
	    &root, err) < 0) {
		log_warnx("enrolment: the controller's reply is not JSON (%s)", err->n > 0 ?
		    err->items[0].msg : "empty");
		gd_free(err);
		return -EBADMSG;
	}
	gd_free(err);
	cred = cJSON_GetObjectItemCaseSensitive(root, "credential");
	if (!cJSON_IsString(cred) || !token_ok(cred->valuestring)) {
		log_warnx("enrolment: the controller's reply has no credential (a string of "
		    "letters, digits, _ and -)");
		r = -EBADMSG;
	} else {
		memcpy(ret, cred->valuestring, strlen(cred->valuestring) + 1);
		explicit_bzero(cred->valuestring, strlen(cred->valuestring));
	}
	cJSON_Delete(root);
	return r;
}

static void
sleep_unless(int64_t ms, volatile sig_atomic_t *stop)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	/* A signal ends the sleep (EINTR); the caller looks at *stop next. */
	if (*stop == 0)
		(void)nanosleep(&ts, NULL);
}

int
enroll_run(struct uplink *ul, const char *token, const char *body, volatile sig_atomic_t *stop,
    char ret_cred[GD_MAX_TOKEN_BYTES + 1])
{
	int64_t backoff = BACKOFF_MIN_MS;
	struct uplink_reply rep;
	char what[400];
	int r;

	for (;;) {
		r = uplink_post(ul, "/v1/agent/enroll", token, body, ENROLL_TIMEOUT_MS,
		    GD_MAX_SMALL_REPLY_BYTES, &rep);
		if (r == 0 && (rep.status == 200 || rep.status == 201)) {
			r = enroll_reply(&rep, ret_cred);
			break;
		}
		uplink_describe(&rep, what, sizeof(what));
		if (r == 0 && rep.status >= 400 && rep.status < 500) {
			log_warnx("enrolment refused (%s): the token is spent, expired or not an "
			    "enrolment token; make one with `gamedayd enroll-token create`", what);
			r = -EPERM;
			break;
		}
		uplink_reply_clear(&rep);
		if (r == -ECANCELED || *stop != 0) {
			r = -ECANCELED;
			break;
		}
		log_warnx("enrolment failed (%s), retrying in %llds", what,
		    (long long)backoff / 1000);
		sleep_unless(backoff, stop);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	uplink_reply_clear(&rep);
	return r;
}
