// tests/browser/20_denied.test.mjs — refusals a person can act on: a wrong password, and a person
// without a role in the unit who opens one of its records (the message names the unit and whom to ask).
import { assert, axe, env, newPage, shot, signIn, test } from './lib.mjs';

async function axeClean(page, screen) {
	const v = await axe(page);
	assert(v.length === 0, `${screen}: axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
}

test('denied: a wrong password says so in Vietnamese and what to do', async (browser) => {
	const page = await newPage(browser);
	await page.goto(`${env.url}/#/signin`);
	await page.fill('[data-testid=signin-user]', env.personas.official.uid);
	await page.fill('[data-testid=signin-password]', 'not-the-password');
	await page.click('[data-testid=signin-submit]');
	const alert = page.locator('[data-testid=alert]');
	await alert.waitFor();
	const msg = await alert.innerText();
	assert(msg.includes('Tên đăng nhập hoặc mật khẩu không đúng'), `message: ${msg}`);
	assert(msg.includes('liên hệ'), `the message does not say whom to ask: ${msg}`);
	assert((await page.inputValue('[data-testid=signin-password]')) === '', 'the wrong password stays in the field');
	await axeClean(page, 'sign-in error');
	await shot(page, 'signin-error');
});

test('denied: a person with no role in the unit opens its record — the message names the unit and the chair to ask', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.registrar);
	const home = await page.locator('[data-testid=home]').innerText();
	assert(home.includes('chưa được giao quyền'), `home of a person without roles: ${home.slice(0, 300)}`);
	assert((await page.locator('[data-testid=nav-search]').count()) === 0, 'a person without roles sees the search link');
	await page.goto(`${env.url}/#/record/civil/public.khai_sinh/1?unit=${env.unit}`);
	const alert = page.locator('[data-testid=alert]');
	await alert.waitFor();
	const msg = await alert.innerText();
	const want = `Bạn chưa được giao quyền xem hồ sơ hộ tịch tại ${env.unitName}.`;
	assert(msg.includes(want), `message: ${msg} (wanted: ${want})`);
	assert(/Liên hệ Chủ tịch UBND (phường|xã|thị trấn|đơn vị) để được giao quyền\./.test(msg), `the message does not say whom to ask: ${msg}`);
	assert((await page.locator('[data-testid^=issue-]').count()) === 0, 'issue buttons shown to a person without the role');
	await axeClean(page, 'denied');
	await shot(page, 'denied');
});

test('denied: an official has no chair or audit screen, and the page says why', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.official);
	assert((await page.locator('[data-testid=nav-chair]').count()) === 0, 'an official sees the chair link');
	assert((await page.locator('[data-testid=nav-audit]').count()) === 0, 'an official sees the audit link');
	await page.goto(`${env.url}/#/chair`);
	await page.waitForSelector('[data-testid=chair]');
	const msg = await page.locator('[data-testid=chair]').innerText();
	assert(msg.includes('Bạn không có quyền giao quyền tại đơn vị nào.'), `chair screen of an official: ${msg}`);
	assert((await page.locator('[data-testid=grant-submit]').count()) === 0, 'an official sees the grant form');
});
