// tests/browser/lib.mjs — what every browser test shares: the city and its personas (from
// tests/integration/test_browser.sh), Debian's chromium, axe-core, screenshots, QR decoding, test().
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const shotDir = join(root, 'build/screenshots');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

function persona(name) {
	const p = name.toUpperCase();
	return { uid: process.env[`SYNCD_${p}_UID`] || '', password: process.env[`SYNCD_${p}_PASSWORD`] || '' };
}

// The city test_browser.sh started: base URL (no trailing slash), the personas, the unit.
export const env = {
	url: (process.env.SYNCD_URL || '').replace(/\/+$/, ''),
	personas: {
		official: persona('official'),
		chair: persona('chair'),
		admin: persona('admin'),
		auditor: persona('auditor'),
		registrar: persona('registrar'),
		deputy: persona('deputy'),
	},
	unit: process.env.SYNCD_UNIT || '',
	unitName: process.env.SYNCD_UNIT_NAME || '',
	// Two scripts test_browser.sh writes (70_outage runs them, and fails without them): each asks
	// the test shell, which owns slapd, to stop or restart the directory, and exits 0 once it has.
	directory: {
		stop: process.env.SYNCD_STOP_DIRECTORY || '',
		start: process.env.SYNCD_START_DIRECTORY || '',
	},
};

// What env lacks, for run.mjs to refuse with before any test runs.
export function envMissing() {
	const missing = [];
	if (!env.url) missing.push('SYNCD_URL');
	if (!env.unit) missing.push('SYNCD_UNIT');
	if (!env.unitName) missing.push('SYNCD_UNIT_NAME');
	for (const [name, p] of Object.entries(env.personas)) {
		if (!p.uid || !p.password) missing.push(`SYNCD_${name.toUpperCase()}_UID/_PASSWORD`);
	}
	return missing;
}

// ---------------------------------------------------------------- the browser

let shared = null;

// Headless Debian chromium (no browser of Playwright's own); one for the whole run:
// every call returns the same Browser until closeBrowser().
export async function launch() {
	if (!shared) {
		shared = await chromium.launch({
			executablePath: chromiumPath,
			headless: true,
			args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
		});
	}
	return shared;
}

export async function closeBrowser() {
	if (shared) await shared.close();
	shared = null;
}

// A page in a fresh context (no cookies, no localStorage): an office screen, Vietnamese locale.
export async function newPage(browser) {
	const context = await browser.newContext({
		viewport: { width: 1366, height: 768 },
		locale: 'vi-VN',
		timezoneId: 'Asia/Ho_Chi_Minh',
	});
	context.setDefaultTimeout(15000);
	return context.newPage();
}

export async function signIn(page, persona) {
	await page.goto(`${env.url}/#/signin`);
	await page.fill('[data-testid=signin-user]', persona.uid);
	await page.fill('[data-testid=signin-password]', persona.password);
	await page.click('[data-testid=signin-submit]');
	await page.waitForSelector('[data-testid=home]');
}

// ---------------------------------------------------------------- checks

const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const axeTags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

// axe-core's violations of WCAG 2.2 AA on the page as it is now ([] when none).  The
// script is evaluated over the DevTools protocol, so the page's CSP stays in force.
export async function axe(page) {
	if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
	return page.evaluate(
		async (tags) => (await window.axe.run(document, { runOnly: { type: 'tag', values: tags } })).violations,
		axeTags,
	);
}

// Saves build/screenshots/NAME.png (the whole page) and returns its path.
export async function shot(page, name) {
	await mkdir(shotDir, { recursive: true });
	const path = join(shotDir, `${name}.png`);
	await page.screenshot({ path, fullPage: true });
	return path;
}

function run(cmd, args) {
	return new Promise((done, fail) => {
		execFile(cmd, args, (err, stdout, stderr) => {
			if (err) fail(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
			else done(stdout);
		});
	});
}

// The text of the QR code in SELECTOR: a screenshot of the element with a white margin
// (the quiet zone a scanner needs), decoded by zbarimg.
export async function decodeQr(page, selector) {
	const el = page.locator(selector).first();
	await el.scrollIntoViewIfNeeded();
	const box = await el.boundingBox();
	if (!box) throw new Error(`decodeQr: ${selector} is not visible`);
	const dir = await mkdtemp(join(tmpdir(), 'syncd-qr-'));
	const path = join(dir, 'qr.png');
	try {
		await el.evaluate((node) => {
			node.style.setProperty('outline', '24px solid #fff');
			node.style.setProperty('background', '#fff');
		});
		const m = 24;
		await page.screenshot({
			path,
			clip: { x: Math.max(0, box.x - m), y: Math.max(0, box.y - m), width: box.width + 2 * m, height: box.height + 2 * m },
		});
		return (await run('zbarimg', ['--raw', '-q', path])).trim();
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

// ---------------------------------------------------------------- tests

export const tests = [];

// Registers a check; run.mjs runs them in registration (file name) order.
export function test(name, fn) {
	tests.push({ name, fn });
}

export function assert(cond, detail) {
	if (!cond) throw new Error(detail || 'assertion failed');
}
