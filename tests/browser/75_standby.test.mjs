// tests/browser/75_standby.test.mjs — the page opened on the standby of an active/standby pair
// (test_browser.sh starts one beside the active instance, SYNCD_STANDBY_URL): the page loads,
// the alert (a live region) says in Vietnamese that this server is the standby and to open the
// usual address; the same alert after "Thử lại"; signing in there is refused with the same
// words, never half-done; axe finds nothing on the screen.
import { readFile } from 'node:fs/promises';
import { assert, axe, newPage, shot, test } from './lib.mjs';

const vi = JSON.parse(await readFile(new URL('../../syncd/api/web/i18n/vi.json', import.meta.url), 'utf8'));
const standbyUrl = (process.env.SYNCD_STANDBY_URL || '').replace(/\/+$/, '');
const standbyText = vi['err.standby'].replace('{it}', vi['who.it']);

async function alertText(page) {
	const alert = page.locator('[data-testid=alert]');
	await alert.waitFor();
	const live = await alert.evaluate((el) => el.getAttribute('aria-live') || (el.getAttribute('role') === 'alert' ? 'assertive' : ''));
	assert(live, 'the message is not in a live region (role=alert or aria-live)');
	return (await alert.innerText()).trim();
}

test('standby: the page on the standby says so in Vietnamese and where to go; signing in there is refused with the same words', async (browser) => {
	assert(standbyUrl, 'SYNCD_STANDBY_URL is not set (tests/integration/test_browser.sh starts the standby)');
	const page = await newPage(browser);
	await page.goto(`${standbyUrl}/`);
	let text = await alertText(page);
	assert(text.includes(standbyText), `alert: "${text}"; expected "${standbyText}"`);
	assert(!/standby|active instance/i.test(text), `English or internal words in the alert: "${text}"`);
	const tools = (await page.locator('#tools').innerText()).trim();
	assert(!/null|undefined/.test(tools), `the header's tools show "${tools}"`);
	await shot(page, '75_standby');
	const v = await axe(page);
	assert(v.length === 0, `axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
	// signing in on the standby: the same message, no session
	await page.goto(`${standbyUrl}/#/signin`);
	await page.fill('[data-testid=signin-user]', 'an.nguyen');
	await page.fill('[data-testid=signin-password]', 'demo-pw-registrar');
	await Promise.all([page.waitForResponse((r) => r.url().endsWith('/v1/session')), page.click('[data-testid=signin-submit]')]);
	text = await alertText(page);
	assert(text.includes(standbyText), `sign-in on the standby: "${text}"`);
	await shot(page, '75_standby_signin');
	await page.context().close();
});
