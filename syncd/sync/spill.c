/* spill.c — streamed transactions staged on disk until their commit: one
 * file of length-prefixed pgoutput messages per top-level xid, cut back at a
 * subtransaction's first offset when it aborts; see spill.h. */
#include "syncd/sync/spill.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define SPILL_PREFIX "syncd-spill-"

struct spill_sub {
	uint32_t xid;
	long long off; /* where its first message starts */
};

struct spill_txn {
	uint32_t xid;
	long long size; /* bytes staged */
	struct spill_sub *subs;
	size_t nsubs, capsubs;
};

struct spill {
	char *dir;
	struct spill_txn *txns;
	size_t ntxns, captxns;
	FILE *f;	/* the open block's file, or the replay's */
	uint32_t f_xid; /* whose */
	bool replaying; /* f is read */
	uint8_t *msg;	/* the message read back */
	size_t msg_cap;
};

/* ---- the directory -------------------------------------------------------- */

static const char *spill_base(void)
{
	const char *b = getenv("STATE_DIRECTORY");

	if (b != NULL && b[0] == '/') {
		static __thread char first[4096];

		/* systemd lists several directories separated by ':' */
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(b, ":"), b);
		return first;
	}
	b = getenv("TMPDIR");
	return b != NULL && b[0] == '/' ? b : "/tmp";
}

static void dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4352];

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			(void)unlink(path);
		}
		closedir(d);
	}
	(void)rmdir(dir);
}

/* Directories of a syncd process that no longer runs: a kill -9 leaves its
 * staged transactions behind (the slot sends them again). */
static void stale_remove(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;
	char path[4352];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid;

		if (strncmp(e->d_name, SPILL_PREFIX, strlen(SPILL_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(SPILL_PREFIX), &end, 10);
		if (end == e->d_name + strlen(SPILL_PREFIX) || *end != '-' || pid <= 0 ||
		    pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		dir_remove(path);
	}
	closedir(d);
}

struct spill *spill_new(const char *tag, char *err, size_t errlen)
{
	const char *base = spill_base();
	struct spill *sp = calloc(1, sizeof(*sp));
	char safe[64];
	size_t n = 0;

	if (sp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (const char *t = tag; *t != '\0' && n + 1 < sizeof(safe); t++)
		safe[n++] = (*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
					    (*t >= '0' && *t <= '9') || *t == '_'
				    ? *t
				    : '_';
	safe[n] = '\0';
	stale_remove(base);
	if (asprintf(&sp->dir, "%s/" SPILL_PREFIX "%ld-%s-XXXXXX", base, (long)getpid(), safe) < 0) {
		sp->dir = NULL;
		free(sp);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (mkdtemp(sp->dir) == NULL) {
		snprintf(
			err, errlen,
			"cannot create the directory for streamed transactions under %s: %s; make it writable for syncd (or point STATE_DIRECTORY or TMPDIR elsewhere)",
			base, strerror(errno));
		free(sp->dir);
		free(sp);
		return NULL;
	}
	return sp;
}

const char *spill_dir(const struct spill *sp)
{
	return sp->dir;
}

static void txn_path(const struct spill *sp, uint32_t xid, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%u.spill", sp->dir, xid);
}

void spill_free(struct spill *sp)
{
	if (sp == NULL)
		return;
	if (sp->f != NULL)
		fclose(sp->f);
	for (size_t i = 0; i < sp->ntxns; i++)
		free(sp->txns[i].subs);
	free(sp->txns);
	if (sp->dir != NULL)
		dir_remove(sp->dir);
	free(sp->dir);
	free(sp->msg);
	free(sp);
}

size_t spill_count(const struct spill *sp)
{
	return sp->ntxns;
}

static struct spill_txn *txn_find(const struct spill *sp, uint32_t xid)
{
	for (size_t i = 0; i < sp->ntxns; i++)
		if (sp->txns[i].xid == xid)
			return &sp->txns[i];
	return NULL;
}

bool spill_has(const struct spill *sp, uint32_t xid)
{
	return txn_find(sp, xid) != NULL;
}

static void txn_forget(struct spill *sp, uint32_t xid)
{
	struct spill_txn *t = txn_find(sp, xid);
	char path[4352];

	if (t == NULL)
		return;
	txn_path(sp, xid, path, sizeof(path));
	(void)unlink(path);
	free(t->subs);
	*t = sp->txns[--sp->ntxns];
}

/* ---- the blocks of a stream ------------------------------------------------ */

static int write_failed(struct spill *sp, uint32_t xid, int e, char *err, size_t errlen)
{
	char path[4352];

	txn_path(sp, xid, path, sizeof(path));
	snprintf(
		err, errlen,
		"cannot stage streamed transaction %u in %s: %s; free space there (or point STATE_DIRECTORY or TMPDIR at a larger disk): the source stops and retries, and the slot sends the transaction again",
		xid, path, strerror(e));
	return -1;
}

int spill_start(struct spill *sp, uint32_t xid, bool first, char *err, size_t errlen)
{
	struct spill_txn *t = txn_find(sp, xid);
	char path[4352];

	if (sp->f != NULL) {
		snprintf(err, errlen,
			 "Stream Start of transaction %u while the block of transaction %u is open", xid,
			 sp->f_xid);
		return -1;
	}
	if (first && t != NULL) {
		snprintf(
			err, errlen,
			"Stream Start of transaction %u says it is its first block, but blocks of it are already staged; the stream is inconsistent: syncd reconnects and the slot sends the transaction again",
			xid);
		return -1;
	}
	if (!first && t == NULL) {
		snprintf(
			err, errlen,
			"Stream Start continues transaction %u, but no earlier block of it came in this session; the stream is inconsistent: syncd reconnects and the slot sends the transaction again from its start",
			xid);
		return -1;
	}
	if (t == NULL) {
		if (sp->ntxns == sp->captxns) {
			size_t cap = sp->captxns ? sp->captxns * 2 : 4;
			struct spill_txn *a = realloc(sp->txns, cap * sizeof(*a));

			if (a == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			sp->txns = a;
			sp->captxns = cap;
		}
		t = &sp->txns[sp->ntxns++];
		memset(t, 0, sizeof(*t));
		t->xid = xid;
	}
	txn_path(sp, xid, path, sizeof(path));
	sp->f = fopen(path, first ? "wb" : "ab");
	if (sp->f == NULL)
		return write_failed(sp, xid, errno, err, errlen);
	sp->f_xid = xid;
	sp->replaying = false;
	return 0;
}

/* The first message of subxid: its offset, unless it was seen before (the
 * last one first: messages of one subtransaction come in a row). */
static int sub_note(struct spill_txn *t, uint32_t subxid)
{
	if (subxid == t->xid)
		return 0;
	for (size_t i = t->nsubs; i-- > 0;)
		if (t->subs[i].xid == subxid)
			return 0;
	if (t->nsubs == t->capsubs) {
		size_t cap = t->capsubs ? t->capsubs * 2 : 8;
		struct spill_sub *a = realloc(t->subs, cap * sizeof(*a));

		if (a == NULL)
			return -1;
		t->subs = a;
		t->capsubs = cap;
	}
	t->subs[t->nsubs].xid = subxid;
	t->subs[t->nsubs].off = t->size;
	t->nsubs++;
	return 0;
}

int spill_append(struct spill *sp, uint32_t xid, uint32_t subxid, const uint8_t *msg, size_t len, char *err,
		 size_t errlen)
{
	struct spill_txn *t = txn_find(sp, xid);
	uint32_t n = (uint32_t)len;

	if (t == NULL || sp->f == NULL || sp->replaying || sp->f_xid != xid) {
		snprintf(
			err, errlen,
			"a change of transaction %u (subtransaction %u) outside an open Stream Start block of it",
			xid, subxid);
		return -1;
	}
	if (len == 0 || len > UINT32_MAX) {
		snprintf(err, errlen, "a message of %zu bytes in the stream of transaction %u", len, xid);
		return -1;
	}
	if (sub_note(t, subxid) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	errno = 0;
	if (fwrite(&n, sizeof(n), 1, sp->f) != 1 || fwrite(msg, len, 1, sp->f) != 1)
		return write_failed(sp, xid, errno ? errno : EIO, err, errlen);
	t->size += (long long)sizeof(n) + (long long)len;
	return 0;
}

int spill_stop(struct spill *sp, char *err, size_t errlen)
{
	uint32_t xid = sp->f_xid;
	int rc;

	if (sp->f == NULL || sp->replaying) {
		snprintf(err, errlen, "Stream Stop without an open block");
		return -1;
	}
	errno = 0;
	rc = fclose(sp->f);
	sp->f = NULL;
	if (rc != 0)
		return write_failed(sp, xid, errno ? errno : EIO, err, errlen);
	return 0;
}

int spill_abort(struct spill *sp, uint32_t xid, uint32_t subxid, char *err, size_t errlen)
{
	struct spill_txn *t = txn_find(sp, xid);
	char path[4352];

	if (t == NULL) {
		snprintf(
			err, errlen,
			"Stream Abort of transaction %u, which no Stream Start of this session began; the stream is inconsistent: syncd reconnects and the slot sends it again",
			xid);
		return -1;
	}
	if (sp->f != NULL && sp->f_xid == xid) {
		snprintf(err, errlen, "Stream Abort of transaction %u inside its open block", xid);
		return -1;
	}
	if (subxid == xid) {
		txn_forget(sp, xid);
		return 0;
	}
	for (size_t i = 0; i < t->nsubs; i++) {
		if (t->subs[i].xid != subxid)
			continue;
		txn_path(sp, xid, path, sizeof(path));
		if (truncate(path, (off_t)t->subs[i].off) < 0) {
			snprintf(err, errlen, "cannot cut subtransaction %u out of %s: %s", subxid, path,
				 strerror(errno));
			return -1;
		}
		t->size = t->subs[i].off;
		t->nsubs = i; /* it and every subtransaction after it */
		return 0;
	}
	return 0; /* it staged nothing */
}

/* ---- reading back ----------------------------------------------------------- */

int spill_replay_begin(struct spill *sp, uint32_t xid, char *err, size_t errlen)
{
	char path[4352];

	if (txn_find(sp, xid) == NULL) {
		snprintf(
			err, errlen,
			"Stream Commit of transaction %u, which no Stream Start of this session began; the stream is inconsistent: syncd reconnects and the slot sends it again",
			xid);
		return -1;
	}
	if (sp->f != NULL) {
		snprintf(err, errlen, "Stream Commit of transaction %u while a block is open", xid);
		return -1;
	}
	txn_path(sp, xid, path, sizeof(path));
	sp->f = fopen(path, "rb");
	if (sp->f == NULL) {
		snprintf(err, errlen, "cannot read streamed transaction %u back from %s: %s", xid, path,
			 strerror(errno));
		return -1;
	}
	sp->f_xid = xid;
	sp->replaying = true;
	return 0;
}

long spill_replay_next(struct spill *sp, const uint8_t **msg, char *err, size_t errlen)
{
	uint32_t n;
	size_t got;

	if (sp->f == NULL || !sp->replaying) {
		snprintf(err, errlen, "no streamed transaction is being read back");
		return -1;
	}
	got = fread(&n, 1, sizeof(n), sp->f);
	if (got == 0 && feof(sp->f))
		return 0;
	if (got != sizeof(n) || n == 0)
		goto short_read;
	if (n > sp->msg_cap) {
		uint8_t *m = realloc(sp->msg, n);

		if (m == NULL) {
			snprintf(err, errlen, "out of memory for a message of %u bytes", n);
			return -1;
		}
		sp->msg = m;
		sp->msg_cap = n;
	}
	if (fread(sp->msg, 1, n, sp->f) != n)
		goto short_read;
	*msg = sp->msg;
	return (long)n;
short_read:
	snprintf(err, errlen, "streamed transaction %u in %s: %s", sp->f_xid, sp->dir,
		 ferror(sp->f) ? strerror(errno) : "the file ends inside a message");
	return -1;
}

void spill_replay_end(struct spill *sp, uint32_t xid)
{
	if (sp->f != NULL && sp->replaying && sp->f_xid == xid) {
		fclose(sp->f);
		sp->f = NULL;
		sp->replaying = false;
	}
	txn_forget(sp, xid);
}
