/*
 * The fault journal (agent/journal.c): round trips, atomic replacement, removal, corrupt
 * files set aside rather than dropped, and the lock that serialises invocations.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "journal.h"
#include "test.h"

static char dir[64];

static struct jentry *
entry(const char *fault)
{
	struct jentry *e = NULL;

	if (jentry_new(&e) < 0)
		return NULL;
	e->fault = gd_strdup(fault);
	memset(e->order, 'a', 64);
	e->expires_ms = e->created_ms + 60000;
	return e;
}

static void
test_roundtrip(void)
{
	struct journal *j = NULL;
	struct jentry *e, *back = NULL, **v = NULL;
	size_t n = 0;

	TEST_START("an entry written comes back field for field");
	ASSERT_INT_EQ(journal_open(dir, &j), 0);
	e = entry("{\"type\":\"process.pause\",\"match\":{\"comm\":\"x\"},\"count\":1}");
	ASSERT_TRUE(e != NULL && fault_id_valid(e->id));
	e->state = JSTATE_REVERT_FAILED;
	e->error = gd_strdup("EPERM \"quoted\"\nnewline");
	e->attempts = 3;
	e->holder = (struct jproc){ .pid = 4242, .start = 987654321 };
	e->procs = gd_calloc(2, sizeof(*e->procs));
	e->procs[0] = (struct jproc){ .pid = 10, .start = 1 };
	e->procs[1] = (struct jproc){ .pid = 11, .start = 2 };
	e->nprocs = 2;
	(void)snprintf(e->path, sizeof(e->path), "/srv/x/.gameday-fill-%s", e->id);
	(void)snprintf(e->dev, sizeof(e->dev), "eth0");
	(void)snprintf(e->backend, sizeof(e->backend), "proxy");
	e->proxy_port = 40000;
	e->fill_bytes = 123456789;
	e->restart_ms = 1500;
	(void)snprintf(e->order_id, sizeof(e->order_id), "o-0123456789abcdef");
	ASSERT_INT_EQ(journal_write(j, e), 0);
	ASSERT_INT_EQ(journal_get(j, e->id, &back), 0);
	if (back != NULL) {
		ASSERT_STR_EQ(back->id, e->id);
		ASSERT_STR_EQ(back->order, e->order);
		ASSERT_STR_EQ(back->order_id, "o-0123456789abcdef");
		ASSERT_INT_EQ(back->state, JSTATE_REVERT_FAILED);
		ASSERT_STR_EQ(back->error, e->error);
		ASSERT_INT_EQ(back->attempts, 3);
		ASSERT_INT_EQ(back->holder.pid, 4242);
		ASSERT_U64_EQ(back->holder.start, 987654321);
		ASSERT_INT_EQ(back->nprocs, 2);
		ASSERT_INT_EQ(back->procs[1].pid, 11);
		ASSERT_STR_EQ(back->path, e->path);
		ASSERT_STR_EQ(back->dev, "eth0");
		ASSERT_STR_EQ(back->backend, "proxy");
		ASSERT_INT_EQ(back->proxy_port, 40000);
		ASSERT_U64_EQ(back->fill_bytes, 123456789);
		ASSERT_INT_EQ(back->restart_ms, 1500);
		ASSERT_TRUE(back->created_ms == e->created_ms);
		ASSERT_TRUE(back->expires_ms == e->expires_ms);
		ASSERT_STR_EQ(back->boot, journal_boot_id());
		ASSERT_TRUE(strstr(back->fault, "process.pause") != NULL);
	}
	jentry_free(back);

	TEST_START("load lists every entry; remove is durable and idempotent");
	ASSERT_INT_EQ(journal_load(j, &v, &n), 0);
	ASSERT_INT_EQ(n, 1);
	jentries_free(v, n);
	ASSERT_INT_EQ(journal_remove(j, e->id), 0);
	ASSERT_INT_EQ(journal_remove(j, e->id), 0);
	ASSERT_INT_EQ(journal_get(j, e->id, &back), -ENOENT);
	ASSERT_INT_EQ(journal_load(j, &v, &n), 0);
	ASSERT_INT_EQ(n, 0);
	jentries_free(v, n);
	jentry_free(e);
	journal_close(j);
}

static void
test_corrupt(void)
{
	struct journal *j = NULL;
	struct jentry **v = NULL;
	char path[128];
	size_t n = 0;
	int fd;

	TEST_START("a corrupt entry is kept aside as .bad, not dropped, and not loaded");
	(void)snprintf(path, sizeof(path), "%s/journal/0123456789abcdef.json", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_TRUE(fd >= 0);
	ASSERT_TRUE(write(fd, "{\"id\":", 6) == 6);
	close(fd);
	ASSERT_INT_EQ(journal_open(dir, &j), 0);
	ASSERT_INT_EQ(journal_load(j, &v, &n), 0);
	ASSERT_INT_EQ(n, 0);
	jentries_free(v, n);
	(void)snprintf(path, sizeof(path), "%s/journal/0123456789abcdef.bad", dir);
	ASSERT_TRUE(access(path, F_OK) == 0);

	TEST_START("ids are 16 lower-case hex digits; others are refused");
	ASSERT_TRUE(fault_id_valid("0123456789abcdef"));
	ASSERT_TRUE(!fault_id_valid("0123456789ABCDEF"));
	ASSERT_TRUE(!fault_id_valid("0123456789abcde"));
	ASSERT_TRUE(!fault_id_valid("../../etc/passwd"));
	ASSERT_TRUE(!fault_id_valid(""));
	ASSERT_INT_EQ(journal_remove(j, "../x"), -EINVAL);
	journal_close(j);
}

/* An entry file as a one-shot command (or an agent before the daemon) writes it. */
#define OLD_ENTRY "{\"fault\":{\"type\":\"cpu.burn\",\"cores\":1},\"id\":\"0123456789abcdef\"," \
	"\"order\":\"\",\"state\":\"applied\",\"created_ms\":1,\"expires_ms\":2,\"attempts\":0," \
	"\"restart_ms\":-1,\"path\":\"\",\"dev\":\"\",\"backend\":\"\",\"proxy_port\":0," \
	"\"fill_bytes\":0,\"fill_dev\":\"0\",\"fill_ino\":\"0\",\"boot\":\"b\"," \
	"\"holder\":{\"pid\":0,\"start\":0},\"procs\":[]"

static void
test_order_id(void)
{
	struct jentry *e = NULL;

	TEST_START("order_id is optional in an entry file (older entries have none)");
	ASSERT_INT_EQ(jentry_parse(OLD_ENTRY "}", strlen(OLD_ENTRY "}"), &e), 0);
	if (e != NULL)
		ASSERT_STR_EQ(e->order_id, "");
	e = jentry_free(e);

	TEST_START("an order_id that is there must be an order id");
	ASSERT_INT_EQ(jentry_parse(OLD_ENTRY ",\"order_id\":\"o-1\"}",
	    strlen(OLD_ENTRY ",\"order_id\":\"o-1\"}"), &e), 0);
	if (e != NULL)
		ASSERT_STR_EQ(e->order_id, "o-1");
	e = jentry_free(e);
	ASSERT_INT_EQ(jentry_parse(OLD_ENTRY ",\"order_id\":\"../x\"}",
	    strlen(OLD_ENTRY ",\"order_id\":\"../x\"}"), &e), -EBADMSG);
	ASSERT_INT_EQ(jentry_parse(OLD_ENTRY ",\"order_id\":7}", strlen(OLD_ENTRY
	    ",\"order_id\":7}"), &e), -EBADMSG);
	ASSERT_TRUE(order_id_valid("o-0123456789abcdef"));
	ASSERT_TRUE(!order_id_valid(""));
	ASSERT_TRUE(!order_id_valid("o 1"));
}

static void
test_lock(void)
{
	struct journal *j = NULL;
	char path[128];
	pid_t pid;
	int status = 0;

	TEST_START("the journal lock excludes a second opener until the first closes");
	ASSERT_INT_EQ(journal_open(dir, &j), 0);
	pid = fork();
	if (pid == 0) {
		int fd;

		(void)snprintf(path, sizeof(path), "%s/lock", dir);
		fd = open(path, O_RDWR | O_CLOEXEC);
		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK ? 0 : 1);
	}
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	journal_close(j);
	pid = fork();
	if (pid == 0) {
		struct journal *j2 = NULL;

		_exit(journal_open(dir, &j2) == 0 ? 0 : 1);
	}
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int
main(void)
{
	char cmd[96];

	(void)snprintf(dir, sizeof(dir), "/tmp/gd-test-journal-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_roundtrip();
	test_corrupt();
	test_order_id();
	test_lock();
	(void)snprintf(cmd, sizeof(cmd), "%s/journal", dir);
	/* Clean up what the test made: two files at most, then the directories. */
	(void)unlink(strcat(cmd, "/0123456789abcdef.bad"));
	(void)snprintf(cmd, sizeof(cmd), "%s/journal", dir);
	(void)rmdir(cmd);
	(void)snprintf(cmd, sizeof(cmd), "%s/lock", dir);
	(void)unlink(cmd);
	(void)rmdir(dir);
	return test_done();
}
