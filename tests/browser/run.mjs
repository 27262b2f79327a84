// tests/browser/run.mjs — runs every tests/browser/*.test.mjs in name order in one browser,
// printing "ok   - NAME" / "not ok - NAME: DETAIL" and a closing "N passed, N failed".
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { closeBrowser, envMissing, launch, shot, tests } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const limit = Number(process.env.BROWSER_TEST_TIMEOUT || 60) * 1000;
let passed = 0;
let failed = 0;

function fail(name, err) {
	failed++;
	const text = err instanceof Error ? err.message : String(err);
	const lines = text.split('\n').filter((l) => l.trim() !== '');
	console.log(`not ok - ${name}: ${lines[0] || 'failed'}`);
	for (const l of lines.slice(1, 12)) console.log(`    ${l}`);
}

function withTimeout(promise) {
	let timer;
	const timeout = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out after ${limit / 1000} s`)), limit);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The pages a failed test left open are kept as build/screenshots/FAILED-*.png, then every
// context is closed, so each test starts from a browser with no cookies.
async function cleanUp(browser, name, ok) {
	let n = 0;
	for (const context of browser.contexts()) {
		for (const page of context.pages()) {
			if (!ok) await shot(page, `FAILED-${name.replace(/[^A-Za-z0-9_-]+/g, '_')}-${n++}`).catch(() => {});
		}
		await context.close().catch(() => {});
	}
}

async function main() {
	const missing = envMissing();
	if (missing.length) {
		fail('environment', `unset: ${missing.join(', ')} (tests/integration/test_browser.sh sets them)`);
		return;
	}
	const files = (await readdir(here)).filter((f) => f.endsWith('.test.mjs')).sort();
	for (const f of files) {
		try {
			await import(pathToFileURL(join(here, f)).href);
		} catch (err) {
			fail(f, err);
		}
	}
	let browser;
	try {
		browser = await launch();
	} catch (err) {
		fail('chromium starts', err);
		return;
	}
	for (const t of tests) {
		let ok = true;
		try {
			await withTimeout(Promise.resolve().then(() => t.fn(browser)));
			passed++;
			console.log(`ok   - ${t.name}`);
		} catch (err) {
			ok = false;
			fail(t.name, err);
		}
		await cleanUp(browser, t.name, ok);
	}
}

try {
	await main();
} catch (err) {
	fail('run.mjs', err);
}
await closeBrowser().catch(() => {});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
