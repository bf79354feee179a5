/*
 * Hostile peer against qbrb.h, part 3: the ring's files themselves. File
 * paths in the shared header pointed at a canary (or left unterminated)
 * before close, chmod or a second open, the data and header files truncated
 * under the library, and symlinks squatting the ring's names before it is
 * created. The framework is in rb_hostile_fixture.h.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include <qb/qbrb.h>

#include "rb_hostile_fixture.h"

/* ------------------------------------------------------------- file paths */

static void put_path(struct victim *v, size_t off, const char *path)
{
	memset(v->hdr + off, 0, SHARED_PATH_MAX);
	memcpy(v->hdr + off, path, strlen(path));
}

static void atk_paths_close(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	put_path(v, OFF_HDR_PATH, v->canary);
	put_path(v, OFF_DATA_PATH, v->canary);
	qb_rb_close(v->rb);
	v->rb = NULL;
}

START_TEST(test_paths_to_canary_then_close)
{
	HOSTILE_CASE();
	run_one("path-close", atk_paths_close);
}
END_TEST

/* Paths with no terminator, and a '/' only far beyond PATH_MAX. */
static void atk_paths_unterminated(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	memset(v->hdr + OFF_HDR_PATH, 'A', 2 * SHARED_PATH_MAX);
	*hdr_u32(v, OFF_REF_COUNT) = 0x41414142u; /* 'AAAA' once close drops it */
	memset(v->hdr + OFF_SEM, 'A', SEM_BYTES);
	memcpy(v->hdr + OFF_USER, "/x\0", 3);
	qb_rb_close(v->rb);
	v->rb = NULL;
}

START_TEST(test_paths_unterminated_then_close)
{
	HOSTILE_CASE();
	run_one("path-nonul", atk_paths_unterminated);
}
END_TEST

static void atk_paths_chmod(struct victim *v)
{
	struct stat st;
	int32_t r;

	victim_setup(v, v->flags, CHUNKS);
	put_path(v, OFF_HDR_PATH, v->canary);
	put_path(v, OFF_DATA_PATH, v->canary);
	r = qb_rb_chmod(v->rb, 0640);
	if (r == 0 && (stat(v->data_file, &st) != 0 || (st.st_mode & 0777) != 0640))
		die("qb_rb_chmod returned 0 but the ring's data file is not 0640");
	if (r == 0 && (stat(v->hdr_file, &st) != 0 || (st.st_mode & 0777) != 0640))
		die("qb_rb_chmod returned 0 but the ring's header file is not 0640");
	(void)qb_rb_chown(v->rb, getuid(), getgid());
}

START_TEST(test_paths_to_canary_then_chmod)
{
	HOSTILE_CASE();
	run_one("path-chmod", atk_paths_chmod);
}
END_TEST

/* A second process opening the ring must not follow a planted data_path. */
static void atk_paths_opener(struct victim *v)
{
	qb_ringbuffer_t *creator, *opener;

	victim_setup(v, v->flags, CHUNKS);
	put_path(v, OFF_DATA_PATH, v->canary);
	creator = v->rb;
	opener = qb_rb_open(v->name, RING_SIZE, QB_RB_FLAG_SHARED_PROCESS | v->flags,
			    USER_SIZE);
	if (opener != NULL) {
		v->rb = opener;
		probe_reads(v, REFUSE_OR_INTACT);
		qb_rb_close(opener);
		v->rb = creator;
	}
	if (!exists(v->hdr_file) || !exists(v->data_file))
		die("closing the opener removed the creator's files");
}

START_TEST(test_paths_to_canary_then_open)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("path-open", values, 1, 1, atk_paths_opener);
}
END_TEST

/* ------------------------------------------------------------- truncation */

static void truncate_file(struct victim *v, const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ftruncate(fd, size) != 0)
		die("attacker cannot truncate %s", path);
	close(fd);
	attacker_unmap(v); /* the attacker's own view is now partly gone too */
}

static void atk_truncate_data(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	truncate_file(v, v->data_file, 0);
	probe_reads(v, FAILS);
}

START_TEST(test_truncate_data_to_zero)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("trunc-data0", values, 1, 1, atk_truncate_data);
}
END_TEST

/* Move the reader into the second half of the ring, then cut that half off. */
static void atk_truncate_data_half(struct victim *v)
{
	uint32_t len = 1000, i;
	ssize_t r;

	victim_setup(v, v->flags, 0);
	memset(buf, 0x33, len);
	for (i = 0; i < 5; i++) {
		if (qb_rb_chunk_write(v->rb, buf, len) != (ssize_t)len)
			die("setup: write %u", i);
		r = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
		if (r != (ssize_t)len)
			die("setup: read %u returned %zd", i, r);
	}
	for (i = 0; i < 2; i++)
		if (qb_rb_chunk_write(v->rb, buf, len) != (ssize_t)len)
			die("setup: write");
	if (*hdr_u32(v, OFF_READ_PT) <= v->words / 2)
		die("setup: read_pt %u is not in the second half", *hdr_u32(v, OFF_READ_PT));
	truncate_file(v, v->data_file, (off_t)v->data_len / 2);
	probe_reads(v, FAILS);
}

START_TEST(test_truncate_data_to_half)
{
	static const uint32_t values[] = {0};

	HOSTILE_CASE();
	run_matrix("trunc-datah", values, 1, 1, atk_truncate_data_half);
}
END_TEST

static void atk_truncate_header(struct victim *v)
{
	victim_setup(v, v->flags, CHUNKS);
	truncate_file(v, v->hdr_file, (off_t)v->value);
	probe_reads(v, BOUNDED);
}

START_TEST(test_truncate_header)
{
	/* 0: everything gone; 4096: positions survive, semaphore and the rest do not. */
	static const uint32_t values[] = {0, 4096};

	HOSTILE_CASE();
	run_matrix("trunc-hdr", values, NVALUES(values), 1, atk_truncate_header);
}
END_TEST

/* ------------------------------------------------------- squatted names */

/* An attacker plants a symlink under one of the ring's names before it is
 * created. The library may refuse (NULL) or put the file elsewhere, but it
 * must not follow, remove or replace the link, and whatever it created must
 * work and be gone after close (the parent also scans /dev/shm and /tmp). */
static void atk_squat(struct victim *v)
{
	const char *planted = v->value == 0 ? v->hdr_file : v->data_file;
	const char *other = v->value == 0 ? v->data_file : v->hdr_file;
	char target[PATH_MAX];
	ssize_t n;

	if (symlink(v->canary, planted) != 0)
		die("cannot plant symlink %s", planted);
	v->rb = qb_rb_open(v->name, RING_SIZE, QB_RB_FLAG_CREATE | QB_RB_FLAG_SHARED_PROCESS,
			   USER_SIZE);
	if (v->rb != NULL) {
		write_seq(v, 0);
		n = qb_rb_chunk_read(v->rb, buf, sizeof(buf), 0);
		if (rbi_check(buf, n, 0, SPREAD) != 0)
			die("the ring created beside the planted symlink reads %zd", n);
		qb_rb_close(v->rb);
		v->rb = NULL;
	}
	n = readlink(planted, target, sizeof(target) - 1);
	if (n < 0 || (size_t)n != strlen(v->canary) || memcmp(target, v->canary, (size_t)n) != 0)
		die("the planted symlink was removed or replaced");
	if (exists(other))
		die("%s left behind", other);
	unlink(planted);
}

START_TEST(test_squatted_names)
{
	/* 0: the header name is a symlink; 1: the data name is. */
	static const uint32_t values[] = {0, 1};

	HOSTILE_CASE();
	run_matrix("squat", values, NVALUES(values), 0, atk_squat);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rb_hostile_files");

	QBT_ADD_TEST(s, test_paths_to_canary_then_close);
	QBT_ADD_TEST(s, test_paths_unterminated_then_close);
	QBT_ADD_TEST(s, test_paths_to_canary_then_chmod);
	QBT_ADD_TEST(s, test_paths_to_canary_then_open);
	QBT_ADD_TEST(s, test_truncate_data_to_zero);
	QBT_ADD_TEST(s, test_truncate_data_to_half);
	QBT_ADD_TEST(s, test_truncate_header);
	QBT_ADD_TEST(s, test_squatted_names);
	return rb_hostile_main(s);
}
