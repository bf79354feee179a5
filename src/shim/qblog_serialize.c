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
 * "Log message too long" text, so the remaining arguments do not matter).
 * Strings are measured with strnlen, never past what can be stored.
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

/* Rust side (src/log/blackbox.rs): stores one record. `len` is the size of
 * the serialized message, SERIALIZE_CAP when it did not fit. Hidden by the
 * version script like every qbrs_ name. */
void qbrs_blackbox_write(const struct qb_log_callsite *cs, const char *msg,
			 size_t len);

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

size_t
qbrs_serialize_va(char *buf, size_t cap, const char *fmt, va_list ap)
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
				int v = va_arg(ap, int);

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
				int v = va_arg(ap, int);

				if (!put(buf, cap, &at, &v, sizeof(v))) {
					return cap;
				}
			} else {
				/* l, ll, z, t, j, q and L: 64 bits on LP64. */
				long long v = va_arg(ap, long long);

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
				v = (double)va_arg(ap, long double);
			} else {
				v = va_arg(ap, double);
			}
			if (!put(buf, cap, &at, &v, sizeof(v))) {
				return cap;
			}
			f++;
			break;
		}
		case 'c': case 'C': {
			unsigned char v = (unsigned char)va_arg(ap, unsigned int);

			if (!put(buf, cap, &at, &v, sizeof(v))) {
				return cap;
			}
			f++;
			break;
		}
		case 's': case 'S':
			if (!put_string(buf, cap, &at, va_arg(ap, const char *),
					precision)) {
				return cap;
			}
			f++;
			break;
		case 'p': {
			void *v = va_arg(ap, void *);

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

/* Called by the variadic entry points (qblog_va.c) for every call some
 * target wants. When the blackbox is one of them the values are stored raw
 * (no vsnprintf). Returns nonzero when another target needs the text. */
int
qbrs_blackbox_take(struct qb_log_callsite *cs, va_list ap)
{
	const uint32_t bit = 1U << QB_LOG_BLACKBOX;
	uint32_t targets = __atomic_load_n(&cs->targets, __ATOMIC_RELAXED);
	char msg[SERIALIZE_CAP];
	va_list copy;
	size_t len;

	if ((targets & bit) == 0) {
		return 1;
	}
	va_copy(copy, ap);
	len = qbrs_serialize_va(msg, sizeof(msg), cs->format, copy);
	va_end(copy);
	qbrs_blackbox_write(cs, msg, len);
	return (targets & ~bit) != 0;
}
