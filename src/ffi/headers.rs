//! The committed headers must carry exactly what cbindgen generates from the FFI
//! modules (see build.rs); `make headers` refreshes them.

const BEGIN: &str = "/* @generated-begin by cbindgen from src/ffi/";
const END: &str = "/* @generated-end */";

fn committed_region(header: &str) -> String {
    let path = format!("{}/include/qb/{header}.h", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("read header");
    let begin = text.find(BEGIN).expect("begin marker");
    let body_start = begin + text[begin..].find('\n').expect("marker line") + 1;
    let body_end = body_start + text[body_start..].find(END).expect("end marker");
    text[body_start..body_end].to_string()
}

#[test]
fn generated_regions_match() {
    for header in [
        "qbutil", "qbarray", "qbhdb", "qbmap", "qblog", "qbrb", "qbloop", "qbipcs", "qbipcc",
    ] {
        let generated_path = format!("{}/{header}.gen.h", env!("OUT_DIR"));
        let generated = std::fs::read_to_string(&generated_path).expect("generated header");
        assert_eq!(
            committed_region(header),
            generated,
            "include/qb/{header}.h is stale: run `make headers`"
        );
    }
}
