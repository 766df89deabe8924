/*
 * cpu.burn and memory.hog: effects that exist only while a process holds them, so they
 * live in the fault's watchdog process (watchdog.h) and end with it, whatever ends it.
 */
#ifndef GD_FAULT_BURN_H
#define GD_FAULT_BURN_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

struct burn;

/*
 * Starts cores threads, each busy for load_percent of every 100 ms and asleep for the rest.
 * On success the caller owns *ret (fault_burn_stop()).
 */
int fault_burn_cpu_start(uint32_t cores, uint32_t load_percent, struct burn **ret);

/*
 * Maps bytes of anonymous memory and writes every page, so it is resident; locks it with
 * mlock() when the host allows (*ret_locked says whether it did).  Sets the calling
 * process's oom_score_adj to 1000 first: under pressure the hog goes, not a service.
 */
int fault_burn_mem_start(uint64_t bytes, struct burn **ret, bool *ret_locked);

/* Stops the threads (joined) or unmaps the memory.  Takes NULL; returns NULL. */
struct burn *fault_burn_stop(struct burn *b);

/* memory.hog's size in bytes: a percentage is of MemTotal. */
int fault_burn_mem_bytes(const struct gd_size *size, uint64_t *ret);

/* MemAvailable from /proc/meminfo, in bytes. */
int fault_burn_mem_available(uint64_t *ret);

/* Online CPUs, for checking cpu.burn's cores. */
uint32_t fault_burn_online_cpus(void);

#endif
