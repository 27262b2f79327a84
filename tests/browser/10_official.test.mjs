// tests/browser/10_official.test.mjs — the official's path: sign in, search without diacritics,
// open the record, issue, the print view with its QR code, and the public page the QR opens.
import { assert, axe, decodeQr, env, newPage, shot, signIn, test } from './lib.mjs';

async function axeClean(page, screen) {
	const v = await axe(page);
	assert(v.length === 0, `${screen}: axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
}

const text = (page, sel) => page.locator(sel).first().innerText();

// Searches the unit without diacritics for common family names until one finds people; returns
// the locator of the first result showing the name with its diacritics, and that form.
async function searchSomeone(page) {
	for (const [q, want] of [['nguyen van', 'Nguyễn Văn'], ['nguyen', 'Nguyễn'], ['tran', 'Trần'], ['pham', 'Phạm'], ['huynh', 'Huỳnh'], ['vo', 'Võ']]) {
		await page.fill('[data-testid=search-q]', q);
		await Promise.all([page.waitForResponse((r) => r.url().endsWith('/v1/records/search')), page.click('[data-testid=search-submit]')]);
		await page.waitForSelector('[data-testid=result-1], [data-testid=search-none]');
		const hit = page.locator('[data-testid^=result-]', { hasText: want }).first();
		if ((await hit.count()) > 0) return { hit, want };
	}
	throw new Error(`no one named Nguyễn, Trần, Phạm, Huỳnh or Võ found in ${env.unitName}`);
}

test('official: the sign-in screen is Vietnamese, labelled and axe-clean', async (browser) => {
	const page = await newPage(browser);
	await page.goto(`${env.url}/#/signin`);
	await page.waitForSelector('[data-testid=signin-submit]');
	assert((await page.getAttribute('html', 'lang')) === 'vi', 'html lang is not vi');
	assert((await text(page, 'h1')) === 'Đăng nhập', `h1: ${await text(page, 'h1')}`);
	assert((await page.locator('label[for=signin-user]').count()) === 1, 'the user field has no label');
	assert((await page.locator('label[for=signin-password]').count()) === 1, 'the password field has no label');
	await axeClean(page, 'sign-in');
	await shot(page, 'signin');
});

test('official: signs in with the keyboard alone; home shows the unit, the role, its end date and what it allows', async (browser) => {
	const page = await newPage(browser);
	await page.goto(`${env.url}/#/signin`);
	await page.waitForSelector('[data-testid=signin-user]');
	for (let i = 0; i < 12; i++) {
		await page.keyboard.press('Tab');
		if (await page.evaluate(() => document.activeElement && document.activeElement.dataset.testid === 'signin-user')) break;
	}
	const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
	assert(ring !== 'none', 'the focused field shows no focus ring');
	await page.keyboard.type(env.personas.official.uid);
	await page.keyboard.press('Tab');
	await page.keyboard.type(env.personas.official.password);
	await page.keyboard.press('Enter');
	await page.waitForSelector('[data-testid=home]');
	const home = await text(page, '[data-testid=home]');
	assert(home.includes(env.unitName), `home does not name ${env.unitName}`);
	assert(home.includes('Công chức tư pháp - hộ tịch'), 'home does not name the role civil_registrar in Vietnamese');
	assert(/\d{2}\/\d{2}\/\d{4}/.test(home), 'home shows no end date dd/mm/yyyy');
	assert(home.includes('Cấp trích lục (bản sao) khai sinh, kết hôn, khai tử'), 'home does not say what the role allows');
	assert((await page.locator('[data-testid=nav-audit]').count()) === 0, 'an official sees the audit link');
	await axeClean(page, 'home');
	await shot(page, 'home');
});

test('official: search without diacritics → record → issue → print view in three clicks; the QR says valid', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.official);
	await page.click('[data-testid=nav-search]');
	await page.waitForSelector('[data-testid=search-q]');
	const { hit, want } = await searchSomeone(page);
	assert((await text(page, '[data-testid=status]')).length > 0, 'the result count is not announced in the status region');
	await axeClean(page, 'search');
	await shot(page, 'search');

	let clicks = 0;
	await hit.click();
	clicks++;
	await page.waitForSelector('[data-testid=record]');
	const issue = page.locator('[data-testid^=issue-]').first();
	await issue.waitFor();
	const kind = (await issue.getAttribute('data-testid')).slice('issue-'.length);
	assert(['birth_extract', 'marriage_extract', 'death_extract'].includes(kind), `a civil record offers ${kind}`);
	assert((await page.locator('[data-testid^=issue-land]').count()) === 0, 'a civil registrar is offered a land document');
	const fields = await page.locator('[data-testid^=record-field-] dd').allInnerTexts();
	const name = fields.find((v) => v.includes(want));
	assert(name, `the record shows no name with "${want}"`);
	await axeClean(page, 'record');
	await shot(page, 'record');

	await Promise.all([page.waitForURL(/\/v1\/documents\/[0-9]{5}-[0-9]{4}-[0-9]{6}$/), issue.click()]);
	clicks++;
	assert(clicks <= 3, `${clicks} clicks from the result to the print view`);
	const serial = page.url().split('/').pop();
	await page.waitForSelector('svg.qr');
	const body = await page.locator('body').innerText();
	assert(body.includes('CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM'), 'the print view has no national heading');
	assert(body.includes(serial), `the print view does not show the serial ${serial}`);
	assert(body.toLocaleUpperCase('vi').includes(name.toLocaleUpperCase('vi')), `the print view does not show the name ${name}`);
	await shot(page, 'print');
	await axeClean(page, 'print view');

	const qr = await decodeQr(page, 'svg.qr');
	const m = /\/verify\/([0-9]{5}-[0-9]{4}-[0-9]{6})\?h=([0-9a-f]{16,})$/.exec(qr);
	assert(m && m[1] === serial, `the QR code reads ${qr}`);
	const v = new URL(qr);
	await page.goto(`${env.url}${v.pathname}${v.search}`);
	const verify = await page.locator('body').innerText();
	assert(verify.includes('Văn bản hợp lệ'), `the verification page does not say valid: ${verify.slice(0, 200)}`);
	assert(!verify.toLocaleUpperCase('vi').includes(name.toLocaleUpperCase('vi')), 'the public verification page shows the name');
	assert((await page.getAttribute('html', 'lang')) === 'vi', 'the verification page is not lang="vi"');
	await axeClean(page, 'verification page');
	await shot(page, 'verify');

	await page.goBack();
	await page.goBack();
	await page.waitForSelector('[data-testid=document-serial]');
	assert((await text(page, '[data-testid=document-serial]')).includes(serial), 'the document screen does not show the serial');
	assert((await page.getAttribute('[data-testid=document-open]', 'href')) === `/v1/documents/${serial}`, 'no link back to the print view');
	await axeClean(page, 'document');
	await shot(page, 'document');
});

test('official: the page switches to English and back, and remembers the choice', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.official);
	await page.click('[data-testid=lang-switch]');
	await page.waitForFunction(() => document.querySelector('h1').textContent === 'Home');
	assert((await page.getAttribute('html', 'lang')) === 'en', 'html lang is not en');
	assert((await text(page, '[data-testid=home]')).includes('Justice and civil status officer'), 'the role is not in English');
	await axeClean(page, 'home (English)');
	await shot(page, 'home-en');
	await page.reload();
	await page.waitForSelector('[data-testid=home]');
	assert((await page.getAttribute('html', 'lang')) === 'en', 'the language choice is not kept');
	await page.click('[data-testid=lang-switch]');
	await page.waitForFunction(() => document.querySelector('h1').textContent === 'Trang chính');
	assert((await page.getAttribute('html', 'lang')) === 'vi', 'back to Vietnamese');
});

test('official: at 200% zoom (683×384 CSS pixels) home and search fit the width, nothing scrolls sideways', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.official);
	await page.setViewportSize({ width: 683, height: 384 });
	const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
	assert(await fits(), 'home scrolls sideways at 200% zoom');
	await shot(page, 'home-200');
	await page.click('[data-testid=nav-search]');
	await searchSomeone(page);
	assert(await fits(), 'search scrolls sideways at 200% zoom');
	await axeClean(page, 'search at 200%');
});
