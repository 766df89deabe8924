#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "fdio.h"
#include "hash.h"
#include "log.h"
#include "timeutil.h"

struct journal {
	int dirfd;	/* STATE_DIR/journal */
	int lockfd;	/* STATE_DIR/lock, flocked */
};

static const char *const jstate_names[] = {
	[JSTATE_APPLYING] = "applying",
	[JSTATE_APPLIED] = "applied",
	[JSTATE_REVERTING] = "reverting",
	[JSTATE_REVERT_FAILED] = "revert_failed",
};

const char *
jstate_name(enum jstate s)
{
	return s <= JSTATE_REVERT_FAILED ? jstate_names[s] : "unknown";
}

const char *
journal_boot_id(void)
{
	static char id[40];
	ssize_t n;
	int fd;

	if (id[0] != '\0')
		return id;
	if ((fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)) == -1)
		return "";
	n = read(fd, id, sizeof(id) - 1);
	close(fd);
	if (n <= 0) {
		id[0] = '\0';
		return "";
	}
	id[n] = '\0';
	if (id[n - 1] == '\n')
		id[n - 1] = '\0';
	return id;
}

bool
fault_id_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == GD_FAULT_ID_LEN;
}

bool
order_id_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' || s[i] == '-'))
			return false;
	return i > 0 && i <= GD_MAX_ORDER_ID_BYTES;
}

/* mkdir that accepts an existing directory; the mode applies only to a new one. */
static int
mkdir_at(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The journal decides which processes a revert signals and which files it removes: only
 * this user may write it.
 */
static int
check_owner(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -errno;
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return -EACCES;
	return 0;
}

int
journal_open(const char *dir, struct journal **ret)
{
	struct journal *j;
	int sfd = -1, r;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -errno;
	if ((j = gd_calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->dirfd = j->lockfd = -1;
	if ((sfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = check_owner(sfd)) < 0)
		goto fail;
	if ((r = mkdir_at(sfd, "journal")) < 0)
		goto fail;
	j->dirfd = openat(sfd, "journal", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	j->lockfd = openat(sfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->dirfd == -1 || j->lockfd == -1) {
		r = -errno;
		goto fail;
	}
	while (flock(j->lockfd, LOCK_EX) == -1)
		if (errno != EINTR) {
			r = -errno;
			goto fail;
		}
	close(sfd);
	*ret = j;
	return 0;
fail:
	if (sfd != -1)
		close(sfd);
	journal_close(j);
	return r;
}

struct journal *
journal_close(struct journal *j)
{
	if (j == NULL)
		return NULL;
	if (j->dirfd != -1)
		close(j->dirfd);
	if (j->lockfd != -1)
		close(j->lockfd);	/* Releases the flock. */
	gd_free(j);
	return NULL;
}

int
jentry_new(struct jentry **ret)
{
	struct jentry *e;
	uint8_t rnd[GD_FAULT_ID_LEN / 2];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	if ((e = gd_calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	gd_hex(rnd, sizeof(rnd), e->id);
	e->id[GD_FAULT_ID_LEN] = '\0';
	e->created_ms = gd_now_ms();
	e->restart_ms = -1;
	(void)snprintf(e->boot, sizeof(e->boot), "%s", journal_boot_id());
	*ret = e;
	return 0;
}

struct jentry *
jentry_free(struct jentry *e)
{
	if (e == NULL)
		return NULL;
	gd_free(e->fault);
	gd_free(e->error);
	gd_free(e->procs);
	gd_free(e);
	return NULL;
}

void
jentries_free(struct jentry **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jentry_free(v[i]);
	gd_free(v);
}

static cJSON *
jproc_to_json(const struct jproc *p)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddNumberToObject(o, "pid", p->pid) == NULL ||
	    cJSON_AddNumberToObject(o, "start", (double)p->start) == NULL)
		return cJSON_Delete(o), NULL;
	return o;
}

/* 64-bit numbers as hex strings: a JSON number holds 53 bits exactly. */
static bool
add_u64_hex(cJSON *o, const char *key, uint64_t v)
{
	char buf[20];

	(void)snprintf(buf, sizeof(buf), "%llx", (unsigned long long)v);
	return cJSON_AddStringToObject(o, key, buf) != NULL;
}

static bool
get_u64_hex(const cJSON *o, const char *key, uint64_t *ret)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
	char *end;

	if (!cJSON_IsString(n) || n->valuestring[0] == '\0' || strlen(n->valuestring) > 16)
		return false;
	errno = 0;
	*ret = strtoull(n->valuestring, &end, 16);
	return *end == '\0' && errno == 0;
}

static cJSON *
jentry_to_json(const struct jentry *e)
{
	cJSON *o = cJSON_CreateObject(), *fault = NULL, *arr, *p;
	bool oom = o == NULL;

	if (!oom && (fault = cJSON_Parse(e->fault)) == NULL)
		oom = true;
	if (!oom && !cJSON_AddItemToObject(o, "fault", fault)) {
		cJSON_Delete(fault);
		oom = true;
	}
	oom = oom || cJSON_AddStringToObject(o, "id", e->id) == NULL ||
	    cJSON_AddStringToObject(o, "order", e->order) == NULL ||
	    cJSON_AddStringToObject(o, "state", jstate_name(e->state)) == NULL ||
	    cJSON_AddNumberToObject(o, "created_ms", (double)e->created_ms) == NULL ||
	    cJSON_AddNumberToObject(o, "expires_ms", (double)e->expires_ms) == NULL ||
	    cJSON_AddNumberToObject(o, "attempts", e->attempts) == NULL ||
	    cJSON_AddNumberToObject(o, "restart_ms", (double)e->restart_ms) == NULL ||
	    cJSON_AddStringToObject(o, "path", e->path) == NULL ||
	    cJSON_AddStringToObject(o, "dev", e->dev) == NULL ||
	    cJSON_AddStringToObject(o, "backend", e->backend) == NULL ||
	    cJSON_AddNumberToObject(o, "proxy_port", e->proxy_port) == NULL ||
	    cJSON_AddNumberToObject(o, "fill_bytes", (double)e->fill_bytes) == NULL ||
	    !add_u64_hex(o, "fill_dev", e->fill_dev) || !add_u64_hex(o, "fill_ino", e->fill_ino) ||
	    cJSON_AddStringToObject(o, "boot", e->boot) == NULL ||
	    (e->error != NULL && cJSON_AddStringToObject(o, "error", e->error) == NULL) ||
	    (e->order_id[0] != '\0' &&
	    cJSON_AddStringToObject(o, "order_id", e->order_id) == NULL) ||
	    (p = jproc_to_json(&e->holder)) == NULL || !cJSON_AddItemToObject(o, "holder", p) ||
	    (arr = cJSON_AddArrayToObject(o, "procs")) == NULL;
	for (size_t i = 0; !oom && i < e->nprocs; i++)
		if ((p = jproc_to_json(&e->procs[i])) == NULL || !cJSON_AddItemToArray(arr, p))
			oom = true;
	if (oom) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int
journal_write(struct journal *j, const struct jentry *e)
{
	char tmp[GD_FAULT_ID_LEN + 16], name[GD_FAULT_ID_LEN + 8];
	cJSON *o;
	char *text;
	int fd, r;

	if (!fault_id_valid(e->id))
		return -EINVAL;
	if ((o = jentry_to_json(e)) == NULL)
		return -ENOMEM;
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return -ENOMEM;
	(void)snprintf(tmp, sizeof(tmp), ".%s.tmp", e->id);
	(void)snprintf(name, sizeof(name), "%s.json", e->id);
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		r = -errno;
		goto out;
	}
	if ((r = gd_write_all(fd, text, strlen(text))) == 0 && fsync(fd) == -1)
		r = -errno;
	if (close(fd) == -1 && r == 0)
		r = -errno;
	if (r == 0 && renameat(j->dirfd, tmp, j->dirfd, name) == -1)
		r = -errno;
	if (r == 0 && fsync(j->dirfd) == -1)
		r = -errno;
	if (r < 0)
		(void)unlinkat(j->dirfd, tmp, 0);
out:
	gd_free(text);
	return r;
}

int
journal_remove(struct journal *j, const char *id)
{
	char name[GD_FAULT_ID_LEN + 8];

	if (!fault_id_valid(id))
		return -EINVAL;
	(void)snprintf(name, sizeof(name), "%s.json", id);
	if (unlinkat(j->dirfd, name, 0) == -1)
		return errno == ENOENT ? 0 : -errno;
	return fsync(j->dirfd) == -1 ? -errno : 0;
}

/* Reads dirfd/name whole, at most GD_MAX_JOURNAL_ENTRY_BYTES. */
static int
read_entry_file(int dirfd, const char *name, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	int fd, r = 0;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -errno;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > GD_MAX_JOURNAL_ENTRY_BYTES) {
		close(fd);
		return -EBADMSG;
	}
	if ((buf = gd_malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n == 0 ? -EBADMSG : -errno;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		gd_free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static bool
get_i64(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(n) || n->valuedouble < (double)min || n->valuedouble > (double)max)
		return false;
	*ret = (int64_t)n->valuedouble;
	return true;
}

static bool
get_str(const cJSON *o, const char *key, char *buf, size_t size)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(n) || strlen(n->valuestring) >= size)
		return false;
	memcpy(buf, n->valuestring, strlen(n->valuestring) + 1);
	return true;
}

static bool
get_proc(const cJSON *o, struct jproc *p)
{
	int64_t pid, start;

	if (!cJSON_IsObject(o) || !get_i64(o, "pid", 0, INT32_MAX, &pid) ||
	    !get_i64(o, "start", 0, INT64_C(1) << 53, &start))
		return false;
	p->pid = (pid_t)pid;
	p->start = (uint64_t)start;
	return true;
}

static int
entry_procs_from_json(const cJSON *arr, struct jentry *e)
{
	const cJSON *it;
	int n = cJSON_GetArraySize(arr), i = 0;

	if (!cJSON_IsArray(arr) || n > GD_MAX_SIGNALLED)
		return -EBADMSG;
	if (n > 0 && (e->procs = gd_calloc((size_t)n, sizeof(*e->procs))) == NULL)
		return -ENOMEM;
	cJSON_ArrayForEach(it, arr)
		if (!get_proc(it, &e->procs[i++]))
			return -EBADMSG;
	e->nprocs = (size_t)n;
	return 0;
}

static int
entry_from_json(const cJSON *o, struct jentry *e)
{
	const cJSON *fault = cJSON_GetObjectItemCaseSensitive(o, "fault");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
	char state[20];
	int64_t v, attempts, port, fill;
	size_t s;

	if (!get_str(o, "id", e->id, sizeof(e->id)) || !fault_id_valid(e->id) ||
	    !get_str(o, "order", e->order, sizeof(e->order)) ||
	    !get_str(o, "state", state, sizeof(state)) ||
	    !get_i64(o, "created_ms", 0, INT64_C(1) << 53, &e->created_ms) ||
	    !get_i64(o, "expires_ms", 0, INT64_C(1) << 53, &e->expires_ms) ||
	    !get_i64(o, "attempts", 0, UINT32_MAX, &attempts) ||
	    !get_i64(o, "restart_ms", -1, INT64_C(1) << 53, &e->restart_ms) ||
	    !get_str(o, "path", e->path, sizeof(e->path)) ||
	    !get_str(o, "dev", e->dev, sizeof(e->dev)) ||
	    !get_str(o, "backend", e->backend, sizeof(e->backend)) ||
	    !get_i64(o, "proxy_port", 0, 65535, &port) ||
	    !get_i64(o, "fill_bytes", 0, INT64_C(1) << 53, &fill) ||
	    !get_u64_hex(o, "fill_dev", &e->fill_dev) || !get_u64_hex(o, "fill_ino", &e->fill_ino) ||
	    !get_str(o, "boot", e->boot, sizeof(e->boot)) ||
	    !get_proc(cJSON_GetObjectItemCaseSensitive(o, "holder"), &e->holder) ||
	    !cJSON_IsObject(fault))
		return -EBADMSG;
	e->attempts = (uint32_t)attempts;
	e->proxy_port = (uint16_t)port;
	e->fill_bytes = (uint64_t)fill;
	for (s = 0, v = -1; s <= JSTATE_REVERT_FAILED; s++)
		if (strcmp(state, jstate_names[s]) == 0)
			v = (int64_t)s;
	if (v < 0)
		return -EBADMSG;
	e->state = (enum jstate)v;
	/* Absent in entries written before the daemon existed, and in one-shot ones. */
	if (cJSON_GetObjectItemCaseSensitive(o, "order_id") != NULL &&
	    (!get_str(o, "order_id", e->order_id, sizeof(e->order_id)) ||
	    !order_id_valid(e->order_id)))
		return -EBADMSG;
	if (cJSON_IsString(err) && (e->error = gd_strdup(err->valuestring)) == NULL)
		return -ENOMEM;
	if ((e->fault = cJSON_PrintUnformatted(fault)) == NULL)
		return -ENOMEM;
	return entry_procs_from_json(cJSON_GetObjectItemCaseSensitive(o, "procs"), e);
}

/* Parses the file of one id.  -EBADMSG when it is not a journal entry of ours. */
static int
load_one(struct journal *j, const char *id, struct jentry **ret)
{
	char name[GD_FAULT_ID_LEN + 8], *buf = NULL;
	struct jentry *e = NULL;
	size_t len = 0;
	int r;

	(void)snprintf(name, sizeof(name), "%s.json", id);
	if ((r = read_entry_file(j->dirfd, name, &buf, &len)) < 0)
		return r;
	r = jentry_parse(buf, len, &e);
	gd_free(buf);
	if (r == 0 && strcmp(e->id, id) != 0)
		r = -EBADMSG;
	if (r < 0) {
		jentry_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

int
jentry_parse(const char *buf, size_t len, struct jentry **ret)
{
	struct jentry *e;
	unsigned long failures = gd_alloc_failures();
	cJSON *o;
	int r;

	if (len > GD_MAX_JOURNAL_ENTRY_BYTES)
		return -EBADMSG;
	if ((o = cJSON_ParseWithLength(buf, len)) == NULL)
		return gd_alloc_failures() != failures ? -ENOMEM : -EBADMSG;
	if ((e = gd_calloc(1, sizeof(*e))) == NULL)
		r = -ENOMEM;
	else
		r = entry_from_json(o, e);
	cJSON_Delete(o);
	if (r < 0) {
		jentry_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

int
journal_peek_state(const char *dir, const char *id, enum jstate *ret)
{
	char path[GD_MAX_PATH_BYTES + 64], *buf = NULL, state[20];
	cJSON *o;
	size_t len = 0;
	int r;

	if (!fault_id_valid(id))
		return -EINVAL;
	(void)snprintf(path, sizeof(path), "%s/journal", dir);
	{
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		char name[GD_FAULT_ID_LEN + 8];

		if (dfd == -1)
			return -errno;
		(void)snprintf(name, sizeof(name), "%s.json", id);
		r = read_entry_file(dfd, name, &buf, &len);
		close(dfd);
	}
	if (r < 0)
		return r;
	o = cJSON_ParseWithLength(buf, len);
	gd_free(buf);
	r = o != NULL && get_str(o, "state", state, sizeof(state)) ? 0 : -EBADMSG;
	cJSON_Delete(o);
	if (r < 0)
		return r;
	for (size_t s = 0; s <= JSTATE_REVERT_FAILED; s++)
		if (strcmp(state, jstate_names[s]) == 0) {
			*ret = (enum jstate)s;
			return 0;
		}
	return -EBADMSG;
}

int
journal_get(struct journal *j, const char *id, struct jentry **ret)
{
	if (!fault_id_valid(id))
		return -EINVAL;
	return load_one(j, id, ret);
}

/* A file we cannot read is moved aside, loudly, so that an operator can look at it. */
static void
quarantine(struct journal *j, const char *id, int r)
{
	char from[GD_FAULT_ID_LEN + 8], to[GD_FAULT_ID_LEN + 8];

	(void)snprintf(from, sizeof(from), "%s.json", id);
	(void)snprintf(to, sizeof(to), "%s.bad", id);
	log_warnx("journal entry %s cannot be read (%s), kept as %s", id, strerror(-r), to);
	(void)renameat(j->dirfd, from, j->dirfd, to);
}

static int
cmp_created(const void *a, const void *b)
{
	const struct jentry *x = *(struct jentry *const *)a, *y = *(struct jentry *const *)b;

	return (x->created_ms > y->created_ms) - (x->created_ms < y->created_ms);
}

int
journal_load(struct journal *j, struct jentry ***ret, size_t *ret_n)
{
	struct jentry **v = NULL, *e;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if ((fd = dup(j->dirfd)) == -1)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		char id[GD_FAULT_ID_LEN + 1];
		size_t len = strlen(de->d_name);

		if (len != GD_FAULT_ID_LEN + 5 || strcmp(de->d_name + GD_FAULT_ID_LEN, ".json") != 0)
			continue;
		memcpy(id, de->d_name, GD_FAULT_ID_LEN);
		id[GD_FAULT_ID_LEN] = '\0';
		if (!fault_id_valid(id))
			continue;
		if ((r = load_one(j, id, &e)) < 0 && r != -EBADMSG)
			break;	/* Out of memory or descriptors: no reason to doubt the file. */
		if (r < 0) {
			quarantine(j, id, r);
			r = 0;
			continue;
		}
		if (n == cap) {
			struct jentry **nv;

			cap = cap == 0 ? 8 : cap * 2;
			if ((nv = gd_realloc(v, cap * sizeof(*v))) == NULL) {
				jentry_free(e);
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = e;
	}
	closedir(d);
	if (r < 0) {
		jentries_free(v, n);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_created);
	*ret = v;
	*ret_n = n;
	return 0;
}
