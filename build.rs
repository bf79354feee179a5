//! Build script: regenerates the prototype regions of `include/qb/*.h` from the FFI
//! modules with cbindgen (pinned in Cargo.toml) and compiles the C shim.
//!
//! Every public header that has library functions owns one FFI module,
//! `src/ffi/<header>.rs`. cbindgen turns that module's `extern "C"` items into the
//! text between the `@generated` markers of the header. The result is always written
//! to `$OUT_DIR/<header>.gen.h`; the unit test `ffi::headers::generated_regions_match`
//! fails when a committed header differs, and `make headers` (QB_WRITE_HEADERS=1)
//! splices the fresh text into the header.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// Public headers whose prototypes are generated (the rest are macro-only or hand-written).
const GENERATED_HEADERS: &[&str] = &[
    "qbutil", "qbarray", "qbhdb", "qbmap", "qblog", "qbrb", "qbloop", "qbipcs", "qbipcc",
];

const HAND_WRITTEN_TYPES: &[&str] = &[
    // qbutil.h
    "qb_thread_lock_type_t",
    "qb_thread_lock_t",
    "qb_util_log_fn_t",
    "qb_util_stopwatch_t",
    "qb_version",
    // qbarray.h
    "qb_array_t",
    "qb_array_new_bin_cb_fn",
    // qbhdb.h
    "qb_handle_t",
    // qbmap.h
    "qb_map_t",
    "qb_map_iter_t",
    "qb_map_notify_fn",
    "qb_map_transverse_fn",
    // qblog.h
    "qb_log_callsite",
    "qb_log_target_slot",
    "qb_log_target_state",
    "qb_log_conf",
    "qb_log_filter_type",
    "qb_log_filter_conf",
    "qb_log_ctl2_arg_t",
    "qb_log_logger_fn",
    "qb_log_vlogger_fn",
    "qb_log_close_fn",
    "qb_log_reload_fn",
    "qb_log_filter_fn",
    "qb_log_tags_stringify_fn",
    // qbrb.h
    "qb_ringbuffer_t",
    // qbloop.h
    "qb_loop_t",
    "qb_loop_priority",
    "qb_loop_timer_handle",
    "qb_loop_signal_handle",
    "qb_loop_job_dispatch_fn",
    "qb_loop_timer_dispatch_fn",
    "qb_loop_signal_dispatch_fn",
    "qb_loop_poll_dispatch_fn",
    "qb_loop_poll_low_fds_event_fn",
    // qbipc_common.h, qbipcs.h, qbipcc.h
    "qb_ipc_type",
    "qb_ipc_request_header",
    "qb_ipc_response_header",
    "qb_ipcs_service_t",
    "qb_ipcs_connection_t",
    "qb_ipcc_connection_t",
    "qb_ipcs_rate_limit",
    "qb_ipcs_stats",
    "qb_ipcs_connection_stats",
    "qb_ipcs_connection_stats_2",
    "qb_ipcs_poll_handlers",
    "qb_ipcs_service_handlers",
    "qb_ipcs_connection_accept_fn",
    "qb_ipcs_connection_created_fn",
    "qb_ipcs_connection_closed_fn",
    "qb_ipcs_connection_destroyed_fn",
    "qb_ipcs_msg_process_fn",
    "qb_ipcs_dispatch_fn_t",
    "qb_ipcs_dispatch_add_fn",
    "qb_ipcs_dispatch_mod_fn",
    "qb_ipcs_dispatch_del_fn",
    "qb_ipcs_job_add_fn",
];

const BEGIN: &str = "/* @generated-begin by cbindgen from src/ffi/";
const END: &str = "/* @generated-end */";

fn cbindgen_config() -> cbindgen::Config {
    let mut cfg = cbindgen::Config {
        language: cbindgen::Language::C,
        style: cbindgen::Style::Tag,
        no_includes: true,
        usize_is_size_t: true,
        documentation: false,
        ..Default::default()
    };
    cfg.function.sort_by = Some(cbindgen::SortKey::None);
    // Types written by hand in the headers (typedef'd opaque handles, callback
    // typedefs, enums and structs whose C spelling cbindgen cannot reproduce):
    // prototypes refer to them by name and the layout gates check them.
    cfg.export.exclude = HAND_WRITTEN_TYPES.iter().map(|s| s.to_string()).collect();
    // Opaque handles and libc structs keep their C spelling.
    cfg.export
        .rename
        .insert("timespec".to_string(), "struct timespec".to_string());
    cfg.export
        .rename
        .insert("iovec".to_string(), "struct iovec".to_string());
    // Hand-written struct and enum types are spelled with their tags in C.
    for (name, c_spelling) in [
        ("qb_log_callsite", "struct qb_log_callsite"),
        ("qb_log_conf", "enum qb_log_conf"),
        ("qb_log_filter_conf", "enum qb_log_filter_conf"),
        ("qb_log_filter_type", "enum qb_log_filter_type"),
        ("qb_loop_priority", "enum qb_loop_priority"),
        ("qb_ipc_type", "enum qb_ipc_type"),
        ("qb_ipcs_rate_limit", "enum qb_ipcs_rate_limit"),
        ("qb_ipcs_stats", "struct qb_ipcs_stats"),
        (
            "qb_ipcs_connection_stats",
            "struct qb_ipcs_connection_stats",
        ),
        (
            "qb_ipcs_connection_stats_2",
            "struct qb_ipcs_connection_stats_2",
        ),
        (
            "qb_ipcs_service_handlers",
            "struct qb_ipcs_service_handlers",
        ),
        ("qb_ipcs_poll_handlers", "struct qb_ipcs_poll_handlers"),
        ("qb_ipc_request_header", "struct qb_ipc_request_header"),
        ("qb_ipc_response_header", "struct qb_ipc_response_header"),
    ] {
        cfg.export
            .rename
            .insert(name.to_string(), c_spelling.to_string());
    }
    cfg
}

fn generate(header: &str, out_dir: &Path) -> String {
    let src = format!("src/ffi/{header}.rs");
    println!("cargo:rerun-if-changed={src}");
    let bindings = cbindgen::Builder::new()
        .with_config(cbindgen_config())
        .with_src(&src)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed on {src}: {e}"));
    let mut raw = Vec::new();
    bindings.write(&mut raw);
    let text = String::from_utf8(raw).expect("cbindgen wrote UTF-8");
    let body = text.trim_matches('\n').to_string() + "\n";
    fs::write(out_dir.join(format!("{header}.gen.h")), &body).expect("write generated header");
    body
}

/// Replaces the generated region of `include/qb/<header>.h` with `body`.
fn splice(header: &str, body: &str) {
    let path = PathBuf::from(format!("include/qb/{header}.h"));
    let text = fs::read_to_string(&path).expect("read header");
    let begin = text
        .find(BEGIN)
        .unwrap_or_else(|| panic!("{} has no generated region", path.display()));
    let begin_end = begin + text[begin..].find('\n').expect("marker line") + 1;
    let end = text[begin_end..]
        .find(END)
        .map(|i| begin_end + i)
        .expect("region end marker");
    let new = format!("{}{}{}", &text[..begin_end], body, &text[end..]);
    if new != text {
        fs::write(&path, new).expect("write header");
    }
}

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let write = env::var("QB_WRITE_HEADERS").is_ok_and(|v| v == "1");
    println!("cargo:rerun-if-env-changed=QB_WRITE_HEADERS");
    for header in GENERATED_HEADERS {
        println!("cargo:rerun-if-changed=include/qb/{header}.h");
        let body = generate(header, &out_dir);
        if write {
            splice(header, &body);
        }
    }

    // The C shim owns the variadic and va_list entry points (stable Rust cannot
    // define them); see src/shim/README.
    println!("cargo:rerun-if-changed=src/shim");
    cc::Build::new()
        .file("src/shim/qblog_va.c")
        .file("src/shim/qblog_serialize.c")
        .include("include")
        .flag("-std=gnu11")
        .warnings_into_errors(true)
        .compile("qbshim");
}
