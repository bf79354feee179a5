/*
 * libqb-rs: the blackbox's argument serializer.
 *
 * A blackbox record does not hold the formatted line: it holds the format
 * string followed by the raw values of the arguments, so logging into the
 * flight recorder never runs printf. The reader (src/log/blackbox_msg.rs)
 * formats the values later. Walking the format and fetching each argument
 * with va_arg by its C type can only be done in C, hence this file.
 *
 * Layout (libqb's, see libqb-abi.md section 5.6), packed, native endian:
 *   - the format string and its NUL; the first QB_XC ('\a') of the copy
 *     becomes '|' when text follows it, else the string ends there;
 *   - per conversion, in order:
 *       '*' width or precision      int, 4 bytes
 *       d i o u x X                 int 4 bytes; with l ll z t j: 8 bytes
 *       e E f F g G a A             double, 8 bytes
 *       c                           one byte
 *       s                           the string and its NUL; NULL is stored
 *                                   as "(null)"; cut to the precision (see
 *                                   below)
 *       p                           8 bytes
 *       %%                          one '%' byte
 *   - anything else after a '%' ends the directive without taking an
 *     argument (libqb does the same: %m, %n).
 *
 * libqb quirks kept because they change the bytes a reader sees:
 *   - precision is "sticky": once a '.' was seen, every later digit of any
 *     directive is appended to the remembered precision, until a "%%"
 *     clears it; that number (when not 0) is the cut for every %s.
 * Deliberate differences (libqb would read the wrong argument next, which
 * for a later %s means dereferencing garbage):
 *   - h and hh take their (int) argument: 4 bytes, like plain int;
 *   - L takes a long double, stored as a double (8 bytes);
 *   - C takes an int (one byte stored, like c); S a string (like s);
 *   - after "%%" scanning resumes after the second '%' (libqb re-reads it
 *     as the start of a new directive and then takes a phantom argument).
 *
 * The result never exceeds `cap` bytes. When the record does not fit, the
 * function returns `cap` at once (the caller then stores libqb's fixed
 * "Log message too long" text, so the remaining arguments do not matter);
 * the string that did not fit is not written. Strings are measured never
 * past their NUL nor past what can be stored.
 *
 * Speed: the walk over the format is done once per call site and cached as
 * a plan (see "Plans" below); the message is serialized straight into the
 * ring (see qbrs_blackbox_take); short strings and formats are measured and
 * copied inline, without library calls (see put_string_fast).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <qb/qblog.h>

/* Bytes one record's message may take before the blackbox's own line limit
 * is applied (that limit is at most QB_LOG_ABSOLUTE_MAX_LEN). */
#define SERIALIZE_CAP QB_LOG_ABSOLUTE_MAX_LEN

size_t qbrs_serialize_va(char *buf, size_t cap, const char *fmt, va_list ap);
int qbrs_blackbox_take(struct qb_log_callsite *cs, va_list ap);

/* Rust side (src/log/blackbox.rs), hidden by the version script like every
 * qbrs_ name. A record is written in place: begin reserves it in the ring,
 * stores the call site's fields and says where the message goes and how long
 * it may be (`cap`); the message is serialized straight there; end stores
 * its length (len >= cap: did not fit) and publishes the record. The
 * blackbox's writer lock is held in between. */
struct qbrs_bb_record {
	char *msg;
	size_t cap;
	uint64_t rust_private[5];
};
int qbrs_blackbox_begin(const struct qb_log_callsite *cs, const char *function,
			size_t function_len, struct qbrs_bb_record *rec);
void qbrs_blackbox_end(const struct qbrs_bb_record *rec, size_t len);
size_t qbrs_serialize_test(int use_plan, char *buf, size_t cap, const char *fmt,
			   ...);

/* Appends `n` bytes; 0 when they do not fit. */
static int
put(char *buf, size_t cap, size_t *at, const void *src, size_t n)
{
	if (n > cap - *at) {
		return 0;
	}
	memcpy(buf + *at, src, n);
	*at += n;
	return 1;
}

/* Appends a string argument cut to `limit` bytes (0: no cut) and its NUL.
 * The record must keep room after it: libqb counts a string that reaches the
 * end of the buffer as too long. */
static int
put_string(char *buf, size_t cap, size_t *at, const char *s, size_t limit)
{
	size_t room = cap - *at;
	size_t max;
	size_t n;

	if (room == 0) {
		return 0;
	}
	if (s == NULL) {
		s = "(null)";
		limit = 0;
	}
	max = room - 1;
	if (limit != 0 && limit < max) {
		max = limit;
	}
	n = strnlen(s, max);
	if (limit == 0 || n < limit) {
		/* Not cut by the precision: the whole string must fit with room
		 * to spare. */
		if (n == room - 1) {
			return 0;
		}
	} else if (n + 1 >= room) {
		return 0;
	}
	memcpy(buf + *at, s, n);
	buf[*at + n] = '\0';
	*at += n + 1;
	return 1;
}

/*
 * Inline helpers for the plan path. Most logged strings and many formats
 * are a few dozen bytes, where a call to strnlen or memcpy costs more than
 * the work itself. They never read a byte the library calls would not read:
 * nothing after a string's NUL, nothing at or past a length bound.
 */

/* Longest string measured without calling strnlen. */
#define SHORT_STR 32

/* A string's cut when its directive has no precision: longer than any
 * room, so taking the minimum with the room needs no test for "none". */
#define NO_CUT UINT16_MAX
_Static_assert(NO_CUT > SERIALIZE_CAP, "NO_CUT must exceed every room");

/* Index of the first NUL among s[0], ..., s[stop - 1], or `stop` when
 * there is none; stop <= SHORT_STR. One compare per byte, the bound tested
 * once per eight (the inner loop is unrolled). */
static inline size_t
find_nul(const char *s, size_t stop)
{
	size_t i = 0;

	for (; i + 8 <= stop; i += 8) {
		for (size_t k = 0; k < 8; k++) {
			if (s[i + k] == '\0') {
				return i + k;
			}
		}
	}
	for (; i < stop; i++) {
		if (s[i] == '\0') {
			return i;
		}
	}
	return stop;
}

/* memcpy(d, s, n) for n <= 32 without a call: two moves of 16, 8, 4 or 2
 * bytes (the largest of these not above n), one from each end, cover [0, n)
 * (they overlap unless n is twice that size), so no loop is needed. A
 * memcpy of a constant size compiles to one load and one store. */
static inline void
copy_small(char *d, const char *s, size_t n)
{
	if (n >= 16) {
		memcpy(d, s, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else if (n >= 2) {
		memcpy(d, s, 2);
		memcpy(d + n - 2, s + n - 2, 2);
	} else if (n == 1) {
		d[0] = s[0];
	}
}

/* memcpy(d, s, n), inline up to 64 bytes (32-byte moves above 32). */
static inline void
copy_bytes(char *d, const char *s, size_t n)
{
	if (n <= 32) {
		copy_small(d, s, n);
	} else if (n <= 64) {
		memcpy(d, s, 32);
		memcpy(d + n - 32, s + n - 32, 32);
	} else {
		memcpy(d, s, n);
	}
}

/* put_string's bytes, for the plan path. `cut` is the precision, or
 * NO_CUT. put_string's two failure tests reduce to one: the measured
 * length reached the last byte of the room (measuring stops there, and a
 * cut below it never reaches it). Like put_string, nothing is written
 * when the string does not fit. */
static inline int
put_string_fast(char *buf, size_t cap, size_t *at, const char *s,
		size_t cut)
{
	size_t room = cap - *at;
	size_t max;
	size_t stop;
	size_t n;

	if (room == 0) {
		return 0;
	}
	if (s == NULL) {
		s = "(null)";
		cut = NO_CUT;
	}
	max = cut < room - 1 ? cut : room - 1;
	stop = max < SHORT_STR ? max : SHORT_STR;
	n = find_nul(s, stop);
	if (n < stop) {
		/* Ends before both bounds, so it fits; its NUL is copied too. */
		copy_small(buf + *at, s, n + 1);
		*at += n + 1;
		return 1;
	}
	if (n < max) {
		n += strnlen(s + n, max - n);
	}
	if (n == room - 1) {
		return 0;
	}
	copy_bytes(buf + *at, s, n);
	buf[*at + n] = '\0';
	*at += n + 1;
	return 1;
}

/* The reference walk: formats each directive as it is met. Used for
 * formats a plan cannot describe (too many conversions); the plans below
 * must produce exactly its bytes (tested by plan_matches_scan in
 * src/log/blackbox.rs). */
static size_t
serialize_scan(char *buf, size_t cap, const char *fmt, va_list *ap)
{
	size_t at;
	size_t fmt_len;
	char *xc;
	const char *f;
	int precision_seen = 0;
	size_t precision = 0;

	if (cap == 0) {
		return 0;
	}
	fmt_len = strnlen(fmt, cap);
	if (fmt_len + 1 >= cap) {
		return cap;
	}
	memcpy(buf, fmt, fmt_len + 1);
	at = fmt_len + 1;
	xc = memchr(buf, '\a', fmt_len);
	if (xc != NULL) {
		*xc = xc[1] != '\0' ? '|' : '\0';
	}

	f = fmt;
	for (;;) {
		int size = 4; /* bytes of an integer argument */

		f = strchr(f, '%');
		if (f == NULL) {
			break;
		}
		f++;
		for (;; f++) {
			char c = *f;

			if (c == '#' || c == '-' || c == ' ' || c == '+' ||
			    c == '\'' || c == 'I') {
				continue;
			}
			if (c == '.') {
				precision_seen = 1;
				continue;
			}
			if (c >= '0' && c <= '9') {
				if (precision_seen && precision < (SIZE_MAX - 9) / 10) {
					precision = precision * 10 + (size_t)(c - '0');
				}
				continue;
			}
			if (c == '*') {
				int v = va_arg(*ap, int);

				if (!put(buf, cap, &at, &v, sizeof(v))) {
					return cap;
				}
				continue;
			}
			if (c == 'l' || c == 'z' || c == 't' || c == 'j' ||
			    c == 'q') {
				size = 8;
				continue;
			}
			if (c == 'h') {
				continue;
			}
			if (c == 'L') {
				size = 16; /* long double for floating conversions */
				continue;
			}
			break;
		}

		switch (*f) {
		case 'd': case 'i': case 'o': case 'u': case 'x': case 'X':
			if (size == 4) {
				int v = va_arg(*ap, int);

				if (!put(buf, cap, &at, &v, sizeof(v))) {
					return cap;
				}
			} else {
				/* l, ll, z, t, j, q and L: 64 bits on LP64. */
				long long v = va_arg(*ap, long long);

				if (!put(buf, cap, &at, &v, sizeof(v))) {
					return cap;
				}
			}
			f++;
			break;
		case 'e': case 'E': case 'f': case 'F':
		case 'g': case 'G': case 'a': case 'A': {
			double v;

			if (size == 16) {
				v = (double)va_arg(*ap, long double);
			} else {
				v = va_arg(*ap, double);
			}
			if (!put(buf, cap, &at, &v, sizeof(v))) {
				return cap;
			}
			f++;
			break;
		}
		case 'c': case 'C': {
			unsigned char v = (unsigned char)va_arg(*ap, unsigned int);

			if (!put(buf, cap, &at, &v, sizeof(v))) {
				return cap;
			}
			f++;
			break;
		}
		case 's': case 'S':
			if (!put_string(buf, cap, &at, va_arg(*ap, const char *),
					precision)) {
				return cap;
			}
			f++;
			break;
		case 'p': {
			void *v = va_arg(*ap, void *);

			if (!put(buf, cap, &at, &v, sizeof(v))) {
				return cap;
			}
			f++;
			break;
		}
		case '%':
			if (!put(buf, cap, &at, "%", 1)) {
				return cap;
			}
			precision_seen = 0;
			precision = 0;
			f++;
			break;
		default:
			/* Unknown or end of format: no argument; rescan from here. */
			break;
		}
	}
	return at;
}

/*
 * Plans: the result of walking one format, cached per call site.
 *
 * Which arguments a format takes, in which order and with which string cut,
 * depends on the format alone, so a statement that logs a million times
 * needs the walk once. A plan lists the argument kinds; running it copies
 * the format and fetches the arguments with no scanning at all.
 */
enum arg_kind {
	K_INT,		/* int, 4 bytes */
	K_LONG,		/* long long, 8 bytes */
	K_DOUBLE,	/* double, 8 bytes */
	K_LDOUBLE,	/* long double, stored as a double */
	K_CHAR,		/* int, one byte stored */
	K_STR,		/* string, cut to cut[] */
	K_PTR,		/* pointer, 8 bytes */
	K_PCT,		/* "%%": a '%' byte, no argument */
	K_STAR,		/* '*' width or precision: int, 4 bytes */
};

#define PLAN_MAX_ARGS 24

struct plan {
	const char *fmt;
	const char *function;	/* the call site's, for function_len */
	uint32_t fmt_len;	/* strnlen(fmt, SERIALIZE_CAP) */
	uint32_t function_len;	/* strlen(function) */
	int32_t xc;		/* first QB_XC in the format, or -1 */
	char xc_repl;		/* what the copy stores there */
	uint8_t count;
	uint8_t kind[PLAN_MAX_ARGS];
	uint16_t cut[PLAN_MAX_ARGS];	/* K_STR: precision, or NO_CUT */
};

static int
plan_push(struct plan *p, enum arg_kind kind, size_t precision)
{
	if (p->count == PLAN_MAX_ARGS) {
		return 0;
	}
	p->kind[p->count] = (uint8_t)kind;
	/* Any cut at or above the largest room (SERIALIZE_CAP) acts alike. */
	p->cut[p->count] = precision == 0 || precision > NO_CUT
		? NO_CUT : (uint16_t)precision;
	p->count++;
	return 1;
}

/* Walks `fmt` exactly as serialize_scan does, recording instead of
 * fetching. 0 when the format takes more than PLAN_MAX_ARGS items. */
static int
plan_build(struct plan *p, const char *fmt)
{
	const char *f;
	const char *xc;
	int precision_seen = 0;
	size_t precision = 0;

	p->fmt = fmt;
	p->function = NULL;
	p->function_len = 0;
	p->count = 0;
	p->fmt_len = (uint32_t)strnlen(fmt, SERIALIZE_CAP);
	p->xc = -1;
	p->xc_repl = '\0';
	if (p->fmt_len + 1 >= SERIALIZE_CAP) {
		/* Never fits: running the plan stores nothing. */
		return 1;
	}
	xc = memchr(fmt, '\a', p->fmt_len);
	if (xc != NULL) {
		p->xc = (int32_t)(xc - fmt);
		p->xc_repl = xc[1] != '\0' ? '|' : '\0';
	}

	f = fmt;
	for (;;) {
		int size = 4;
		enum arg_kind kind;

		f = strchr(f, '%');
		if (f == NULL) {
			return 1;
		}
		f++;
		for (;; f++) {
			char c = *f;

			if (c == '#' || c == '-' || c == ' ' || c == '+' ||
			    c == '\'' || c == 'I') {
				continue;
			}
			if (c == '.') {
				precision_seen = 1;
				continue;
			}
			if (c >= '0' && c <= '9') {
				if (precision_seen && precision < (SIZE_MAX - 9) / 10) {
					precision = precision * 10 + (size_t)(c - '0');
				}
				continue;
			}
			if (c == '*') {
				if (!plan_push(p, K_STAR, 0)) {
					return 0;
				}
				continue;
			}
			if (c == 'l' || c == 'z' || c == 't' || c == 'j' ||
			    c == 'q') {
				size = 8;
				continue;
			}
			if (c == 'h') {
				continue;
			}
			if (c == 'L') {
				size = 16;
				continue;
			}
			break;
		}

		switch (*f) {
		case 'd': case 'i': case 'o': case 'u': case 'x': case 'X':
			kind = size == 4 ? K_INT : K_LONG;
			break;
		case 'e': case 'E': case 'f': case 'F':
		case 'g': case 'G': case 'a': case 'A':
			kind = size == 16 ? K_LDOUBLE : K_DOUBLE;
			break;
		case 'c': case 'C':
			kind = K_CHAR;
			break;
		case 's': case 'S':
			kind = K_STR;
			break;
		case 'p':
			kind = K_PTR;
			break;
		case '%':
			kind = K_PCT;
			break;
		default:
			/* Unknown or end of format: no argument; rescan here. */
			continue;
		}
		if (!plan_push(p, kind, precision)) {
			return 0;
		}
		if (kind == K_PCT) {
			precision_seen = 0;
			precision = 0;
		}
		f++;
	}
}

/* Fixed-size store; the size is a constant, so memcpy becomes a move. */
#define PUT_VALUE(v)						\
	do {							\
		if (sizeof(v) > cap - at) {			\
			return cap;				\
		}						\
		memcpy(buf + at, &(v), sizeof(v));		\
		at += sizeof(v);				\
	} while (0)

/* Serializes with a plan: the same bytes serialize_scan stores. `cap` must
 * not exceed SERIALIZE_CAP. Inlined into its callers, the logging path
 * first (GCC cannot inline a function that calls va_copy: the callers
 * copy the argument list). */
static inline __attribute__((always_inline)) size_t
plan_run(const struct plan *p, char *buf, size_t cap, va_list *ap)
{
	/* Read once: stores into buf may alias *p for the compiler. */
	const unsigned count = p->count;
	const uint8_t *kind = p->kind;
	size_t at;
	unsigned i;

	if ((size_t)p->fmt_len + 1 >= cap) {
		return cap;	/* also cap == 0 */
	}
	copy_bytes(buf, p->fmt, (size_t)p->fmt_len + 1);
	if (p->xc >= 0) {
		buf[p->xc] = p->xc_repl;
	}
	at = (size_t)p->fmt_len + 1;
	for (i = 0; i < count; i++) {
		/* Strings first: the commonest kind skips the jump table. */
		if (kind[i] == K_STR) {
			if (!put_string_fast(buf, cap, &at,
					     va_arg(*ap, const char *),
					     p->cut[i])) {
				return cap;
			}
			continue;
		}
		switch ((enum arg_kind)kind[i]) {
		case K_INT:
		case K_STAR: {
			int v = va_arg(*ap, int);

			PUT_VALUE(v);
			break;
		}
		case K_LONG: {
			long long v = va_arg(*ap, long long);

			PUT_VALUE(v);
			break;
		}
		case K_DOUBLE: {
			double v = va_arg(*ap, double);

			PUT_VALUE(v);
			break;
		}
		case K_LDOUBLE: {
			double v = (double)va_arg(*ap, long double);

			PUT_VALUE(v);
			break;
		}
		case K_CHAR: {
			unsigned char v = (unsigned char)va_arg(*ap, unsigned int);

			PUT_VALUE(v);
			break;
		}
		case K_PTR: {
			void *v = va_arg(*ap, void *);

			PUT_VALUE(v);
			break;
		}
		case K_PCT: {
			char v = '%';

			PUT_VALUE(v);
			break;
		}
		case K_STR:	/* handled above */
		default:	/* only a damaged plan: store the fixed text */
			return cap;
		}
	}
	return at;
}

/*
 * The plan cache: open addressing on the call site's address, a few probes,
 * append-only. A slot is claimed once (EMPTY -> FILLING -> READY) and never
 * changes afterwards, so readers need no lock and no allocation happens on
 * the logging path. Call sites live as long as the process (the registry
 * never frees them) and their format strings never change, so (call site,
 * format pointer) identifies the walk. When the probe window is full the
 * plan is built on the stack for each call.
 */
#define PLAN_SLOT_BITS 10
#define PLAN_SLOTS (1U << PLAN_SLOT_BITS)
#define PLAN_PROBES 4

enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY };

/* Cache-line aligned: a slot's address is one shift from its index, and
 * two slots never share a line. */
struct plan_slot {
	int state;
	const struct qb_log_callsite *cs;
	struct plan plan;
} __attribute__((aligned(64)));

static struct plan_slot plan_cache[PLAN_SLOTS];

static const struct plan *
plan_for(const struct qb_log_callsite *cs, const char *fmt,
	 struct plan *scratch)
{
	uint64_t h = (uint64_t)(uintptr_t)cs * 0x9E3779B97F4A7C15ULL;
	unsigned home = (unsigned)(h >> (64 - PLAN_SLOT_BITS));
	unsigned i;

	for (i = 0; i < PLAN_PROBES; i++) {
		struct plan_slot *s = &plan_cache[(home + i) & (PLAN_SLOTS - 1)];
		int state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		int expect = SLOT_EMPTY;

		if (state == SLOT_READY) {
			if (s->cs == cs && s->plan.fmt == fmt) {
				return &s->plan;
			}
			continue;
		}
		if (state != SLOT_EMPTY) {
			continue;
		}
		if (!plan_build(scratch, fmt)) {
			return NULL;
		}
		scratch->function = cs->function;
		scratch->function_len = cs->function != NULL
			? (uint32_t)strnlen(cs->function, UINT32_MAX - 1) : 0;
		if (__atomic_compare_exchange_n(&s->state, &expect,
						SLOT_FILLING, 0,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			s->cs = cs;
			s->plan = *scratch;
			__atomic_store_n(&s->state, SLOT_READY,
					 __ATOMIC_RELEASE);
		}
		return scratch;
	}
	if (!plan_build(scratch, fmt)) {
		return NULL;
	}
	return scratch;
}

size_t
qbrs_serialize_va(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct plan plan;
	va_list copy;
	size_t len;

	if (cap > SERIALIZE_CAP) {
		cap = SERIALIZE_CAP;
	}
	va_copy(copy, ap);
	if (plan_build(&plan, fmt)) {
		len = plan_run(&plan, buf, cap, &copy);
	} else {
		len = serialize_scan(buf, cap, fmt, &copy);
	}
	va_end(copy);
	return len;
}

/* For the unit tests (src/log/blackbox.rs): one serialization by a plan
 * (use_plan != 0, 0 returned when the format has no plan) or by the
 * reference walk. */
size_t
qbrs_serialize_test(int use_plan, char *buf, size_t cap, const char *fmt, ...)
{
	struct plan plan;
	va_list ap;
	size_t len;

	if (cap > SERIALIZE_CAP) {
		cap = SERIALIZE_CAP; /* as the real callers: plan_run relies on it */
	}
	va_start(ap, fmt);
	if (use_plan) {
		len = plan_build(&plan, fmt) ? plan_run(&plan, buf, cap, &ap) : 0;
	} else {
		len = serialize_scan(buf, cap, fmt, &ap);
	}
	va_end(ap);
	return len;
}

/* Called by the variadic entry points (qblog_va.c) for every call some
 * target wants. When the blackbox is one of them the values are stored raw
 * (no vsnprintf). Returns nonzero when another target needs the text. */
int
qbrs_blackbox_take(struct qb_log_callsite *cs, va_list ap)
{
	const uint32_t bit = 1U << QB_LOG_BLACKBOX;
	uint32_t targets = __atomic_load_n(&cs->targets, __ATOMIC_RELAXED);
	const char *fmt = cs->format;
	const char *function = cs->function;
	struct qbrs_bb_record rec;
	struct plan scratch;
	const struct plan *plan;
	va_list copy;
	size_t len;
	size_t function_len;

	if ((targets & bit) == 0) {
		return 1;
	}
	plan = plan_for(cs, fmt, &scratch);
	if (function == NULL) {
		function_len = 0;
	} else if (plan != NULL && plan->function == function) {
		function_len = plan->function_len;
	} else {
		function_len = strlen(function);
	}
	if (qbrs_blackbox_begin(cs, function, function_len, &rec)) {
		/* rec.cap never exceeds SERIALIZE_CAP (plan_run's limit). */
		va_copy(copy, ap);
		if (plan != NULL) {
			len = plan_run(plan, rec.msg, rec.cap, &copy);
		} else {
			len = serialize_scan(rec.msg, rec.cap, fmt, &copy);
		}
		va_end(copy);
		qbrs_blackbox_end(&rec, len);
	}
	return (targets & ~bit) != 0;
}
