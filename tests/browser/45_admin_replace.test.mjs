// tests/browser/45_admin_replace.test.mjs — a city admin replaces a unit's chair: a confirmation
// says what ends (Escape changes nothing), the old chair's grant is revoked, and on their next
// request the old chair has lost the unit's chair screen while the new chair has it.
// In a unit of its own (the last of the list), so the chair of env.unit and the grants under them
// (the official's) stay as the other tests need them.
import { readFile } from 'node:fs/promises';
import { assert, axe, env, newPage, shot, signIn, test } from './lib.mjs';

async function axeClean(page, screen) {
	const v = await axe(page);
	assert(v.length === 0, `${screen}: axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
}

const vi = JSON.parse(await readFile(new URL('../../syncd/api/web/i18n/vi.json', import.meta.url), 'utf8'));
const fill = (s, vars) => s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));

// The units in which PAGE's person is chair now, as GET /v1/session says.
const chairOf = (page) => page.evaluate(async () => {
	const me = await (await fetch('/v1/session', { credentials: 'same-origin' })).json();
	return (me.units || []).filter((u) => (u.roles || []).some((r) => r.role === 'unit_chair')).map((u) => String(u.code).padStart(5, '0'));
});

test('admin: replaces a unit\'s chair after a confirmation — the old chair loses the chair screen, the new one gets it on the next request', async (browser) => {
	const oldUid = env.personas.registrar.uid;
	const newUid = env.personas.deputy.uid;
	const admin = await newPage(browser);
	await signIn(admin, env.personas.admin);
	await admin.click('[data-testid=nav-admin]');
	await admin.waitForSelector('[data-testid=admin-unit]');
	const unit = await admin.locator('[data-testid=admin-unit] option').evaluateAll((os, u) => os.map((o) => o.value).filter((v) => v && v !== u).pop(), env.unit);
	assert(unit, 'the admin can pick only one unit');
	const unitName = await admin.evaluate(async (code) => ((await (await fetch('/v1/status')).json()).units || []).find((u) => String(u.code).padStart(5, '0') === code).name, unit);
	await admin.selectOption('[data-testid=admin-unit]', unit);
	await admin.waitForFunction((u) => location.hash.includes(`unit=${u}`), unit);
	// the unit's screen, its chairs listed (not the first unit's, still shown while the hash changes)
	await admin.waitForFunction((name) => {
		const h = document.querySelector('#chairs-h');
		const list = document.querySelector('[data-testid=admin-chairs]');
		return h && h.textContent.includes(name) && list && list.childElementCount > 0;
	}, unitName);

	// the unit's chair to be replaced
	const oldRow = `[data-testid="grant-row-${oldUid}-unit_chair"]`;
	const newRow = `[data-testid="grant-row-${newUid}-unit_chair"]`;
	if ((await admin.locator(oldRow).count()) === 0) {
		await admin.fill('[data-testid=admin-chair]', oldUid);
		await admin.click('[data-testid=admin-submit]');
		await admin.waitForSelector(oldRow);
	}
	const oldChair = await newPage(browser);
	await signIn(oldChair, env.personas.registrar);
	assert((await chairOf(oldChair)).includes(unit), `${oldUid} is not chair of ${unit} before the replacement`);
	// who the old chair delegated ends with them: the confirmation counts it (the city admin, who
	// runs no test after this one, as the registrar)
	const delegate = env.personas.admin.uid;
	await oldChair.goto(`${env.url}/#/chair?unit=${unit}`);
	await oldChair.waitForSelector('[data-testid=grant-submit]');
	if ((await oldChair.locator(`[data-testid="grant-row-${delegate}-civil_registrar"]`).count()) === 0) {
		await oldChair.fill('[data-testid=grant-grantee]', delegate);
		await oldChair.selectOption('[data-testid=grant-role]', 'civil_registrar');
		await oldChair.click('[data-testid=grant-submit]');
		await oldChair.waitForSelector(`[data-testid="grant-row-${delegate}-civil_registrar"]`);
	}
	await admin.reload(); // the admin's list of the unit again, with that grant
	await admin.waitForFunction((name) => {
		const h = document.querySelector('#chairs-h');
		const list = document.querySelector('[data-testid=admin-chairs]');
		return h && h.textContent.includes(name) && list && list.childElementCount > 0;
	}, unitName);
	const newChair = await newPage(browser);
	await signIn(newChair, env.personas.deputy);
	assert((await newChair.locator('[data-testid=nav-chair]').count()) === 0, `${newUid} has a chair screen before being named`);

	// Escape: nothing changes
	await admin.fill('[data-testid=admin-chair]', newUid);
	await admin.check('[data-testid=admin-replace]');
	await admin.click('[data-testid=admin-submit]');
	const dialog = admin.locator('[data-testid=confirm-dialog]');
	await dialog.waitFor();
	const question = (await admin.locator('#confirm-text').innerText()).trim();
	const vars = { unit: unitName, user: newUid, old: oldUid, n: 1 };
	const want = `${fill(vi['admin.replace.confirm'], vars)} ${fill(vi['admin.replace.cascade'], vars)}`;
	assert(question === want, `the confirmation: "${question}" (wanted "${want}")`);
	assert((await admin.locator('[data-testid=confirm-yes]').innerText()).trim() === vi['admin.replace.yes'], 'the yes button does not say "Thay Chủ tịch"');
	assert(await admin.evaluate(() => document.activeElement.dataset.testid === 'confirm-no'), 'the dialog does not take the focus');
	await axeClean(admin, 'replace confirmation');
	await shot(admin, 'admin-replace-confirm');
	await admin.keyboard.press('Escape');
	await dialog.waitFor({ state: 'detached' });
	assert((await admin.locator(oldRow).count()) === 1 && (await admin.locator(newRow).count()) === 0, 'Escape changed the chairs');
	assert((await chairOf(newChair)).length === 0, 'Escape named the new chair');

	// yes: the new chair named, the old one's grant revoked
	await admin.click('[data-testid=admin-submit]');
	await dialog.waitFor();
	await admin.click('[data-testid=confirm-yes]');
	await admin.waitForSelector(newRow);
	await admin.waitForSelector(oldRow, { state: 'detached' });
	const status = (await admin.locator('[data-testid=status]').innerText()).trim();
	const done = fill(vi['admin.replaced'], { unit: unitName, user: newUid, old: oldUid });
	assert(status === done, `status: "${status}" (wanted "${done}")`);
	assert(await admin.locator('[data-testid=alert]').isHidden(), `an error after replacing: ${await admin.locator('[data-testid=alert]').innerText()}`);
	await axeClean(admin, 'chair replaced');
	await shot(admin, 'admin-replaced');

	// what the old chair delegated has ended with their grant, as the confirmation said
	const check = await admin.evaluate(async ({ user, unit }) => (await (await fetch(`/v1/authz/check?user=${user}&action=civil.record.read&unit=${unit}`)).json()), { user: delegate, unit });
	assert(check.decision === 'deny' && /^parent_grant_invalid/.test(check.reason || ''), `${delegate}, delegated by ${oldUid}: ${check.decision} ${check.reason}`);
	// ... and the delegate's own summary no longer offers that unit (the whole chain is checked)
	const mine = await admin.evaluate(async () => (await (await fetch('/v1/session')).json()));
	assert(!(mine.units || []).some((u) => String(u.code).padStart(5, '0') === unit), `${delegate}'s GET /v1/session still lists ${unit}: ${JSON.stringify(mine.units)}`);

	// the old chair's grant has ended (kept for the record, revoked)
	await admin.click('[data-testid=nav-admin-person]');
	await admin.fill('[data-testid=person-user]', oldUid);
	await admin.click('[data-testid=person-submit]');
	await admin.waitForSelector(oldRow);
	const rows = await admin.locator(oldRow).allInnerTexts();
	assert(rows.some((r) => r.includes(unit) && r.includes(vi['state.revoked'])), `${oldUid}'s chair grants: ${rows.join(' | ')}`);

	// the old chair, next request: the unit and its chair screen are gone
	await oldChair.click('[data-testid=nav-home]');
	await oldChair.waitForSelector('[data-testid=home]');
	await oldChair.waitForFunction((u) => !document.querySelector(`[data-testid=home-unit-${u}]`), unit);
	await oldChair.goto(`${env.url}/#/chair?unit=${unit}`);
	await oldChair.waitForSelector('[data-testid=chair]');
	const options = await oldChair.locator('[data-testid=chair-unit] option').evaluateAll((os) => os.map((o) => o.value));
	const oldScreen = await oldChair.locator('[data-testid=chair]').innerText();
	assert(!options.includes(unit) && !oldScreen.includes(unitName), `the old chair still manages ${unitName}: ${oldScreen.slice(0, 300)}`);

	// the new chair, next request: the unit with the chair role, and its chair screen
	await newChair.click('[data-testid=nav-home]');
	await newChair.waitForSelector('[data-testid=nav-chair]');
	const card = await newChair.locator(`[data-testid=home-unit-${unit}]`).innerText();
	assert(card.includes(unitName) && card.includes('Chủ tịch UBND'), `the new chair's home: ${card.slice(0, 300)}`);
	await newChair.click('[data-testid=nav-chair]');
	await newChair.waitForSelector('[data-testid=grant-submit]');
	const screen = await newChair.locator('[data-testid=chair]').innerText();
	assert(screen.includes(unitName), `the new chair's screen does not name ${unitName}: ${screen.slice(0, 300)}`);
	const roles = await newChair.locator('[data-testid=grant-role] option').evaluateAll((os) => os.map((o) => o.value));
	assert(roles.includes('civil_registrar'), `the new chair may grant ${roles}`);
	await axeClean(newChair, 'new chair');
	await shot(newChair, 'chair-new');
});
