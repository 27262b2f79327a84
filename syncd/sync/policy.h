/* policy.h — the loaded routing policy as routing.c builds it and router.c
 * reads it; private to syncd/sync/ (others see struct routing as opaque). */
#ifndef SYNCD_SYNC_POLICY_H
#define SYNCD_SYNC_POLICY_H

#include <openssl/evp.h>

#include "syncd/sync/routing.h"

#define MAX_SUCCESSORS 4

struct old_unit {
	int ntargets;
	int targets[MAX_SUCCESSORS]; /* post-reform units it went into */
};

struct split_rule {
	int old_code;
	int registers_kept_by; /* 0: none */
};

struct override {
	char *table;
	char *key;
	int unit;
};

struct routing {
	EVP_MD_CTX *md; /* while loading: digest of every file read */
	char digest[65];
	struct unit_info *units;
	size_t nunits;
	int cutover; /* yyyymmdd */
	/* code -> index in units, -1: not a post-reform unit */
	short new_index[ROUTING_CODE_SPACE];
	struct old_unit *old;	    /* ROUTING_CODE_SPACE entries; ntargets 0: unknown */
	struct split_range *ranges; /* global split rules */
	size_t nranges;
	struct split_rule *rules;
	size_t nrules;
	struct override *overrides; /* sorted by (table, key) */
	size_t noverrides;
	struct routing_table *tables;
	size_t ntables;
};

/* "31120" -> 31120; -1 unless exactly 5 ASCII digits. */
int routing_code_parse(const char *s, size_t len);
/* "YYYY-MM-DD..." (date, or timestamp in ISO style) -> yyyymmdd, or -1. */
int routing_date_parse(const char *s, size_t len);

#endif
