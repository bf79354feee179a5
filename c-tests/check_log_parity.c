/*
 * libqb-rs C tests: log output parity with stock libqb.
 *
 * Every case runs c-tests/log_peer (a fixed logging script, one section per
 * case) twice: once against stock libqb and once against libqb-rs, choosing
 * the library with LD_LIBRARY_PATH. What the two runs write to stderr (stderr
 * target, syslog lines seen by the peer's syslog() replacement, markers),
 * stdout (stdout target) and the log file (file target) must be identical
 * byte for byte, after two normalisations described in log_peer.c: the peer's
 * pid becomes "<PID>" (section "static" only), and on "T|" lines (wall-clock %t/%T) digits become 'D'
 * and month names "Mon".
 *
 * Environment (set by the Makefile): QBT_LOG_PEER (the log_peer binary),
 * QBT_OURS_LIBDIR and QBT_STOCK_LIBDIR (directories holding libqb.so.100).
 * The cases run the same way whichever library this program itself loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qbtest.h"

/* What one run of the peer produced. */
struct run {
	pid_t pid;
	char *err;
	size_t err_len;
	char *out;
	size_t out_len;
	char *file;
	size_t file_len;
};

static int stock_available(void)
{
	const char *ours = getenv("QBT_OURS_LIBDIR");
	const char *stock = getenv("QBT_STOCK_LIBDIR");
	char lib[PATH_MAX];

	ck_assert_msg(ours != NULL && stock != NULL && getenv("QBT_LOG_PEER") != NULL,
		      "QBT_LOG_PEER, QBT_OURS_LIBDIR and QBT_STOCK_LIBDIR must be set");
	snprintf(lib, sizeof(lib), "%s/libqb.so.100", stock);
	if (access(lib, R_OK) == 0)
		return 1;
	printf("SKIP: %s not installed, nothing to compare with\n", lib);
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *text;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*len = 0;
	if (fd < 0) {
		ck_assert_int_eq(errno, ENOENT);
		text = calloc(1, 1);
		ck_assert_ptr_nonnull(text);
		return text;
	}
	ck_assert_int_eq(fstat(fd, &st), 0);
	text = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(text);
	got = read(fd, text, (size_t)st.st_size);
	ck_assert_int_eq(got, st.st_size);
	text[got] = '\0';
	*len = (size_t)got;
	close(fd);
	unlink(path);
	return text;
}

/* Runs `log_peer section` against the library in `libdir`. */
static void run_peer(const char *libdir, const char *section, struct run *r)
{
	const char *peer = getenv("QBT_LOG_PEER");
	char expect[PATH_MAX], err_path[PATH_MAX], out_path[PATH_MAX], file_path[PATH_MAX + 8];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int status = 0, err_fd, out_fd;

	ck_assert_msg(peer != NULL && access(peer, X_OK) == 0,
		      "QBT_LOG_PEER must name the log_peer program");
	snprintf(expect, sizeof(expect), "%s/libqb.so.100", libdir);
	ck_assert_msg(access(expect, R_OK) == 0, "library %s missing", expect);
	snprintf(err_path, sizeof(err_path), "%s/qbt-logparity-%d-err-XXXXXX", tmp, (int)getpid());
	snprintf(out_path, sizeof(out_path), "%s/qbt-logparity-%d-out-XXXXXX", tmp, (int)getpid());
	err_fd = mkostemp(err_path, O_CLOEXEC);
	out_fd = mkostemp(out_path, O_CLOEXEC);
	ck_assert_int_ge(err_fd, 0);
	ck_assert_int_ge(out_fd, 0);
	snprintf(file_path, sizeof(file_path), "%s.log", err_path);
	unlink(file_path);

	fflush(stdout);
	fflush(stderr);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		char *argv[] = { (char *)peer, (char *)section, file_path, NULL };

		if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("LD_LIBRARY_PATH", libdir, 1);
		setenv("QBT_PEER_EXPECT_LIB", expect, 1);
		execv(peer, argv);
		_exit(127);
	}
	close(err_fd);
	close(out_fd);
	ck_assert_int_eq(waitpid(r->pid, &status, 0), r->pid);
	r->err = slurp(err_path, &r->err_len);
	r->out = slurp(out_path, &r->out_len);
	r->file = slurp(file_path, &r->file_len);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "log_peer %s against %s: status 0x%x, stderr:\n%s", section,
		      libdir, status, r->err);
}

static void run_free(struct run *r)
{
	free(r->err);
	free(r->out);
	free(r->file);
}

/* ------------------------------------------------------------ normalising */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Replaces every `pid` (as a whole number) with "<PID>". */
static char *without_pid(const char *text, size_t len, pid_t pid, size_t *out_len)
{
	char digits[32];
	size_t n, i, o = 0;
	char *out;

	/* pid <= 0: nothing to replace. */
	n = pid > 0 ? (size_t)snprintf(digits, sizeof(digits), "%d", (int)pid) : 0;
	out = malloc(len * 5 / (n ? n : 1) + len + 1);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < len;) {
		if (n > 0 && i + n <= len && memcmp(text + i, digits, n) == 0 &&
		    (i == 0 || !is_digit(text[i - 1])) &&
		    (i + n == len || !is_digit(text[i + n]))) {
			memcpy(out + o, "<PID>", 5);
			o += 5;
			i += n;
		} else {
			out[o++] = text[i++];
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* On lines starting "T|": digits -> 'D', month names -> "Mon" (in place). */
static void without_clock(char *text, size_t len)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	size_t i = 0, m;

	while (i < len) {
		size_t end = i;

		while (end < len && text[end] != '\n')
			end++;
		if (end - i >= 2 && text[i] == 'T' && text[i + 1] == '|') {
			size_t k;

			for (k = i; k < end; k++) {
				if (is_digit(text[k]))
					text[k] = 'D';
				for (m = 0; m < 12 && k + 3 <= end; m++) {
					if (memcmp(text + k, months[m], 3) == 0)
						memcpy(text + k, "Mon", 3);
				}
			}
		}
		i = end + 1;
	}
}

/* Fails with the first differing line of `what` when the texts differ. */
static void same_bytes(const char *what, const char *section, const char *stock,
		       size_t stock_len, const char *ours, size_t ours_len)
{
	size_t i = 0, line_start = 0, line_no = 1, a_end, b_end;

	if (stock_len == ours_len && memcmp(stock, ours, stock_len) == 0)
		return;
	while (i < stock_len && i < ours_len && stock[i] == ours[i]) {
		if (stock[i] == '\n') {
			line_start = i + 1;
			line_no++;
		}
		i++;
	}
	a_end = b_end = line_start;
	while (a_end < stock_len && stock[a_end] != '\n')
		a_end++;
	while (b_end < ours_len && ours[b_end] != '\n')
		b_end++;
	ck_abort_msg("section %s, %s differs at line %zu (byte %zu):\n"
		     "  stock: \"%.*s\"\n  ours:  \"%.*s\"",
		     section, what, line_no, i, (int)(a_end - line_start),
		     stock + line_start, (int)(b_end - line_start), ours + line_start);
}

static void compare_stream(const char *what, const char *section, const struct run *stock,
			   const char *stock_text, size_t stock_len, const struct run *ours,
			   const char *ours_text, size_t ours_len)
{
	size_t a_len, b_len;
	/* Only the "static" section prints pids (%P); elsewhere a number that
	 * happened to equal a pid must not be rewritten. */
	pid_t stock_pid = strcmp(section, "static") == 0 ? stock->pid : -1;
	pid_t ours_pid = strcmp(section, "static") == 0 ? ours->pid : -1;
	char *a = without_pid(stock_text, stock_len, stock_pid, &a_len);
	char *b = without_pid(ours_text, ours_len, ours_pid, &b_len);

	without_clock(a, a_len);
	without_clock(b, b_len);
	same_bytes(what, section, a, a_len, b, b_len);
	free(a);
	free(b);
}

/* Runs `section` under both libraries and compares everything it wrote. */
static void parity(const char *section)
{
	struct run stock, ours;

	if (!stock_available())
		return;
	run_peer(getenv("QBT_STOCK_LIBDIR"), section, &stock);
	run_peer(getenv("QBT_OURS_LIBDIR"), section, &ours);
	/* Every section writes its markers; an empty run means the peer did nothing. */
	ck_assert_msg(strstr(stock.err, "== end\n") != NULL, "stock run incomplete:\n%s", stock.err);
	ck_assert_msg(strstr(ours.err, "== end\n") != NULL, "our run incomplete:\n%s", ours.err);
	if (strstr(ours.err, "no file target\n") != NULL &&
	    strstr(stock.err, "no file target\n") == NULL) {
		printf("SKIP: section %s: libqb-rs has no file target yet\n", section);
	} else {
		compare_stream("stderr", section, &stock, stock.err, stock.err_len, &ours,
			       ours.err, ours.err_len);
		compare_stream("stdout", section, &stock, stock.out, stock.out_len, &ours,
			       ours.out, ours.out_len);
		compare_stream("log file", section, &stock, stock.file, stock.file_len,
			       &ours, ours.file, ours.file_len);
	}
	run_free(&stock);
	run_free(&ours);
}

/* ------------------------------------------------------------------ cases */

#define PARITY_CASE(name)                                                   \
	START_TEST(test_##name)                                             \
	{                                                                   \
		parity(#name);                                              \
	}                                                                   \
	END_TEST

PARITY_CASE(fields)
PARITY_CASE(widths)
PARITY_CASE(static)
PARITY_CASE(extended)
PARITY_CASE(linelen)
PARITY_CASE(long)
PARITY_CASE(tags)
PARITY_CASE(syslog)
PARITY_CASE(special)
PARITY_CASE(external)
PARITY_CASE(target_format)
PARITY_CASE(time)
PARITY_CASE(stdout)
PARITY_CASE(file)

/* The normalisers themselves, so a broken one cannot hide a difference. */
START_TEST(test_normalisers)
{
	size_t len;
	char *s = without_pid("a 123 1234 0123 123", 19, 123, &len);
	char clock[] = "x 12 Jan\nT|Feb 03 04:05:06.789 up\n";

	ck_assert_str_eq(s, "a <PID> 1234 0123 <PID>");
	ck_assert_uint_eq(len, strlen(s));
	free(s);
	without_clock(clock, strlen(clock));
	ck_assert_str_eq(clock, "x 12 Jan\nT|Mon DD DD:DD:DD.DDD up\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log_parity");

	QBT_ADD_TEST(s, test_normalisers);
	QBT_ADD_TEST(s, test_fields);
	QBT_ADD_TEST(s, test_widths);
	QBT_ADD_TEST(s, test_static);
	QBT_ADD_TEST(s, test_extended);
	QBT_ADD_TEST(s, test_linelen);
	QBT_ADD_TEST(s, test_long);
	QBT_ADD_TEST(s, test_tags);
	QBT_ADD_TEST(s, test_syslog);
	QBT_ADD_TEST(s, test_special);
	QBT_ADD_TEST(s, test_external);
	QBT_ADD_TEST(s, test_target_format);
	QBT_ADD_TEST(s, test_time);
	QBT_ADD_TEST(s, test_stdout);
	QBT_ADD_TEST(s, test_file);
	return qbt_main(s);
}
