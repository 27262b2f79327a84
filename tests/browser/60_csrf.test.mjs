// tests/browser/60_csrf.test.mjs — the session cookie's flags, the CSRF token and the cross-site
// refusal (nothing written), the CSP header on every page, and a sign-out that ends the session.
import { assert, env, newPage, shot, signIn, test } from './lib.mjs';

async function chairGrants(page) {
	const r = await page.context().request.get(`${env.url}/v1/grants?unit=${env.unit}`);
	assert(r.status() === 200, `GET /v1/grants: ${r.status()}`);
	return (await r.json()).grants.filter((g) => g.grantee === env.personas.registrar.uid && g.state === 'active');
}

test('csrf: the session cookie is HttpOnly, SameSite=Strict, Path=/', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.chair);
	const c = (await page.context().cookies()).find((x) => x.name === 'syncd_session');
	assert(c, 'no syncd_session cookie');
	assert(c.httpOnly && c.sameSite === 'Strict' && c.path === '/', `cookie flags: ${JSON.stringify(c)}`);
	assert(/^[0-9a-f]{64}$/.test(c.value), 'the session id is not 256 random bits in hex');
	assert(env.url.startsWith('https:') === c.secure, `Secure is ${c.secure} over ${env.url}`);
	assert(!(await page.evaluate(() => document.cookie)).includes('syncd_session'), 'the page script can read the cookie');
});

test('csrf: a POST without the token, with a wrong one, or from another origin is refused and writes nothing', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.chair);
	const before = (await chairGrants(page)).length;
	const body = JSON.stringify({ grantee: env.personas.registrar.uid, role: 'civil_registrar', unit: env.unit });
	const post = (headers) => page.evaluate(async ([b, h]) => {
		const r = await fetch('/v1/grants', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', ...h }, body: b });
		return { status: r.status, error: (await r.json()).error };
	}, [body, headers]);
	const none = await post({});
	assert(none.status === 403 && none.error === 'csrf', `no token: ${JSON.stringify(none)}`);
	const wrong = await post({ 'X-CSRF-Token': '0'.repeat(64) });
	assert(wrong.status === 403 && wrong.error === 'csrf', `wrong token: ${JSON.stringify(wrong)}`);
	const token = await page.evaluate(() => S.csrf);
	const foreign = await page.context().request.post(`${env.url}/v1/grants`, {
		headers: { 'Content-Type': 'application/json', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': token },
		data: body,
	});
	assert(foreign.status() === 403 && (await foreign.json()).error === 'cross_site', `another origin: ${foreign.status()}`);
	assert((await chairGrants(page)).length === before, 'a refused POST wrote a grant');
});

test('csrf: every page and API answer carries the Content-Security-Policy', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.official);
	const req = page.context().request;
	for (const path of ['/', '/app.js', '/app.css', '/i18n/vi.json', '/i18n/en.json', '/v1/session', '/v1/status', '/verify/00000-0000-000000?h=0000000000000000']) {
		const r = await req.get(`${env.url}${path}`);
		const csp = r.headers()['content-security-policy'] || '';
		const ok = path.startsWith('/verify/') ? csp !== '' : /script-src 'self'/.test(csp) && /frame-ancestors 'none'/.test(csp);
		assert(ok, `${path} (${r.status()}): CSP ${csp}`);
	}
	const inline = await page.evaluate(() => [...document.querySelectorAll('script:not([src]), style, [style]')].length);
	assert(inline === 0, `${inline} inline scripts or styles in the page`);
});

test('csrf: sign-out ends the session on the server; the old cookie no longer works', async (browser) => {
	const page = await newPage(browser);
	await signIn(page, env.personas.official);
	const cookie = (await page.context().cookies()).find((x) => x.name === 'syncd_session');
	await page.click('[data-testid=signout]');
	await page.waitForSelector('[data-testid=signin-submit]');
	assert((await page.locator('[data-testid=status]').innerText()).includes('Bạn đã đăng xuất'), 'no signed-out message');
	await shot(page, 'signed-out');
	const replay = await newPage(browser);
	await replay.context().addCookies([{ ...cookie }]);
	const r = await replay.context().request.get(`${env.url}/v1/session`);
	assert(r.status() === 401, `the old cookie still answers ${r.status()}`);
	await replay.goto(`${env.url}/#/`);
	await replay.waitForSelector('[data-testid=signin-submit]');
});
