#include "fault.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#include "bregex.h"

static const char *const type_names[FAULT_TYPE_MAX] = {
	[FAULT_PROCESS_KILL] = "process.kill",
	[FAULT_PROCESS_PAUSE] = "process.pause",
	[FAULT_NET_PARTITION] = "network.partition",
	[FAULT_NET_LOSS] = "network.loss",
	[FAULT_NET_LATENCY] = "network.latency",
	[FAULT_NET_BANDWIDTH] = "network.bandwidth",
	[FAULT_DISK_FILL] = "disk.fill",
	[FAULT_CPU_BURN] = "cpu.burn",
	[FAULT_MEMORY_HOG] = "memory.hog",
};

/* The keys each type accepts, "type" included. */
static const char *const keys_kill[] = { "type", "match", "signal", "count", "percent",
	"expect_restart_within", NULL };
static const char *const keys_pause[] = { "type", "match", "count", NULL };
static const char *const keys_partition[] = { "type", "peers", "ports", "protocol",
	"direction", NULL };
static const char *const keys_loss[] = { "type", "percent", "peers", "ports", "direction",
	NULL };
static const char *const keys_latency[] = { "type", "delay", "jitter", "peers", "ports",
	"direction", "backend", NULL };
static const char *const keys_bandwidth[] = { "type", "rate", "device", NULL };
static const char *const keys_disk[] = { "type", "path", "fill_to_percent", "size",
	"keep_free", NULL };
static const char *const keys_cpu[] = { "type", "cores", "load_percent", NULL };
static const char *const keys_mem[] = { "type", "size", NULL };
static const char *const keys_match[] = { "comm", "cmdline", "pidfile", "unit", NULL };

static const char *const *const type_keys[FAULT_TYPE_MAX] = {
	keys_kill, keys_pause, keys_partition, keys_loss, keys_latency, keys_bandwidth,
	keys_disk, keys_cpu, keys_mem,
};

static const char *const dir_names[] = { "both", "ingress", "egress", NULL };
static const char *const proto_names[] = { "all", "tcp", "udp", "icmp", NULL };
static const char *const backend_names[] = { "auto", "netem", "proxy", NULL };

const char *
fault_type_name(enum fault_type t)
{
	return t < FAULT_TYPE_MAX ? type_names[t] : "?";
}

int
fault_type_from_name(const char *name, enum fault_type *ret)
{
	for (int t = 0; t < FAULT_TYPE_MAX; t++) {
		if (strcmp(name, type_names[t]) == 0) {
			*ret = (enum fault_type)t;
			return 0;
		}
	}
	return -1;
}

bool
fault_type_is_network(enum fault_type t)
{
	return t == FAULT_NET_PARTITION || t == FAULT_NET_LOSS || t == FAULT_NET_LATENCY ||
	    t == FAULT_NET_BANDWIDTH;
}

static const char *
fdup(struct jctx *c, struct arena *a, const char *s)
{
	char *d = arena_strdup(a, s);

	if (d == NULL)
		c->oom = true;
	return d;
}

/* An optional enumerated string; *ret keeps its default when absent. */
static bool
j_enum(struct jctx *c, const cJSON *obj, const char *key, const char *const *names, int *ret)
{
	const char *s;
	char list[128] = "";

	if (j_get(obj, key) == NULL)
		return true;
	if (!j_string(c, obj, key, false, GD_MAX_NAME_BYTES, &s))
		return false;
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret = i;
			return true;
		}
		(void)strncat(list, i == 0 ? "" : ", ", sizeof(list) - strlen(list) - 1);
		(void)strncat(list, names[i], sizeof(list) - strlen(list) - 1);
	}
	j_error(c, key, "%s is not one of %s", j_quote(s), list);
	return false;
}

static bool
has_control_or_dotdot(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return true;
	for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

/* An absolute path without "..", control characters or "//". */
static bool
j_abs_path(struct jctx *c, const cJSON *obj, const char *key, bool required, const char **ret)
{
	const char *s;

	if (!j_string(c, obj, key, required, GD_MAX_PATH_BYTES, &s))
		return false;
	if (s[0] != '/') {
		j_error(c, key, "%s is not an absolute path", j_quote(s));
		return false;
	}
	if (has_control_or_dotdot(s) || strstr(s, "//") != NULL) {
		j_error(c, key, "%s has \"..\", \"//\" or control characters", j_quote(s));
		return false;
	}
	*ret = s;
	return true;
}

static bool
unit_name_ok(const char *s)
{
	size_t n = strlen(s);
	const char *dot = strrchr(s, '.');

	if (n > GD_MAX_SHORT_STRING_BYTES || dot == NULL || dot == s ||
	    (strcmp(dot, ".service") != 0 && strcmp(dot, ".scope") != 0))
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(":_.\\@-", *p) != NULL))
			return false;
	return true;
}

static bool
parse_match(struct jctx *c, const cJSON *f, struct arena *a, struct proc_match *m)
{
	const cJSON *node = j_get(f, "match");
	const char *s, *why = NULL;
	size_t old;
	bool ok = true;

	if (node == NULL) {
		j_error(c, "match", "is required (one or more of comm, cmdline, pidfile, unit)");
		return false;
	}
	old = jpath_push_key(c, "match");
	if (!j_object(c, node, keys_match)) {
		jpath_pop(c, old);
		return false;
	}
	if (node->child == NULL) {
		j_error(c, NULL, "needs at least one of comm, cmdline, pidfile, unit");
		ok = false;
	}
	if (j_string(c, node, "comm", false, 15, &s)) {
		if (strchr(s, '/') != NULL || has_control_or_dotdot(s)) {
			j_error(c, "comm", "%s is not a process name", j_quote(s));
			ok = false;
		} else {
			m->comm = fdup(c, a, s);
		}
	} else if (j_get(node, "comm") != NULL) {
		ok = false;
	}
	if (j_string(c, node, "cmdline", false, GD_MAX_REGEX_BYTES, &s)) {
		int r = bregex_check(s, &why);

		if (r == -ENOMEM) {
			c->oom = true;
		} else if (r < 0) {
			j_error(c, "cmdline", "%s: %s", j_quote(s), why);
			ok = false;
		} else {
			m->cmdline = fdup(c, a, s);
		}
	} else if (j_get(node, "cmdline") != NULL) {
		ok = false;
	}
	if (j_abs_path(c, node, "pidfile", false, &s))
		m->pidfile = fdup(c, a, s);
	else if (j_get(node, "pidfile") != NULL)
		ok = false;
	if (j_string(c, node, "unit", false, GD_MAX_SHORT_STRING_BYTES, &s)) {
		if (!unit_name_ok(s)) {
			j_error(c, "unit", "%s is not a systemd service or scope name "
			    "(as in nginx.service)", j_quote(s));
			ok = false;
		} else {
			m->unit = fdup(c, a, s);
		}
	} else if (j_get(node, "unit") != NULL) {
		ok = false;
	}
	jpath_pop(c, old);
	return ok;
}

static bool
parse_filter(struct jctx *c, const cJSON *f, struct net_filter *nf, bool with_protocol)
{
	const cJSON *arr, *it;
	size_t n = 0, i = 0, old;
	bool ok = true;
	int v = 0;

	if ((arr = j_array(c, f, "peers", false, 1, GD_MAX_PEERS, &n)) != NULL) {
		cJSON_ArrayForEach(it, arr) {
			const char *why = NULL;

			old = jpath_push_key(c, "peers");
			(void)jpath_push_index(c, i++);
			if (!cJSON_IsString(it)) {
				j_error(c, NULL, "expected a CIDR string such as \"10.0.0.0/8\", "
				    "found %s", j_type_name(it));
				ok = false;
			} else if (cidr_parse(it->valuestring, &nf->peers[nf->npeers], &why) < 0) {
				j_error(c, NULL, "%s is not a CIDR: %s", j_quote(it->valuestring),
				    why);
				ok = false;
			} else {
				const struct gd_cidr *new = &nf->peers[nf->npeers];
				bool twice = false;

				for (size_t k = 0; k < nf->npeers && !twice; k++)
					twice = nf->peers[k].family == new->family &&
					    nf->peers[k].prefix == new->prefix &&
					    memcmp(nf->peers[k].addr, new->addr, 16) == 0;
				if (twice) {
					j_error(c, NULL, "%s is listed twice",
					    j_quote(it->valuestring));
					ok = false;
				} else {
					nf->npeers++;
				}
			}
			jpath_pop(c, old);
		}
	} else if (j_get(f, "peers") != NULL) {
		ok = false;
	}
	i = 0;
	if ((arr = j_array(c, f, "ports", false, 1, GD_MAX_PORTS, &n)) != NULL) {
		cJSON_ArrayForEach(it, arr) {
			double d = it->valuedouble;

			old = jpath_push_key(c, "ports");
			(void)jpath_push_index(c, i++);
			if (!cJSON_IsNumber(it) || !(d >= 1 && d <= 65535) || d != floor(d)) {
				j_error(c, NULL, "a port is a whole number from 1 to 65535");
				ok = false;
			} else {
				for (size_t k = 0; k < nf->nports; k++)
					if (nf->ports[k] == (uint16_t)d) {
						j_error(c, NULL, "port %u is listed twice",
						    (unsigned)d);
						ok = false;
					}
				nf->ports[nf->nports++] = (uint16_t)d;
			}
			jpath_pop(c, old);
		}
	} else if (j_get(f, "ports") != NULL) {
		ok = false;
	}
	v = 0;
	if (!j_enum(c, f, "direction", dir_names, &v))
		ok = false;
	nf->direction = (enum net_direction)v;
	v = 0;
	if (with_protocol && !j_enum(c, f, "protocol", proto_names, &v))
		ok = false;
	nf->protocol = (enum net_protocol)v;
	if (nf->protocol == NET_PROTO_ICMP && nf->nports > 0) {
		j_error(c, "ports", "ports do not apply to protocol \"icmp\"");
		ok = false;
	}
	return ok;
}

static bool
parse_count(struct jctx *c, const cJSON *f, uint32_t *ret)
{
	int64_t v = 1;

	if (j_get(f, "count") != NULL && !j_int(c, f, "count", false, 1, GD_MAX_HOSTS_PER_RUN, &v))
		return false;
	*ret = (uint32_t)v;
	return true;
}

static bool
parse_kill(struct jctx *c, const cJSON *f, struct arena *a, struct fault *out)
{
	const char *s, *why = NULL;
	bool ok = parse_match(c, f, a, &out->u.kill.match);

	out->u.kill.signo = 9;
	if (j_string(c, f, "signal", false, 16, &s)) {
		if (signal_parse(s, &out->u.kill.signo, &why) < 0) {
			j_error(c, "signal", "%s: %s", j_quote(s), why);
			ok = false;
		} else if (out->u.kill.signo == SIGSTOP || out->u.kill.signo == SIGCONT) {
			/* A stop without its TTL-bound continue is a pause nobody reverts. */
			j_error(c, "signal", "%s: process.kill does not stop or continue processes; "
			    "use process.pause", j_quote(s));
			ok = false;
		}
	} else if (j_get(f, "signal") != NULL) {
		ok = false;
	}
	if (j_get(f, "count") != NULL && j_get(f, "percent") != NULL) {
		j_error(c, "percent", "give count or percent, not both");
		ok = false;
	}
	if (j_get(f, "percent") != NULL) {
		out->u.kill.by_percent = true;
		if (!j_number(c, f, "percent", false, 0.001, 100, &out->u.kill.percent))
			ok = false;
	}
	if (!parse_count(c, f, &out->u.kill.count))
		ok = false;
	if (j_get(f, "expect_restart_within") != NULL &&
	    !j_duration(c, f, "expect_restart_within", false, 1, GD_MAX_RESTART_WAIT_MS,
	    &out->u.kill.expect_restart_ms))
		ok = false;
	return ok;
}

static bool
parse_size_key(struct jctx *c, const cJSON *f, const char *key, bool required,
    bool allow_percent, struct gd_size *ret)
{
	const char *s, *why = NULL;

	if (!j_string(c, f, key, required, 64, &s))
		return !required && j_get(f, key) == NULL;
	if (size_parse(s, allow_percent, ret, &why) < 0) {
		j_error(c, key, "%s is not a size: %s", j_quote(s), why);
		return false;
	}
	if (!ret->is_percent && ret->bytes == 0) {
		j_error(c, key, "must be above zero");
		return false;
	}
	return true;
}

static bool
parse_disk(struct jctx *c, const cJSON *f, struct arena *a, struct fault *out)
{
	const char *s;
	bool ok = true, has_pct = j_get(f, "fill_to_percent") != NULL;
	bool has_size = j_get(f, "size") != NULL;

	if (j_abs_path(c, f, "path", true, &s))
		out->u.disk.path = fdup(c, a, s);
	else
		ok = false;
	if (has_pct == has_size) {
		j_error(c, has_pct ? "size" : NULL, has_pct ? "give fill_to_percent or size, not both" :
		    "needs fill_to_percent or size");
		ok = false;
	} else if (has_pct) {
		out->u.disk.by_percent = true;
		if (!j_number(c, f, "fill_to_percent", false, 1, 100,
		    &out->u.disk.fill_to_percent))
			ok = false;
	} else if (!parse_size_key(c, f, "size", true, true, &out->u.disk.size)) {
		ok = false;
	}
	if (j_get(f, "keep_free") != NULL) {
		out->u.disk.keep_free_set = true;
		if (!parse_size_key(c, f, "keep_free", true, true, &out->u.disk.keep_free))
			ok = false;
	}
	return ok;
}

static bool
parse_net(struct jctx *c, const cJSON *f, struct fault *out)
{
	bool ok = parse_filter(c, f, &out->u.net.filter, out->type == FAULT_NET_PARTITION);
	int v = 0;

	if (out->type == FAULT_NET_LOSS &&
	    !j_number(c, f, "percent", true, 0.01, 100, &out->u.net.percent))
		ok = false;
	if (out->type != FAULT_NET_LATENCY)
		return ok;
	if (!j_duration(c, f, "delay", true, 1, GD_MAX_DELAY_MS, &out->u.net.delay_ms))
		ok = false;
	if (j_get(f, "jitter") != NULL &&
	    !j_duration(c, f, "jitter", false, 0, GD_MAX_DELAY_MS, &out->u.net.jitter_ms))
		ok = false;
	if (out->u.net.jitter_ms > out->u.net.delay_ms && out->u.net.delay_ms > 0) {
		j_error(c, "jitter", "is larger than delay (the delay would go below zero)");
		ok = false;
	}
	if (!j_enum(c, f, "backend", backend_names, &v))
		ok = false;
	out->u.net.backend = (enum latency_backend)v;
	return ok;
}

static bool
parse_bandwidth(struct jctx *c, const cJSON *f, struct arena *a, struct fault *out)
{
	const char *s, *why = NULL;
	bool ok = true;

	if (j_string(c, f, "rate", true, 64, &s)) {
		if (rate_parse(s, &out->u.bandwidth.rate, &why) < 0) {
			j_error(c, "rate", "%s is not a rate: %s", j_quote(s), why);
			ok = false;
		}
	} else {
		ok = false;
	}
	if (j_string(c, f, "device", false, 64, &s)) {
		if (ifname_check(s, &why) < 0) {
			j_error(c, "device", "%s: %s", j_quote(s), why);
			ok = false;
		} else {
			out->u.bandwidth.device = fdup(c, a, s);
		}
	} else if (j_get(f, "device") != NULL) {
		ok = false;
	}
	return ok;
}

bool
fault_parse(struct jctx *c, const cJSON *node, struct arena *a, struct fault *out)
{
	enum fault_type t;
	const char *s;
	size_t before = gd_err_count(c->err);
	int64_t v;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(node)) {
		j_error(c, NULL, "expected a fault object, found %s", j_type_name(node));
		return false;
	}
	if (!j_string(c, node, "type", true, 64, &s))
		return false;
	if (fault_type_from_name(s, &t) < 0) {
		j_error(c, "type", "unknown fault type %s (known: process.kill, process.pause, "
		    "network.partition, network.loss, network.latency, network.bandwidth, "
		    "disk.fill, cpu.burn, memory.hog)", j_quote(s));
		return false;
	}
	out->type = t;
	ok = j_object(c, node, type_keys[t]);
	switch (t) {
	case FAULT_PROCESS_KILL:
		ok &= parse_kill(c, node, a, out);
		break;
	case FAULT_PROCESS_PAUSE:
		ok &= parse_match(c, node, a, &out->u.pause.match);
		ok &= parse_count(c, node, &out->u.pause.count);
		break;
	case FAULT_NET_PARTITION:
	case FAULT_NET_LOSS:
	case FAULT_NET_LATENCY:
		ok &= parse_net(c, node, out);
		break;
	case FAULT_NET_BANDWIDTH:
		ok &= parse_bandwidth(c, node, a, out);
		break;
	case FAULT_DISK_FILL:
		ok &= parse_disk(c, node, a, out);
		break;
	case FAULT_CPU_BURN:
		v = 1;
		if (j_get(node, "cores") != NULL &&
		    !j_int(c, node, "cores", false, 1, GD_MAX_CPU_CORES, &v))
			ok = false;
		out->u.cpu.cores = (uint32_t)v;
		v = 100;
		if (j_get(node, "load_percent") != NULL &&
		    !j_int(c, node, "load_percent", false, 1, 100, &v))
			ok = false;
		out->u.cpu.load_percent = (uint32_t)v;
		break;
	case FAULT_MEMORY_HOG:
		ok &= parse_size_key(c, node, "size", true, true, &out->u.mem.size);
		break;
	case FAULT_TYPE_MAX:
		break;
	}
	return ok && !c->oom && gd_err_count(c->err) == before;
}

/* Writers: each records an allocation failure in *oom and carries on. */
static void
put_str(cJSON *o, const char *k, const char *v, bool *oom)
{
	if (v != NULL && cJSON_AddStringToObject(o, k, v) == NULL)
		*oom = true;
}

static void
put_num(cJSON *o, const char *k, double v, bool *oom)
{
	if (cJSON_AddNumberToObject(o, k, v) == NULL)
		*oom = true;
}

static void
put_dur(cJSON *o, const char *k, uint64_t ms, bool *oom)
{
	char buf[32];

	duration_format(ms, buf, sizeof(buf));
	put_str(o, k, buf, oom);
}

static void
put_size(cJSON *o, const char *k, const struct gd_size *sz, bool *oom)
{
	char buf[48];

	size_format(sz, buf, sizeof(buf));
	put_str(o, k, buf, oom);
}

static void
put_filter(cJSON *o, const struct net_filter *nf, bool with_protocol, bool *oom)
{
	cJSON *arr;
	char buf[64];

	if (nf->npeers > 0) {
		if ((arr = cJSON_AddArrayToObject(o, "peers")) == NULL) {
			*oom = true;
			return;
		}
		for (size_t i = 0; i < nf->npeers; i++) {
			cidr_format(&nf->peers[i], buf, sizeof(buf));
			if (!cJSON_AddItemToArray(arr, cJSON_CreateString(buf)))
				*oom = true;
		}
	}
	if (nf->nports > 0) {
		if ((arr = cJSON_AddArrayToObject(o, "ports")) == NULL) {
			*oom = true;
			return;
		}
		for (size_t i = 0; i < nf->nports; i++)
			if (!cJSON_AddItemToArray(arr, cJSON_CreateNumber(nf->ports[i])))
				*oom = true;
	}
	if (with_protocol)
		put_str(o, "protocol", proto_names[nf->protocol], oom);
	put_str(o, "direction", dir_names[nf->direction], oom);
}

static void
put_match(cJSON *o, const struct proc_match *m, bool *oom)
{
	cJSON *mo = cJSON_AddObjectToObject(o, "match");

	if (mo == NULL) {
		*oom = true;
		return;
	}
	put_str(mo, "comm", m->comm, oom);
	put_str(mo, "cmdline", m->cmdline, oom);
	put_str(mo, "pidfile", m->pidfile, oom);
	put_str(mo, "unit", m->unit, oom);
}

cJSON *
fault_to_json(const struct fault *f)
{
	cJSON *o = cJSON_CreateObject();
	char buf[48];
	bool oom = o == NULL;

	if (oom)
		return NULL;
	put_str(o, "type", type_names[f->type], &oom);
	switch (f->type) {
	case FAULT_PROCESS_KILL:
		put_match(o, &f->u.kill.match, &oom);
		put_str(o, "signal", signal_name(f->u.kill.signo), &oom);
		if (f->u.kill.by_percent)
			put_num(o, "percent", f->u.kill.percent, &oom);
		else
			put_num(o, "count", f->u.kill.count, &oom);
		if (f->u.kill.expect_restart_ms > 0)
			put_dur(o, "expect_restart_within", f->u.kill.expect_restart_ms, &oom);
		break;
	case FAULT_PROCESS_PAUSE:
		put_match(o, &f->u.pause.match, &oom);
		put_num(o, "count", f->u.pause.count, &oom);
		break;
	case FAULT_NET_PARTITION:
	case FAULT_NET_LOSS:
	case FAULT_NET_LATENCY:
		if (f->type == FAULT_NET_LOSS)
			put_num(o, "percent", f->u.net.percent, &oom);
		if (f->type == FAULT_NET_LATENCY) {
			put_dur(o, "delay", f->u.net.delay_ms, &oom);
			put_dur(o, "jitter", f->u.net.jitter_ms, &oom);
			put_str(o, "backend", backend_names[f->u.net.backend], &oom);
		}
		put_filter(o, &f->u.net.filter, f->type == FAULT_NET_PARTITION, &oom);
		break;
	case FAULT_NET_BANDWIDTH:
		rate_format(f->u.bandwidth.rate, buf, sizeof(buf));
		put_str(o, "rate", buf, &oom);
		put_str(o, "device", f->u.bandwidth.device, &oom);
		break;
	case FAULT_DISK_FILL:
		put_str(o, "path", f->u.disk.path, &oom);
		if (f->u.disk.by_percent)
			put_num(o, "fill_to_percent", f->u.disk.fill_to_percent, &oom);
		else
			put_size(o, "size", &f->u.disk.size, &oom);
		if (f->u.disk.keep_free_set)
			put_size(o, "keep_free", &f->u.disk.keep_free, &oom);
		break;
	case FAULT_CPU_BURN:
		put_num(o, "cores", f->u.cpu.cores, &oom);
		put_num(o, "load_percent", f->u.cpu.load_percent, &oom);
		break;
	case FAULT_MEMORY_HOG:
		put_size(o, "size", &f->u.mem.size, &oom);
		break;
	case FAULT_TYPE_MAX:
		break;
	}
	if (oom) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
