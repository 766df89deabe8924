/*
 * The gameday dashboard (docs/dashboard.md).  Plain JavaScript, no framework, nothing
 * fetched from anywhere but this controller (the CSP says so too).  Every API call carries
 * the token the user typed (kept in sessionStorage), so the API's roles apply unchanged.
 * Data only ever reaches the DOM as text (textContent, createTextNode, setAttribute): no
 * innerHTML anywhere.
 */
'use strict';

const TOKEN_KEY = 'gameday.token';
const LIVE_MS = 2000;		/* The runs page refreshes this often. */
const BANNER_MS = 5000;		/* The halt banner, on every page. */
const AUDIT_ROWS = 200;
const MAX_SAMPLES = 20000;	/* Kept in memory for one run's timeline. */
const TERMINAL = ['completed', 'aborted', 'failed', 'halted'];
/* A run "in progress": not one waiting for its time or its approval. */
const ACTIVE = ['preflight', 'injecting', 'running', 'rolling_back'];

let generation = 0;		/* Bumped by every navigation: late replies are dropped. */
let liveTimer = null;
let liveFn = null;
let bannerTimer = null;
let haltRun = null;		/* The halt dialog's run, or null: every run. */
const auditCache = { after: 0, rows: [] };

/* ---- DOM helpers ---- */

function $(id) {
	return document.getElementById(id);
}

/* An element; strings among kids become text nodes, never markup. */
function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);

	setAttrs(e, attrs);
	for (const k of kids.flat(Infinity))
		if (k !== null && k !== undefined && k !== false)
			e.append(k instanceof Node ? k : String(k));
	return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs, ...kids) {
	const e = document.createElementNS(SVG_NS, tag);

	setAttrs(e, attrs);
	for (const k of kids.flat(Infinity))
		if (k !== null && k !== undefined && k !== false)
			e.append(k instanceof Node ? k : String(k));
	return e;
}

function setAttrs(e, attrs) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith('on') && typeof v === 'function')
			e.addEventListener(k.slice(2), v);
		else
			e.setAttribute(k, v === true ? '' : String(v));
	}
}

function runLink(id) {
	return el('a', { href: '#/runs/' + encodeURIComponent(id), class: 'mono' }, id);
}

function stateBadge(s, id) {
	return el('span', { class: 'state ' + String(s || '').replace(/[^a-z_]/g, ''), id: id },
	    s || '—');
}

function fmtTime(s) {
	if (s === null || s === undefined || s === '')
		return '—';
	return String(s).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function fmtMs(ms) {
	return fmtTime(new Date(ms).toISOString());
}

/* "in 3h 5m" / "4m ago" for an RFC 3339 time. */
function relTime(s) {
	const t = Date.parse(s);

	if (!s || Number.isNaN(t))
		return '';
	let d = Math.round((t - Date.now()) / 1000);
	const future = d >= 0;

	d = Math.abs(d);
	const parts = [];
	for (const [n, u] of [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']]) {
		if (d >= n && parts.length < 2) {
			parts.push(Math.floor(d / n) + u);
			d %= n;
		}
	}
	const txt = parts.length ? parts.join(' ') : '0s';
	return future ? 'in ' + txt : txt + ' ago';
}

function compact(v) {
	if (v === null || v === undefined)
		return '—';
	if (typeof v === 'object') {
		const s = JSON.stringify(v);
		return s.length > 200 ? s.slice(0, 197) + '...' : s;
	}
	return String(v);
}

/* A table: cols are [header, row => Node|string]. */
function table(cols, rows, opts) {
	const o = opts || {};
	const body = el('tbody', null, rows.map((r) =>
	    el('tr', { class: o.rowClass ? o.rowClass(r) : null },
		cols.map(([, f, cls]) => el('td', { class: cls || null }, f(r))))));

	return el('table', { id: o.id || null },
	    el('thead', null, el('tr', null, cols.map(([h]) => el('th', null, h)))), body);
}

function kv(pairs) {
	return el('dl', { class: 'kv' }, pairs.filter((p) => p).map(([k, v]) =>
	    [el('dt', null, k), el('dd', null, v)]));
}

function flash(msg, isError) {
	const f = $('flash');

	f.textContent = msg;
	f.className = 'flash' + (isError ? ' err' : '');
	f.hidden = !msg;
}

/* ---- the API ---- */

function token() {
	return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

/* Calls the API with the session's token (or tok); resolves to the JSON reply. */
async function api(method, path, body, tok) {
	const headers = { Accept: 'application/json' };
	const t = tok || token();
	let res;

	if (t)
		headers.Authorization = 'Bearer ' + t;
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	try {
		res = await fetch(path, {
			method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error',
			body: body !== undefined ? JSON.stringify(body) : undefined,
		});
	} catch (e) {
		throw new ApiError(0, 'network', 'cannot reach the controller: ' + e.message);
	}
	let data = null;
	try {
		data = await res.json();
	} catch (e) {
		data = null;
	}
	if (!res.ok) {
		const err = data && data.error ? data.error : {};
		throw new ApiError(res.status, err.code || 'http_' + res.status,
		    err.message || 'HTTP ' + res.status);
	}
	return data;
}

function errorText(e) {
	if (e instanceof ApiError)
		return e.status ? e.status + ' ' + e.code + ': ' + e.message : e.message;
	return String(e && e.message ? e.message : e);
}

/* A page's error: a 401 means the token went bad, so back to the login. */
function showError(root, e) {
	if (e instanceof ApiError && e.status === 401 && !(root && root.dataset.login)) {
		logout('The controller no longer accepts this token: ' + e.message);
		return;
	}
	if (root)
		root.replaceChildren(el('p', { class: 'error' }, errorText(e)));
	else
		flash(errorText(e), true);
}

/* ---- session ---- */

function logout(why) {
	sessionStorage.removeItem(TOKEN_KEY);
	auditCache.after = 0;
	auditCache.rows = [];
	location.hash = '#/login';
	render().then(() => { if (why) flash(why, true); });
}

function pageLogin(root) {
	const input = el('input', { id: 'token', type: 'password', autocomplete: 'off',
	    spellcheck: 'false', required: true, placeholder: 'gdu_...' });
	const err = el('p', { id: 'login-error', class: 'error', hidden: true });
	const form = el('form', { id: 'login-form', class: 'card' },
	    el('h1', null, 'Log in'),
	    el('p', { class: 'muted' }, 'Paste a user token (', el('code', null,
		'gamedayd token create'), '). It stays in this tab only and is sent to this ' +
		'controller with each request; what you may do is what its role allows.'),
	    el('label', null, 'Token ', input),
	    el('div', { class: 'actions' }, el('button', { id: 'login-submit', type: 'submit',
		class: 'primary' }, 'Log in')),
	    err);

	root.dataset.login = '1';
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const t = input.value.trim();
		err.hidden = true;
		try {
			await api('GET', '/v1/halt', undefined, t);
		} catch (e) {
			err.textContent = e.status === 401 ? 'This token is not accepted: ' +
			    e.message : errorText(e);
			err.hidden = false;
			return;
		}
		sessionStorage.setItem(TOKEN_KEY, t);
		input.value = '';
		flash('');
		refreshBanner();
		/* Stay on the page asked for, if any (a bookmark); else the runs. */
		if (/^#\/(login)?$/.test(location.hash) || location.hash === '')
			location.hash = '#/runs';
		else
			render();
	});
	root.replaceChildren(form);
	input.focus();
}

/* ---- halt ---- */

async function refreshBanner() {
	const b = $('halt-banner');

	if (!token()) {
		b.hidden = true;
		return;
	}
	try {
		const h = await api('GET', '/v1/halt');
		if (!h.halted) {
			b.hidden = true;
			return;
		}
		const clear = el('button', { id: 'halt-clear', type: 'button', class: 'plain' },
		    'Clear (admin)');
		clear.addEventListener('click', async () => {
			try {
				await api('POST', '/v1/halt/clear', {});
				flash('The halt is cleared: new runs may start again.');
			} catch (e) {
				flash('Clearing the halt failed: ' + errorText(e), true);
			}
			refreshBanner();
		});
		b.replaceChildren('HALT IN FORCE since ' + fmtTime(h.time) + ' by ' +
		    (h.by || '?') + ': ' + (h.reason || '') + '. New runs are refused until an ' +
		    'admin clears it.', clear);
		b.hidden = false;
	} catch (e) {
		if (e.status === 401)
			logout('The controller no longer accepts this token: ' + e.message);
	}
}

/* Opens the halt dialog: every run (id null) or one run. */
function openHalt(id) {
	haltRun = id || null;
	$('halt-title').textContent = haltRun ? 'Halt run ' + haltRun : 'Halt every run';
	$('halt-what').textContent = haltRun ? 'This run rolls back now: every fault it ' +
	    'placed is reverted.' : 'Every run in progress rolls back now, and new runs are ' +
	    'refused until an admin clears the halt. Any signed-in user may do this.';
	$('halt-confirm').textContent = haltRun ? 'Halt this run' : 'Halt everything';
	$('halt-token-row').hidden = !!token();
	$('halt-error').hidden = true;
	$('halt-reason').value = '';
	$('halt-dialog').showModal();
	(token() ? $('halt-reason') : $('halt-token')).focus();
}

async function submitHalt(ev) {
	ev.preventDefault();
	const reason = $('halt-reason').value.trim();
	const tok = token() || $('halt-token').value.trim();
	const err = $('halt-error');
	const btn = $('halt-confirm');

	if (!tok) {
		err.textContent = 'A token is needed to halt.';
		err.hidden = false;
		return;
	}
	btn.disabled = true;
	try {
		if (haltRun) {
			const run = await api('POST', '/v1/runs/' + encodeURIComponent(haltRun) +
			    '/halt', { reason }, tok);
			flash('Run ' + run.id + ' halting: now ' + run.state + '.');
		} else {
			const r = await api('POST', '/v1/halt', { reason }, tok);
			const n = (r.runs || []).length;
			flash('HALT: ' + n + ' run' + (n === 1 ? '' : 's') + ' halted' +
			    (n ? ' (' + r.runs.join(', ') + ')' : '') + '; new runs are refused ' +
			    'until an admin clears the halt.');
		}
		$('halt-dialog').close();
		refreshBanner();
		tick();
	} catch (e) {
		err.textContent = 'The halt failed: ' + errorText(e);
		err.hidden = false;
	} finally {
		btn.disabled = false;
		$('halt-token').value = '';
	}
}

/* ---- runs ---- */

function runsTable(runs, selected) {
	return table([
		['Run', (r) => runLink(r.id)],
		['Playbook', (r) => r.playbook],
		['State', (r) => stateBadge(r.state)],
		['Requested by', (r) => r.requested_by || '—'],
		['Created', (r) => fmtTime(r.created)],
		['Ended', (r) => fmtTime(r.ended)],
		['Outcome', (r) => r.outcome || '', 'wrap'],
	], runs, { id: 'runs-table', rowClass: (r) => r.id === selected ? 'selected' : null });
}

/* Per-run state the live refresh accumulates. */
function newRunView(id) {
	return { id, events: [], lastSeq: 0, samples: [], evals: [], seen: new Set(),
	    lastSampleMs: 0, lastEvalMs: 0, timeline: null, run: null, busy: false };
}

async function pageRuns(root, id, gen) {
	const list = el('div', { id: 'runs-list' });
	const detail = el('div', { id: 'run-detail' });

	root.replaceChildren(el('h1', null, 'Runs'), detail, el('h2', null, 'All runs'), list);
	let view = null;

	const refresh = async () => {
		const data = await api('GET', '/v1/runs?limit=100');
		if (gen !== generation)
			return;
		const runs = data.runs || [];
		let cur = id;
		if (!cur) {
			/*
			 * The newest run in progress; else the one shown until now (a run
			 * that just ended stays in view); else the newest.
			 */
			const active = runs.find((r) => ACTIVE.includes(r.state));
			const kept = view && runs.some((r) => r.id === view.id) ? view.id : null;
			cur = active ? active.id : kept || (runs.length ? runs[0].id : null);
		}
		if (!cur) {
			view = null;
			detail.replaceChildren();
		} else {
			if (!view || view.id !== cur)
				view = newRunView(cur);
			await refreshRun(detail, view, gen, !id);
		}
		if (gen !== generation)
			return;
		/* The run shown was read after the list, so its row shows that newer read. */
		const shown = view && view.run;
		list.replaceChildren(runs.length ? runsTable(runs.map((r) => shown &&
		    r.id === shown.id ? shown : r), cur) : el('p', { class: 'muted' }, 'No runs yet.'));
	};
	try {
		await refresh();
	} catch (e) {
		showError(root, e);
		return;
	}
	let failing = false;
	setLive(async () => {
		try {
			await refresh();
			if (failing)
				flash('');
			failing = false;
		} catch (e) {
			if (e.status === 401) {
				showError(root, e);
			} else {
				failing = true;
				flash('Refresh failed: ' + errorText(e), true);
			}
		}
	}, LIVE_MS);
}

/* Fetches what is new for one run (its state, events, timeline) and redraws it. */
async function refreshRun(box, v, gen, isCurrent) {
	if (v.busy)
		return;
	v.busy = true;
	try {
		const path = '/v1/runs/' + encodeURIComponent(v.id);
		/* Both lists are paged by one time: ask from the older, drop what is seen. */
		const after = Math.max(0, Math.min(v.lastSampleMs, v.lastEvalMs) - 1);
		const [run, ev, tl] = await Promise.all([
			api('GET', path),
			api('GET', path + '/events?after=' + v.lastSeq),
			api('GET', path + '/timeline?after=' + after),
		]);
		if (gen !== generation)
			return;
		v.run = run;
		for (const e of ev.events || []) {
			if (e.seq > v.lastSeq) {
				v.events.push(e);
				v.lastSeq = e.seq;
			}
		}
		for (const s of tl.samples || []) {
			const k = 's|' + s.probe + '|' + s.time_ms;
			if (!v.seen.has(k)) {
				v.seen.add(k);
				v.samples.push(s);
			}
			v.lastSampleMs = Math.max(v.lastSampleMs, s.time_ms);
		}
		for (const s of tl.evaluations || []) {
			const k = 'e|' + s.index + '|' + s.time_ms;
			if (!v.seen.has(k)) {
				v.seen.add(k);
				v.evals.push(s);
			}
			v.lastEvalMs = Math.max(v.lastEvalMs, s.time_ms);
		}
		if (v.samples.length > MAX_SAMPLES)
			v.samples.splice(0, v.samples.length - MAX_SAMPLES);
		if (v.evals.length > MAX_SAMPLES)
			v.evals.splice(0, v.evals.length - MAX_SAMPLES);
		v.timeline = tl;
		drawRun(box, v, isCurrent);
	} finally {
		v.busy = false;
	}
}

function drawRun(box, v, isCurrent) {
	const r = v.run;
	const live = !TERMINAL.includes(r.state);
	const buttons = el('div', { class: 'row' });

	if (live) {
		buttons.append(el('button', { id: 'run-halt', type: 'button', class: 'halt',
		    onclick: () => openHalt(r.id) }, 'Halt this run'));
	}
	if (r.state === 'awaiting_approval') {
		buttons.append(el('button', { id: 'run-approve', type: 'button', class: 'primary',
		    onclick: async () => {
			try {
				await api('POST', '/v1/runs/' + encodeURIComponent(r.id) +
				    '/approve', { revision: r.revision });
				flash('Run ' + r.id + ' approved.');
			} catch (e) {
				flash('Approval failed: ' + errorText(e), true);
			}
			tick();
		} }, 'Approve'));
	}
	const head = el('section', { class: 'card', id: 'run-card', 'data-run': r.id },
	    el('div', { class: 'row' }, el('h2', null, isCurrent ? (live ? 'Current run ' :
		'Last run ') : 'Run ',
		el('span', { class: 'mono', id: 'run-id' }, r.id)), stateBadge(r.state, 'run-state'),
		el('span', { class: 'spacer' }), buttons),
	    kv([
		['Playbook', r.playbook + ' (' + String(r.revision || '').slice(0, 12) + ')'],
		['Environment', r.environment || '—'],
		['Reason', r.reason || '—'],
		['Requested by', r.requested_by || '—'],
		['Approved by', r.approved_by || '—'],
		['Created', fmtTime(r.created)],
		['Started', fmtTime(r.started)],
		['Ends', fmtTime(r.ends)],
		['Ended', fmtTime(r.ended)],
		r.outcome ? ['Outcome', r.outcome] : null,
		r.dry_run ? ['Dry run', 'yes'] : null,
	    ]));
	const faults = [];
	for (const t of r.targets || [])
		for (const f of t.faults || [])
			faults.push(Object.assign({ host: t.host }, f));
	const ss = r.steady_state || (v.timeline && v.timeline.summary) || {};
	box.replaceChildren(...[head,
	    el('h2', null, 'Timeline'),
	    timelineSvg(v),
	    el('p', { class: 'legend' }, 'Top: the run\'s states, then each fault\'s state ' +
		'(red while in place). Below: each probe\'s values (ms for http probes), SLA ' +
		'thresholds dashed red, failed samples as red squares, SLA breaches as red ticks.'),
	    el('h2', null, 'Faults'),
	    faults.length ? table([
		['Host', (f) => f.host],
		['#', (f) => String(f.index)],
		['Type', (f) => f.type],
		['State', (f) => stateBadge(f.state)],
		['Error', (f) => f.error || '', 'wrap'],
	    ], faults, { id: 'faults-table' }) : el('p', { class: 'muted' }, 'No targets yet.'),
	    (ss.slas || []).length ? [el('h2', null, 'Steady state'), table([
		['SLA', (s) => el('code', null, s.sla)],
		['Holds', (s) => stateBadge(s.holds ? 'ok' : 'failed')],
		['Value', (s) => compact(s.value)],
		['Streak', (s) => String(s.streak)],
		['Evaluations', (s) => String(s.evaluations)],
		['Breaches', (s) => String(s.breaches)],
		['Reason', (s) => s.reason || '', 'wrap'],
	    ], ss.slas)] : null,
	    el('h2', null, 'Events'),
	    table([
		['#', (e) => String(e.seq)],
		['Time', (e) => fmtTime(e.time)],
		['Actor', (e) => e.actor || ''],
		['Kind', (e) => e.kind],
		['State', (e) => e.kind === 'state' ? stateBadge(e.state) : (e.state || '')],
		['Host', (e) => e.host || ''],
		['Reason', (e) => e.reason || '', 'wrap'],
	    ], v.events, { id: 'events-table' })].flat().filter((n) => n));
}

/* ---- the timeline, as inline SVG ---- */

const SLA_RE = /^([A-Za-z0-9_-]+)\.([a-z_0-9]+)\s*(<=|>=|<|>)\s*(-?[0-9.]+)(ms|%)?/;

/* Segments [t, state] of a history, drawn as bands from one change to the next. */
function bands(g, hist, t1, x, y, h, title) {
	for (let i = 0; i < hist.length; i++) {
		const a = x(hist[i][0]);
		const b = x(i + 1 < hist.length ? hist[i + 1][0] : t1);
		const s = hist[i][1];
		g.append(svgEl('rect', { x: a.toFixed(1), y, width: Math.max(1, b - a).toFixed(1),
		    height: h, class: 'band ' + String(s).replace(/[^a-z_]/g, '') },
		    svgEl('title', null, title + ': ' + s + ' from ' + fmtMs(hist[i][0]))));
		if (b - a > 60)
			g.append(svgEl('text', { x: (a + 4).toFixed(1), y: y + h - 4 }, s));
	}
}

function timelineSvg(v) {
	const W = 960, L = 170, R = 16, LANE = 18, CHART = 110;
	const r = v.run;
	const created = Date.parse(r.created) || Date.now();
	const ended = r.ended ? Date.parse(r.ended) : null;
	const states = v.events.filter((e) => e.kind === 'state')
	    .map((e) => [Date.parse(e.time), e.state]);
	let t0 = created, t1 = ended || Date.now();

	for (const s of v.samples) {
		t0 = Math.min(t0, s.time_ms);
		t1 = Math.max(t1, s.time_ms);
	}
	if (states.length)
		t0 = Math.min(t0, states[0][0]);
	if (t1 - t0 < 10000)
		t1 = t0 + 10000;
	const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);

	/* Each fault's history from its events ("fault 0 applied"), then its current state. */
	const faults = (v.timeline && v.timeline.faults) || [];
	const fhist = faults.map((f) => {
		const h = [];
		const re = new RegExp('^fault ' + f.index + ' ([a-z_]+)$');
		const start = states.find(([, s]) => s === 'injecting');
		h.push([start ? start[0] : t0, 'pending']);
		for (const e of v.events) {
			const m = e.kind === 'fault' && e.host === f.host ? re.exec(e.reason || '') : null;
			if (m)
				h.push([Date.parse(e.time), m[1]]);
		}
		if (f.changed_ms && h[h.length - 1][1] !== f.state)
			h.push([f.changed_ms, f.state]);
		return { f, h };
	});
	const probes = [...new Set(v.samples.map((s) => s.probe))].sort();
	const slas = new Map();
	for (const e of v.evals)
		slas.set(e.index, e.sla);

	const top = 22;
	const laneY = (i) => top + i * (LANE + 4);
	const chartTop = laneY(1 + fhist.length) + 10;
	const H = chartTop + Math.max(1, probes.length) * (CHART + 16) + 8;
	const svg = svgEl('svg', { id: 'timeline', class: 'timeline', viewBox: '0 0 ' + W + ' ' + H,
	    role: 'img', 'aria-label': 'timeline of run ' + r.id, 'data-samples': v.samples.length,
	    preserveAspectRatio: 'xMinYMin meet' });

	/* Time axis: five ticks, UTC. */
	for (let i = 0; i <= 4; i++) {
		const t = t0 + (t1 - t0) * i / 4;
		const px = x(t);
		svg.append(svgEl('line', { x1: px, x2: px, y1: 14, y2: H - 4, class: 'grid' }));
		svg.append(svgEl('text', { x: px, y: 11, 'text-anchor': i === 0 ? 'start' :
		    i === 4 ? 'end' : 'middle', class: 'muted' },
		    new Date(t).toISOString().slice(11, 19) + (i === 0 ? ' UTC' : '')));
	}
	const lanes = svgEl('g', null);
	lanes.append(svgEl('text', { x: 4, y: laneY(0) + LANE - 5 }, 'run'));
	bands(lanes, states, t1, x, laneY(0), LANE, 'run');
	fhist.forEach(({ f, h }, i) => {
		const label = f.host + ' #' + f.index + ' ' + f.type;
		lanes.append(svgEl('text', { x: 4, y: laneY(i + 1) + LANE - 5 },
		    label.length > 26 ? label.slice(0, 25) + '…' : label,
		    svgEl('title', null, label + (f.error ? ': ' + f.error : ''))));
		bands(lanes, h, t1, x, laneY(i + 1), LANE, label);
	});
	svg.append(lanes);
	for (const [t, s] of states.slice(1))
		svg.append(svgEl('line', { x1: x(t), x2: x(t), y1: laneY(0), y2: H - 4,
		    class: 'transition' }, svgEl('title', null, s + ' at ' + fmtMs(t))));

	if (!probes.length) {
		svg.append(svgEl('text', { x: L, y: chartTop + 40, class: 'muted' },
		    (v.timeline && v.timeline.summary && (v.timeline.summary.slas || []).length) ?
			'no probe samples yet' : 'this playbook has no probes (no steady_state)'));
	}
	probes.forEach((p, i) => {
		const y0 = chartTop + i * (CHART + 16);
		const pts = v.samples.filter((s) => s.probe === p);
		const good = pts.filter((s) => s.ok && typeof s.value === 'number');
		const lines = [];
		for (const [idx, expr] of slas) {
			const m = SLA_RE.exec(expr);
			if (m && m[1] === p && (m[2].startsWith('tp') || m[2] === 'value'))
				lines.push({ idx, expr, v: Number(m[4]) });
		}
		/*
		 * Scaled to the values, so that their shape shows; a threshold far above them
		 * is pinned to the top edge, its label saying so.
		 */
		let hi = 1;
		for (const s of good)
			hi = Math.max(hi, s.value);
		for (const l of lines)
			if (l.v <= hi * 4)
				hi = Math.max(hi, l.v);
		const max = hi * 1.15;
		const y = (val) => y0 + CHART - (Math.min(max, Math.max(0, val)) / max) * CHART;

		svg.append(svgEl('rect', { x: L, y: y0, width: W - L - R, height: CHART,
		    class: 'frame' }));
		svg.append(svgEl('text', { x: 4, y: y0 + 12 }, p));
		svg.append(svgEl('text', { x: L - 4, y: y0 + 10, 'text-anchor': 'end',
		    class: 'muted' }, String(Number(max.toPrecision(3)))));
		svg.append(svgEl('text', { x: L - 4, y: y0 + CHART, 'text-anchor': 'end',
		    class: 'muted' }, '0'));
		if (good.length) {
			svg.append(svgEl('polyline', { class: 'series s' + (i % 4), points:
			    good.map((s) => x(s.time_ms).toFixed(1) + ',' + y(s.value).toFixed(1))
				.join(' ') }, svgEl('title', null, p + ': ' + good.length +
				' good samples')));
		}
		for (const s of pts.filter((q) => !q.ok)) {
			svg.append(svgEl('rect', { x: (x(s.time_ms) - 2).toFixed(1), y: y0 + CHART - 5,
			    width: 4, height: 4, class: 'bad-sample' }, svgEl('title', null,
				fmtMs(s.time_ms) + ' ' + (s.error || 'failed'))));
		}
		for (const l of lines) {
			svg.append(svgEl('line', { x1: L, x2: W - R, y1: y(l.v).toFixed(1),
			    y2: y(l.v).toFixed(1), class: 'threshold' }, svgEl('title', null, l.expr)));
			const above = l.v > max;

			svg.append(svgEl('text', { x: W - R - 4, y: (y(l.v) + (above ? 12 : -3))
			    .toFixed(1), 'text-anchor': 'end', class: 'threshold-label' },
			    above ? l.expr + ' (above the chart)' : l.expr));
		}
		const mine = new Set([...slas].filter(([, e]) => {
			const m = SLA_RE.exec(e);
			return m && m[1] === p;
		}).map(([idx]) => idx));
		for (const e of v.evals.filter((q) => !q.holds && mine.has(q.index))) {
			const px = x(e.time_ms).toFixed(1);
			svg.append(svgEl('line', { x1: px, x2: px, y1: y0, y2: y0 + 6, class: 'breach' },
			    svgEl('title', null, fmtMs(e.time_ms) + ' breached: ' + e.sla +
				(e.reason ? ' (' + e.reason + ')' : ''))));
		}
	});
	if (!ended) {
		const px = x(Date.now());
		svg.append(svgEl('line', { x1: px, x2: px, y1: 14, y2: H - 4, class: 'now' }));
	}
	return svg;
}

/* ---- the other pages ---- */

async function pageSchedule(root, gen) {
	const d = await api('GET', '/v1/schedules');
	if (gen !== generation)
		return;
	const rows = (d.schedules || []).slice().sort((a, b) =>
	    (a.next_start ? Date.parse(a.next_start) : Infinity) -
	    (b.next_start ? Date.parse(b.next_start) : Infinity));
	root.replaceChildren(el('h1', null, 'Schedule'),
	    el('p', { class: 'muted' }, 'Each scheduled playbook\'s next planned start, soonest ' +
		'first, and its last one.'),
	    rows.length ? table([
		['Playbook', (s) => s.playbook],
		['Next start', (s) => [fmtTime(s.next_start), ' ', el('span', { class: 'muted' },
		    relTime(s.next_start))]],
		['Window ends', (s) => fmtTime(s.next_window_end)],
		['Next run', (s) => s.next_run ? runLink(s.next_run) : '—'],
		['Last start', (s) => fmtTime(s.last_start)],
		['Revision', (s) => el('code', null, String(s.revision || '').slice(0, 12))],
		['Updated', (s) => fmtTime(s.updated)],
	    ], rows, { id: 'schedule-table' }) : el('p', { class: 'muted', id: 'schedule-empty' },
		'No playbook has a schedule.'));
}

async function pageAgents(root, gen) {
	const d = await api('GET', '/v1/agents');
	if (gen !== generation)
		return;
	const rows = d.agents || [];
	root.replaceChildren(el('h1', null, 'Agents'),
	    rows.length ? table([
		['Host', (a) => a.host],
		['State', (a) => stateBadge(a.state)],
		['Via', (a) => a.via || 'poll'],
		['Tags', (a) => Object.entries(a.tags || {}).map(([k, v2]) => k + '=' + v2)
		    .join(', '), 'wrap'],
		['Last seen', (a) => [fmtTime(a.last_seen), ' ', el('span', { class: 'muted' },
		    relTime(a.last_seen))]],
		['Lease', (a) => a.lease_ms ? (a.lease_ms / 1000) + ' s' : '—'],
		['Faults', (a) => String(a.faults ?? 0)],
		['Enrolled', (a) => fmtTime(a.enrolled)],
	    ], rows, { id: 'agents-table' }) : el('p', { class: 'muted' }, 'No agent has enrolled.'));
}

/* The risk register's columns worth a glance (GET /v1/risks has more: see the CLI). */
const RISK_COLUMNS = ['id', 'system', 'owner', 'description', 'likelihood', 'severity',
	'status', 'mitigation', 'eta', 'updated'];

/* The risks API may not exist on this controller: a 404 says so. */
async function pageRisks(root, gen) {
	let d;
	try {
		d = await api('GET', '/v1/risks');
	} catch (e) {
		if (e.status !== 404)
			throw e;
		if (gen === generation)
			root.replaceChildren(el('h1', null, 'Risks'), el('p', { id: 'risks-none',
			    class: 'muted' }, 'risks: not available on this controller'));
		return;
	}
	if (gen !== generation)
		return;
	const rows = Array.isArray(d) ? d : (d.risks || Object.values(d).find(Array.isArray) || []);
	let cols = RISK_COLUMNS.filter((k) => rows.some((r) => k in r));
	if (cols.length < 3) {
		cols = [];
		for (const r of rows)
			for (const k of Object.keys(r))
				if (!cols.includes(k) && cols.length < 10)
					cols.push(k);
	}
	root.replaceChildren(el('h1', null, 'Risks'),
	    rows.length ? table(cols.map((k) => [k.replace(/_/g, ' '), (r) =>
		/^\d{4}-\d\d-\d\dT/.test(r[k]) ? fmtTime(r[k]) : compact(r[k]),
		'wrap']), rows, { id: 'risks-table' }) :
		el('p', { class: 'muted', id: 'risks-empty' }, 'No risks are recorded.'));
}

/*
 * The newest rows, newest last.  The API pages oldest first, so the first visit reads on
 * from the start (in bigger pages once it is catching up) and later visits only what is
 * new (auditCache).
 */
async function pageAudit(root, gen) {
	let limit = AUDIT_ROWS;

	for (let n = 0; n < 1000 && gen === generation; n++) {
		const page = await api('GET', '/v1/audit?limit=' + limit + '&after=' +
		    auditCache.after);
		const rows = page.rows || [];

		auditCache.rows.push(...rows);
		auditCache.rows.splice(0, Math.max(0, auditCache.rows.length - AUDIT_ROWS));
		if (rows.length)
			auditCache.after = rows[rows.length - 1].seq;
		if (rows.length < limit)
			break;
		limit = 1000;
	}
	if (gen !== generation)
		return;
	const refresh = el('button', { id: 'audit-refresh', type: 'button',
	    onclick: () => render() }, 'Refresh');
	root.replaceChildren(el('div', { class: 'row' }, el('h1', null, 'Audit'), refresh),
	    el('p', { class: 'muted' }, 'The last ' + AUDIT_ROWS + ' rows of the hash-chained ' +
		'audit log, newest last.'),
	    table([
		['Seq', (a) => String(a.seq)],
		['Time', (a) => fmtTime(a.time)],
		['Actor', (a) => a.actor],
		['Action', (a) => el('code', null, a.action)],
		['Object', (a) => a.object || ''],
		['Details', (a) => el('code', null, compact(a.details)), 'wrap'],
	    ], auditCache.rows, { id: 'audit-table' }));
	window.scrollTo(0, document.body.scrollHeight);
}

async function pageRehearsal(root, id, gen) {
	const d = await api('GET', '/v1/runs?limit=100');
	if (gen !== generation)
		return;
	const runs = d.runs || [];
	const active = runs.find((r) => r.state === 'running') ||
	    runs.find((r) => ACTIVE.includes(r.state));
	const cur = id || (active ? active.id : runs.length ? runs[0].id : '');
	const select = el('select', { id: 'rh-run' }, runs.map((r) => el('option',
	    { value: r.id, selected: r.id === cur }, r.id + ' ' + r.playbook + ' (' + r.state +
		')')));
	select.addEventListener('change', () => {
		location.hash = '#/rehearsal/' + encodeURIComponent(select.value);
	});
	const info = el('div', { id: 'rh-info' });
	const result = el('p', { id: 'rh-result', hidden: true });
	const stepInput = el('input', { id: 'rh-step', type: 'number', min: 1, max: 100,
	    placeholder: 'N' });
	const post = async (body) => {
		result.hidden = true;
		if (!select.value) {
			result.className = 'error';
			result.textContent = 'No run to acknowledge.';
			result.hidden = false;
			return;
		}
		try {
			const rh = await api('POST', '/v1/runs/' + encodeURIComponent(select.value) +
			    '/rehearsal', body);
			result.className = '';
			result.textContent = 'Recorded: ' + compact(body) + '.';
			showRehearsal(info, rh, post);
		} catch (e) {
			result.className = 'error';
			result.textContent = 'Not recorded: ' + errorText(e);
		}
		result.hidden = false;
	};
	const form = el('form', { id: 'rh-form', class: 'card' },
	    el('label', null, 'Run ', select),
	    el('div', { class: 'row' },
		el('button', { id: 'rh-detected', type: 'button', class: 'primary',
		    onclick: () => post({ ack: 'detected' }) }, 'Detected'),
		el('button', { id: 'rh-recovered', type: 'button', class: 'primary',
		    onclick: () => post({ ack: 'recovered' }) }, 'Recovered'),
		el('span', { class: 'muted' }, 'or recovery-plan step'), stepInput,
		el('button', { id: 'rh-step-done', type: 'submit' }, 'Step done')),
	    result);
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		post({ step: Number(stepInput.value) });
	});
	root.replaceChildren(el('h1', null, 'Rehearsal acknowledgements'),
	    el('p', { class: 'muted' }, 'For a run that rehearses a recovery plan: say when the ' +
		'team detected the problem, tick the plan\'s steps, and say when it recovered ' +
		'(that ends the exercise: the fault is taken back). Needs the operator role.'),
	    form, info);
	if (!cur) {
		info.replaceChildren(el('p', { class: 'muted' }, 'No runs yet.'));
		return;
	}
	try {
		const run = await api('GET', '/v1/runs/' + encodeURIComponent(cur));
		if (gen !== generation)
			return;
		showRehearsal(info, run.rehearsal, post);
	} catch (e) {
		showError(info, e);
	}
}

function showRehearsal(box, rh, post) {
	if (!rh) {
		box.replaceChildren(el('p', { class: 'muted', id: 'rh-none' }, 'This run has no ' +
		    'rehearsal (yet: one starts when the faults of a playbook with a rehearsal are ' +
		    'in place).'));
		return;
	}
	const secs = (ms) => (typeof ms === 'number' ? (ms / 1000).toFixed(1) + ' s' : '—');
	box.replaceChildren(el('section', { class: 'card' }, kv([
		['Faults in place', fmtTime(rh.fault_at)],
		['Paged', fmtTime(rh.paged_at)],
		['Detected', fmtTime(rh.detected_at) + (rh.detected_by ? ' by ' + rh.detected_by : '')],
		['Time to detect', secs(rh.time_to_detect_ms) + ' (within ' +
		    secs(rh.detect_within_ms) + ')'],
		['Recovered', fmtTime(rh.recovered_at) + (rh.recovered_by ? ' by ' + rh.recovered_by :
		    '')],
		['Time to recover', secs(rh.time_to_recover_ms) + ' (within ' +
		    secs(rh.recover_within_ms) + ')'],
		['Probes recovered', secs(rh.time_to_recover_probes_ms)],
		['Outcome', (rh.outcome || '—') + (rh.missed ? ' (missed)' : '')],
	    ])),
	    (rh.steps || []).length ? table([
		['Step', (s) => String(s.step)],
		['What', (s) => s.text, 'wrap'],
		['Done', (s) => s.done_at ? fmtTime(s.done_at) + ' by ' + (s.done_by || '?') :
		    el('button', { type: 'button', class: 'rh-step-btn',
			onclick: () => post({ step: s.step }) }, 'Done')],
	    ], rh.steps, { id: 'rh-steps' }) : null);
}

/* ---- routing ---- */

function setLive(fn, ms) {
	stopLive();
	liveFn = fn;
	liveTimer = setInterval(fn, ms);
}

function stopLive() {
	if (liveTimer)
		clearInterval(liveTimer);
	liveTimer = null;
	liveFn = null;
}

/* Refreshes the page now, if it is a live one. */
function tick() {
	if (liveFn)
		liveFn();
}

async function render() {
	const gen = ++generation;
	const root = $('page');
	const signedIn = !!token();
	const parts = location.hash.replace(/^#\/?/, '').split('/');
	let page = parts[0] || 'runs';
	const arg = parts[1] ? decodeURIComponent(parts[1]) : null;

	stopLive();
	delete root.dataset.login;
	if (!signedIn)
		page = 'login';
	for (const a of document.querySelectorAll('#nav a'))
		a.classList.toggle('active', a.dataset.page === page);
	$('nav').hidden = !signedIn;
	$('logout').hidden = !signedIn;
	$('session').textContent = signedIn ? 'signed in' : '';
	try {
		switch (page) {
		case 'login':
			pageLogin(root);
			break;
		case 'runs':
			await pageRuns(root, arg, gen);
			break;
		case 'schedule':
			await pageSchedule(root, gen);
			break;
		case 'agents':
			await pageAgents(root, gen);
			break;
		case 'risks':
			await pageRisks(root, gen);
			break;
		case 'audit':
			await pageAudit(root, gen);
			break;
		case 'rehearsal':
			await pageRehearsal(root, arg, gen);
			break;
		default:
			root.replaceChildren(el('p', { class: 'error' }, 'No such page.'));
		}
	} catch (e) {
		if (gen === generation)
			showError(root, e);
	}
	if (gen === generation)
		document.body.dataset.page = page;
}

function start() {
	$('halt').addEventListener('click', () => openHalt(null));
	$('halt-form').addEventListener('submit', submitHalt);
	$('halt-cancel').addEventListener('click', () => $('halt-dialog').close());
	$('logout').addEventListener('click', () => logout(''));
	window.addEventListener('hashchange', () => {
		flash('');
		render();
	});
	bannerTimer = setInterval(refreshBanner, BANNER_MS);
	refreshBanner();
	render();
}

start();
