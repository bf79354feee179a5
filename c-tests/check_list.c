/*
 * qblist.h (header only): the inline list operations and iteration macros.
 */
#include <qb/qblist.h>
#include <qb/qbdefs.h>

#include "qbtest.h"

struct item {
	int value;
	struct qb_list_head node;
};

static void fill(struct qb_list_head *head, struct item *items, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		items[i].value = i;
		qb_list_add_tail(&items[i].node, head);
	}
}

/* Collects values front to back into out; returns how many. */
static int values(struct qb_list_head *head, int *out, int max)
{
	struct item *it;
	int n = 0;

	qb_list_for_each_entry(it, head, node) {
		if (n < max)
			out[n] = it->value;
		n++;
	}
	return n;
}

START_TEST(test_empty_and_declare)
{
	QB_LIST_DECLARE(declared);
	struct qb_list_head initialised;

	ck_assert(qb_list_empty(&declared));
	QB_INIT_LIST_HEAD(&initialised);
	ck_assert(qb_list_empty(&initialised));
	qb_list_init(&initialised);
	ck_assert_int_eq(qb_list_length(&initialised), 0);
}
END_TEST

START_TEST(test_add_and_add_tail_order)
{
	QB_LIST_DECLARE(head);
	struct item a = { 1, { NULL, NULL } }, b = { 2, { NULL, NULL } }, c = { 3, { NULL, NULL } };
	int got[3];

	qb_list_add(&a.node, &head);      /* a */
	qb_list_add(&b.node, &head);      /* b a */
	qb_list_add_tail(&c.node, &head); /* b a c */
	ck_assert_int_eq(values(&head, got, 3), 3);
	ck_assert_int_eq(got[0], 2);
	ck_assert_int_eq(got[1], 1);
	ck_assert_int_eq(got[2], 3);
	ck_assert(qb_list_is_last(&c.node, &head));
	ck_assert(!qb_list_is_last(&a.node, &head));
	ck_assert_ptr_eq(qb_list_first_entry(&head, struct item, node), &b);
}
END_TEST

START_TEST(test_del_replace)
{
	QB_LIST_DECLARE(head);
	struct item items[4], spare = { 42, { NULL, NULL } };
	int got[4];

	fill(&head, items, 4);
	qb_list_del(&items[1].node);
	ck_assert_int_eq(qb_list_length(&head), 3);
	qb_list_replace(&items[2].node, &spare.node);
	ck_assert_int_eq(values(&head, got, 4), 3);
	ck_assert_int_eq(got[0], 0);
	ck_assert_int_eq(got[1], 42);
	ck_assert_int_eq(got[2], 3);
}
END_TEST

START_TEST(test_splice)
{
	QB_LIST_DECLARE(head);
	QB_LIST_DECLARE(other);
	QB_LIST_DECLARE(empty);
	struct item a[2], b[2];
	int got[4];

	fill(&head, a, 2);  /* 0 1 */
	fill(&other, b, 2); /* 0 1 */
	b[0].value = 10;
	b[1].value = 11;
	qb_list_splice(&other, &head); /* 10 11 0 1 */
	ck_assert_int_eq(values(&head, got, 4), 4);
	ck_assert_int_eq(got[0], 10);
	ck_assert_int_eq(got[1], 11);
	ck_assert_int_eq(got[2], 0);
	ck_assert_int_eq(got[3], 1);
	qb_list_splice(&empty, &head);
	ck_assert_int_eq(qb_list_length(&head), 4);
}
END_TEST

START_TEST(test_splice_tail)
{
	QB_LIST_DECLARE(head);
	QB_LIST_DECLARE(other);
	struct item a[2], b[2];
	int got[4];

	fill(&head, a, 2);
	fill(&other, b, 2);
	b[0].value = 10;
	b[1].value = 11;
	qb_list_splice_tail(&other, &head); /* 0 1 10 11 */
	ck_assert_int_eq(values(&head, got, 4), 4);
	ck_assert_int_eq(got[0], 0);
	ck_assert_int_eq(got[1], 1);
	ck_assert_int_eq(got[2], 10);
	ck_assert_int_eq(got[3], 11);
}
END_TEST

START_TEST(test_iteration_macros)
{
	QB_LIST_DECLARE(head);
	struct item items[5], *it, *next;
	struct qb_list_head *pos, *tmp;
	int sum = 0, order[5], n = 0;

	fill(&head, items, 5);
	qb_list_for_each(pos, &head)
		sum += qb_list_entry(pos, struct item, node)->value;
	ck_assert_int_eq(sum, 0 + 1 + 2 + 3 + 4);

	qb_list_for_each_reverse(pos, &head)
		order[n++] = qb_list_entry(pos, struct item, node)->value;
	ck_assert_int_eq(order[0], 4);
	ck_assert_int_eq(order[4], 0);

	n = 0;
	qb_list_for_each_entry_reverse(it, &head, node)
		order[n++] = it->value;
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(order[1], 3);

	/* Removing while walking with the _safe forms. */
	qb_list_for_each_safe(pos, tmp, &head) {
		if (qb_list_entry(pos, struct item, node)->value % 2 == 0)
			qb_list_del(pos);
	}
	ck_assert_int_eq(qb_list_length(&head), 2);
	qb_list_for_each_entry_safe(it, next, &head, node)
		qb_list_del(&it->node);
	ck_assert(qb_list_empty(&head));

	fill(&head, items, 5);
	n = 0;
	qb_list_for_each_entry_safe_reverse(it, next, &head, node) {
		order[n++] = it->value;
		qb_list_del(&it->node);
	}
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(order[0], 4);
	ck_assert(qb_list_empty(&head));

	fill(&head, items, 5);
	it = &items[2];
	n = 0;
	qb_list_for_each_entry_from(it, &head, node)
		n++;
	ck_assert_int_eq(n, 3);
}
END_TEST

START_TEST(test_defs_macros)
{
	unsigned int bits = 0;

	ck_assert_int_eq(QB_ROUNDUP(13, 8), 16);
	ck_assert_int_eq(QB_ABS(-7), 7);
	ck_assert_int_eq(QB_MAX(3, 4), 4);
	ck_assert_int_eq(QB_MIN(3, 4), 3);
	qb_bit_set(bits, 3);
	ck_assert(qb_bit_is_set(bits, 3));
	qb_bit_clear(bits, 3);
	ck_assert(qb_bit_is_clear(bits, 3));
	ck_assert_str_eq(QB_PP_STRINGIFY(QB_PP_JOIN(ab, cd)), "abcd");
	ck_assert(QB_TRUE == 1 && QB_FALSE == 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qblist");

	QBT_ADD_TEST(s, test_empty_and_declare);
	QBT_ADD_TEST(s, test_add_and_add_tail_order);
	QBT_ADD_TEST(s, test_del_replace);
	QBT_ADD_TEST(s, test_splice);
	QBT_ADD_TEST(s, test_splice_tail);
	QBT_ADD_TEST(s, test_iteration_macros);
	QBT_ADD_TEST(s, test_defs_macros);
	return qbt_main(s);
}
