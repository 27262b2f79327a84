// tests/browser/50_auditor.test.mjs — an auditor filters the access log by unit, downloads it as
// CSV and sees the chain verified.
import { readFile } from 'node:fs/promises';
import { assert, axe, env, newPage, shot, signIn, test } from './lib.mjs';

async function axeClean(page, screen) {
	const v = await axe(page);
	assert(v.length === 0, `${screen}: axe: ${v.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
}

test('auditor: filters by unit, pages, downloads CSV, sees "chuỗi nhật ký toàn vẹn"', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.auditor);
	await page.click('[data-testid=nav-audit]');
	await page.waitForSelector('[data-testid=audit-submit]');
	await page.waitForFunction(() => /toàn vẹn|phá vỡ/.test(document.querySelector('[data-testid=audit-verify-result]').textContent));
	const chain = await page.locator('[data-testid=audit-verify-result]').innerText();
	assert(/chuỗi nhật ký toàn vẹn/i.test(chain), `chain: ${chain}`);

	await page.selectOption('[data-testid=audit-unit]', env.unit);
	// the rows of the first (unfiltered) load are replaced, not read again
	let before = await page.waitForSelector('[data-testid=audit-rows]');
	await page.click('[data-testid=audit-submit]');
	await page.waitForFunction((el) => !el.isConnected, before);
	await page.waitForSelector('[data-testid=audit-rows] tbody tr');
	const units = await page.locator('[data-testid=audit-rows] tbody tr td:nth-child(4)').allInnerTexts();
	assert(units.length > 0 && units.every((u) => u.includes(env.unit)), `rows of other units: ${[...new Set(units)].join(', ')}`);
	await axeClean(page, 'audit');
	await shot(page, 'audit');

	const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=audit-csv]')]);
	const csv = await readFile(await download.path(), 'utf8');
	const lines = csv.trim().split('\n');
	assert(lines.length >= 2 && /seq/.test(lines[0]), `CSV: ${lines.slice(0, 2).join(' | ')}`);
	assert(lines.slice(1).every((l) => l.includes(env.unit)), 'the CSV has rows of other units');
	assert(/\.csv$/.test(download.suggestedFilename()), `file name ${download.suggestedFilename()}`);

	await page.selectOption('[data-testid=audit-decision]', 'deny');
	before = await page.waitForSelector('[data-testid=audit-rows]');
	await Promise.all([page.waitForResponse((r) => r.url().includes('decision=deny')), page.click('[data-testid=audit-submit]')]);
	await page.waitForFunction((el) => !el.isConnected, before);
	await page.waitForFunction(() => /^(Trang|Không)/.test(document.querySelector('[data-testid=status]').textContent));
	const decisions = await page.locator('[data-testid=audit-rows] tbody tr td:nth-child(6)').allInnerTexts();
	assert(decisions.every((d) => d === 'Từ chối'), `decisions after filtering deny: ${[...new Set(decisions)]}`);
});
