#include "fault_burn.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "timeutil.h"

#define BURN_PERIOD_MS	100

struct burn {
	atomic_bool stop;
	pthread_t *threads;
	uint32_t nthreads;
	uint32_t load_percent;
	void *mem;
	size_t mem_len;
};

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void *
burn_thread(void *arg)
{
	struct burn *b = arg;
	int64_t busy = BURN_PERIOD_MS * (int64_t)b->load_percent / 100;
	volatile uint64_t sink = 0;

	while (!atomic_load(&b->stop)) {
		int64_t start = gd_mono_ms(), spent;

		while (gd_mono_ms() - start < busy)
			for (int i = 0; i < 10000; i++)
				sink = sink + (uint64_t)i;
		spent = gd_mono_ms() - start;
		if (spent < BURN_PERIOD_MS)
			sleep_ms(BURN_PERIOD_MS - spent);
	}
	return (void *)(uintptr_t)(sink & 0);
}

int
fault_burn_cpu_start(uint32_t cores, uint32_t load_percent, struct burn **ret)
{
	struct burn *b;
	int r = 0;

	if (cores == 0 || load_percent == 0 || load_percent > 100)
		return -EINVAL;
	if ((b = gd_calloc(1, sizeof(*b))) == NULL)
		return -ENOMEM;
	atomic_init(&b->stop, false);
	b->load_percent = load_percent;
	if ((b->threads = gd_calloc(cores, sizeof(*b->threads))) == NULL) {
		gd_free(b);
		return -ENOMEM;
	}
	for (; b->nthreads < cores; b->nthreads++)
		if ((r = pthread_create(&b->threads[b->nthreads], NULL, burn_thread, b)) != 0)
			break;
	if (r != 0) {
		fault_burn_stop(b);
		return -r;
	}
	*ret = b;
	return 0;
}

int
fault_burn_mem_start(uint64_t bytes, struct burn **ret, bool *ret_locked)
{
	long page = sysconf(_SC_PAGESIZE);
	struct burn *b;

	if (bytes == 0 || bytes > SIZE_MAX / 2)
		return -EINVAL;
	if ((b = gd_calloc(1, sizeof(*b))) == NULL)
		return -ENOMEM;
	b->mem_len = (size_t)bytes;
	b->mem = mmap(NULL, b->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	if (b->mem == MAP_FAILED) {
		int r = -errno;

		gd_free(b);
		return r;
	}
	/* If the host runs short, this process goes first, not a service. */
	{
		FILE *adj = fopen("/proc/self/oom_score_adj", "we");

		if (adj != NULL) {
			(void)fputs("1000\n", adj);
			(void)fclose(adj);
		}
	}
	/* Touch every page: a mapping nobody writes costs the host nothing. */
	for (size_t off = 0; off < b->mem_len; off += (size_t)page)
		((volatile char *)b->mem)[off] = 1;
	*ret_locked = mlock(b->mem, b->mem_len) == 0;
	*ret = b;
	return 0;
}

struct burn *
fault_burn_stop(struct burn *b)
{
	if (b == NULL)
		return NULL;
	atomic_store(&b->stop, true);
	for (uint32_t i = 0; i < b->nthreads; i++)
		(void)pthread_join(b->threads[i], NULL);
	gd_free(b->threads);
	if (b->mem != NULL)
		(void)munmap(b->mem, b->mem_len);
	gd_free(b);
	return NULL;
}

/* A "Key:   N kB" line of /proc/meminfo, in bytes. */
static int
meminfo_bytes(const char *key, uint64_t *ret)
{
	unsigned long long kb = 0;
	char line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	if ((f = fopen("/proc/meminfo", "re")) == NULL)
		return -errno;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strncmp(line, key, klen) == 0 && line[klen] == ':' &&
		    sscanf(line + klen + 1, " %llu kB", &kb) == 1;
	fclose(f);
	if (!found)
		return -EIO;
	*ret = (uint64_t)kb * 1024;
	return 0;
}

int
fault_burn_mem_bytes(const struct gd_size *size, uint64_t *ret)
{
	uint64_t total;
	int r;

	if (!size->is_percent) {
		*ret = size->bytes;
		return 0;
	}
	if ((r = meminfo_bytes("MemTotal", &total)) < 0)
		return r;
	*ret = (uint64_t)((double)total * size->percent / 100.0);
	return 0;
}

int
fault_burn_mem_available(uint64_t *ret)
{
	return meminfo_bytes("MemAvailable", ret);
}

uint32_t
fault_burn_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (uint32_t)n : 1;
}
