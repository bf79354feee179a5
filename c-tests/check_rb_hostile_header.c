/*
 * Hostile peer against qbrb.h, part 1: corrupt fields of the ring's shared
 * header (the data file's word count, the read and write positions, the
 * reference count and the semaphore bytes). The framework and the rules
 * every attack is judged by are in rb_hostile_fixture.h.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include <qb/qbrb.h>

#include "rb_hostile_fixture.h"

/* ------------------------------------------------------- header geometry */

static void atk_word_size(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_WORD_SIZE) = v->value;
	probe_reads(v, REFUSE_OR_INTACT);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_word_size_zero)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("ws0", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

START_TEST(test_word_size_tiny)
{
	static const uint32_t values[] = {1, 2, 3};

	HOSTILE_CASE();
	run_matrix("ws-tiny", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

START_TEST(test_word_size_odd)
{
	static const uint32_t values[] = {1001, 2047, 2049, 4097};

	HOSTILE_CASE();
	run_matrix("ws-odd", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

START_TEST(test_word_size_huge)
{
	static const uint32_t values[] = {0x7fffffffu, 0xffffffffu, 0x40000000u};

	HOSTILE_CASE();
	run_matrix("ws-huge", values, NVALUES(values), 1, atk_word_size);
}
END_TEST

/* ------------------------------------------------------------ positions */

static void atk_read_pt(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_READ_PT) = v->value;
	probe_reads(v, REFUSE_OR_INTACT);
	probe_write(v);
}

START_TEST(test_read_pt_out_of_range)
{
	/* 2048 is the ring's word count: one past the last valid index. */
	static const uint32_t values[] = {2048, 2055, 0x7fffffffu, 0xfffffff0u};

	HOSTILE_CASE();
	run_matrix("rpt", values, NVALUES(values), 1, atk_read_pt);
}
END_TEST

static void atk_write_pt(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_WRITE_PT) = v->value;
	check_space(v, "space_free", qb_rb_space_free(v->rb));
	check_space(v, "space_used", qb_rb_space_used(v->rb));
	probe_write(v);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_write_pt_out_of_range)
{
	static const uint32_t values[] = {2048, 2049, 0x7fffffffu, 0xfffffff0u};

	HOSTILE_CASE();
	run_matrix("wpt", values, NVALUES(values), 1, atk_write_pt);
}
END_TEST

static void atk_both_pts(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_READ_PT) = v->value;
	*hdr_u32(v, OFF_WRITE_PT) = v->value ^ 0x5555u;
	probe_reads(v, BOUNDED);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_both_pts_garbage)
{
	static const uint32_t values[] = {0x00ffff00u, 0xfffffffeu};

	HOSTILE_CASE();
	run_matrix("pts", values, NVALUES(values), 1, atk_both_pts);
}
END_TEST

/* ------------------------------------------------ reference count, semaphore */

static void atk_ref_count(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	*hdr_u32(v, OFF_REF_COUNT) = v->value;
	(void)qb_rb_refcount_get(v->rb);
	probe_reads(v, REFUSE_OR_INTACT);
	/* The creator's close still removes its files whatever the count says. */
}

START_TEST(test_ref_count_garbage)
{
	static const uint32_t values[] = {0x80000000u, 0, 0xffffffffu, 0x7fffffffu};

	HOSTILE_CASE();
	run_matrix("ref", values, NVALUES(values), 0, atk_ref_count);
}
END_TEST

static void atk_semaphore(struct victim *v)
{
	int i;

	victim_setup(v, v->flags, CHUNKS);
	memset(v->hdr + OFF_SEM, (int)v->value, SEM_BYTES);
	probe_reads(v, REFUSE_OR_INTACT);
	probe_write(v);
	for (i = 0; i < 100; i++) { /* a wild count must not turn into a spin */
		ssize_t r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);

		if (r > 0 && rbi_check(buf, r, rbi_seq_of(buf), SPREAD) != 0)
			die("read returned a damaged chunk after semaphore corruption");
		if (r < 0 && !is_refusal(r))
			die("read returned %zd after semaphore corruption", r);
	}
}

START_TEST(test_semaphore_garbage)
{
	static const uint32_t values[] = {0xff, 0x00, 0x7f};

	HOSTILE_CASE();
	run_matrix("sem", values, NVALUES(values), 0, atk_semaphore);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rb_hostile_header");

	QBT_ADD_TEST(s, test_word_size_zero);
	QBT_ADD_TEST(s, test_word_size_tiny);
	QBT_ADD_TEST(s, test_word_size_odd);
	QBT_ADD_TEST(s, test_word_size_huge);
	QBT_ADD_TEST(s, test_read_pt_out_of_range);
	QBT_ADD_TEST(s, test_write_pt_out_of_range);
	QBT_ADD_TEST(s, test_both_pts_garbage);
	QBT_ADD_TEST(s, test_ref_count_garbage);
	QBT_ADD_TEST(s, test_semaphore_garbage);
	return rb_hostile_main(s);
}
