/* app.js — the web page: hash routes, screens, and the calls to syncd's JSON API (no inline script anywhere).
 * Plain ES2020, no build step; every visible string comes from i18n/<lang>.json; the server decides everything.
 *
 * data-testid of the main controls (tests/browser/*.test.mjs rely on them):
 *   shell:    lang-switch, nav-home, nav-search, nav-chair, nav-admin, nav-admin-person, nav-audit,
 *             signout, status (aria-live status), alert (error messages)
 *   sign-in:  signin-user, signin-password, signin-submit
 *   home:     home, home-unit-<code>, home-task-search-<code>, home-task-chair-<code>,
 *             home-task-audit-<code>, home-task-admin, home-task-admin-person, home-task-audit,
 *             home-directory-down
 *   search:   search-unit, search-q, search-submit, search-results, result-N (N = 1, 2, … on the page),
 *             search-prev, search-next
 *   record:   record, record-field-<column>, issue-<kind> (only kinds the person may issue)
 *   document: document, document-serial, document-open
 *   chair:    chair-unit, grants, grant-row-<grantee>-<role>, revoke-<grantee>-<role>,
 *             grant-grantee, grant-role, grant-until, grant-submit
 *   dialog:   confirm-dialog, confirm-yes, confirm-no
 *   outage:   unavailable (GET /v1/session failed: directory or database down), retry
 *   admin:    admin-unit, admin-chairs, admin-chair, admin-replace (then confirm-dialog), admin-submit,
 *             person-user, person-submit, grants (the person's grants)
 *   audit:    audit-unit, audit-actor, audit-action, audit-decision, audit-from, audit-to,
 *             audit-submit, audit-rows, audit-prev, audit-next, audit-csv, audit-verify,
 *             audit-verify-result
 */
"use strict";

/* Which record table each document kind is issued from and the permission it
 * needs, and which roles each held role may grant, come from GET /v1/session
 * ("kinds" from policies/documents.json, "may_grant" from policies/roles.json):
 * they only choose what the page offers; syncd checks every request. */
const kindsOf = () => (S.me && S.me.kinds) || {};
const mayGrant = (role) => (S.me && S.me.may_grant && S.me.may_grant[role]) || [];
const AUDIT_ACTIONS = [
	"login", "record.search", "record.read", "document.issue", "document.read", "document.revoke",
	"document.verify", "grant.create", "grant.list", "grant.revoke", "authz.check", "audit.read",
	"audit.verify",
];
const PAGE_AUDIT = 50;

const S = {
	lang: "vi",
	cat: {},
	csrf: null, /* the session's CSRF token: in memory only, never stored */
	me: null, /* GET /v1/session */
	units: {}, /* code -> name, from GET /v1/status (public) */
	directory: "",
	search: null, /* {unit, q, page, hits, more}: kept in memory, never in the URL */
	audit: null, /* {filters, cursors, page} */
	flash: null, /* {status|error} shown by the next screen */
	issued: null, /* serial just issued: its print view opens at once */
};

/* ---- text ---- */

function t(key, vars) {
	let s = Object.prototype.hasOwnProperty.call(S.cat, key) ? S.cat[key] : key;
	if (vars)
		s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined && vars[k] !== null ? String(vars[k]) : m));
	return s;
}

function has(key) {
	return Object.prototype.hasOwnProperty.call(S.cat, key);
}

async function loadCatalogue(lang) {
	const r = await fetch(`/i18n/${lang}.json`, { credentials: "same-origin" });
	if (!r.ok) throw new Error(`catalogue ${lang}: ${r.status}`);
	S.cat = await r.json();
	S.lang = lang;
	document.documentElement.lang = lang;
}

function pad5(code) {
	return String(code).padStart(5, "0");
}

function unitName(code) {
	if (!code) return t("unit.any");
	code = pad5(code);
	const mine = S.me && (S.me.units || []).find((u) => pad5(u.code) === code);
	return (mine && mine.name) || S.units[code] || code;
}

function unitLabel(code) {
	return t("unit.label", { name: unitName(code), code: pad5(code) });
}

/* "phường" / "xã" / "thị trấn": whose chair to ask, as people say it. */
function levelOf(code) {
	const n = code ? unitName(code) : "";
	if (/^phường/i.test(n)) return t("level.phuong");
	if (/^xã/i.test(n)) return t("level.xa");
	if (/^thị trấn/i.test(n)) return t("level.thi_tran");
	return t("level.unit");
}

/* 2027-06-30 or 2027-06-30T16:59:59Z -> 30/06/2027 (local date). */
function fmtDate(s) {
	if (!s) return t("date.none");
	const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
	if (m) return `${m[3]}/${m[2]}/${m[1]}`;
	const d = new Date(s);
	if (isNaN(d)) return s;
	return `${String(d.getDate()).padStart(2, "0")}/${String(d.getMonth() + 1).padStart(2, "0")}/${d.getFullYear()}`;
}

/* A value from a record: ISO dates the Vietnamese way (22/08/2026), the rest as it is. */
function fmtValue(v) {
	const s = String(v);
	return /^\d{4}-\d{2}-\d{2}$/.test(s) ? fmtDate(s) : s;
}

function fmtTime(s) {
	const d = new Date(s);
	if (isNaN(d)) return s || "";
	const p = (n) => String(n).padStart(2, "0");
	return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${fmtDate(s)}`;
}

/* A local calendar day (input type=date) as the API's UTC time, at its start or end. */
function dayToUtc(day, end) {
	if (!day) return "";
	const d = new Date(`${day}T${end ? "23:59:59" : "00:00:00"}`);
	return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/* ---- the API ---- */

class ApiError extends Error {
	constructor(status, code, message, headers) {
		super(message || code);
		this.status = status;
		this.code = code;
		const m = /\(([a-z_]+)[^()]*\)\s*$/.exec(message || "");
		this.reason = m ? m[1] : "";
		this.rid = headers ? headers.get("X-Request-Id") || "" : "";
		this.retry = headers ? headers.get("Retry-After") || "" : "";
	}
}

async function api(method, path, body, accept) {
	const headers = { Accept: accept || "application/json" };
	if (method !== "GET" && method !== "HEAD" && S.csrf) headers["X-CSRF-Token"] = S.csrf;
	if (body !== undefined) headers["Content-Type"] = "application/json";
	let r;
	try {
		r = await fetch(path, {
			method,
			headers,
			credentials: "same-origin",
			body: body === undefined ? undefined : JSON.stringify(body),
		});
	} catch (e) {
		throw new ApiError(0, "network", String(e));
	}
	if (!r.ok) {
		let j = {};
		try {
			j = await r.json();
		} catch (e) {
			j = {};
		}
		throw new ApiError(r.status, j.error || "other", j.message || "", r.headers);
	}
	if (r.status === 204) return { status: 204, data: null, headers: r.headers };
	if (accept && accept !== "application/json") return { status: r.status, text: await r.text(), headers: r.headers };
	return { status: r.status, data: await r.json(), headers: r.headers };
}

/* The Vietnamese (or English) sentence for an API error: what happened and what to do,
 * naming the unit and whom to ask.  ctx: {unit, what (a "do.*" key), city, user}. */
function errText(e, ctx) {
	ctx = ctx || {};
	let code = e instanceof ApiError ? e.code : "network";
	if (code === "forbidden" && e.reason && has(`err.${e.reason}`)) code = e.reason;
	if (!has(`err.${code}`)) code = "other";
	const askCity = ctx.city || ctx.what === "do.grant.manage" || ctx.what === "do.audit.read";
	return t(`err.${code}`, {
		what: t(ctx.what || "do.record.search"),
		unit: unitName(ctx.unit),
		who: askCity ? t("who.city") : t("who.chair", { level: levelOf(ctx.unit) }),
		it: t("who.it"),
		user: ctx.user || "",
		seconds: e.retry || "3",
		code: e.code || "",
		rid: e.rid || "-",
	});
}

/* ---- the session ---- */

async function loadSession() {
	const r = await api("GET", "/v1/session");
	S.me = r.data;
	if (r.data.csrf) S.csrf = r.data.csrf;
	return S.me;
}

function permsIn(code) {
	const set = new Set();
	const u = S.me && (S.me.units || []).find((x) => pad5(x.code) === pad5(code));
	if (u) for (const r of u.roles || []) for (const p of r.permissions || []) set.add(p);
	return set;
}

function may(code, perm) {
	return permsIn(code).has(perm);
}

function cityRole(role) {
	return !!(S.me && (S.me.city_roles || []).includes(role));
}

function unitsWhere(test) {
	return ((S.me && S.me.units) || []).map((u) => pad5(u.code)).filter((c) => test(permsIn(c), c));
}

const readsRecords = (p) => p.has("civil.record.read") || p.has("land.record.read");

function grantableIn(code) {
	const out = new Set();
	const u = S.me && (S.me.units || []).find((x) => pad5(x.code) === pad5(code));
	for (const r of (u && u.roles) || []) for (const g of mayGrant(r.role)) out.add(g);
	for (const r of (S.me && S.me.city_roles) || []) for (const g of mayGrant(r)) out.add(g);
	return [...out];
}

/* ---- DOM ---- */

function h(tag, attrs, ...kids) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k === "text") el.textContent = v;
		else if (k === "testid") el.dataset.testid = v;
		else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
		else el.setAttribute(k, v === true ? "" : v);
	}
	for (const c of kids.flat(3)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
	return el;
}

const $ = (sel) => document.querySelector(sel);

function setStatus(msg) {
	$("#status").textContent = msg || "";
}

function setError(msg) {
	const a = $("#alert");
	a.textContent = msg || "";
	a.hidden = !msg;
}

function field(id, label, input, hint) {
	input.id = id;
	if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
	return h("div", { class: "field" }, h("label", { for: id, text: label }), hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null, input);
}

function select(testid, options, value) {
	return h("select", { testid, name: testid }, options.map(([v, label]) => h("option", { value: v, selected: v === value, text: label })));
}

function button(testid, label, onclick, cls) {
	return h("button", { type: "button", testid, class: cls || "btn", onclick, text: label });
}

function link(testid, href, label, cls) {
	return h("a", { href, testid, class: cls || "btn", text: label });
}

/* One screen: its h1 above the status and alert regions, its content under them. */
function screen(titleKey, testid, ...kids) {
	const el = h("div", { testid, class: "screen" }, kids);
	document.title = `${t(titleKey)} — ${t("app.title")}`;
	$("#head").replaceChildren(h("h1", { tabindex: "-1", text: t(titleKey) }));
	$("#screen").replaceChildren(el);
	return el;
}

/* A modal question; resolves true on yes.  Keyboard: Tab stays inside, Escape says no. */
function confirmDialog(text, yes) {
	return new Promise((resolve) => {
		const back = document.activeElement;
		const d = h("dialog", { testid: "confirm-dialog", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-text", class: "dialog" },
			h("h2", { id: "confirm-title", text: t("confirm.title") }),
			h("p", { id: "confirm-text", text }),
			h("div", { class: "actions" },
				button("confirm-yes", yes, () => d.close("yes"), "btn danger"),
				button("confirm-no", t("confirm.no"), () => d.close("no"), "btn secondary")));
		d.addEventListener("close", () => {
			d.remove();
			if (back && back.isConnected) back.focus();
			resolve(d.returnValue === "yes");
		});
		document.body.append(d);
		d.showModal();
		d.querySelector("[data-testid=confirm-no]").focus();
	});
}

/* ---- shell ---- */

function navItems() {
	const items = [["nav-home", "#/", "nav.home"]];
	if (!S.me) return [];
	if (unitsWhere(readsRecords).length) items.push(["nav-search", "#/search", "nav.search"]);
	if (unitsWhere((p) => p.has("grant.manage")).length) items.push(["nav-chair", "#/chair", "nav.chair"]);
	if (cityRole("city_admin")) {
		items.push(["nav-admin", "#/admin", "nav.admin"]);
		items.push(["nav-admin-person", "#/admin/person", "nav.admin_person"]);
	}
	if (S.me.may && S.me.may["audit.read"]) items.push(["nav-audit", "#/audit", "nav.audit"]);
	return items;
}

function renderShell() {
	const current = `#/${parseHash().parts[0] || ""}${parseHash().parts[1] ? `/${parseHash().parts[1]}` : ""}`;
	const nav = navItems();
	const other = S.lang === "vi" ? "en" : "vi";
	$("#skip").textContent = t("app.skip");
	$("#brand").textContent = t("app.title");
	$("#nav").setAttribute("aria-label", t("app.nav"));
	$("#nav").replaceChildren(h("ul", {}, nav.map(([id, href, key]) =>
		h("li", {}, h("a", { href, testid: id, "aria-current": href === current ? "page" : null, text: t(key) })))));
	$("#nav").hidden = nav.length === 0;
	/* replaceChildren would write a null as the text "null": signed out, only the language */
	$("#tools").replaceChildren(...[
		S.me ? h("span", { class: "who", text: t("app.signed_in_as", { name: S.me.name || S.me.user }) }) : null,
		h("button", { type: "button", class: "btn small secondary", testid: "lang-switch", lang: other, "aria-label": t("lang.switch.label"), onclick: switchLang, text: t("lang.switch") }),
		S.me ? button("signout", t("nav.signout"), signOut, "btn small secondary") : null].filter(Boolean));
}

async function switchLang() {
	const to = S.lang === "vi" ? "en" : "vi";
	try {
		await loadCatalogue(to);
		localStorage.setItem("syncd.lang", to);
	} catch (e) {
		setError(errText(e));
		return;
	}
	route();
}

async function signOut() {
	try {
		await api("DELETE", "/v1/session");
	} catch (e) {
		if (!(e instanceof ApiError && e.status === 401)) {
			setError(errText(e));
			return;
		}
	}
	S.me = null;
	S.csrf = null;
	S.search = null;
	S.audit = null;
	S.flash = { status: t("signin.signed_out") };
	location.hash = "#/signin";
}

/* ---- routes ---- */

function parseHash() {
	const raw = location.hash.replace(/^#/, "") || "/";
	const q = raw.indexOf("?");
	const path = q < 0 ? raw : raw.slice(0, q);
	return {
		parts: path.split("/").filter(Boolean).map(decodeURIComponent),
		params: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)),
	};
}

const ROUTES = {
	"": renderHome,
	search: renderSearch,
	record: renderRecord,
	document: renderDocument,
	chair: renderChair,
	admin: renderAdmin,
	audit: renderAudit,
};

let routing = 0;

async function route() {
	if (!location.hash.startsWith("#/") && location.hash !== "") return;
	const my = ++routing;
	const { parts, params } = parseHash();
	const flash = S.flash;
	S.flash = null;
	setError(flash && flash.error);
	setStatus(flash && flash.status);
	if (parts[0] === "signin") {
		S.me = null;
		renderShell();
		renderSignin();
	} else {
		try {
			await loadSession();
		} catch (e) {
			if (my !== routing) return;
			if (e instanceof ApiError && e.status === 401) {
				S.me = null;
				S.csrf = null;
				if (parts.length) S.flash = { error: t("signin.expired") };
				location.hash = "#/signin";
				return;
			}
			renderUnavailable(e, params);
			return;
		}
		if (my !== routing) return;
		renderShell();
		const fn = ROUTES[parts[0] || ""] || renderHome;
		await fn(parts.slice(1), params);
	}
	if (my !== routing) return;
	const h1 = $("#head h1");
	if (h1 && !(document.activeElement && document.activeElement.closest && document.activeElement.closest("#screen form"))) h1.focus();
}

/* The directory, the state database or syncd itself cannot answer GET /v1/session (503, or no
 * connection).  The session is not lost: the shell keeps what the page knew (the server still
 * decides every request), the alert says what is down and that the unit's copy is intact
 * (naming the unit when the person holds one, or the one in the address), and "Thử lại"
 * asks again for the screen the person wanted. */
function renderUnavailable(e, params) {
	const mine = (S.me && S.me.units) || [];
	const unit = params.get("unit") || (mine.length === 1 ? pad5(mine[0].code) : "");
	renderShell();
	screen("unavailable.title", "unavailable", h("section", { class: "card" },
		h("p", { text: t("unavailable.what") }),
		h("div", { class: "actions" }, button("retry", t("unavailable.retry"), route, "btn primary"))));
	setError(errText(e, { unit }));
}

/* ---- sign-in ---- */

function renderSignin() {
	const user = h("input", { type: "text", testid: "signin-user", name: "user", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true });
	const pw = h("input", { type: "password", testid: "signin-password", name: "password", autocomplete: "current-password", required: true });
	const submit = h("button", { type: "submit", class: "btn primary", testid: "signin-submit", text: t("signin.submit") });
	const form = h("form", { class: "card narrow", novalidate: true },
		h("p", { text: t("signin.intro") }),
		field("signin-user", t("signin.user"), user, t("signin.user.hint")),
		field("signin-password", t("signin.password"), pw),
		h("div", { class: "actions" }, submit));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		if (!user.value.trim() || !pw.value) {
			setError(t("signin.missing"));
			(user.value.trim() ? pw : user).focus();
			return;
		}
		submit.disabled = true;
		setError("");
		setStatus(t("signin.working"));
		try {
			const r = await api("POST", "/v1/session", { user: user.value.trim(), password: pw.value });
			S.csrf = r.data.csrf;
			pw.value = "";
			setStatus("");
			location.hash = "#/";
		} catch (e) {
			submit.disabled = false;
			setStatus("");
			pw.value = "";
			setError(errText(e));
			pw.focus();
		}
	});
	screen("signin.title", "signin", form);
}

/* ---- home ---- */

function roleItem(r) {
	return h("li", { class: "role" },
		h("strong", { text: r.until ? t("home.role_until", { role: t(`role.${r.role}`), until: fmtDate(r.until) }) : t("home.role_open", { role: t(`role.${r.role}`) }) }),
		h("p", { class: "may", text: t("home.may") }),
		h("ul", {}, (r.permissions || []).map((p) => h("li", { text: t(`perm.${p}`) }))));
}

function unitCard(u) {
	const code = pad5(u.code);
	const p = permsIn(code);
	const tasks = [];
	if (readsRecords(p)) tasks.push(link(`home-task-search-${code}`, `#/search?unit=${code}`, t("home.task.search", { unit: unitName(code) }), "btn primary"));
	if (p.has("grant.manage")) tasks.push(link(`home-task-chair-${code}`, `#/chair?unit=${code}`, t("home.task.chair", { unit: unitName(code) })));
	if (p.has("audit.read")) tasks.push(link(`home-task-audit-${code}`, `#/audit?unit=${code}`, t("home.task.audit_unit", { unit: unitName(code) })));
	return h("section", { class: "card", testid: `home-unit-${code}`, "aria-labelledby": `unit-${code}` },
		h("h3", { id: `unit-${code}`, text: unitLabel(code) }),
		h("ul", { class: "roles" }, (u.roles || []).map(roleItem)),
		tasks.length ? h("div", { class: "tasks" }, tasks) : null);
}

function cityCard() {
	const roles = (S.me.city_roles || []).filter((r) => has(`role.${r}`));
	if (!roles.length) return null;
	const tasks = [];
	if (cityRole("city_admin")) {
		tasks.push(link("home-task-admin", "#/admin", t("home.task.admin"), "btn primary"));
		tasks.push(link("home-task-admin-person", "#/admin/person", t("home.task.admin_person")));
	}
	if (cityRole("city_auditor")) tasks.push(link("home-task-audit", "#/audit", t("home.task.audit"), "btn primary"));
	return h("section", { class: "card", "aria-labelledby": "city-roles" },
		h("h2", { id: "city-roles", text: t("home.city") }),
		h("ul", { class: "roles" }, roles.map((r) => h("li", { class: "role" }, h("strong", { text: t(`role.${r}`) })))),
		h("div", { class: "tasks" }, tasks));
}

async function renderHome() {
	const my = routing;
	await loadUnits();
	if (my !== routing) return; /* another screen was asked for meanwhile: it wins */
	const units = S.me.units || [];
	screen("home.title", "home",
		S.directory === "unreachable" ? h("p", { class: "warning", testid: "home-directory-down", text: t("home.directory_down") }) : null,
		h("p", { class: "lead", text: t("home.hello", { name: S.me.name || S.me.user }) }),
		cityCard(),
		h("h2", { text: t("home.units") }),
		units.length ? units.map(unitCard) : h("p", { class: "card", text: t("home.none") }));
}

/* ---- search ---- */

function unitOptions(codes) {
	return codes.map((c) => [c, unitLabel(c)]);
}

function hitSummary(hit) {
	const vals = (hit.fields || []).filter((f) => f.value !== null && f.value !== "");
	return vals.slice(0, 4);
}

function renderHits(box, unit) {
	const s = S.search;
	const hits = s.hits;
	if (!hits.length) {
		box.replaceChildren(h("p", { testid: "search-none", text: t("search.none", { unit: unitName(unit) }) }));
		setStatus(t("search.none", { unit: unitName(unit) }));
		return;
	}
	const list = h("ol", { class: "results", start: String((s.page - 1) * 20 + 1) }, hits.map((hit, i) => {
		const KINDS = kindsOf();
		const kind = KINDS[hit.kind] || Object.values(KINDS).find((k) => k.table === hit.table) || { source: "civil" };
		const href = `#/record/${kind.source}/${encodeURIComponent(hit.table)}/${encodeURIComponent(hit.key)}?unit=${unit}`;
		const [first, ...rest] = hitSummary(hit);
		return h("li", {}, h("a", { href, class: "result", testid: `result-${i + 1}` },
			h("span", { class: "kind", text: t(`rec.${hit.table.replace(/^public\./, "")}`) }),
			first ? h("span", { class: "name", text: fmtValue(first.value) }) : null,
			rest.map((f) => h("span", { class: "detail", text: `${f.label}: ${fmtValue(f.value)}` }))));
	}));
	const pager = h("div", { class: "actions" },
		s.page > 1 ? button("search-prev", t("search.prev"), () => runSearch(box, unit, s.q, s.page - 1), "btn secondary") : null,
		s.more ? button("search-next", t("search.next"), () => runSearch(box, unit, s.q, s.page + 1), "btn secondary") : null);
	box.replaceChildren(h("h2", { text: t("search.results") }), list, pager);
	setStatus(t("search.count", { page: s.page, n: hits.length }));
}

async function runSearch(box, unit, q, page) {
	setError("");
	setStatus(t("search.working"));
	try {
		const r = await api("POST", "/v1/records/search", { unit, q, page });
		S.search = { unit, q, page, hits: r.data.results || [], more: !!r.data.more };
		renderHits(box, unit);
	} catch (e) {
		setStatus("");
		setError(errText(e, { unit, what: "do.record.search" }));
	}
}

async function renderSearch(parts, params) {
	const codes = unitsWhere(readsRecords);
	if (!codes.length) {
		screen("search.title", "search", h("p", { class: "card", text: t("search.no_units") }));
		return;
	}
	const want = params.get("unit");
	const unit = codes.includes(want) ? want : S.search && codes.includes(S.search.unit) ? S.search.unit : codes[0];
	const pick = select("search-unit", unitOptions(codes), unit);
	pick.addEventListener("change", () => {
		location.hash = `#/search?unit=${pick.value}`;
	});
	const q = h("input", { type: "search", testid: "search-q", name: "q", autocomplete: "off", minlength: "2", maxlength: "100", required: true });
	if (S.search && S.search.unit === unit) q.value = S.search.q;
	const box = h("div", { testid: "search-results", class: "results-box" });
	const form = h("form", { class: "card", role: "search" },
		codes.length > 1 ? field("search-unit", t("search.unit"), pick) : h("p", { class: "unit", text: t("record.unit", { unit: unitLabel(unit) }) }),
		field("search-q", t("search.q"), q, t("search.q.hint")),
		h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary", testid: "search-submit", text: t("search.submit") })));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		const text = q.value.trim();
		if (text.length < 2) {
			setError(t("search.short"));
			q.focus();
			return;
		}
		runSearch(box, unit, text, 1);
	});
	screen("search.title", "search", form, box);
	if (S.search && S.search.unit === unit) renderHits(box, unit);
}

/* ---- record ---- */

function recordFields(rec) {
	const cols = Object.keys(S.cat).filter((k) => k.startsWith("col.")).map((k) => k.slice(4));
	return h("dl", { class: "fields" }, cols.filter((c) => rec[c] !== undefined && rec[c] !== null && rec[c] !== "").map((c) =>
		h("div", { class: "row", testid: `record-field-${c}` }, h("dt", { text: t(`col.${c}`) }), h("dd", { text: fmtValue(rec[c]) }))));
}

async function issue(kind, unit, key, btn) {
	btn.disabled = true;
	setError("");
	setStatus(t("record.issuing"));
	try {
		const r = await api("POST", "/v1/documents", { kind, unit, key });
		S.issued = r.data.serial;
		location.hash = `#/document/${encodeURIComponent(r.data.serial)}`;
	} catch (e) {
		btn.disabled = false;
		setStatus("");
		setError(errText(e, { unit, what: `do.${kind}` }));
	}
}

async function renderRecord(parts, params) {
	const [source, table, key] = parts;
	const unit = pad5(params.get("unit") || "");
	const KINDS = kindsOf();
	const kinds = Object.keys(KINDS).filter((k) => KINDS[k].table === table || KINDS[k].table === `public.${table}`);
	const back = S.search ? link("record-back", `#/search?unit=${S.search.unit}`, t("record.back"), "btn secondary") : null;
	let rec;
	const my = routing;
	try {
		rec = (await api("GET", `/v1/records/${encodeURIComponent(source)}/${encodeURIComponent(table)}/${encodeURIComponent(key)}?unit=${unit}`)).data.record || {};
	} catch (e) {
		if (my !== routing) return;
		screen("record.title", "record", back);
		setError(errText(e, { unit, what: `do.${source}.record.read` }));
		return;
	}
	if (my !== routing) return;
	const allowed = kinds.filter((k) => may(unit, KINDS[k].permission));
	screen("record.title", "record",
		h("p", { class: "unit", text: t("record.unit", { unit: unitLabel(unit) }) }),
		h("p", { text: t("record.kind", { kind: t(`rec.${table.replace(/^public\./, "")}`) }) }),
		h("section", { class: "card", "aria-labelledby": "issue-h" },
			h("h2", { id: "issue-h", text: t("record.issue") }),
			allowed.length
				? h("div", { class: "actions" }, allowed.map((k) => {
					const b = button(`issue-${k}`, t(`issue.${k}`), () => issue(k, unit, key, b), "btn primary big");
					return b;
				}))
				: h("p", { text: t("record.issue.none", { unit: unitName(unit) }) })),
		h("section", { class: "card", "aria-labelledby": "fields-h" },
			h("h2", { id: "fields-h", text: t("record.title") }),
			recordFields(rec)),
		back);
}

/* ---- issued document ---- */

async function renderDocument(parts) {
	const serial = parts[0] || "";
	const url = `/v1/documents/${encodeURIComponent(serial)}`;
	const open = link("document-open", url, t("document.open"), "btn primary big");
	if (S.issued === serial) {
		S.issued = null;
		screen("document.title", "document", h("p", { testid: "document-serial", text: t("document.serial", { serial }) }), open);
		setStatus(t("document.issued", { serial }));
		location.assign(url);
		return;
	}
	let doc = null;
	const my = routing;
	try {
		doc = (await api("GET", url)).data;
	} catch (e) {
		if (my !== routing) return;
		setError(errText(e, { unit: serial.slice(0, 5), what: "do.document.read" }));
	}
	if (my !== routing) return;
	screen("document.title", "document",
		h("section", { class: "card" },
			h("p", { class: "lead", testid: "document-serial", text: t("document.serial", { serial }) }),
			doc ? h("p", { text: `${t(`kind.${doc.kind}`)} — ${unitLabel(doc.unit)} — ${fmtDate(doc.issued_at)}` }) : null,
			doc && doc.revoked ? h("p", { class: "warning", text: t("document.revoked") }) : null,
			h("p", { class: "hint", text: t("document.print_hint") }),
			h("div", { class: "actions" }, open, link("document-search", "#/search", t("document.new_search"), "btn secondary"))));
}

/* ---- grants (chair, admin) ---- */

function grantsTable(grants, withUnit, onRevoke) {
	return h("table", { class: "grid", testid: "grants" },
		h("thead", {}, h("tr", {},
			h("th", { scope: "col", text: t("grants.user") }),
			h("th", { scope: "col", text: t("grants.role") }),
			withUnit ? h("th", { scope: "col", text: t("grants.unit") }) : null,
			h("th", { scope: "col", text: t("grants.until") }),
			h("th", { scope: "col", text: t("grants.by") }),
			h("th", { scope: "col", text: t("grants.state") }),
			h("th", { scope: "col", text: t("grants.action") }))),
		h("tbody", {}, grants.map((g) => h("tr", { testid: `grant-row-${g.grantee}-${g.role}` },
			h("th", { scope: "row", text: g.grantee }),
			h("td", { text: t(`role.${g.role}`) }),
			withUnit ? h("td", { text: unitLabel(g.unit) }) : null,
			h("td", { text: fmtDate(g.not_after) }),
			h("td", { text: g.grantor || "" }),
			h("td", { text: t(`state.${g.state}`) }),
			h("td", {}, (g.state === "active" || g.state === "pending") && canRevoke(g)
				? h("button", { type: "button", class: "btn small danger", testid: `revoke-${g.grantee}-${g.role}`,
					"aria-label": t("chair.revoke.label", { role: t(`role.${g.role}`), user: g.grantee }), onclick: () => onRevoke(g), text: t("chair.revoke") })
				: null)))));
}

async function revokeGrant(g) {
	const ok = await confirmDialog(t("confirm.revoke", { role: t(`role.${g.role}`), user: g.grantee, unit: unitName(g.unit) }), t("confirm.yes"));
	if (!ok) return false;
	setError("");
	try {
		await api("DELETE", `/v1/grants/${encodeURIComponent(g.id)}`);
		setStatus(t("chair.revoked", { role: t(`role.${g.role}`), user: g.grantee, unit: unitName(g.unit) }));
		return true;
	} catch (e) {
		setError(errText(e, { unit: g.unit, what: "do.grant.manage" }));
		return false;
	}
}

/* Whether to offer revoking g: the server allows its grantor and whoever could grant that role there now. */
function canRevoke(g) {
	if (!S.me || g.grantee === S.me.user) return false;
	return g.grantor === S.me.user || grantableIn(pad5(g.unit)).includes(g.role);
}

function live(grants) {
	return grants.filter((g) => g.state === "active" || g.state === "pending");
}

async function renderChair(parts, params) {
	const codes = unitsWhere((p) => p.has("grant.manage"));
	if (!codes.length) {
		screen("chair.title", "chair", h("p", { class: "card", text: t("chair.no_units") }));
		return;
	}
	const unit = codes.includes(params.get("unit")) ? params.get("unit") : codes[0];
	const pick = select("chair-unit", unitOptions(codes), unit);
	pick.addEventListener("change", () => {
		location.hash = `#/chair?unit=${pick.value}`;
	});
	const listBox = h("div", { class: "table-box" });
	const refresh = async () => {
		try {
			const gs = live((await api("GET", `/v1/grants?unit=${unit}`)).data.grants || []).filter((g) => pad5(g.unit) === unit);
			listBox.replaceChildren(gs.length ? grantsTable(gs, false, async (g) => {
				if (await revokeGrant(g)) await refresh();
			}) : h("p", { text: t("chair.none", { unit: unitName(unit) }) }));
		} catch (e) {
			setError(errText(e, { unit, what: "do.grant.manage" }));
		}
	};
	const grantee = h("input", { type: "text", testid: "grant-grantee", name: "grantee", autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true });
	const roles = grantableIn(unit);
	const role = select("grant-role", roles.map((r) => [r, t(`role.${r}`)]), roles[0]);
	const until = h("input", { type: "date", testid: "grant-until", name: "until" });
	const form = h("form", { class: "card", "aria-labelledby": "grant-h" },
		h("h2", { id: "grant-h", text: t("chair.form") }),
		field("grant-grantee", t("chair.grantee"), grantee, t("chair.grantee.hint")),
		field("grant-role", t("chair.role"), role),
		field("grant-until", t("chair.until"), until, t("chair.until.hint")),
		h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary", testid: "grant-submit", text: t("chair.submit") })));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const who = grantee.value.trim();
		if (!who) {
			setError(t("chair.missing"));
			grantee.focus();
			return;
		}
		setError("");
		const body = { grantee: who, role: role.value, unit };
		if (until.value) body.not_after = dayToUtc(until.value, true);
		try {
			await api("POST", "/v1/grants", body);
			setStatus(t("chair.granted", { role: t(`role.${role.value}`), user: who, unit: unitName(unit) }));
			grantee.value = "";
			until.value = "";
			await refresh();
		} catch (e) {
			setError(errText(e, { unit, what: "do.grant.manage", user: who, city: false }));
		}
	});
	screen("chair.title", "chair",
		codes.length > 1 ? h("div", { class: "card" }, field("chair-unit", t("chair.unit"), pick)) : h("p", { class: "unit", text: t("record.unit", { unit: unitLabel(unit) }) }),
		h("section", { "aria-labelledby": "current-h" }, h("h2", { id: "current-h", text: t("chair.current", { unit: unitName(unit) }) }), listBox),
		form);
	await refresh();
}

async function renderAdmin(parts, params) {
	if (parts[0] === "person") return renderAdminPerson();
	const codes = Object.keys(S.units).sort();
	const unit = codes.includes(params.get("unit")) ? params.get("unit") : codes[0] || "";
	const pick = select("admin-unit", unitOptions(codes), unit);
	pick.addEventListener("change", () => {
		location.hash = `#/admin?unit=${pick.value}`;
	});
	let chairs = [];
	let held = []; /* every live grant of the unit: what a chair's revocation ends with it */
	const listBox = h("div", { class: "table-box", testid: "admin-chairs" });
	const refresh = async () => {
		try {
			held = live((await api("GET", `/v1/grants?unit=${unit}`)).data.grants || []).filter((g) => pad5(g.unit) === unit);
			chairs = held.filter((g) => g.role === "unit_chair");
			listBox.replaceChildren(chairs.length ? grantsTable(chairs, false, async (g) => {
				if (await revokeGrant(g)) await refresh();
			}) : h("p", { text: t("admin.no_chair", { unit: unitName(unit) }) }));
		} catch (e) {
			setError(errText(e, { unit, what: "do.grant.manage", city: true }));
		}
	};
	const chair = h("input", { type: "text", testid: "admin-chair", name: "chair", autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true });
	const replace = h("input", { type: "checkbox", testid: "admin-replace", name: "replace", id: "admin-replace", "aria-describedby": "admin-replace-hint" });
	const form = h("form", { class: "card", "aria-labelledby": "admin-form-h" },
		h("h2", { id: "admin-form-h", text: t("admin.form") }),
		field("admin-chair", t("admin.chair"), chair, t("chair.grantee.hint")),
		h("div", { class: "check" }, replace, h("label", { for: "admin-replace", text: t("admin.replace") })),
		h("p", { class: "hint", id: "admin-replace-hint", text: t("admin.replace.hint") }),
		h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary", testid: "admin-submit", text: t("admin.submit") })));
	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const who = chair.value.trim();
		if (!who) {
			setError(t("chair.missing"));
			chair.focus();
			return;
		}
		setError("");
		const old = replace.checked ? chairs.filter((g) => g.grantee !== who) : [];
		const oldNames = old.map((g) => g.grantee).join(", ");
		if (old.length) {
			/* Revoking a chair ends everything delegated under their grant (docs/api.md): say how much. */
			const ends = new Set(old.map((g) => g.id));
			for (let grew = true; grew;) {
				grew = false;
				for (const g of held) {
					if (g.parent && ends.has(g.parent) && !ends.has(g.id)) {
						ends.add(g.id);
						grew = true;
					}
				}
			}
			const n = ends.size - old.length;
			const vars = { unit: unitName(unit), user: who, old: oldNames, n };
			const text = `${t("admin.replace.confirm", vars)}${n ? ` ${t("admin.replace.cascade", vars)}` : ""}`;
			if (!(await confirmDialog(text, t("admin.replace.yes")))) return;
		}
		let named = false;
		try {
			await api("POST", "/v1/grants", { grantee: who, role: "unit_chair", unit, may_delegate: 1 });
			named = true;
			for (const g of old) await api("DELETE", `/v1/grants/${encodeURIComponent(g.id)}`);
			setStatus(old.length
				? t("admin.replaced", { unit: unitName(unit), user: who, old: oldNames })
				: t("admin.named", { unit: unitName(unit), user: who }));
			chair.value = "";
			replace.checked = false;
		} catch (e) {
			/* Named but an old chair not revoked: say both, the list below shows who holds the role. */
			if (named) setStatus(t("admin.named", { unit: unitName(unit), user: who }));
			setError(named
				? `${t("admin.replace.partial", { unit: unitName(unit), old: oldNames })} ${errText(e, { unit, what: "do.grant.manage", city: true })}`
				: errText(e, { unit, what: "do.grant.manage", user: who, city: true }));
		}
		await refresh();
	});
	screen("admin.title", "admin",
		h("div", { class: "card" }, field("admin-unit", t("admin.unit"), pick)),
		h("section", { "aria-labelledby": "chairs-h" }, h("h2", { id: "chairs-h", text: t("admin.current", { unit: unitName(unit) }) }), listBox),
		form);
	await refresh();
}

async function renderAdminPerson() {
	const user = h("input", { type: "text", testid: "person-user", name: "user", autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true });
	const box = h("div", { class: "table-box" });
	const show = async (uid) => {
		setError("");
		try {
			const gs = (await api("GET", `/v1/grants?grantee=${encodeURIComponent(uid)}`)).data.grants || [];
			const msg = gs.length ? t("admin.person.count", { user: uid, n: gs.length }) : t("admin.person.none", { user: uid });
			box.replaceChildren(h("h2", { text: msg }), gs.length ? grantsTable(gs, true, async (g) => {
				if (await revokeGrant(g)) await show(uid);
			}) : null);
			setStatus(msg);
		} catch (e) {
			setError(errText(e, { what: "do.grant.manage", user: uid, city: true }));
		}
	};
	const form = h("form", { class: "card", role: "search" },
		field("person-user", t("admin.person.user"), user, t("chair.grantee.hint")),
		h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary", testid: "person-submit", text: t("admin.person.submit") })));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		if (!user.value.trim()) {
			setError(t("chair.missing"));
			user.focus();
			return;
		}
		show(user.value.trim());
	});
	screen("admin.person.title", "admin-person", form, box);
}

/* ---- audit ---- */

function auditQuery(f, cursor, limit, csv) {
	const q = new URLSearchParams();
	for (const k of ["unit", "actor", "action", "decision"]) if (f[k]) q.set(k, f[k]);
	if (f.from) q.set("from", dayToUtc(f.from, false));
	if (f.to) q.set("to", dayToUtc(f.to, true));
	if (cursor) q.set("cursor", cursor);
	q.set("limit", String(limit));
	if (csv) q.set("format", "csv");
	return `/v1/audit?${q}`;
}

function auditTable(events) {
	return h("table", { class: "grid small", testid: "audit-rows" },
		h("thead", {}, h("tr", {}, ["audit.at", "audit.col.actor", "audit.col.action", "audit.col.unit", "audit.col.object", "audit.col.decision", "audit.col.reason"]
			.map((k) => h("th", { scope: "col", text: t(k) })))),
		h("tbody", {}, events.map((ev) => h("tr", { class: `d-${ev.decision}` },
			h("td", { text: fmtTime(ev.at) }),
			h("td", { text: ev.actor || "" }),
			h("td", { text: has(`action.${ev.action}`) ? t(`action.${ev.action}`) : ev.action }),
			h("td", { text: ev.unit ? unitLabel(ev.unit) : "" }),
			h("td", { class: "object", text: ev.object || "" }),
			h("td", { text: has(`decision.${ev.decision}`) ? t(`decision.${ev.decision}`) : ev.decision }),
			h("td", { text: ev.reason || "" })))));
}

async function runAudit(box) {
	const a = S.audit;
	setError("");
	try {
		const r = await api("GET", auditQuery(a.filters, a.cursors[a.page - 1], PAGE_AUDIT));
		const events = r.data.events || [];
		a.cursors[a.page] = r.data.next_cursor || null;
		const msg = events.length ? t("audit.count", { page: a.page, n: events.length }) : t("audit.none");
		box.replaceChildren(h("p", { text: msg }), events.length ? h("div", { class: "table-box" }, auditTable(events)) : null,
			h("div", { class: "actions" },
				a.page > 1 ? button("audit-prev", t("search.prev"), () => { a.page--; runAudit(box); }, "btn secondary") : null,
				a.cursors[a.page] ? button("audit-next", t("search.next"), () => { a.page++; runAudit(box); }, "btn secondary") : null));
		setStatus(msg);
	} catch (e) {
		setError(errText(e, { unit: a.filters.unit, what: "do.audit.read", city: !a.filters.unit }));
	}
}

async function downloadCsv() {
	const a = S.audit;
	setError("");
	try {
		const r = await api("GET", auditQuery(a.filters, null, 1000, true), undefined, "text/csv");
		const day = new Date().toISOString().slice(0, 10);
		const file = `nhat-ky-${a.filters.unit || "tp"}-${day}.csv`;
		const href = URL.createObjectURL(new Blob([r.text], { type: "text/csv;charset=utf-8" }));
		const el = h("a", { href, download: file, hidden: true });
		document.body.append(el);
		el.click();
		el.remove();
		setTimeout(() => URL.revokeObjectURL(href), 10000);
		setStatus(t("audit.csv.done", { file }));
	} catch (e) {
		setError(errText(e, { unit: a.filters.unit, what: "do.audit.read", city: !a.filters.unit }));
	}
}

async function verifyChain(out) {
	out.textContent = t("app.loading");
	try {
		const v = (await api("GET", "/v1/audit/verify")).data;
		const msg = v.ok
			? t("audit.verify.ok", { rows: v.rows, checkpoints: v.checkpoints })
			: t("audit.verify.broken", { seq: v.first_broken ? v.first_broken.seq : "?", problem: v.first_broken ? v.first_broken.problem : "" });
		out.textContent = msg;
		out.className = v.ok ? "ok" : "warning";
		setStatus(msg);
	} catch (e) {
		out.textContent = e instanceof ApiError && e.status === 403 ? t("audit.verify.city_only") : errText(e, { what: "do.audit.read", city: true });
		out.className = "warning";
	}
}

async function renderAudit(parts, params) {
	const city = cityRole("city_auditor");
	const codes = city ? Object.keys(S.units).sort() : unitsWhere((p) => p.has("audit.read"));
	const want = params.get("unit");
	if (!S.audit || (want && S.audit.filters.unit !== want))
		S.audit = { filters: { unit: codes.includes(want) ? want : city ? "" : codes[0] || "" }, cursors: [null], page: 1 };
	const f = S.audit.filters;
	const unit = select("audit-unit", (city ? [["", t("audit.unit.all")]] : []).concat(unitOptions(codes)), f.unit || "");
	const actor = h("input", { type: "text", testid: "audit-actor", name: "actor", autocomplete: "off", autocapitalize: "none", spellcheck: "false", value: f.actor || "" });
	const action = select("audit-action", [["", t("audit.action.all")]].concat(AUDIT_ACTIONS.map((x) => [x, t(`action.${x}`)])), f.action || "");
	const decision = select("audit-decision", [["", t("audit.decision.all")], ["allow", t("decision.allow")], ["deny", t("decision.deny")], ["error", t("decision.error")]], f.decision || "");
	const from = h("input", { type: "date", testid: "audit-from", name: "from", value: f.from || "" });
	const to = h("input", { type: "date", testid: "audit-to", name: "to", value: f.to || "" });
	const box = h("div", { class: "results-box" });
	const form = h("form", { class: "card filters", "aria-labelledby": "filters-h" },
		h("h2", { id: "filters-h", text: t("audit.filters") }),
		h("div", { class: "grid-fields" },
			field("audit-unit", t("audit.unit"), unit),
			field("audit-actor", t("audit.actor"), actor),
			field("audit-action", t("audit.action"), action),
			field("audit-decision", t("audit.decision"), decision),
			field("audit-from", t("audit.from"), from),
			field("audit-to", t("audit.to"), to)),
		h("div", { class: "actions" },
			h("button", { type: "submit", class: "btn primary", testid: "audit-submit", text: t("audit.submit") }),
			button("audit-csv", t("audit.csv"), downloadCsv, "btn secondary")));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		S.audit = { filters: { unit: unit.value, actor: actor.value.trim(), action: action.value, decision: decision.value, from: from.value, to: to.value }, cursors: [null], page: 1 };
		runAudit(box);
	});
	const out = h("p", { testid: "audit-verify-result" });
	screen("audit.title", "audit", form,
		city ? h("section", { class: "card", "aria-labelledby": "verify-h" },
			h("h2", { id: "verify-h", text: t("audit.verify.title") }), out,
			h("div", { class: "actions" }, button("audit-verify", t("audit.verify"), () => verifyChain(out), "btn secondary"))) : null,
		h("section", { "aria-labelledby": "rows-h" }, h("h2", { id: "rows-h", text: t("audit.rows") }), box));
	await runAudit(box);
	if (city) await verifyChain(out);
}

/* ---- start ---- */

async function loadUnits() {
	try {
		const r = await api("GET", "/v1/status");
		for (const u of r.data.units || []) S.units[pad5(u.code)] = u.name;
		S.directory = r.data.directory || "";
	} catch (e) {
		S.directory = "";
	}
}

async function boot() {
	let lang = "vi";
	try {
		lang = localStorage.getItem("syncd.lang") === "en" ? "en" : "vi";
	} catch (e) {
		lang = "vi";
	}
	await loadCatalogue(lang);
	$("#skip").addEventListener("click", (ev) => {
		ev.preventDefault();
		const h1 = $("#head h1");
		if (h1) h1.focus();
	});
	await loadUnits();
	window.addEventListener("hashchange", route);
	/* A link to the screen already shown reloads it (the hash does not change, so no hashchange). */
	document.addEventListener("click", (ev) => {
		const a = ev.target.closest && ev.target.closest("a[href^='#/']");
		if (a && a.getAttribute("href") === location.hash && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) {
			ev.preventDefault();
			route();
		}
	});
	await route();
}

document.addEventListener("DOMContentLoaded", boot);
