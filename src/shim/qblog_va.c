/*
 * libqb-rs: the variadic half of qblog.h.
 *
 * Stable Rust can call C-variadic functions but cannot define them, so the
 * entry points that take "..." or a va_list live here. Each one formats the
 * message with the C library's vsnprintf (so every printf conversion behaves
 * exactly as in libqb) and hands the text to the Rust logger through a single
 * internal function, qbrs_log_dispatch(), which lays out and writes the lines.
 * See src/shim/README.md.
 */
#include <stdarg.h>
#include <stdio.h>

#include <qb/qblog.h>

/* Rust side (src/log/shim.rs). `printed` holds what vsnprintf stored (at most
 * QB_LOG_ABSOLUTE_MAX_LEN - 1 bytes plus a NUL); `full_len` is its return value,
 * which may be larger when the text was cut. Hidden by the version script. */
void qbrs_log_dispatch(struct qb_log_callsite *cs, const char *printed,
		       int full_len);
/* Blackbox (src/shim/qblog_serialize.c): records the call's raw arguments when
 * the call site targets the blackbox; returns nonzero when another target
 * still needs the formatted text. */
int qbrs_blackbox_take(struct qb_log_callsite *cs, va_list ap);

/* A line no target wants must cost almost nothing: no formatting at all. */
static int
wanted(const struct qb_log_callsite *cs)
{
	return cs != NULL &&
	       __atomic_load_n(&cs->targets, __ATOMIC_RELAXED) != 0;
}

/* The format string lives in the call site, not in the argument list. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wsuggest-attribute=format"
static void
format_and_dispatch(struct qb_log_callsite *cs, va_list ap)
{
	char printed[QB_LOG_ABSOLUTE_MAX_LEN];
	va_list copy;
	int full_len;

	if (cs->format == NULL || !qbrs_blackbox_take(cs, ap)) {
		return;
	}
	printed[0] = '\0';
	va_copy(copy, ap);
	full_len = vsnprintf(printed, sizeof(printed), cs->format, copy);
	va_end(copy);
	qbrs_log_dispatch(cs, printed, full_len);
}
#pragma GCC diagnostic pop

void
qb_log_real_va_(struct qb_log_callsite *cs, va_list ap)
{
	if (wanted(cs)) {
		format_and_dispatch(cs, ap);
	}
}

void
qb_log_real_(struct qb_log_callsite *cs, ...)
{
	va_list ap;

	if (!wanted(cs)) {
		return;
	}
	va_start(ap, cs);
	format_and_dispatch(cs, ap);
	va_end(ap);
}

void
qb_log_from_external_source_va2(const char *message_id, const char *function,
				const char *filename, const char *format,
				uint8_t priority, uint32_t lineno,
				uint32_t tags, va_list ap)
{
	/* NULL before qb_log_init(): then nothing is logged. */
	struct qb_log_callsite *cs = qb_log_callsite_get2(message_id, function,
							  filename, format,
							  priority, lineno,
							  tags);

	qb_log_real_va_(cs, ap);
}

void
qb_log_from_external_source_va(const char *function, const char *filename,
			       const char *format, uint8_t priority,
			       uint32_t lineno, uint32_t tags, va_list ap)
{
	qb_log_from_external_source_va2(NULL, function, filename, format,
					priority, lineno, tags, ap);
}

void
qb_log_from_external_source(const char *function, const char *filename,
			    const char *format, uint8_t priority,
			    uint32_t lineno, uint32_t tags, ...)
{
	va_list ap;

	va_start(ap, tags);
	qb_log_from_external_source_va2(NULL, function, filename, format,
					priority, lineno, tags, ap);
	va_end(ap);
}
