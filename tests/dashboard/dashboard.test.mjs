// The dashboard in Debian's headless Chromium (docs/dashboard.md), driven by playwright-core.
// tests/controller/test_dashboard.c starts gamedayd and a run that stays running, then runs
// this with, in its environment:
//   GD_URL     the controller (http://127.0.0.1:PORT)
//   GD_TOKEN   a viewer's token
//   GD_RUN_ID  the running run
//   GD_SHOTS   the directory for the screenshots (kept; their paths are printed)
// Steps: a wrong token is refused; log in; the runs page lists the run; open it and see its
// timeline (SVG, with probe samples, growing); visit schedule, agents, risks, audit and
// rehearsal, a screenshot of each; press HALT, confirm, see the run halted.  Throughout:
// no uncaught error, no CSP violation, no request anywhere but the controller.
// Exits 0 when every step passed, 1 otherwise (the failing step is printed).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
	const v = process.env[k];
	if (!v) {
		console.error(`dashboard.test: ${k} is not set (run through ctl_test_dashboard)`);
		process.exit(2);
	}
	return v;
};
const base = env('GD_URL');
const token = env('GD_TOKEN');
const runId = env('GD_RUN_ID');
const shots = env('GD_SHOTS');
const WAIT = 20000;

mkdirSync(shots, { recursive: true });
const problems = [];
const trail = [];	// What the page did, printed when a step fails.
const saved = [];
const t0 = Date.now();
let passed = 0;

function log(msg) {
	console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

async function step(name, fn) {
	log(`step: ${name}`);
	await fn();
	passed++;
}

async function shot(page, name) {
	const file = path.join(shots, `${name}.png`);
	await page.screenshot({ path: file, fullPage: true });
	saved.push(file);
	log(`screenshot: ${file}`);
}

function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync',
		'--disable-dev-shm-usage'],
});
let failed = false;
try {
	const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
	const origin = new URL(base).origin;
	// Nothing but the controller: anything else is refused and counted.
	await context.route('**/*', (route) => {
		const u = route.request().url();
		if (u.startsWith(origin + '/') || u.startsWith('data:'))
			return route.continue();
		problems.push(`request outside the controller: ${u}`);
		return route.abort();
	});
	const page = await context.newPage();
	page.setDefaultTimeout(WAIT);
	page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
	page.on('requestfailed', (q) => trail.push(`request failed: ${q.method()} ${q.url()}: ` +
	    `${q.failure()?.errorText}`));
	page.on('response', (res) => {
		if (res.status() >= 400)
			trail.push(`${res.status()} ${res.request().method()} ${res.url()}`);
	});
	page.on('console', (m) => {
		const t = m.text();
		trail.push(`console ${m.type()}: ${t}`);
		// A 4xx the page shows on purpose (401 at login, 403, 404 for risks) logs
		// "Failed to load resource"; only script errors and CSP refusals count.
		if (/Content Security Policy|Refused to/i.test(t) ||
		    (m.type() === 'error' && !/Failed to load resource/.test(t)))
			problems.push(`console ${m.type()}: ${t}`);
	});

	await step('open the dashboard: the login form, HALT on it too', async () => {
		await page.goto(base + '/');
		await page.waitForSelector('#login-form');
		assert(await page.isVisible('#halt'), 'no HALT button on the login page');
		await shot(page, '01-login');
	});

	await step('a wrong token is refused', async () => {
		await page.fill('#token', 'gdu_' + '0'.repeat(64));
		await page.click('#login-submit');
		await page.waitForSelector('#login-error:not([hidden])');
		const t = await page.textContent('#login-error');
		assert(/not accepted/.test(t), `login error says: ${t}`);
	});

	await step('log in with the viewer token', async () => {
		await page.fill('#token', token);
		await page.click('#login-submit');
		await page.waitForSelector(`#runs-table a[href="#/runs/${runId}"]`);
		assert(await page.evaluate(() => sessionStorage.length === 1),
		    'the token is not in sessionStorage');
	});

	await step('the runs page lists the run; open it: its timeline is drawn, live',
	    async () => {
		await page.click(`#runs-table a[href="#/runs/${runId}"]`);
		await page.waitForFunction((id) =>
			document.querySelector('#run-id')?.textContent === id &&
			document.querySelector('#run-state')?.textContent === 'running', runId);
		await page.waitForSelector('svg#timeline');
		// Probe samples arrive every 250 ms; the page refreshes every 2 s.
		await page.waitForFunction(() =>
			Number(document.querySelector('svg#timeline')?.dataset.samples) > 0);
		const n0 = Number(await page.getAttribute('svg#timeline', 'data-samples'));
		await page.waitForFunction((n) =>
			Number(document.querySelector('svg#timeline')?.dataset.samples) > n, n0);
		assert(await page.locator('svg#timeline polyline').count() >= 1, 'no probe line');
		assert(await page.locator('svg#timeline line.threshold').count() >= 1,
		    'no SLA threshold drawn');
		assert(await page.locator('svg#timeline rect.band.applied').count() >= 1,
		    'the fault is not drawn as applied');
		assert(await page.locator('#events-table tbody tr').count() >= 3, 'too few events');
		await shot(page, '02-runs');
	});

	await step('schedule', async () => {
		await page.click('#nav a[data-page="schedule"]');
		await page.waitForSelector('body[data-page="schedule"]');
		await page.waitForSelector('#schedule-table');
		assert((await page.textContent('#schedule-table')).includes('dash-daily'),
		    'dash-daily is not on the schedule');
		await shot(page, '03-schedule');
	});

	await step('agents: the scripted agent is there', async () => {
		await page.click('#nav a[data-page="agents"]');
		await page.waitForSelector('#agents-table');
		assert((await page.textContent('#agents-table')).includes('web1'), 'no web1');
		await shot(page, '04-agents');
	});

	await step('risks (the table, or "not available on this controller")', async () => {
		await page.click('#nav a[data-page="risks"]');
		await page.waitForSelector('body[data-page="risks"]');
		await page.waitForSelector('#risks-table, #risks-none, #risks-empty');
		await shot(page, '05-risks');
	});

	await step('audit: newest last, the run\'s start in it', async () => {
		await page.click('#nav a[data-page="audit"]');
		await page.waitForSelector('#audit-table');
		const t = await page.textContent('#audit-table');
		assert(t.includes('run.start') || t.includes(runId), 'the run is not in the audit');
		const seqs = await page.$$eval('#audit-table tbody tr td:first-child',
		    (tds) => tds.map((td) => Number(td.textContent)));
		assert(seqs.length > 0 && seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
		    'audit rows are not oldest first');
		await shot(page, '06-audit');
	});

	await step('rehearsal: the form, and the API\'s answer shown', async () => {
		await page.click('#nav a[data-page="rehearsal"]');
		await page.waitForSelector('#rh-form');
		assert(await page.inputValue('#rh-run') === runId, 'the running run is not selected');
		await page.click('#rh-detected');
		await page.waitForSelector('#rh-result:not([hidden])');
		const t = await page.textContent('#rh-result');
		// This run has no rehearsal, and a viewer may not ack: either way an error.
		assert(/Not recorded: (403|404|405|409)/.test(t), `rehearsal result: ${t}`);
		await shot(page, '07-rehearsal');
	});

	await step('press HALT, confirm: the run is halted on the page', async () => {
		await page.click('#nav a[data-page="runs"]');
		await page.waitForSelector('#run-state');
		await page.click('#halt');
		await page.waitForSelector('#halt-dialog[open]');
		await page.fill('#halt-reason', 'dashboard test');
		await shot(page, '08-halt-dialog');
		await page.click('#halt-confirm');
		await page.waitForSelector('#flash:not([hidden])');
		const f = await page.textContent('#flash');
		assert(/HALT: 1 run halted/.test(f) && f.includes(runId), `after HALT: ${f}`);
		await page.waitForFunction(() =>
			document.querySelector('#run-state')?.textContent === 'halted', null,
			{ timeout: 30000 });
		await page.waitForSelector('#halt-banner:not([hidden])');
		assert(/HALT IN FORCE/.test(await page.textContent('#halt-banner')),
		    'no halt banner');
		await shot(page, '09-halted');
	});

	assert(problems.length === 0, `problems:\n  ${problems.join('\n  ')}`);
} catch (e) {
	failed = true;
	console.error(`dashboard.test: FAILED: ${e.message}`);
	for (const p of browser.contexts().flatMap((c) => c.pages())) {
		try {
			await shot(p, 'failed');
			console.error(`the page said: ${(await p.textContent('body')).slice(0, 3000)}`);
		} catch (e2) {
			console.error(`no screenshot of the failure: ${e2.message}`);
		}
	}
	if (trail.length)
		console.error(`the page's trail (last 40):\n  ${trail.slice(-40).join('\n  ')}`);
	if (problems.length)
		console.error(`also seen:\n  ${problems.join('\n  ')}`);
} finally {
	await browser.close();
}
console.log(`screenshots (${saved.length}) in ${shots}:`);
for (const f of saved)
	console.log(`  ${f}`);
console.log(`dashboard: ${passed} steps passed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
process.exit(failed ? 1 : 0);
