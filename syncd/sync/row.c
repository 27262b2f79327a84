/* row.c — routing, masking and quarantining one row, written once for the
 * snapshot and the stream; see row.h. */
#include "syncd/sync/row.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *val_ptr(const struct connector_value *v, size_t *len)
{
	if (v->kind != CV_VALUE)
		return NULL;
	*len = v->len;
	return v->p;
}

const char *row_key_text(const struct plan_table *p, const struct connector_value *v, struct buf *key)
{
	buf_reset(key);
	for (int k = 0; k < p->nkey; k++) {
		const struct connector_value *kv = &v[p->key_idx[k]];

		if ((k > 0 && buf_puts(key, ",") < 0) ||
		    (kv->kind == CV_VALUE && buf_append(key, kv->p, kv->len) < 0))
			return NULL;
	}
	if (buf_puts(key, "") < 0)
		return NULL;
	return key->data;
}

int row_route(const struct sync_run *run, const struct plan_table *p, const struct connector_value *v,
	      struct buf *key, enum router_reason *why, enum routing_era *era)
{
	struct router_row rr = {0};
	int code = 0;

	rr.unit = val_ptr(&v[p->unit_idx], &rr.unit_len);
	if (p->date_idx >= 0)
		rr.date = val_ptr(&v[p->date_idx], &rr.date_len);
	if (p->split_idx >= 0)
		rr.split = val_ptr(&v[p->split_idx], &rr.split_len);
	/* the override file is keyed by primary key; only split rows need it */
	if (router_needs_key(run->rt, &rr)) {
		if ((rr.key = row_key_text(p, v, key)) == NULL)
			return ROW_NOMEM;
		rr.key_len = key->len;
	}
	*why = router_route(run->rt, p->rt, &rr, &code, era);
	return *why == ROUTER_OK ? routing_unit_index(run->rt, code) : ROW_QUARANTINE;
}

int row_mask(const struct plan_table *p, const struct connector_value *in, struct connector_value *out,
	     struct buf *store)
{
	size_t need = 0;

	for (size_t i = 0; i < p->nout; i++)
		if (p->mask_on[i] && in[i].kind == CV_VALUE)
			need += in[i].len * 2 + 80;
	buf_reset(store);
	if (buf_reserve(store, need) < 0)
		return -1;
	for (size_t i = 0; i < p->nout; i++) {
		out[i] = in[i];
		if (p->mask_on[i] && in[i].kind == CV_VALUE) {
			char *dst = store->data + store->len;
			long n = mask_apply(p->mask[i], in[i].p, in[i].len, dst, store->cap - store->len - 1);

			if (n < 0) {
				out[i].kind = CV_NULL;
			} else {
				out[i].p = dst;
				out[i].len = (size_t)n;
				store->len += (size_t)n;
			}
		}
	}
	return 0;
}

int row_quarantine(struct sync_run *run, const struct plan_table *p, const struct connector_value *v,
		   enum router_reason why, const char *lsn, struct buf *key, char *err, size_t errlen)
{
	json_t *obj = json_object();
	char *js = NULL, *unit_value = NULL;
	int r = -1;

	if (obj == NULL)
		goto oom;
	for (size_t i = 0; i < p->src.ncols; i++) {
		/* bytea and odd encodings: jansson needs valid UTF-8 */
		json_t *jv = v[i].kind == CV_VALUE ? json_stringn_nocheck(v[i].p, v[i].len) : json_null();

		if (jv == NULL || json_object_set_new(obj, p->src.cols[i].name, jv) < 0)
			goto oom;
	}
	js = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (js == NULL)
		goto oom;
	if (v[p->unit_idx].kind == CV_VALUE &&
	    (unit_value = strndup(v[p->unit_idx].p, v[p->unit_idx].len)) == NULL)
		goto oom;
	if (row_key_text(p, v, key) == NULL)
		goto oom;
	r = state_quarantine_add(run->st, run->scfg->name, p->rt->table, key->data, unit_value,
				 router_reason_name(why), js, lsn, err, errlen);
	run->quarantined++;
	run->per_reason[why]++;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(unit_value);
	free(js);
	json_decref(obj);
	return r;
}
