// tests/browser/40_admin.test.mjs — a city admin names a unit's chair and finds a person's
// roles across units.
import { assert, axe, env, newPage, shot, signIn, test } from './lib.mjs';

async function axeClean(page, screen) {
	const v = await axe(page);
	assert(v.length === 0, `${screen}: axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
}

test('admin: sees the unit chair, names a chair of another unit, and finds that person\'s roles', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.admin);
	await page.click('[data-testid=nav-admin]');
	await page.waitForSelector('[data-testid=admin-unit]');
	await page.selectOption('[data-testid=admin-unit]', env.unit);
	await page.waitForFunction((u) => location.hash.includes(`unit=${u}`), env.unit);
	await page.waitForSelector(`[data-testid="grant-row-${env.personas.chair.uid}-unit_chair"]`);
	await axeClean(page, 'admin');
	await shot(page, 'admin');

	const other = await page.locator('[data-testid=admin-unit] option').evaluateAll((os, u) => os.map((o) => o.value).find((v) => v && v !== u), env.unit);
	assert(other, 'the admin can pick only one unit');
	await page.selectOption('[data-testid=admin-unit]', other);
	await page.waitForFunction((u) => location.hash.includes(`unit=${u}`), other);
	await page.waitForSelector('[data-testid=admin-submit]');
	const uid = env.personas.registrar.uid;
	await page.fill('[data-testid=admin-chair]', uid);
	await page.click('[data-testid=admin-submit]');
	await page.waitForSelector(`[data-testid="grant-row-${uid}-unit_chair"]`);
	const status = await page.locator('[data-testid=status]').innerText();
	assert(status.includes('Đã giao quyền Chủ tịch UBND'), `status: ${status}`);

	await page.click('[data-testid=nav-admin-person]');
	await page.fill('[data-testid=person-user]', uid);
	await page.click('[data-testid=person-submit]');
	const rowSel = `[data-testid="grant-row-${uid}-unit_chair"]`;
	await page.waitForSelector(rowSel);
	const rowText = await page.locator(rowSel).first().innerText();
	assert(rowText.includes(other) && rowText.includes('Chủ tịch UBND'), `the person's roles: ${rowText}`);
	await axeClean(page, 'admin person');
	await shot(page, 'admin-person');
});
