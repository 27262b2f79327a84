/* test_changeset.c — connectors/changeset.c: the reduction rules per key
 * (insert/update/delete sequences), merged images with absent (unchanged
 * TOAST) columns, the pairs that must be sent before (answer 1), composite
 * keys, NULL versus empty values, and many keys (the table grows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/changeset.h"

/* A table (id, a, b): key column 0. */
static const size_t key0[] = {0};

static struct connector_value V(const char *s) {
	return (struct connector_value){.kind = CV_VALUE, .p = s, .len = strlen(s)};
}

static const struct connector_value ABSENT = {.kind = CV_ABSENT};
static const struct connector_value NUL = {.kind = CV_NULL};

/* "I:1,x,y" / "U:1,x,-" ('-' absent, '~' NULL) for each live entry, in order. */
static void dump(const struct changeset *cs, char *out, size_t outlen)
{
	struct connector_value v[8];

	out[0] = '\0';
	for (size_t i = 0; i < cs->n; i++) {
		const struct cs_entry *e = &cs->e[i];
		size_t n = strlen(out);

		if (e->op == CS_NONE)
			continue;
		if (e->op == CS_DELETE) {
			changeset_values(cs, e->key, cs->nkey, v);
			snprintf(out + n, outlen - n, "%sD:%.*s", n ? " " : "", (int)v[0].len, v[0].p);
			continue;
		}
		changeset_values(cs, e->image, cs->ncols, v);
		snprintf(out + n, outlen - n, "%s%c:", n ? " " : "", e->op);
		for (size_t c = 0; c < cs->ncols; c++) {
			n = strlen(out);
			if (v[c].kind == CV_ABSENT)
				snprintf(out + n, outlen - n, "%s-", c ? "," : "");
			else if (v[c].kind == CV_NULL)
				snprintf(out + n, outlen - n, "%s~", c ? "," : "");
			else
				snprintf(out + n, outlen - n, "%s%.*s", c ? "," : "", (int)v[c].len, v[c].p);
		}
	}
}

static int ins(struct changeset *cs, const char *id, struct connector_value a, struct connector_value b)
{
	struct connector_value row[3] = {V(id), a, b};

	return changeset_add(cs, CS_INSERT, NULL, row);
}

static int upd(struct changeset *cs, const char *id, struct connector_value a, struct connector_value b)
{
	struct connector_value row[3] = {V(id), a, b}, key[1] = {V(id)};

	return changeset_add(cs, CS_UPDATE, key, row);
}

static int del(struct changeset *cs, const char *id)
{
	struct connector_value key[1] = {V(id)};

	return changeset_add(cs, CS_DELETE, key, NULL);
}

static void expect(const struct changeset *cs, const char *want)
{
	char got[4096];

	dump(cs, got, sizeof(got));
	assert_string_equal(got, want);
}

static void test_rules(void **state)
{
	struct changeset cs;

	(void)state;
	changeset_init(&cs, 3, 1, key0);
	/* insert then updates: one insert of the last image */
	assert_int_equal(ins(&cs, "1", V("a"), V("b")), 0);
	assert_int_equal(upd(&cs, "1", V("a2"), ABSENT), 0);
	assert_int_equal(upd(&cs, "1", ABSENT, V("b3")), 0);
	/* insert then delete: nothing */
	assert_int_equal(ins(&cs, "2", V("x"), V("y")), 0);
	assert_int_equal(del(&cs, "2"), 0);
	/* update then update: merged, absent where both were */
	assert_int_equal(upd(&cs, "3", V("p"), ABSENT), 0);
	assert_int_equal(upd(&cs, "3", V("q"), ABSENT), 0);
	/* update then delete: delete */
	assert_int_equal(upd(&cs, "4", V("p"), V("q")), 0);
	assert_int_equal(del(&cs, "4"), 0);
	/* delete then insert: an update of every column */
	assert_int_equal(del(&cs, "5"), 0);
	assert_int_equal(ins(&cs, "5", V("n"), NUL), 0);
	/* insert, delete, insert again: an insert */
	assert_int_equal(ins(&cs, "6", V("1"), V("1")), 0);
	assert_int_equal(del(&cs, "6"), 0);
	assert_int_equal(ins(&cs, "6", V("2"), V("2")), 0);
	expect(&cs, "I:1,a2,b3 U:3,q,- D:4 U:5,n,~ I:6,2,2");
	assert_int_equal(changeset_live(&cs), 5);
	changeset_reset(&cs);
	expect(&cs, "");
	assert_int_equal(changeset_live(&cs), 0);
	changeset_free(&cs);
}

static void test_not_reducible(void **state)
{
	struct changeset cs;

	(void)state;
	changeset_init(&cs, 3, 1, key0);
	assert_int_equal(ins(&cs, "1", V("a"), V("b")), 0);
	assert_int_equal(ins(&cs, "1", V("a"), V("b")), 1); /* a duplicate: the server says */
	assert_int_equal(del(&cs, "2"), 0);
	assert_int_equal(upd(&cs, "2", V("a"), V("b")), 1); /* an update of a deleted row */
	assert_int_equal(del(&cs, "2"), 1);
	assert_int_equal(upd(&cs, "3", V("a"), V("b")), 0);
	assert_int_equal(ins(&cs, "3", V("a"), V("b")), 1);
	assert_int_equal(ins(&cs, "4", V("a"), V("b")), 0);
	assert_int_equal(del(&cs, "4"), 0);
	assert_int_equal(upd(&cs, "4", V("a"), V("b")), 1); /* gone within the set */
	assert_int_equal(del(&cs, "4"), 1);
	/* nothing was changed by the refused pairs */
	expect(&cs, "I:1,a,b D:2 U:3,a,b");
	changeset_free(&cs);
}

/* A NULL key value, an empty one and "\\N" are three keys. */
static void test_null_and_empty(void **state)
{
	struct changeset cs;
	struct connector_value k1[1] = {NUL}, k2[1] = {V("")}, k3[1] = {V("\\N")};

	(void)state;
	changeset_init(&cs, 3, 1, key0);
	assert_int_equal(changeset_add(&cs, CS_DELETE, k1, NULL), 0);
	assert_int_equal(changeset_add(&cs, CS_DELETE, k2, NULL), 0);
	assert_int_equal(changeset_add(&cs, CS_DELETE, k3, NULL), 0);
	assert_int_equal(changeset_live(&cs), 3);
	assert_int_equal(changeset_add(&cs, CS_DELETE, k2, NULL), 1);
	changeset_free(&cs);
}

/* (unit, id) keys: the same id in two units is two keys. */
static void test_composite_key(void **state)
{
	static const size_t key21[] = {2, 1};
	struct changeset cs;
	struct connector_value r1[3] = {V("x"), V("7"), V("u1")}, r2[3] = {V("x"), V("7"), V("u2")};
	struct connector_value k1[2] = {V("u1"), V("7")};

	(void)state;
	changeset_init(&cs, 3, 2, key21);
	assert_int_equal(changeset_add(&cs, CS_INSERT, NULL, r1), 0);
	assert_int_equal(changeset_add(&cs, CS_INSERT, NULL, r2), 0);
	assert_int_equal(changeset_add(&cs, CS_DELETE, k1, NULL), 0);
	assert_int_equal(changeset_live(&cs), 1);
	changeset_free(&cs);
}

/* Many keys and large values: the table and the arena grow, and every
 * image read back is the one last given. */
static void test_many(void **state)
{
	struct changeset cs;
	static char big[70000];
	char id[24], want[24];
	struct connector_value v[3];

	(void)state;
	memset(big, 'z', sizeof(big) - 1);
	changeset_init(&cs, 3, 1, key0);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 5000; i++) {
			snprintf(id, sizeof(id), "%d", i);
			snprintf(want, sizeof(want), "r%d", round);
			if (round == 0)
				assert_int_equal(ins(&cs, id, V(want), i % 100 == 0 ? V(big) : NUL), 0);
			else
				assert_int_equal(upd(&cs, id, V(want), ABSENT), 0);
		}
	assert_int_equal(changeset_live(&cs), 5000);
	assert_true(cs.bytes > 50 * sizeof(big) - 100);
	for (size_t i = 0; i < cs.n; i++) {
		assert_int_equal(cs.e[i].op, CS_INSERT);
		changeset_values(&cs, cs.e[i].image, 3, v);
		snprintf(id, sizeof(id), "%zu", i);
		assert_int_equal(v[0].len, strlen(id));
		assert_memory_equal(v[0].p, id, v[0].len);
		assert_int_equal(v[1].len, 2);
		assert_memory_equal(v[1].p, "r2", 2);
		if (i % 100 == 0)
			assert_int_equal(v[2].len, sizeof(big) - 1);
		else
			assert_int_equal(v[2].kind, CV_NULL);
	}
	changeset_free(&cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),	       cmocka_unit_test(test_not_reducible),
		cmocka_unit_test(test_null_and_empty), cmocka_unit_test(test_composite_key),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
