//! Syslog facility names (`qb_log_facility2int`, `qb_log_facility2str`).

/// The facilities libqb knows, in its lookup order (first match wins both ways).
const FACILITIES: [(&str, i32); 20] = [
    ("auth", libc::LOG_AUTH),
    ("authpriv", libc::LOG_AUTHPRIV),
    ("cron", libc::LOG_CRON),
    ("daemon", libc::LOG_DAEMON),
    ("ftp", libc::LOG_FTP),
    ("kern", libc::LOG_KERN),
    ("lpr", libc::LOG_LPR),
    ("mail", libc::LOG_MAIL),
    ("news", libc::LOG_NEWS),
    ("syslog", libc::LOG_SYSLOG),
    ("user", libc::LOG_USER),
    ("uucp", libc::LOG_UUCP),
    ("local0", libc::LOG_LOCAL0),
    ("local1", libc::LOG_LOCAL1),
    ("local2", libc::LOG_LOCAL2),
    ("local3", libc::LOG_LOCAL3),
    ("local4", libc::LOG_LOCAL4),
    ("local5", libc::LOG_LOCAL5),
    ("local6", libc::LOG_LOCAL6),
    ("local7", libc::LOG_LOCAL7),
];

/// Facility value for an exact (case-sensitive) name; `EINVAL` if unknown.
pub fn facility_from_name(name: &[u8]) -> Result<i32, i32> {
    FACILITIES
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|&(_, value)| value)
        .ok_or(libc::EINVAL)
}

/// NUL-terminated name of a facility value, for handing to C as-is.
pub fn facility_name(value: i32) -> Option<&'static std::ffi::CStr> {
    const NAMES: [&std::ffi::CStr; 20] = [
        c"auth",
        c"authpriv",
        c"cron",
        c"daemon",
        c"ftp",
        c"kern",
        c"lpr",
        c"mail",
        c"news",
        c"syslog",
        c"user",
        c"uucp",
        c"local0",
        c"local1",
        c"local2",
        c"local3",
        c"local4",
        c"local5",
        c"local6",
        c"local7",
    ];
    FACILITIES
        .iter()
        .position(|&(_, v)| v == value)
        .map(|i| NAMES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, value) in FACILITIES {
            assert_eq!(facility_from_name(name.as_bytes()), Ok(value));
            assert_eq!(facility_name(value).unwrap().to_bytes(), name.as_bytes());
        }
        assert_eq!(facility_from_name(b"LOCAL0"), Err(libc::EINVAL));
        assert_eq!(facility_from_name(b""), Err(libc::EINVAL));
        assert!(facility_name(12345).is_none());
    }
}
