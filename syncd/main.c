/* main.c — syncd: wires config, policies, state, the sync engine, the API, metrics and
 * systemd notification together; the logic lives in the modules. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fence.h"
#include "common/log.h"
#include "authz/authz.h"
#include "syncd/config.h"
#include "syncd/deliver.h"
#include "syncd/leader.h"
#include "syncd/metrics.h"
#include "syncd/notify.h"
#include "syncd/documents/documents.h"
#include "syncd/api/api.h"
#include "syncd/sync/routing.h"
#include "syncd/sync/snapshot.h"
#include "syncd/sync/pull.h"
#include "syncd/sync/state.h"
#include "syncd/sync/stream.h"

#define SYNCD_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: syncd -c FILE [--once | --check-config | --print-config]\n"
		"  -c, --config FILE   syncd.conf (default /etc/syncd/syncd.conf)\n"
		"      --once          snapshot if needed, catch up to each source's current WAL position, exit 0\n"
		"      --check-config  validate syncd.conf and the policies; print file:line errors\n"
		"      --print-config  print the effective configuration, secrets redacted\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n");
}

/* Policies name sources by [source NAME]; a mismatch would route nothing. */
static int policies_check(const struct config *cfg, const struct routing *rt)
{
	int bad = 0;

	for (size_t i = 0; i < routing_table_count(rt); i++) {
		const struct routing_table *t = routing_table_get(rt, i);

		if (config_source_find(cfg, t->source) == NULL) {
			log_err("%s/routing.json: tables[%zu] (%s): source \"%s\" has no [source %s] section in %s",
				cfg->policies_dir, i, t->table, t->source, t->source, cfg->path);
			bad = 1;
		}
	}
	/* a [target]'s units must be units of the routing: a typo would send nothing */
	for (size_t i = 0; i < cfg->ntargets; i++)
		for (size_t k = 0; k < cfg->targets[i].nunit_codes; k++)
			if (routing_unit_index(rt, cfg->targets[i].unit_codes[k]) < 0) {
				log_err("%s:%d: [target %s] units: %05d is not one of the %zu units of %s/routing.json; fix the code or remove it",
					cfg->path, cfg->targets[i].line, cfg->targets[i].name,
					cfg->targets[i].unit_codes[k], routing_unit_count(rt),
					cfg->policies_dir);
				bad = 1;
			}
	return bad ? -1 : 0;
}

static volatile sig_atomic_t stopping;

/* The routing the streams follow; a reload that only adds tables replaces
 * it (the old ones stay allocated until exit: a stream may still read one). */
static const struct routing *_Atomic current_rt;
static struct routing *reloaded_rt[64];
static size_t nreloaded_rt;

static void summary_print(const char *source, const struct stream_result *res)
{
	const struct state_snapshot *s = &res->snap.snap;

	printf("source %s: %s at %s: %lld rows (old era %lld, new era %lld), %lld quarantined, %d units, %.1f s%s\n",
	       source, res->snap.already_done ? "snapshot already complete" : "snapshot complete", s->lsn,
	       s->rows_old + s->rows_new, s->rows_old, s->rows_new, s->quarantined, s->units, s->seconds,
	       res->snap.already_done ? " (not copied again)" : "");
	printf("source %s: caught up at %s: %lld changes applied, %lld quarantined\n", source, res->position,
	       res->applied, res->quarantined);
	fflush(stdout);
}

static int check_sources(const struct config *cfg, const struct routing *rt)
{
	char err[2048];

	/* everything that can be refused is refused before anything is written */
	for (size_t i = 0; i < cfg->nsources; i++)
		if (snapshot_check_source(cfg, rt, &cfg->sources[i], err, sizeof(err)) < 0) {
			log_err("%s", err);
			return -1;
		}
	return 0;
}

/* Whether this configuration's listen address is free: a daemon of this
 * instance is not running (it would hold it). */
static bool listen_free(const struct config *cfg)
{
	struct sockaddr_storage ss;
	unsigned len;
	int loopback, one = 1, fd;
	bool free_ = false;

	if (api_listen_parse(cfg->listen, &ss, &len, &loopback) < 0)
		return false;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0)
		free_ = bind(fd, (struct sockaddr *)&ss, len) == 0;
	if (fd >= 0)
		close(fd);
	return free_;
}

/* --once is the cluster's active instance for its run: it takes the lease
 * (free, run out, or this instance's own while no daemon of it runs) and
 * hands it back at the end. */
static struct leader *once_lease(const struct config *cfg)
{
	char holder[300], err[1024], who[200];
	struct leader *l;
	int r;

	if (!listen_free(cfg)) {
		log_err("--once: %s is in use: a syncd of this configuration is running; stop it first "
			"(systemctl stop syncd), or let it sync",
			cfg->listen);
		return NULL;
	}
	leader_holder(cfg->listen, holder, sizeof(holder));
	l = leader_new(&(const struct leader_conf){cfg->state_conninfo, cfg->state_password, cfg->cluster,
						   holder, cfg->lease});
	if (l == NULL) {
		log_err("out of memory");
		return NULL;
	}
	r = leader_round(l, err, sizeof(err));
	if (r == 1)
		return l;
	leader_who(l, who, sizeof(who));
	if (r < 0)
		log_err("--once: %s", err);
	else
		log_err("--once: the active instance of cluster \"%s\" is %s; --once runs only while no "
			"instance is active (stop it, or wait %ld s after it stopped)",
			cfg->cluster, who, cfg->lease);
	leader_free(l);
	return NULL;
}

/* The lease is lost (taken, or not renewed in time): not one more write. */
static void lease_lost(const char *cluster, const char *who)
{
	log_err("this instance lost the lease of cluster \"%s\" (now: %s): it stops writing and exits "
		"(status %d); systemd starts it again as the standby",
		cluster, who[0] ? who : "no answer from the state database", LEADER_EXIT_LOST);
	_exit(LEADER_EXIT_LOST);
}

static void once_on_change(void *ctx, int state)
{
	const struct config *cfg = ctx;

	if (state == 2)
		lease_lost(cfg->cluster, "");
}

static int run_once(const struct config *cfg, const struct routing *rt)
{
	struct stream_options opt = {.once = true, .stop = &stopping};
	struct leader *l;
	char err[2048];
	int r = 0;

	if (check_sources(cfg, rt) < 0 || (l = once_lease(cfg)) == NULL)
		return 1;
	if (leader_start(l, once_on_change, (void *)cfg) < 0) {
		log_err("cannot start the lease's thread");
		leader_free(l);
		return 1;
	}
	for (size_t i = 0; i < cfg->nsources; i++) {
		struct stream_result res;

		if ((cfg->sources[i].http
			     ? pull_run(cfg, rt, &cfg->sources[i], &opt, &res, err, sizeof(err))
			     : stream_run(cfg, rt, &cfg->sources[i], &opt, &res, err, sizeof(err))) < 0) {
			log_err("%s", err);
			r = 1;
			break;
		}
		summary_print(cfg->sources[i].name, &res);
	}
	leader_stop(l);
	leader_release(l);
	leader_free(l);
	return r;
}

struct worker {
	pthread_t thread;
	struct stream_status *status;
	atomic_bool ended;
	const struct config *cfg;
	const struct routing *rt;
	const struct config_source *src;
	int result;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct stream_options opt = {
		.once = false, .stop = &stopping, .status = w->status, .routing = &current_rt};
	struct stream_result res;
	char err[2048];

	w->result = w->src->http ? pull_run(w->cfg, w->rt, w->src, &opt, &res, err, sizeof(err))
				 : stream_run(w->cfg, w->rt, w->src, &opt, &res, err, sizeof(err));
	if (w->result < 0)
		log_err("%s; this source is stopped", err);
	else
		log_info("source %s: stopped at %s (%lld changes applied, %lld quarantined)", w->src->name,
			 res.position, res.applied, res.quarantined);
	atomic_store(&w->ended, true);
	kill(getpid(), SIGUSR1); /* tell the main thread one source fewer runs */
	return NULL;
}

/* roles.json from the policies directory; NULL with the reason logged. */
static struct roles *roles_open(const struct config *cfg)
{
	char path[4096], err[1024];
	struct roles *roles;

	snprintf(path, sizeof(path), "%s/roles.json", cfg->policies_dir);
	roles = roles_load(path, err, sizeof(err));
	if (roles == NULL)
		log_err("%s", err);
	return roles;
}

/* The permission half: decisions against [ldap], NULL when there is none. */
static int authz_open(const struct config *cfg, const struct routing *rt, struct authz **out)
{
	struct authz_conf ac = {0};
	struct roles *roles;
	char err[1024];
	int *units;

	*out = NULL;
	if (cfg->ldap_uri == NULL) {
		log_warn("no [ldap] section: the API answers 503 to everything that needs a login");
		return 0;
	}
	roles = roles_open(cfg);
	if (roles == NULL)
		return -1;
	units = calloc(routing_unit_count(rt) + 1, sizeof(int));
	if (units == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < routing_unit_count(rt); i++)
		units[i] = routing_unit_get(rt, i)->code;
	ac.ldap.uri = cfg->ldap_uri;
	ac.ldap.bind_dn = cfg->ldap_bind_dn;
	ac.ldap.password = cfg->ldap_bind_password;
	ac.ldap.ca_file = cfg->ldap_tls_ca_file;
	ac.ldap.starttls = cfg->ldap_starttls != 0;
	ac.ldap.timeout_s = (int)cfg->ldap_timeout;
	ac.base = cfg->ldap_base;
	ac.units = units;
	ac.nunits = routing_unit_count(rt);
	ac.cache_ttl = cfg->ldap_cache_ttl;
	*out = authz_new(&ac, roles, err, sizeof(err));
	free(units);
	if (*out == NULL) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

/* Delivers the documents' outbox (registration acts up to the city) every
 * second until stopping. */
struct outbox_ctx {
	pthread_t thread;
	const struct config *cfg;
	const struct documents *docs;
};

static void *outbox_main(void *arg)
{
	struct outbox_ctx *o = arg;
	char err[1024];
	bool failing = false;

	log_set_context("outbox");
	while (!stopping) {
		int n = outbox_deliver(o->cfg, o->docs, err, sizeof(err));

		if (n < 0 && !failing)
			log_warn("outbox: %s; retrying every second", err);
		failing = n < 0;
		if (n > 0)
			log_info("outbox: %d documents registered with the city", n);
		if (n <= 0)
			sleep(1);
	}
	return NULL;
}

/* The issuing side: signing key, audit log, document kinds. */
static int issuing_open(const struct config *cfg, const struct routing *rt, struct signer **signer,
			struct audit **audit, struct documents **docs)
{
	char path[4096], err[1024];

	*signer = NULL;
	*audit = NULL;
	*docs = NULL;
	if (cfg->signing_key_file != NULL) {
		*signer = signer_load(cfg->signing_key_file, err, sizeof(err));
		if (*signer == NULL) {
			log_err("[syncd] signing_key_file: %s", err);
			return -1;
		}
	} else {
		log_warn(
			"no [syncd] signing_key_file: documents cannot be issued and audit checkpoints are unsigned");
	}
	snprintf(path, sizeof(path), "%s/documents.json", cfg->policies_dir);
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		/* a daemon that only syncs: documents and records are off, said once */
		log_warn("%s: no such file: documents cannot be issued and records cannot be read "
			 "(POST /v1/documents and /v1/records answer 503 documents_not_configured); "
			 "to turn them on, install policies/documents.json there and restart syncd",
			 path);
	} else if ((*docs = documents_load(path, rt, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return -1;
	}
	for (size_t i = 0; *docs != NULL && i < documents_count(*docs); i++) {
		const struct doc_kind *k = documents_nth(*docs, i);

		if (k->reg_target != NULL && config_target_find(cfg, k->reg_target) == NULL) {
			log_err("%s: kind %s: register names [target %s], which %s does not have; add the section or fix the name",
				path, k->name, k->reg_target, cfg->path);
			return -1;
		}
	}
	if (documents_prepare(cfg, err, sizeof(err)) < 0) {
		log_err("state database: documents: %s", err);
		return -1;
	}
	*audit = audit_open(cfg->state_conninfo, cfg->state_password, *signer, cfg->audit_checkpoint_file,
			    cfg->audit_checkpoint_every, err, sizeof(err));
	if (*audit == NULL) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

/* SIGHUP: re-read syncd.conf, roles.json and routing.json, check them all
 * first, then apply the reloadable settings at once; anything wrong keeps
 * everything as it was and says why (in the log and in STATUS). */
static void reload(struct config *cfg, struct authz *az, struct audit *audit, struct api *api, char *result,
		   size_t resultlen)
{
	char *errors = NULL, msg[1024], path[4096];
	struct config *ncfg = config_load(cfg->path, &errors);
	struct routing *nrt = NULL;
	struct roles *nroles = NULL;
	int cmp;

	if (ncfg == NULL) {
		snprintf(result, resultlen, "reload refused, the running configuration is kept: %.*s",
			 (int)strcspn(errors ? errors : "out of memory", "\n"),
			 errors ? errors : "out of memory");
		goto out;
	}
	if (config_fixed_changes(cfg, ncfg, msg, sizeof(msg)) > 0) {
		snprintf(
			result, resultlen,
			"reload refused, the running configuration is kept: %s cannot change while syncd runs; "
			"restart it (systemctl restart syncd)",
			msg);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/roles.json", ncfg->policies_dir);
	if ((nroles = roles_load(path, msg, sizeof(msg))) == NULL) {
		snprintf(result, resultlen, "reload refused, the running policies are kept: %s", msg);
		goto out;
	}
	nrt = routing_load(ncfg->policies_dir, msg, sizeof(msg));
	if (nrt == NULL || policies_check(ncfg, nrt) < 0) {
		snprintf(result, resultlen, "reload refused, the running policies are kept: %s",
			 nrt ? "routing.json names a source syncd.conf does not have" : msg);
		goto out;
	}
	cmp = routing_compare(atomic_load(&current_rt), nrt, msg, sizeof(msg));
	if (cmp == 1) {
		snprintf(
			result, resultlen,
			"reload refused, the running routing is kept: %s, which moves existing rows between units; "
			"to apply it, restart syncd with it and run syncctl resync --unit CODE for each unit concerned",
			msg);
		goto out;
	}
	if (cmp == 3 && nreloaded_rt == sizeof(reloaded_rt) / sizeof(reloaded_rt[0])) {
		snprintf(result, resultlen,
			 "reload refused: %s, but syncd has reloaded the routing too often; restart it", msg);
		goto out;
	}
	if (cmp == 2) {
		snprintf(
			result, resultlen,
			"reload refused, the running routing is kept: %s; restart syncd to apply it (a new table is "
			"then copied into every unit)",
			msg);
		goto out;
	}
	/* everything checked: now the reloadable settings, all together */
	log_set_level((enum log_level)log_level_parse(ncfg->log_level));
	cfg->copy_buffer_kb = ncfg->copy_buffer_kb;
	cfg->unit_backlog_limit = ncfg->unit_backlog_limit;
	cfg->audit_checkpoint_every = ncfg->audit_checkpoint_every;
	cfg->ldap_cache_ttl = ncfg->ldap_cache_ttl;
	if (az != NULL) {
		authz_reload(az, nroles, ncfg->ldap_cache_ttl);
		nroles = NULL; /* authz's now; without a directory out: frees it */
	}
	audit_set_checkpoint_every(audit, ncfg->audit_checkpoint_every);
	api_reload(api, ncfg);
	if (cmp == 3) { /* the streams plan again and copy the new tables */
		reloaded_rt[nreloaded_rt++] = nrt;
		atomic_store(&current_rt, nrt);
		nrt = NULL;
	}
	snprintf(result, resultlen,
		 "reloaded %s, roles.json and routing.json (log_level %s, cache_ttl %ld%s%s)", cfg->path,
		 ncfg->log_level, ncfg->ldap_cache_ttl, cmp == 3 ? "; " : "", cmp == 3 ? msg : "");
out:
	free(errors);
	roles_free(nroles);
	routing_free(nrt);
	config_free(ncfg);
}

/* The running daemon: what run_daemon opens, and what the metrics read. */
struct daemon {
	struct config *cfg;
	const struct routing *rt; /* its units stay while syncd runs; tables may be added */
	struct authz *az;
	struct signer *signer;
	struct audit *audit;
	struct documents *docs;
	struct stream_status *statuses;
	struct worker *workers;
	const char **names;
	struct metrics *metrics;
	struct api *api;
	struct outbox_ctx outbox;
	struct deliver *_Atomic deliver; /* the HTTP targets' delivery threads (active only) */
	struct leader *leader;
	atomic_int role; /* leader_round's last answer: 1 active, 0 standby, -1 none yet */
};

/* ---- what metrics.c reads (struct metrics_hooks) */

static void view_source(void *ctx, size_t i, struct metrics_source *out)
{
	const struct daemon *d = ctx;
	const struct stream_status *st = &d->statuses[i];

	out->streaming = atomic_load(&st->streaming);
	out->ended = atomic_load(&d->workers[i].ended);
	out->beats = atomic_load(&st->beats);
	out->received = atomic_load(&st->received);
	out->flushed = atomic_load(&st->flushed);
	out->applied = atomic_load(&st->applied);
	out->quarantined = atomic_load(&st->quarantined);
	out->pending_since = atomic_load(&st->pending_since);
	out->inserts = atomic_load(&st->inserts);
	out->updates = atomic_load(&st->updates);
	out->deletes = atomic_load(&st->deletes);
	out->batches = atomic_load(&st->batches);
	out->retries = atomic_load(&st->retries);
	out->units_down = atomic_load(&st->units_down);
	out->units_detached = atomic_load(&st->units_detached);
	out->unit_lsn = st->unit_lsn;
	out->nunits = st->nunits;
}

static bool view_unit(void *ctx, size_t u, int *code, const char **name)
{
	const struct daemon *d = ctx;
	const struct unit_info *ui;

	if (u >= routing_unit_count(d->rt))
		return false;
	ui = routing_unit_get(d->rt, u);
	*code = ui->code;
	*name = ui->full_name;
	return true;
}

static const char *view_table(void *ctx, size_t t)
{
	const struct routing *cur = atomic_load(&current_rt);

	(void)ctx;
	return t < routing_table_count(cur) ? routing_table_get(cur, t)->table : NULL;
}

static int view_directory(void *ctx)
{
	const struct daemon *d = ctx;

	return d->az == NULL ? -1 : authz_directory_up(d->az) ? 1 : 0;
}

static int view_ldap(void *ctx, struct metrics_histogram *h)
{
	const struct daemon *d = ctx;

	_Static_assert(AUTHZ_LDAP_BUCKETS <= METRICS_MAX_BUCKETS, "the LDAP histogram fits");
	if (d->az == NULL)
		return -1;
	authz_ldap_histogram(d->az, h->counts, &h->sum);
	h->bounds = authz_ldap_bounds;
	h->n = AUTHZ_LDAP_BUCKETS;
	return 0;
}

static bool view_target(void *ctx, size_t i, struct metrics_target *out)
{
	const struct daemon *d = ctx;
	struct deliver_stats s;

	if (atomic_load(&d->deliver) == NULL || !deliver_stats_read(atomic_load(&d->deliver), i, &s))
		return false;
	*out = (struct metrics_target){s.name,	  s.delivered,	   s.changes,	   s.retries,  s.dead,
				       s.pending, s.pending_bytes, s.paused_units, s.dead_open};
	return true;
}

/* ---- the daemon's life */

static void daemon_close(struct daemon *d)
{
	leader_free(d->leader);
	deliver_stop(atomic_load(&d->deliver));
	api_stop(d->api);
	audit_close(d->audit);
	documents_free(d->docs);
	signer_free(d->signer);
	authz_free(d->az);
	for (size_t i = 0; d->statuses != NULL && i < d->cfg->nsources; i++)
		free(d->statuses[i].unit_lsn);
	metrics_free(d->metrics);
	free(d->statuses);
	free(d->workers);
	free(d->names);
}

/* The per-source status and the metrics that read it, before any thread runs. */
static void daemon_metrics(struct daemon *d)
{
	const struct metrics_hooks hooks = {d,	       view_source, view_unit, view_table, view_directory,
					    view_ldap, view_target};
	const struct metrics_features features = {d->docs != NULL, d->signer != NULL, d->az != NULL};
	size_t nu = routing_unit_count(d->rt);
	char off[160];

	d->statuses = calloc(d->cfg->nsources, sizeof(*d->statuses));
	d->workers = calloc(d->cfg->nsources, sizeof(*d->workers));
	d->names = calloc(d->cfg->nsources, sizeof(*d->names));
	if (d->statuses == NULL || d->workers == NULL || d->names == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < d->cfg->nsources; i++)
		d->names[i] = d->cfg->sources[i].name;
	d->metrics = metrics_new(d->cfg->nsources, d->names, nu, &features, &hooks);
	if (d->metrics == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < d->cfg->nsources; i++) {
		d->statuses[i].nunits = nu;
		d->statuses[i].unit_lsn = calloc(nu + 1, sizeof(*d->statuses[i].unit_lsn));
		d->statuses[i].metrics = d->metrics;
		d->statuses[i].source = i;
		if (d->statuses[i].unit_lsn == NULL)
			fatal("out of memory");
	}
	metrics_features_off(d->metrics, off, sizeof(off));
	if (off[0] != '\0')
		log_info("running without: %s", off);
}

/* The leader thread's word after each round: the role in the metrics
 * (STATUS, /readyz, /v1/status, the API's gate), and a lost lease ends the
 * process at once. */
static void on_leader(void *ctx, int state)
{
	struct daemon *d = ctx;
	char who[200];

	leader_who(d->leader, who, sizeof(who));
	if (state == 2)
		lease_lost(d->cfg->cluster, who);
	metrics_set_leader(d->metrics, state == 1, (long long)leader_term(d->leader), who);
	if (atomic_exchange(&d->role, state) == state)
		return;
	if (state == 0)
		log_info("standby: the active instance of cluster \"%s\" is %s; this one takes over when its "
			 "lease runs out",
			 d->cfg->cluster, who);
	else
		log_info("active: this instance holds the lease of cluster \"%s\" (term %lld)",
			 d->cfg->cluster, (long long)leader_term(d->leader));
}

static void workers_start(struct daemon *d)
{
	for (size_t i = 0; i < d->cfg->nsources; i++) {
		d->workers[i].cfg = d->cfg;
		d->workers[i].rt = d->rt;
		d->workers[i].src = &d->cfg->sources[i];
		d->workers[i].status = &d->statuses[i];
		if (pthread_create(&d->workers[i].thread, NULL, worker_main, &d->workers[i]) != 0)
			fatal("cannot start a thread for source %s", d->cfg->sources[i].name);
	}
}

/* The active side, once this instance holds the lease: the HTTP targets'
 * delivery, the documents' outbox and one stream per source. */
static void active_start(struct daemon *d)
{
	char err[2048];
	struct deliver *dl = deliver_start(d->cfg, err, sizeof(err));

	if (dl == NULL)
		fatal("%s", err);
	atomic_store(&d->deliver, dl);
	d->outbox = (struct outbox_ctx){.cfg = d->cfg, .docs = d->docs};
	if (d->docs != NULL && pthread_create(&d->outbox.thread, NULL, outbox_main, &d->outbox) != 0)
		fatal("cannot start the outbox thread");
	workers_start(d);
	log_info("syncd active: %zu sources, %zu HTTP targets", d->cfg->nsources, d->cfg->ntargets);
}

/* Until a signal says stop or, once active, every source has ended: the
 * active side started when the lease is won, STATUS and the watchdog once a
 * second, a reload on SIGHUP.  True once the active side was started. */
static bool daemon_loop(struct daemon *d, const sigset_t *set, struct notify *n)
{
	size_t running = d->cfg->nsources;
	bool started = false;

	while (!started || running > 0) {
		struct timespec tick = {.tv_sec = 1};
		int sig;

		if (atomic_load(&d->role) == 1 && leader_expiring(d->leader)) {
			char who[200];

			leader_who(d->leader, who, sizeof(who));
			lease_lost(d->cfg->cluster, who);
		}
		if (!started && atomic_load(&d->role) == 1) {
			active_start(d);
			started = true;
			continue;
		}
		sig = sigtimedwait(set, NULL, &tick);

		if (sig == SIGUSR1) { /* a worker ended by itself */
			running--;
			continue;
		}
		if (sig == SIGHUP) {
			char result[1400];

			notify_reloading();
			reload(d->cfg, d->az, d->audit, d->api, result, sizeof(result));
			if (strncmp(result, "reloaded", 8) == 0)
				log_info("%s", result);
			else
				log_warn("%s", result);
			notify_ready(n, result);
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("%s received: finishing the batches in flight",
				 sig == SIGTERM ? "SIGTERM" : "SIGINT");
			notify_stopping();
			stopping = 1;
			break;
		}
		notify_tick(n);
	}
	return started;
}

/* Signals are taken by sigwait in the main thread; workers only read the flag. */
static int run_daemon(struct config *cfg, const struct routing *rt)
{
	struct daemon d = {.cfg = cfg, .rt = rt};
	struct api_deps deps;
	struct notify *n;
	sigset_t set;
	bool started;
	int r = 0;
	char err[2048], holder[300];

	atomic_store(&current_rt, rt);
	/* blocked before any thread starts: every thread inherits the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (check_sources(cfg, rt) < 0 || authz_open(cfg, rt, &d.az) < 0 ||
	    issuing_open(cfg, rt, &d.signer, &d.audit, &d.docs) < 0) {
		daemon_close(&d);
		return 1;
	}
	daemon_metrics(&d);
	/* a standby until the lease says otherwise: the API's gate reads this */
	metrics_set_leader(d.metrics, false, 0, "");
	atomic_store(&d.role, -1);
	if (d.audit != NULL && audit_set_fence(d.audit, cfg->cluster) < 0)
		fatal("out of memory");
	/* the first round before the API answers: a request finds the role
	 * decided.  The row naming this instance's holder may be taken at once
	 * only while no process of it holds the listen address. */
	if (!listen_free(cfg)) {
		log_err("[syncd] listen = %s: the address is in use (another syncd of this configuration, or "
			"another program); stop it or choose another address in %s",
			cfg->listen, cfg->path);
		daemon_close(&d);
		return 1;
	}
	leader_holder(cfg->listen, holder, sizeof(holder));
	d.leader = leader_new(&(const struct leader_conf){cfg->state_conninfo, cfg->state_password,
							  cfg->cluster, holder, cfg->lease});
	if (d.leader == NULL)
		fatal("out of memory");
	if ((r = leader_round(d.leader, err, sizeof(err))) < 0)
		log_warn("%s; this instance stays the standby until the state database answers", err);
	else
		on_leader(&d, r);
	r = 0;
	deps = (struct api_deps){cfg, rt, d.az, d.audit, d.signer, d.docs, d.metrics};
	d.api = api_start(&deps, err, sizeof(err));
	if (d.api == NULL) {
		log_err("%s", err);
		daemon_close(&d);
		return 1;
	}
	if (leader_start(d.leader, on_leader, &d) < 0)
		fatal("cannot start the lease's thread");
	log_info("syncd running: cluster \"%s\" as %s; active once it holds the lease", cfg->cluster, holder);
	n = notify_new(d.metrics);
	if (n == NULL)
		fatal("out of memory");
	/* the sources and the state DB have answered (check_sources, audit_open) */
	notify_ready(n, NULL);
	started = daemon_loop(&d, &set, n);
	for (size_t i = 0; started && i < cfg->nsources; i++) {
		pthread_join(d.workers[i].thread, NULL);
		if (d.workers[i].result < 0)
			r = 1;
	}
	stopping = 1;
	if (started && d.docs != NULL)
		pthread_join(d.outbox.thread, NULL);
	leader_stop(d.leader);
	leader_release(d.leader); /* the standby takes over at once */
	notify_free(n);
	daemon_close(&d);
	for (size_t i = 0; i < nreloaded_rt; i++)
		routing_free(reloaded_rt[i]);
	nreloaded_rt = 0;
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"once", no_argument, NULL, 'o'},
		{"check-config", no_argument, NULL, 'k'},
		{"print-config", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = "/etc/syncd/syncd.conf";
	bool once = false, check = false, print = false;
	struct config *cfg;
	struct routing *rt;
	char *errors = NULL;
	char err[2048];
	int c, r;

	log_init("syncd");
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'o': once = true; break;
		case 'k': check = true; break;
		case 'p': print = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("syncd %s\n", SYNCD_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "syncd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if ((int)once + (int)check + (int)print > 1) {
		fprintf(stderr, "syncd: --once, --check-config and --print-config exclude each other\n");
		return 2;
	}
	cfg = config_load(path, &errors);
	if (cfg == NULL) {
		fputs(errors ? errors : "syncd: cannot load the configuration (out of memory)\n", stderr);
		free(errors);
		return 1;
	}
	log_set_level((enum log_level)log_level_parse(cfg->log_level));
	fence_set_cluster(cfg->cluster);
	if (print) {
		config_print(cfg, stdout);
		config_free(cfg);
		return 0;
	}
	rt = routing_load(cfg->policies_dir, err, sizeof(err));
	if (rt == NULL) {
		log_err("%s", err);
		config_free(cfg);
		return 1;
	}
	if (policies_check(cfg, rt) < 0) {
		r = 1;
	} else if (check) {
		struct roles *roles = roles_open(cfg);

		if (roles == NULL) {
			r = 1;
			goto done;
		}
		roles_free(roles);
		printf("%s: configuration and policies are valid (%zu sources, %zu tables, %zu units)\n",
		       path, cfg->nsources, routing_table_count(rt), routing_unit_count(rt));
		r = 0;
	} else if (once) {
		r = run_once(cfg, rt);
	} else {
		r = run_daemon(cfg, rt);
	}
done:
	thread_conn_close(); /* documents_prepare's, on this thread */
	routing_free(rt);
	config_free(cfg);
	return r;
}
