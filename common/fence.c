/* fence.c — the process's leader term, read by every writer; see fence.h. */
#include "common/fence.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int64_t term;
static char cluster[128];

void fence_set_cluster(const char *name)
{
	snprintf(cluster, sizeof(cluster), "%s", name != NULL ? name : "");
}

const char *fence_cluster(void)
{
	return cluster;
}

void fence_set(int64_t t)
{
	atomic_store(&term, t);
}

int64_t fence_term(void)
{
	return atomic_load(&term);
}

void fence_text(char *out, size_t outlen)
{
	snprintf(out, outlen, "%lld", (long long)atomic_load(&term));
}

bool fence_refused(const char *err)
{
	return err != NULL && strstr(err, "syncd fence:") != NULL;
}
