// tests/browser/00_smoke.test.mjs — the page at / loads in chromium, says it is Vietnamese,
// and comes with the Content-Security-Policy header.
import { assert, env, newPage, test } from './lib.mjs';

test('the page at / loads (200)', async (browser) => {
	const page = await newPage(browser);
	const res = await page.goto(`${env.url}/`);
	assert(res && res.status() === 200, `GET / answered ${res && res.status()}`);
});

test('the page says lang="vi"', async (browser) => {
	const page = await newPage(browser);
	await page.goto(`${env.url}/`);
	const lang = await page.evaluate(() => document.documentElement.getAttribute('lang'));
	assert(lang === 'vi', `<html lang="${lang}">`);
});

test('GET / carries a Content-Security-Policy header', async (browser) => {
	const page = await newPage(browser);
	const res = await page.goto(`${env.url}/`);
	const csp = res && (await res.headerValue('content-security-policy'));
	assert(csp && /default-src 'self'/.test(csp), `Content-Security-Policy: ${csp}`);
});
