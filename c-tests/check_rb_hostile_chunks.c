/*
 * Hostile peer against qbrb.h, part 2: corrupt chunk headers inside the data
 * file. Lengths that are huge, negative, past the ring's end or past the
 * write position, bad magic values (also on a later chunk), and a corrupt
 * oldest chunk met by overwrite-mode reclaiming. The framework is in
 * rb_hostile_fixture.h.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include <qb/qbrb.h>

#include "rb_hostile_fixture.h"

/* --------------------------------------------------------- chunk headers */

static void atk_chunk_len(struct victim *v)
{
	uint32_t rp;

	victim_setup(v, v->flags, CHUNKS);
	rp = *hdr_u32(v, OFF_READ_PT);
	/* A value of 0 selects "the whole ring", which cannot hold a chunk plus
	 * its own header; 1 selects three rings' worth. */
	v->data[rp] = v->value == 0 ? (uint32_t)v->data_len
		      : v->value == 1 ? 3u * (uint32_t)v->data_len
				      : v->value;
	probe_reads(v, REFUSE);
	probe_write(v);
}

START_TEST(test_chunk_len_huge)
{
	static const uint32_t values[] = {0xfffffff0u, 0x7ffffff8u};

	HOSTILE_CASE();
	run_matrix("len-huge", values, NVALUES(values), 1, atk_chunk_len);
}
END_TEST

START_TEST(test_chunk_len_negative)
{
	static const uint32_t values[] = {0x80000000u, 0xffffffffu};

	HOSTILE_CASE();
	run_matrix("len-neg", values, NVALUES(values), 1, atk_chunk_len);
}
END_TEST

START_TEST(test_chunk_len_past_ring_end)
{
	static const uint32_t values[] = {0, 1};

	HOSTILE_CASE();
	run_matrix("len-end", values, NVALUES(values), 1, atk_chunk_len);
}
END_TEST

/* A length inside the ring but running past the write position. */
static void atk_chunk_len_past_write(struct victim *v)
{
	uint32_t rp;
	ssize_t used;

	victim_setup(v, v->flags, CHUNKS);
	rp = *hdr_u32(v, OFF_READ_PT);
	used = qb_rb_space_used(v->rb);
	v->data[rp] = (uint32_t)used + 256;
	probe_reads(v, BOUNDED);
	probe_write(v);
	probe_reads(v, BOUNDED);
}

START_TEST(test_chunk_len_past_write_pt)
{
	HOSTILE_CASE();
	run_one("len-wpt", atk_chunk_len_past_write);
}
END_TEST

static void atk_magic(struct victim *v)
{
	uint32_t rp;

	victim_setup(v, v->flags, CHUNKS);
	rp = *hdr_u32(v, OFF_READ_PT);
	v->data[(rp + 1) % v->words] = v->value;
	probe_reads(v, REFUSE);
	probe_write(v);
}

START_TEST(test_magic_garbage)
{
	static const uint32_t values[] = {0x12345678u, MAGIC_ALLOC, MAGIC_DEAD, 0};

	HOSTILE_CASE();
	run_matrix("magic", values, NVALUES(values), 1, atk_magic);
}
END_TEST

/* The second chunk is bad: the first still reads, then the ring stops. */
static void atk_magic_second(struct victim *v)
{
	uint32_t second;
	ssize_t r;
	int i;

	victim_setup(v, v->flags, CHUNKS);
	second = 2 + (rbi_len(0, SPREAD) + 3) / 4;
	if (v->data[second + 1] != MAGIC_COMMITTED)
		die("setup: chunk 1 is not where the format puts it");
	v->data[second + 1] = v->value;
	r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
	if (rbi_check(buf, r, 0, SPREAD) != 0)
		die("the intact first chunk read as %zd", r);
	for (i = 0; i < 3; i++) {
		r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
		if (!is_refusal(r))
			die("read of the corrupt second chunk returned %zd", r);
	}
}

START_TEST(test_magic_garbage_second_chunk)
{
	static const uint32_t values[] = {0xdeadbeefu, MAGIC_DEAD};

	HOSTILE_CASE();
	run_matrix("magic2", values, NVALUES(values), 1, atk_magic_second);
}
END_TEST

/* Overwrite mode reclaims old chunks to make room; a corrupt oldest chunk
 * must stop that, not send it round and round. */
static void atk_overwrite_reclaim(struct victim *v)
{
	uint32_t rp, seq, len = 2000;
	ssize_t r;
	int i;

	victim_setup(v, v->flags | QB_RB_FLAG_OVERWRITE, 0);
	for (seq = 0; seq < 200; seq++) /* about 12 KiB through an 8 KiB ring */
		write_seq(v, seq);
	rp = *hdr_u32(v, OFF_READ_PT);
	if (rp >= v->words)
		die("setup: read_pt %u", rp);
	if (v->value == 0)
		v->data[rp] = 0x7ffffff0u;
	else
		v->data[(rp + 1) % v->words] = v->value;
	memset(buf, 0x11, len);
	for (i = 0; i < 4; i++) {
		r = qb_rb_chunk_write(v->rb, buf, len);
		if (r != (ssize_t)len && !is_errno(r))
			die("overwrite chunk_write returned %zd", r);
	}
	check_space(v, "space_free", qb_rb_space_free(v->rb));
	check_space(v, "space_used", qb_rb_space_used(v->rb));
}

START_TEST(test_overwrite_reclaims_corrupt_chunk)
{
	/* 0: corrupt length at the oldest chunk; otherwise the magic value. */
	static const uint32_t values[] = {0, 0x12345678u, MAGIC_DEAD};

	HOSTILE_CASE();
	run_matrix("ow", values, NVALUES(values), 1, atk_overwrite_reclaim);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rb_hostile_chunks");

	QBT_ADD_TEST(s, test_chunk_len_huge);
	QBT_ADD_TEST(s, test_chunk_len_negative);
	QBT_ADD_TEST(s, test_chunk_len_past_ring_end);
	QBT_ADD_TEST(s, test_chunk_len_past_write_pt);
	QBT_ADD_TEST(s, test_magic_garbage);
	QBT_ADD_TEST(s, test_magic_garbage_second_chunk);
	QBT_ADD_TEST(s, test_overwrite_reclaims_corrupt_chunk);
	return rb_hostile_main(s);
}
