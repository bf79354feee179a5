/*
 * Layout probe: prints sizeof/alignof/offsetof of every public struct and the
 * value of every public constant. scripts/abi-layout.sh compiles it once against
 * our include/qb and once against Debian's stock headers; the outputs must be
 * identical. QB_HAVE_<HEADER> selects the headers libqb-rs already provides.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>

#define SIZE(t) printf("sizeof(%s)=%zu alignof=%zu\n", #t, sizeof(t), alignof(t))
#define OFF(t, f) printf("offsetof(%s,%s)=%zu size=%zu\n", #t, #f, offsetof(t, f), sizeof(((t *)0)->f))
#define VAL(c) printf("%s=%lld\n", #c, (long long)(c))
#define STR(c) printf("%s=\"%s\"\n", #c, c)

#include <qb/qbdefs.h>
#include <qb/qbconfig.h>
#include <qb/qblist.h>
#include <qb/qbipc_common.h>
#ifdef QB_HAVE_QBUTIL_H
#include <qb/qbutil.h>
#endif
#ifdef QB_HAVE_QBARRAY_H
#include <qb/qbarray.h>
#endif
#ifdef QB_HAVE_QBHDB_H
#include <qb/qbhdb.h>
#endif
#ifdef QB_HAVE_QBMAP_H
#include <qb/qbmap.h>
#endif
#ifdef QB_HAVE_QBLOG_H
#include <qb/qblog.h>
#endif
#ifdef QB_HAVE_QBRB_H
#include <qb/qbrb.h>
#endif
#ifdef QB_HAVE_QBLOOP_H
#include <qb/qbloop.h>
#endif
#ifdef QB_HAVE_QBIPCS_H
#include <qb/qbipcs.h>
#endif
#ifdef QB_HAVE_QBIPCC_H
#include <qb/qbipcc.h>
#endif

int main(void)
{
	VAL(QB_TRUE); VAL(QB_FALSE); VAL(HZ);
	VAL(QB_ROUNDUP(13, 8)); VAL(QB_ABS(-3)); VAL(QB_MAX(2, 9)); VAL(QB_MIN(2, 9));
	VAL(qb_bit_value(5));
	VAL(QB_TIME_MS_IN_SEC); VAL(QB_TIME_US_IN_SEC); VAL(QB_TIME_NS_IN_SEC);
	VAL(QB_TIME_US_IN_MSEC); VAL(QB_TIME_NS_IN_MSEC); VAL(QB_TIME_NS_IN_USEC);
	VAL(QB_ATOMIC_OP_MEMORY_BARRIER_NEEDED);

	SIZE(struct qb_list_head);
	OFF(struct qb_list_head, next); OFF(struct qb_list_head, prev);

	SIZE(struct qb_ipc_request_header);
	OFF(struct qb_ipc_request_header, id); OFF(struct qb_ipc_request_header, size);
	SIZE(struct qb_ipc_response_header);
	OFF(struct qb_ipc_response_header, id); OFF(struct qb_ipc_response_header, size);
	OFF(struct qb_ipc_response_header, error);
	SIZE(enum qb_ipc_type);
	VAL(QB_IPC_SOCKET); VAL(QB_IPC_SHM); VAL(QB_IPC_POSIX_MQ); VAL(QB_IPC_SYSV_MQ);
	VAL(QB_IPC_NATIVE);
	VAL(QB_IPC_MSG_NEW_MESSAGE); VAL(QB_IPC_MSG_USER_START); VAL(QB_IPC_MSG_AUTHENTICATE);
	VAL(QB_IPC_MSG_NEW_EVENT_SOCK); VAL(QB_IPC_MSG_DISCONNECT);

#ifdef QB_HAVE_QBUTIL_H
	SIZE(qb_thread_lock_type_t);
	VAL(QB_THREAD_LOCK_SHORT); VAL(QB_THREAD_LOCK_LONG);
	VAL(QB_UTIL_SW_OVERWRITE);
	SIZE(struct qb_version);
	OFF(struct qb_version, major); OFF(struct qb_version, minor);
	OFF(struct qb_version, micro); OFF(struct qb_version, rest);
#endif
#ifdef QB_HAVE_QBARRAY_H
	VAL(QB_ARRAY_MAX_INDEX_BITS); VAL(QB_ARRAY_MAX_ELEMENTS);
#endif
#ifdef QB_HAVE_QBHDB_H
	SIZE(qb_handle_t);
	SIZE(struct qb_hdb_handle);
	OFF(struct qb_hdb_handle, state); OFF(struct qb_hdb_handle, instance);
	OFF(struct qb_hdb_handle, check); OFF(struct qb_hdb_handle, ref_count);
	SIZE(struct qb_hdb);
	OFF(struct qb_hdb, handle_count); OFF(struct qb_hdb, handles);
	OFF(struct qb_hdb, iterator); OFF(struct qb_hdb, destructor);
	OFF(struct qb_hdb, first_run);
	STR(QB_HDB_D_FORMAT); STR(QB_HDB_X_FORMAT);
#endif
#ifdef QB_HAVE_QBMAP_H
	VAL(QB_MAP_NOTIFY_DELETED); VAL(QB_MAP_NOTIFY_REPLACED); VAL(QB_MAP_NOTIFY_INSERTED);
	VAL(QB_MAP_NOTIFY_RECURSIVE); VAL(QB_MAP_NOTIFY_FREE);
#endif
#ifdef QB_HAVE_QBLOG_H
	SIZE(struct qb_log_callsite);
	OFF(struct qb_log_callsite, function); OFF(struct qb_log_callsite, filename);
	OFF(struct qb_log_callsite, format); OFF(struct qb_log_callsite, priority);
	OFF(struct qb_log_callsite, lineno); OFF(struct qb_log_callsite, targets);
	OFF(struct qb_log_callsite, tags); OFF(struct qb_log_callsite, message_id);
	SIZE(qb_log_ctl2_arg_t);
	SIZE(enum qb_log_target_slot); SIZE(enum qb_log_conf); SIZE(enum qb_log_filter_type);
	SIZE(enum qb_log_filter_conf); SIZE(enum qb_log_target_state);
	VAL(LOG_TRACE); VAL(QB_LOG_MAX_LEN); VAL(QB_LOG_ABSOLUTE_MAX_LEN);
	VAL(QB_LOG_STRERROR_MAX_LEN); VAL(QB_LOG_TAG_LIBQB_MSG_BIT); VAL(QB_LOG_TAG_LIBQB_MSG);
	VAL(QB_XC); STR(QB_XS);
	VAL(QB_LOG_SYSLOG); VAL(QB_LOG_STDERR); VAL(QB_LOG_BLACKBOX); VAL(QB_LOG_STDOUT);
	VAL(QB_LOG_TARGET_STATIC_MAX); VAL(QB_LOG_TARGET_STATIC_END);
	VAL(QB_LOG_TARGET_DYNAMIC_START); VAL(QB_LOG_TARGET_MAX); VAL(QB_LOG_TARGET_DYNAMIC_END);
	VAL(QB_LOG_TARGET_END); VAL(QB_LOG_TARGET_START); VAL(QB_LOG_TARGET_STATIC_START);
	VAL(QB_LOG_STATE_UNUSED); VAL(QB_LOG_STATE_DISABLED); VAL(QB_LOG_STATE_ENABLED);
	VAL(QB_LOG_CONF_ENABLED); VAL(QB_LOG_CONF_FACILITY); VAL(QB_LOG_CONF_DEBUG);
	VAL(QB_LOG_CONF_SIZE); VAL(QB_LOG_CONF_THREADED); VAL(QB_LOG_CONF_PRIORITY_BUMP);
	VAL(QB_LOG_CONF_STATE_GET); VAL(QB_LOG_CONF_FILE_SYNC); VAL(QB_LOG_CONF_EXTENDED);
	VAL(QB_LOG_CONF_IDENT); VAL(QB_LOG_CONF_MAX_LINE_LEN); VAL(QB_LOG_CONF_ELLIPSIS);
	VAL(QB_LOG_CONF_USE_JOURNAL);
	VAL(QB_LOG_FILTER_FILE); VAL(QB_LOG_FILTER_FUNCTION); VAL(QB_LOG_FILTER_FORMAT);
	VAL(QB_LOG_FILTER_FILE_REGEX); VAL(QB_LOG_FILTER_FUNCTION_REGEX);
	VAL(QB_LOG_FILTER_FORMAT_REGEX);
	VAL(QB_LOG_FILTER_ADD); VAL(QB_LOG_FILTER_REMOVE); VAL(QB_LOG_FILTER_CLEAR_ALL);
	VAL(QB_LOG_TAG_SET); VAL(QB_LOG_TAG_CLEAR); VAL(QB_LOG_TAG_CLEAR_ALL);
#endif
#ifdef QB_HAVE_QBRB_H
	VAL(QB_RB_FLAG_CREATE); VAL(QB_RB_FLAG_OVERWRITE); VAL(QB_RB_FLAG_SHARED_THREAD);
	VAL(QB_RB_FLAG_SHARED_PROCESS); VAL(QB_RB_FLAG_NO_SEMAPHORE);
#endif
#ifdef QB_HAVE_QBLOOP_H
	SIZE(enum qb_loop_priority);
	VAL(QB_LOOP_LOW); VAL(QB_LOOP_MED); VAL(QB_LOOP_HIGH);
	SIZE(qb_loop_timer_handle); SIZE(qb_loop_signal_handle);
#endif
#ifdef QB_HAVE_QBIPCS_H
	SIZE(enum qb_ipcs_rate_limit);
	VAL(QB_IPCS_RATE_FAST); VAL(QB_IPCS_RATE_NORMAL); VAL(QB_IPCS_RATE_SLOW);
	VAL(QB_IPCS_RATE_OFF); VAL(QB_IPCS_RATE_OFF_2);
	SIZE(struct qb_ipcs_stats);
	OFF(struct qb_ipcs_stats, active_connections); OFF(struct qb_ipcs_stats, closed_connections);
	SIZE(struct qb_ipcs_connection_stats);
	OFF(struct qb_ipcs_connection_stats, client_pid); OFF(struct qb_ipcs_connection_stats, requests);
	OFF(struct qb_ipcs_connection_stats, responses); OFF(struct qb_ipcs_connection_stats, events);
	OFF(struct qb_ipcs_connection_stats, send_retries); OFF(struct qb_ipcs_connection_stats, recv_retries);
	OFF(struct qb_ipcs_connection_stats, flow_control_state);
	OFF(struct qb_ipcs_connection_stats, flow_control_count);
	SIZE(struct qb_ipcs_connection_stats_2);
	OFF(struct qb_ipcs_connection_stats_2, client_pid); OFF(struct qb_ipcs_connection_stats_2, requests);
	OFF(struct qb_ipcs_connection_stats_2, flow_control_state);
	OFF(struct qb_ipcs_connection_stats_2, flow_control_count);
	OFF(struct qb_ipcs_connection_stats_2, event_q_length);
	SIZE(struct qb_ipcs_poll_handlers);
	OFF(struct qb_ipcs_poll_handlers, job_add); OFF(struct qb_ipcs_poll_handlers, dispatch_add);
	OFF(struct qb_ipcs_poll_handlers, dispatch_mod); OFF(struct qb_ipcs_poll_handlers, dispatch_del);
	SIZE(struct qb_ipcs_service_handlers);
	OFF(struct qb_ipcs_service_handlers, connection_accept);
	OFF(struct qb_ipcs_service_handlers, connection_created);
	OFF(struct qb_ipcs_service_handlers, msg_process);
	OFF(struct qb_ipcs_service_handlers, connection_closed);
	OFF(struct qb_ipcs_service_handlers, connection_destroyed);
#endif
	return 0;
}
