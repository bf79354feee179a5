/*
 * libqb-rs: qblog.h — logging (libqb 2.0.x compatible interface).
 *
 * This library is free software; you can redistribute it and/or modify it
 * under the terms of the GNU Lesser General Public License as published by the
 * Free Software Foundation; either version 2.1 of the License, or (at your
 * option) any later version.
 */
#ifndef QB_LOG_H_DEFINED
#define QB_LOG_H_DEFINED

/* *INDENT-OFF* */
#ifdef __cplusplus
extern "C" {
#endif
/* *INDENT-ON* */

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdarg.h>
#include <errno.h>
#include <syslog.h>
#include <string.h>
#include <qb/qbutil.h>
#include <qb/qbconfig.h>

/**
 * @file qblog.h
 * Logging.
 *
 * A program calls qb_log_init() once, then logs with qb_log() (or qb_logt() to
 * attach tags). Each log statement owns a "call site" record; the bitmask in it
 * says which targets (syslog, stderr, stdout, ...) receive the statement.
 * Filters (qb_log_filter_ctl()) set and clear those bits by file, function or
 * format string and priority range; qb_log_ctl() enables and configures the
 * targets; qb_log_format_set() chooses how a target lays out its lines.
 *
 * After qb_log_init() only syslog is enabled, receiving everything up to the
 * priority given to qb_log_init(). A program that logs to a terminal typically
 * disables syslog, adds a filter for stderr and enables stderr:
 * @code
 *	qb_log_init("tool", LOG_USER, LOG_INFO);
 *	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
 *	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD,
 *			  QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
 *	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
 *	qb_log(LOG_INFO, "started with %d workers", n);
 *	qb_log_fini();
 * @endcode
 */

/* One level below LOG_DEBUG, for very chatty messages. */
#undef LOG_TRACE
#define LOG_TRACE    (LOG_DEBUG + 1)

/* Default line length of every target. */
#define QB_LOG_MAX_LEN 512
/* Upper bound accepted for QB_LOG_CONF_MAX_LINE_LEN. */
#define QB_LOG_ABSOLUTE_MAX_LEN 4096
/* Buffer size qb_perror() uses for the error text. */
#define QB_LOG_STRERROR_MAX_LEN 128

/* Maps a call site's tags to the text printed by "%g". */
typedef const char *(*qb_log_tags_stringify_fn)(uint32_t tags);

/**
 * The record libqb keeps for each distinct log statement.
 *
 * Returned by qb_log_callsite_get2(); the pointer stays valid while logging is
 * initialised. Applications may change @c priority, @c tags and @c targets
 * (bit n set = target n receives the statement); the strings are owned by the
 * library.
 */
struct qb_log_callsite {
	const char *function;
	const char *filename;
	const char *format;
	uint8_t priority;
	uint32_t lineno;
	uint32_t targets;
	uint32_t tags;
	const char *message_id;
} __attribute__((aligned(8)));

/* Custom filter: called with each call site to adjust its targets bitmask. */
typedef void (*qb_log_filter_fn)(struct qb_log_callsite * cs);

/* Kept for source compatibility: call sites no longer need a linker section. */
#define QB_LOG_INIT_DATA(name)

/* Tag bit marking messages that libqb itself emits. */
#define QB_LOG_TAG_LIBQB_MSG_BIT 31
#define QB_LOG_TAG_LIBQB_MSG (1U << QB_LOG_TAG_LIBQB_MSG_BIT)

/*
 * Log with an explicit systemd catalog id (or NULL), priority and tags. The
 * call site is looked up each time; the message is only formatted when some
 * enabled target wants it.
 */
#define qb_logt2(message_id, priority, tags, fmt, ...) do {		\
	struct qb_log_callsite *qb_cs_ =				\
		qb_log_callsite_get2(message_id, __func__, __FILE__,	\
				     fmt, priority, __LINE__, tags);	\
	qb_log_real_(qb_cs_, ##__VA_ARGS__);					\
    } while (0)

/* Log with tags (see qb_log_tags_stringify_fn_set() and "%g"). */
#define qb_logt(priority, tags, fmt, ...) \
	qb_logt2(NULL, priority, tags, fmt, ##__VA_ARGS__)

/* Log with a systemd catalog message id. */
#define qb_log2(message_id, priority, fmt, ...) \
	qb_logt2(message_id, priority, 0, fmt, ##__VA_ARGS__)

/* The everyday logging macro: printf-style message at a syslog priority. */
#define qb_log(priority, fmt, ...) qb_logt(priority, 0, fmt, ##__VA_ARGS__)

/*
 * Separator between a message and its "extended" information. Targets with
 * QB_LOG_CONF_EXTENDED off print only the part before it; the others print
 * "|" in its place. Usage: qb_log(LOG_INFO, "short" QB_XS "details %d", x);
 */
#define QB_XC '\a'
#define QB_XS "\a"

/*
 * Like perror(3), into the log: appends ": <strerror(errno)> (<errno>)" to the
 * message. (With QB_XS in fmt, the error text becomes extended information.)
 */
#ifndef S_SPLINT_S
#define qb_perror(priority, fmt, ...) do {				\
	char qb_perr_buf_[QB_LOG_STRERROR_MAX_LEN];			\
	const char *qb_perr_text_ = qb_strerror_r(errno, qb_perr_buf_,	\
						  sizeof(qb_perr_buf_));	\
	qb_logt(priority, 0, fmt ": %s (%d)", ##__VA_ARGS__, qb_perr_text_, errno); \
    } while (0)
#else
#define qb_perror
#endif

/* Trace function entry and exit. */
#define qb_enter() qb_log(LOG_TRACE, "ENTERING %s()", __func__)
#define qb_leave() qb_log(LOG_TRACE, "LEAVING %s()", __func__)

/*
 * Target slots. The *_MAX values are exclusive bounds (and counts); the
 * *_START and *_END values are inclusive bounds. Dynamic slots are handed out
 * by qb_log_file_open() and qb_log_custom_open().
 */
enum qb_log_target_slot {
	QB_LOG_TARGET_START,

	QB_LOG_TARGET_STATIC_START = QB_LOG_TARGET_START,
	QB_LOG_SYSLOG = QB_LOG_TARGET_STATIC_START,
	QB_LOG_STDERR,
	QB_LOG_BLACKBOX,
	QB_LOG_STDOUT,
	QB_LOG_TARGET_STATIC_MAX,
	QB_LOG_TARGET_STATIC_END = QB_LOG_TARGET_STATIC_MAX - 1,

	QB_LOG_TARGET_DYNAMIC_START = QB_LOG_TARGET_STATIC_MAX,

	QB_LOG_TARGET_MAX = 32,
	QB_LOG_TARGET_DYNAMIC_END = QB_LOG_TARGET_MAX - 1,
	QB_LOG_TARGET_END = QB_LOG_TARGET_DYNAMIC_END,
};

/* What QB_LOG_CONF_STATE_GET reports. */
enum qb_log_target_state {
	QB_LOG_STATE_UNUSED = 1,
	QB_LOG_STATE_DISABLED = 2,
	QB_LOG_STATE_ENABLED = 3,
};

/* qb_log_ctl() directives. */
enum qb_log_conf {
	QB_LOG_CONF_ENABLED,
	QB_LOG_CONF_FACILITY,
	QB_LOG_CONF_DEBUG,
	QB_LOG_CONF_SIZE,
	QB_LOG_CONF_THREADED,
	QB_LOG_CONF_PRIORITY_BUMP,
	QB_LOG_CONF_STATE_GET,
	QB_LOG_CONF_FILE_SYNC,
	QB_LOG_CONF_EXTENDED,
	QB_LOG_CONF_IDENT,
	QB_LOG_CONF_MAX_LINE_LEN,
	QB_LOG_CONF_ELLIPSIS,
	QB_LOG_CONF_USE_JOURNAL,
};

/* What a filter's text is compared with. */
enum qb_log_filter_type {
	QB_LOG_FILTER_FILE,
	QB_LOG_FILTER_FUNCTION,
	QB_LOG_FILTER_FORMAT,
	QB_LOG_FILTER_FILE_REGEX,
	QB_LOG_FILTER_FUNCTION_REGEX,
	QB_LOG_FILTER_FORMAT_REGEX,
};

/* qb_log_filter_ctl() operations. */
enum qb_log_filter_conf {
	QB_LOG_FILTER_ADD,
	QB_LOG_FILTER_REMOVE,
	QB_LOG_FILTER_CLEAR_ALL,
	QB_LOG_TAG_SET,
	QB_LOG_TAG_CLEAR,
	QB_LOG_TAG_CLEAR_ALL,
};

/* Custom target callbacks (see qb_log_custom_open()). */
typedef void (*qb_log_logger_fn)(int32_t t,
				 struct qb_log_callsite *cs,
				 struct timespec *timestamp,
				 const char *msg);
typedef void (*qb_log_vlogger_fn)(int32_t t,
				  struct qb_log_callsite *cs,
				  struct timespec *timestamp,
				  va_list ap);
typedef void (*qb_log_close_fn)(int32_t t);
typedef void (*qb_log_reload_fn)(int32_t t);

/* Argument of qb_log_ctl2(): an integer, or a string for QB_LOG_CONF_IDENT. */
typedef union {
	int32_t i32;
	const char *s;
} qb_log_ctl2_arg_t;

/* Build a qb_log_ctl2_arg_t in place. */
#ifndef S_SPLINT_S
#define QB_LOG_CTL2_I32(a)  ((qb_log_ctl2_arg_t) { .i32 = (a) })
#define QB_LOG_CTL2_S(a)    ((qb_log_ctl2_arg_t) { .s = (a) })
#else
#define QB_LOG_CTL2_I32(a)  ((qb_log_ctl2_arg_t)(a))
#define QB_LOG_CTL2_S(a)    ((qb_log_ctl2_arg_t)(a))
#endif

/* Feature test: "%T" prints timestamps with milliseconds. */
#define QB_FEATURE_LOG_HIRES_TIMESTAMPS 1

/*
 * Functions implemented in Rust (generated from src/ffi/qblog.rs).
 *
 * qb_log_init(name, facility, priority): start logging; name is the syslog
 *   ident and "%N"; syslog gets a filter for everything up to priority.
 * qb_log_fini(): disable every target and drop all filters.
 * qb_log_ctl(target, conf, arg) / qb_log_ctl2(): configure a target; 0 or
 *   -errno, or the qb_log_target_state for QB_LOG_CONF_STATE_GET.
 * qb_log_filter_ctl(target, op, type, text, low_priority): as
 *   qb_log_filter_ctl2() with high_priority LOG_EMERG. Names in text are
 *   comma-separated exact matches ("*" matches all); FORMAT matches substrings.
 *   For tag operations, the first argument is the tag value.
 * qb_log_filter_fn_set(fn): custom filter run on every call site lookup.
 * qb_log_tags_stringify_fn_set(fn): text for "%g".
 * qb_log_format_set(target, format): "%n" function, "%f" file, "%l" line,
 *   "%p" priority, "%t"/"%T" time (without/with ms), "%b" message, "%g" tags,
 *   "%N" ident, "%P" pid, "%H" host name; "%12x" pads/cuts to 12 bytes on the
 *   right, "%-12x" on the left. NULL restores "[%p] %b". "%N", "%P" and "%H"
 *   are expanded when the format is set (set it again after fork()).
 * qb_log_callsite_get2(message_id, function, file, format, priority, line,
 *   tags): the call site record (NULL before qb_log_init()).
 * qb_log_target_format(target, cs, timestamp, message, out): lay out one line
 *   with the target's format (out must hold the target's line length).
 * qb_log_facility2int("daemon") / qb_log_facility2str(LOG_DAEMON).
 * qb_log_file_open(path): a new target (slot 4..31, or -errno) appending
 *   lines to path (created 0666 & ~umask, close-on-exec); it starts disabled.
 *   qb_log_file_reopen(t, path) switches files (NULL: reopen the same path,
 *   for log rotation) while other threads keep logging; qb_log_file_close(t).
 * qb_log_custom_open(log_fn, close_fn, reload_fn, user_data): a target whose
 *   log_fn receives each message (call qb_log_target_format() to lay it out);
 *   close_fn runs when it is disabled, closed or at qb_log_fini().
 *   qb_log_custom_close(t). qb_log_target_user_data_set/get(t): a pointer
 *   kept per target.
 * qb_log_thread_start(): targets with QB_LOG_CONF_THREADED are written by a
 *   logging thread, in order; qb_log_fini() writes what is still queued.
 *   qb_log_thread_priority_set(policy, priority): its scheduling (applied
 *   at start when called before; a refused setting makes the start fail).
 * QB_LOG_CONF_USE_JOURNAL (syslog target): lines go to the systemd journal;
 *   -EOPNOTSUPP (syslog stays in use) where no journal is running.
 * qb_log_callsites_register(start, stop): filters apply to an application's
 *   own array of call sites too; qb_log_callsites_dump() prints them all.
 */
/* @generated-begin by cbindgen from src/ffi/qblog.rs */
void qb_log_init(const char *name, int32_t facility, uint8_t priority);

void qb_log_fini(void);

int32_t qb_log_ctl(int32_t target, enum qb_log_conf conf_type, int32_t arg);

int32_t qb_log_ctl2(int32_t target, enum qb_log_conf conf_type, qb_log_ctl2_arg_t arg);

int32_t qb_log_filter_ctl2(int32_t value,
                           enum qb_log_filter_conf c,
                           enum qb_log_filter_type type_,
                           const char *text,
                           uint8_t high_priority,
                           uint8_t low_priority);

int32_t qb_log_filter_ctl(int32_t value,
                          enum qb_log_filter_conf c,
                          enum qb_log_filter_type type_,
                          const char *text,
                          uint8_t low_priority);

int32_t qb_log_filter_fn_set(qb_log_filter_fn fn_);

void qb_log_tags_stringify_fn_set(qb_log_tags_stringify_fn fn_);

void qb_log_format_set(int32_t t, const char *format);

struct qb_log_callsite *qb_log_callsite_get2(const char *message_id,
                                             const char *function,
                                             const char *filename,
                                             const char *format,
                                             uint8_t priority,
                                             uint32_t lineno,
                                             uint32_t tags);

struct qb_log_callsite *qb_log_callsite_get(const char *function,
                                            const char *filename,
                                            const char *format,
                                            uint8_t priority,
                                            uint32_t lineno,
                                            uint32_t tags);

void qb_log_target_format(int32_t target,
                          struct qb_log_callsite *cs,
                          struct timespec *timestamp,
                          const char *formatted_message,
                          char *output_buffer);

int32_t qb_log_facility2int(const char *fname);

const char *qb_log_facility2str(int32_t fnum);

int32_t qb_log_file_open(const char *filename);

void qb_log_file_close(int32_t t);

int32_t qb_log_file_reopen(int32_t t, const char *filename);

int32_t qb_log_custom_open(qb_log_logger_fn log_fn,
                           qb_log_close_fn close_fn,
                           qb_log_reload_fn reload_fn,
                           void *user_data);

void qb_log_custom_close(int32_t t);

void *qb_log_target_user_data_get(int32_t t);

int32_t qb_log_target_user_data_set(int32_t t, void *user_data);

int32_t qb_log_thread_priority_set(int32_t policy, int32_t priority);

int32_t qb_log_thread_start(void);

int32_t qb_log_callsites_register(struct qb_log_callsite *_start, struct qb_log_callsite *_stop);

void qb_log_callsites_dump(void);

ssize_t qb_log_blackbox_write_to_file(const char *filename);

int qb_log_blackbox_print_from_file(const char *filename);
/* @generated-end */

/* @prototypes-begin (hand-written) */
/*
 * Variadic entry points (C, src/shim/qblog_va.c). qb_log_real_() is what the
 * qb_log() macros expand to; the qb_log_from_external_source*() functions feed
 * messages from other logging systems in (the call site is looked up on every
 * call, so they are slower than qb_log()).
 */
void qb_log_real_(struct qb_log_callsite *cs, ...);
void qb_log_real_va_(struct qb_log_callsite *cs, va_list ap);

void qb_log_from_external_source(const char *function,
				 const char *filename,
				 const char *format,
				 uint8_t priority,
				 uint32_t lineno,
				 uint32_t tags,
				 ...)
	__attribute__ ((format (printf, 3, 7)));

void qb_log_from_external_source_va2(const char *message_id,
				     const char *function,
				     const char *filename,
				     const char *format,
				     uint8_t priority,
				     uint32_t lineno,
				     uint32_t tags,
				     va_list ap)
	__attribute__ ((format (printf, 4, 0)));

void qb_log_from_external_source_va(const char *function,
				    const char *filename,
				    const char *format,
				    uint8_t priority,
				    uint32_t lineno,
				    uint32_t tags,
				    va_list ap)
	__attribute__ ((format (printf, 3, 0)));

/* @prototypes-end */

/* *INDENT-OFF* */
#ifdef __cplusplus
}
#endif /* __cplusplus */
/* *INDENT-ON* */
#endif /* QB_LOG_H_DEFINED */
