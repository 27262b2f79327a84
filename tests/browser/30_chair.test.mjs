// tests/browser/30_chair.test.mjs — a chair delegates a registrar and revokes them (with a
// confirmation); the registrar's page changes on its next request.
import { assert, axe, env, newPage, shot, signIn, test } from './lib.mjs';

async function axeClean(page, screen) {
	const v = await axe(page);
	assert(v.length === 0, `${screen}: axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
}

test('chair: delegates civil_registrar, the registrar gets search; revokes after a confirmation, the registrar loses it', async (browser) => {
	const reg = env.personas.registrar.uid;
	const row = `[data-testid="grant-row-${reg}-civil_registrar"]`;
	const chair = await newPage(browser);
	await signIn(chair, env.personas.chair);
	assert((await chair.locator('[data-testid=home]').innerText()).includes('Chủ tịch UBND'), 'the chair role is not named');
	await chair.click('[data-testid=nav-chair]');
	await chair.waitForSelector('[data-testid=grant-submit]');
	const roles = await chair.locator('[data-testid=grant-role] option').evaluateAll((os) => os.map((o) => o.value));
	assert(roles.includes('civil_registrar') && !roles.includes('unit_auditor') && !roles.includes('unit_chair'), `a chair is offered ${roles}`);
	await chair.fill('[data-testid=grant-grantee]', reg);
	await chair.selectOption('[data-testid=grant-role]', 'civil_registrar');
	await chair.click('[data-testid=grant-submit]');
	await chair.waitForSelector(row);
	const status = await chair.locator('[data-testid=status]').innerText();
	assert(status.includes('Đã giao quyền') && status.includes(env.unitName), `status after granting: ${status}`);
	await axeClean(chair, 'chair');
	await shot(chair, 'chair');

	const registrar = await newPage(browser);
	await signIn(registrar, env.personas.registrar);
	const home = await registrar.locator('[data-testid=home]').innerText();
	assert(home.includes('Công chức tư pháp - hộ tịch') && home.includes(env.unitName), `the registrar's home after the grant: ${home.slice(0, 300)}`);
	assert((await registrar.locator('[data-testid=nav-search]').count()) === 1, 'the registrar has no search link after the grant');

	await chair.click(`[data-testid="revoke-${reg}-civil_registrar"]`);
	await chair.waitForSelector('[data-testid=confirm-dialog]');
	assert(await chair.evaluate(() => document.activeElement.dataset.testid === 'confirm-no'), 'the dialog does not take the focus');
	await axeClean(chair, 'revoke confirmation');
	await shot(chair, 'chair-confirm');
	await chair.keyboard.press('Escape');
	await chair.waitForSelector('[data-testid=confirm-dialog]', { state: 'detached' });
	assert((await chair.locator(row).count()) === 1, 'Escape revoked the grant');
	await chair.click(`[data-testid="revoke-${reg}-civil_registrar"]`);
	await chair.click('[data-testid=confirm-yes]');
	await chair.waitForSelector(row, { state: 'detached' });
	const after = await chair.locator('[data-testid=status]').innerText();
	assert(after.includes('Đã thu hồi'), `status after revoking: ${after}`);

	await registrar.click('[data-testid=nav-home]');
	await registrar.waitForFunction(() => !document.querySelector('[data-testid=nav-search]'));
	await registrar.waitForFunction(() => !document.querySelector('[data-testid=home]').innerText.includes('Công chức tư pháp - hộ tịch'));
	const home2 = await registrar.locator('[data-testid=home]').innerText();
	assert(home2.includes('chưa được giao quyền'), `the registrar's home after the revocation: ${home2.slice(0, 300)}`);
	await shot(registrar, 'registrar-revoked');
});

test('chair: a user name the directory does not know, or the chair themself, is refused with what to do', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.chair);
	await page.click('[data-testid=nav-chair]');
	await page.waitForSelector('[data-testid=grant-submit]');
	await page.fill('[data-testid=grant-grantee]', 'khong.co.ai');
	await page.click('[data-testid=grant-submit]');
	const alert = page.locator('[data-testid=alert]');
	await alert.waitFor();
	let msg = await alert.innerText();
	assert(msg.includes('Không tìm thấy người có tên đăng nhập "khong.co.ai" trong danh bạ'), `unknown user: ${msg}`);
	await page.fill('[data-testid=grant-grantee]', env.personas.chair.uid);
	await page.click('[data-testid=grant-submit]');
	await page.waitForFunction(() => document.querySelector('[data-testid=alert]').textContent.includes('chính mình'));
	msg = await alert.innerText();
	assert(msg.includes('Không ai được tự giao quyền cho chính mình'), `self grant: ${msg}`);
	await axeClean(page, 'chair error');
	await shot(page, 'chair-error');
});
