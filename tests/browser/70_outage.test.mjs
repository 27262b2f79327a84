// tests/browser/70_outage.test.mjs — the directory (slapd) goes down while an official works: the
// API answers 503 directory_unavailable, the page says so in Vietnamese and that the unit's copy is
// intact (in the alert, a live region); the directory back, the same actions work again without a
// restart of syncd.  test_browser.sh stops and restarts slapd for it (env.directory); the test
// leaves the directory running whatever happens.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { assert, axe, env, newPage, shot, signIn, test } from './lib.mjs';

async function axeClean(page, screen) {
	const v = await axe(page);
	assert(v.length === 0, `${screen}: axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
}

const vi = JSON.parse(await readFile(new URL('../../syncd/api/web/i18n/vi.json', import.meta.url), 'utf8'));

// The catalogue's message for a directory that cannot be reached, as the page fills it in.
const directoryDown = (unitName) => vi['err.directory_unavailable'].replace('{unit}', unitName).replace('{it}', vi['who.it']);

function directory(what) {
	const script = env.directory[what];
	assert(script, `no script to ${what} the directory (tests/integration/test_browser.sh sets SYNCD_${what.toUpperCase()}_DIRECTORY)`);
	try {
		execFileSync(script, [], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 45000 });
	} catch (err) {
		throw new Error(`${what} the directory: ${(err.stderr && String(err.stderr).trim()) || err.message}`);
	}
}

// What GET /v1/session and a search answer, from inside the page (its cookie, its CSRF token).
function apiNow(page, csrf) {
	return page.evaluate(async ({ unit, csrf }) => {
		const s = await fetch('/v1/session', { credentials: 'same-origin' });
		const q = await fetch('/v1/records/search', {
			method: 'POST',
			credentials: 'same-origin',
			headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
			body: JSON.stringify({ unit, q: 'nguyen' }),
		});
		const error = async (r) => (r.ok ? '' : (await r.json()).error);
		return { session: `${s.status} ${await error(s)}`.trim(), search: `${q.status} ${await error(q)}`.trim() };
	}, { unit: env.unit, csrf });
}

async function alertShown(page) {
	const alert = page.locator('[data-testid=alert]');
	await alert.waitFor();
	const live = await alert.evaluate((el) => el.getAttribute('aria-live') || (el.getAttribute('role') === 'alert' ? 'assertive (role=alert)' : ''));
	assert(live, 'the message is not in a live region (role=alert or aria-live)');
	return (await alert.innerText()).trim();
}

async function search(page) {
	await Promise.all([page.waitForResponse((r) => r.url().endsWith('/v1/records/search')), page.click('[data-testid=search-submit]')]);
}

test('outage: the directory stops — search and home say so and that the unit\'s copy is intact; it starts again — both work, syncd not restarted', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.official);
	await page.click('[data-testid=nav-search]');
	await page.fill('[data-testid=search-q]', 'nguyen');
	await search(page);
	await page.waitForSelector('[data-testid=result-1], [data-testid=search-none]');
	const found = await page.locator('[data-testid=result-1]').count();
	const csrf = await page.evaluate(async () => (await (await fetch('/v1/session', { credentials: 'same-origin' })).json()).csrf);
	const want = directoryDown(env.unitName);

	let down = false;
	try {
		directory('stop');
		down = true;
		// a cached decision is trusted only within a second of the directory's last answer (docs/api.md)
		await page.waitForTimeout(1300);
		const answers = await apiNow(page, csrf);
		assert(answers.session === '503 directory_unavailable', `GET /v1/session with the directory down: ${answers.session}`);
		assert(answers.search === '503 directory_unavailable', `a search with the directory down: ${answers.search}`);

		// the next search: the unit's own message, in the alert
		await search(page);
		let msg = await alertShown(page);
		assert(msg === want, `search, directory down: "${msg}" (wanted "${want}")`);
		assert(msg.includes('không truy cập được') && msg.includes(`Dữ liệu của ${env.unitName} vẫn nguyên vẹn`), `the message: ${msg}`);
		await axeClean(page, 'search, directory down');
		await shot(page, 'outage-search');

		// the next screen (home needs GET /v1/session): the same message, and a way to try again
		await page.click('[data-testid=nav-home]');
		await page.waitForSelector('[data-testid=unavailable]');
		msg = await alertShown(page);
		assert(msg === want, `home, directory down: "${msg}" (wanted "${want}")`);
		const h1 = (await page.locator('h1').innerText()).trim();
		assert(h1 === vi['unavailable.title'], `h1: ${h1}`);
		assert((await page.locator('[data-testid=retry]').innerText()).trim() === vi['unavailable.retry'], 'no "Thử lại" button');
		assert((await page.locator('[data-testid=signout]').count()) === 1, 'the page forgot the person is signed in');
		await axeClean(page, 'home, directory down');
		await shot(page, 'outage-home');

		directory('start');
		down = false;
	} finally {
		if (down) directory('start');
	}

	// the same actions again, on the same page and session: syncd was not restarted
	await page.click('[data-testid=retry]');
	await page.waitForSelector('[data-testid=home]');
	assert(await page.locator('[data-testid=alert]').isHidden(), `home, directory back: the alert stays: ${await page.locator('[data-testid=alert]').innerText()}`);
	const home = await page.locator('[data-testid=home]').innerText();
	assert(home.includes(env.unitName) && home.includes('Công chức tư pháp - hộ tịch'), `home, directory back: ${home.slice(0, 300)}`);
	const answers = await apiNow(page, csrf);
	assert(answers.session === '200' && answers.search === '200', `directory back: GET /v1/session ${answers.session}, search ${answers.search}`);
	await page.click('[data-testid=nav-search]');
	await page.fill('[data-testid=search-q]', 'nguyen');
	await search(page);
	await page.waitForSelector('[data-testid=result-1], [data-testid=search-none]');
	assert((await page.locator('[data-testid=result-1]').count()) === found, 'the search finds something else after the outage');
	assert(await page.locator('[data-testid=alert]').isHidden(), 'search, directory back: the alert stays');
});
