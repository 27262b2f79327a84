/* deliver.c — the HTTP targets' delivery threads: per target a table of
 * units (due, busy, next attempt), max_in_flight_units threads that each
 * take one due unit, send its oldest batch and record the verdict; see
 * deliver.h. */
#include "syncd/deliver.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/pg.h"
#include "connectors/http_outbox.h"
#include "connectors/http_payload.h"
#include "connectors/http_send.h"

#define SCAN_S		0.05   /* how often a target looks for units with batches */
#define STATS_S		2.0    /* how often its counts are read from the state database */
#define PRUNE_S		600.0  /* how often delivered batches are pruned */
#define KEEP_DELIVERED	604800 /* seconds a delivered batch is kept (7 days) */
#define RUN_BATCHES	16     /* batches of one unit sent in a row before it takes its turn again */
#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS	300000

/* One unit of a target. */
struct slot {
	int unit;
	bool due;	  /* it has a batch waiting (not paused) */
	bool busy;	  /* a thread is sending for it */
	double next_at;	  /* monotonic seconds: not before */
	unsigned attempt; /* failed attempts of batch */
	long long batch;
};

struct target {
	struct deliver *d;
	const struct config_target *tg;
	struct http_send_conf send;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot **slots;
	size_t nslots;
	size_t rr; /* where the next pick starts: units take turns */
	double last_scan, stats_at, pruned_at;
	bool scanning;
	double rl_next; /* rate_limit: the next request's earliest time */
	pthread_t *threads;
	size_t nthreads;
	atomic_ullong delivered, changes, retries, dead;
	struct http_outbox_stats stats;
	bool stats_ok;
};

struct deliver {
	const struct config *cfg;
	atomic_bool stop;
	struct target *t;
	size_t n;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	if (s > 0)
		nanosleep(&ts, NULL);
}

/* Waits on t->cv for at most s seconds (t->mu held). */
static void wait_s(struct target *t, double s)
{
	struct timespec ts;
	long long ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (long long)ts.tv_nsec + (long long)(s * 1e9);
	ts.tv_sec += (time_t)(ns / 1000000000LL);
	ts.tv_nsec = (long)(ns % 1000000000LL);
	pthread_cond_timedwait(&t->cv, &t->mu, &ts);
}

static uint32_t rnd(void *ctx)
{
	uint32_t *s = ctx;

	/* xorshift32: the jitter needs spread, not secrecy */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static struct slot *slot_get(struct target *t, int unit)
{
	struct slot **p;

	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i]->unit == unit)
			return t->slots[i];
	p = realloc(t->slots, (t->nslots + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	t->slots = p;
	if ((p[t->nslots] = calloc(1, sizeof(**p))) == NULL)
		return NULL;
	p[t->nslots]->unit = unit;
	return p[t->nslots++];
}

/* Marks the units with batches waiting as due (t->mu not held). */
static void scan(struct target *t, PGconn *c, double now)
{
	int *units = NULL;
	size_t n = 0;
	char err[512];
	struct http_outbox_stats st;
	bool stats = now - t->stats_at >= STATS_S;

	if (http_outbox_units_due(c, t->tg->name, &units, &n, err, sizeof(err)) < 0) {
		log_warn("target %s: %s", t->tg->name, err);
		return;
	}
	stats = stats && http_outbox_stats(c, t->tg->name, &st, err, sizeof(err)) == 0;
	if (now - t->pruned_at >= PRUNE_S) {
		t->pruned_at = now;
		if (http_outbox_prune(c, t->tg->name, KEEP_DELIVERED, err, sizeof(err)) < 0)
			log_warn("target %s: pruning delivered batches: %s", t->tg->name, err);
	}
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->nslots; i++)
		if (!t->slots[i]->busy)
			t->slots[i]->due = false;
	for (size_t i = 0; i < n; i++) {
		struct slot *s = slot_get(t, units[i]);

		if (s != NULL)
			s->due = true;
	}
	if (stats) {
		t->stats = st;
		t->stats_ok = true;
		t->stats_at = now;
	}
	pthread_mutex_unlock(&t->mu);
	free(units);
}

/* A due unit no other thread holds, marked busy; NULL after waiting a little. */
static struct slot *pick(struct target *t, PGconn *c)
{
	double now = mono(), wait = SCAN_S;
	struct slot *best = NULL;

	pthread_mutex_lock(&t->mu);
	if (!t->scanning && now - t->last_scan >= SCAN_S) {
		t->scanning = true;
		pthread_mutex_unlock(&t->mu);
		scan(t, c, now);
		pthread_mutex_lock(&t->mu);
		t->scanning = false;
		t->last_scan = now;
	}
	for (size_t k = 0; k < t->nslots && best == NULL; k++) {
		struct slot *s = t->slots[(t->rr + k) % t->nslots];

		if (s->due && !s->busy && s->next_at <= now) {
			best = s;
			t->rr = (t->rr + k + 1) % t->nslots;
		} else if (s->due && !s->busy && s->next_at - now < wait) {
			wait = s->next_at - now;
		}
	}
	if (best != NULL)
		best->busy = true;
	else if (!atomic_load(&t->d->stop))
		wait_s(t, wait);
	pthread_mutex_unlock(&t->mu);
	return best;
}

static void release(struct target *t, struct slot *s, bool due, double next_at)
{
	pthread_mutex_lock(&t->mu);
	s->busy = false;
	s->due = due;
	s->next_at = next_at;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* rate_limit: requests of the whole target spaced 1/rate_limit apart. */
static void rate_wait(struct target *t)
{
	double now, at;

	if (t->tg->rate_limit <= 0)
		return;
	pthread_mutex_lock(&t->mu);
	now = mono();
	at = t->rl_next > now ? t->rl_next : now;
	t->rl_next = at + 1.0 / (double)t->tg->rate_limit;
	pthread_mutex_unlock(&t->mu);
	sleep_s(at - now);
}

/* One POST of b (gzipped when the target says so). */
static void post(struct target *t, void *handle, const struct http_outbox_batch *b, struct http_outcome *out)
{
	struct http_send_conf conf = t->send;
	char *url = config_expand_unit(t->tg->url, b->unit), *gz = NULL;
	size_t gzlen = 0;
	struct http_request req = {b->body, b->len, b->content_type, b->batch_id, NULL};

	memset(out, 0, sizeof(*out));
	if (url == NULL || (t->tg->gzip && http_gzip(b->body, b->len, &gz, &gzlen) < 0)) {
		out->verdict = HTTP_RETRY;
		out->retry_after = -1;
		snprintf(out->error, sizeof(out->error), "out of memory");
		free(url);
		return;
	}
	if (gz != NULL) {
		req.body = gz;
		req.len = gzlen;
		req.content_encoding = "gzip";
	}
	conf.url = url;
	conf.handle = handle;
	rate_wait(t);
	if (http_send(&conf, &req, out) < 0) /* nothing sent: out says why and whether waiting helps */
		log_debug("target %s unit %05d: %s", t->tg->name, b->unit, out->error);
	free(gz);
	free(url);
}

/* The batch is dead: recorded, the unit paused, said in the journal. */
static void bury(struct target *t, PGconn *c, const struct http_outbox_batch *b, const struct http_outcome *o,
		 const char *why)
{
	char err[512];
	struct http_outbox_death d = {o->status, why, o->excerpt};

	if (http_outbox_dead(c, t->tg->name, b, &d, err, sizeof(err)) < 0) {
		log_warn("target %s unit %05d: batch %s could not be recorded as dead: %s", t->tg->name,
			 b->unit, b->batch_id, err);
		return;
	}
	atomic_fetch_add(&t->dead, 1);
	log_err("target %s unit %05d: batch %s refused: %s; the unit is paused, nothing later is sent: "
		"see syncctl deadletter list, then retry or discard it",
		t->tg->name, b->unit, b->batch_id, why);
}

/* A batch the receiver refused or kept failing: dead, or tried again later. */
static void failed(struct target *t, PGconn *c, struct slot *s, const struct http_outbox_batch *b,
		   const struct http_outcome *o, uint32_t *seed)
{
	char err[512], why[HTTP_ERROR_MAX + 64];
	long ms;

	if (o->verdict == HTTP_DEAD || b->failing_s >= t->tg->retry_deadline) {
		snprintf(why, sizeof(why), "%s%s",
			 o->verdict == HTTP_DEAD ? "" : "still failing at retry_deadline: ", o->error);
		bury(t, c, b, o, why);
		release(t, s, false, 0);
		return;
	}
	ms = http_backoff_ms(s->attempt++, BACKOFF_BASE_MS, BACKOFF_CAP_MS, o->retry_after, rnd, seed);
	if (http_outbox_attempt_failed(c, b, o->error, err, sizeof(err)) < 0)
		log_warn("target %s unit %05d: %s", t->tg->name, b->unit, err);
	atomic_fetch_add(&t->retries, 1);
	log_warn("target %s unit %05d: batch %s not delivered (%s); next try in %.1f s", t->tg->name, b->unit,
		 b->batch_id, o->error, (double)ms / 1000);
	release(t, s, true, mono() + (double)ms / 1000);
}

/* Sends s's batches, oldest first, while they are delivered (at most
 * RUN_BATCHES, then the unit takes its turn again), and records each
 * verdict; the delivered mark reads the unit's next batch in the same
 * round trip. */
static void deliver_unit(struct target *t, PGconn *c, void *handle, struct slot *s, uint32_t *seed)
{
	struct http_outbox_batch b, next;
	struct http_outcome o;
	char err[512];
	int r = http_outbox_next(c, t->tg->name, s->unit, &b, err, sizeof(err));

	for (int sent = 0;; sent++) {
		if (r <= 0 || b.dead || sent == RUN_BATCHES) {
			if (r < 0)
				log_warn("target %s unit %05d: %s", t->tg->name, s->unit, err);
			/* r > 0 after RUN_BATCHES: still due, others first */
			release(t, s, r != 0 && !(r > 0 && b.dead), mono() + (r < 0 ? 1.0 : 0));
			break;
		}
		if (b.id != s->batch) {
			s->batch = b.id;
			s->attempt = 0;
		}
		post(t, handle, &b, &o);
		if (o.verdict != HTTP_DELIVERED) {
			failed(t, c, s, &b, &o, seed);
			break;
		}
		atomic_fetch_add(&t->delivered, 1);
		atomic_fetch_add(&t->changes, (unsigned long long)b.changes);
		r = http_outbox_delivered_next(c, t->tg->name, &b, &next, err, sizeof(err));
		if (r < 0)
			log_warn(
				"target %s unit %05d: batch %s delivered but not recorded (it is sent again, same key): %s",
				t->tg->name, b.unit, b.batch_id, err);
		http_outbox_batch_clear(&b);
		b = next;
	}
	http_outbox_batch_clear(&b);
}

static void *worker(void *arg)
{
	struct target *t = arg;
	const struct config *cfg = t->d->cfg;
	PGconn *c = NULL;
	CURL *h = curl_easy_init();
	uint32_t seed = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&seed;
	bool warned = false;

	log_set_context("target %s", t->tg->name);
	while (!atomic_load(&t->d->stop)) {
		struct slot *s;

		if (c == NULL || PQstatus(c) != CONNECTION_OK) {
			char err[512];

			PQfinish(c);
			c = pg_connect_state(cfg->state_conninfo, cfg->state_password, "syncd", err,
					     sizeof(err));
			if (c == NULL) {
				if (!warned)
					log_warn("target %s: %s; delivery waits", t->tg->name, err);
				warned = true;
				sleep_s(1);
				continue;
			}
			warned = false;
			/* a mark lost in a crash costs only a resend under the same
			 * Idempotency-Key: no WAL flush per delivered batch */
			PQclear(PQexec(c, "SET synchronous_commit = off"));
			if (http_outbox_prepare(c, err, sizeof(err)) < 0) {
				log_warn("target %s: %s; delivery waits", t->tg->name, err);
				PQfinish(c);
				c = NULL;
				sleep_s(1);
				continue;
			}
		}
		if ((s = pick(t, c)) != NULL)
			deliver_unit(t, c, h, s, &seed);
	}
	PQfinish(c);
	curl_easy_cleanup(h);
	return NULL;
}

static void target_conf(struct target *t, const struct config_target *tg)
{
	bool oauth = tg->auth && strcmp(tg->auth, "oauth2") == 0;

	t->tg = tg;
	t->send.timeout_ms = tg->timeout * 1000;
	t->send.ca_file = tg->ca_file;
	t->send.client_cert_file = tg->client_cert_file;
	t->send.client_key_file = tg->client_key_file;
	if (tg->auth && strcmp(tg->auth, "bearer") == 0)
		t->send.bearer_token_file = tg->token_file;
	if (tg->auth && strcmp(tg->auth, "hmac") == 0)
		t->send.webhook_secret_file = tg->hmac_secret_file;
	if (oauth) {
		t->send.token_url = tg->token_url;
		t->send.client_id = tg->client_id;
		t->send.client_secret_file = tg->client_secret_file;
		t->send.scope = tg->scope;
	}
}

struct deliver *deliver_start(const struct config *cfg, char *err, size_t errlen)
{
	struct deliver *d = calloc(1, sizeof(*d));

	if (d == NULL || (cfg->ntargets > 0 && (d->t = calloc(cfg->ntargets, sizeof(*d->t))) == NULL)) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->cfg = cfg;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		struct target *t = &d->t[i];

		t->d = d;
		target_conf(t, &cfg->targets[i]);
		pthread_mutex_init(&t->mu, NULL);
		pthread_cond_init(&t->cv, NULL);
		d->n++;
		if (t->tg->auth && strcmp(t->tg->auth, "oauth2") == 0 &&
		    (t->send.tokens = http_token_cache_new()) == NULL)
			goto oom;
		if ((t->threads = calloc((size_t)t->tg->max_in_flight_units, sizeof(*t->threads))) == NULL)
			goto oom;
		for (long k = 0; k < t->tg->max_in_flight_units; k++) {
			if (pthread_create(&t->threads[k], NULL, worker, t) != 0) {
				snprintf(err, errlen, "target %s: cannot start a delivery thread",
					 t->tg->name);
				deliver_stop(d);
				return NULL;
			}
			t->nthreads++;
		}
	}
	return d;
oom:
	snprintf(err, errlen, "out of memory");
	deliver_stop(d);
	return NULL;
}

void deliver_stop(struct deliver *d)
{
	if (d == NULL)
		return;
	atomic_store(&d->stop, true);
	deliver_kick(d);
	for (size_t i = 0; i < d->n; i++) {
		struct target *t = &d->t[i];

		for (size_t k = 0; k < t->nthreads; k++)
			pthread_join(t->threads[k], NULL);
		free(t->threads);
		for (size_t k = 0; k < t->nslots; k++)
			free(t->slots[k]);
		free(t->slots);
		http_token_cache_free(t->send.tokens);
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
	}
	free(d->t);
	free(d);
}

void deliver_kick(struct deliver *d)
{
	for (size_t i = 0; d != NULL && i < d->n; i++) {
		pthread_mutex_lock(&d->t[i].mu);
		d->t[i].last_scan = 0;
		pthread_cond_broadcast(&d->t[i].cv);
		pthread_mutex_unlock(&d->t[i].mu);
	}
}

bool deliver_stats_read(struct deliver *d, size_t i, struct deliver_stats *out)
{
	struct target *t;

	if (d == NULL || i >= d->n)
		return false;
	t = &d->t[i];
	out->name = t->tg->name;
	out->delivered = atomic_load(&t->delivered);
	out->changes = atomic_load(&t->changes);
	out->retries = atomic_load(&t->retries);
	out->dead = atomic_load(&t->dead);
	pthread_mutex_lock(&t->mu);
	out->pending = t->stats_ok ? t->stats.pending : -1;
	out->pending_bytes = t->stats_ok ? t->stats.pending_bytes : -1;
	out->paused_units = t->stats_ok ? t->stats.paused_units : -1;
	out->dead_open = t->stats_ok ? t->stats.dead_open : -1;
	pthread_mutex_unlock(&t->mu);
	return true;
}
