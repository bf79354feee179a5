//! Log targets: the 32 slots `qb_log_ctl()` configures, and how each one writes a line.
//!
//! Slots 0..=3 are static (syslog, stderr, blackbox, stdout); 4..=31 are for files and
//! custom targets (see `dynamic`). Each target owns its format,
//! its filters and its output options.

use std::ffi::CStr;

use super::filter::FilterList;
use super::format::{self, DEFAULT_FORMAT, Line, LineFields};
use super::os::{self, Stream};

pub const TARGET_MAX: usize = 32;
pub const SYSLOG: usize = 0;
pub const STDERR: usize = 1;
pub const BLACKBOX: usize = 2;
pub const STDOUT: usize = 3;
pub const STATIC_MAX: usize = 4;

/// `QB_LOG_MAX_LEN`: the default line length.
pub const DEFAULT_MAX_LINE: i32 = 512;

/// `enum qb_log_target_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetState {
    Unused = 1,
    Disabled = 2,
    Enabled = 3,
}

/// One `qb_log_ctl()` directive with its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conf<'a> {
    Enabled(bool),
    Facility(i32),
    Debug,
    Size(i32),
    Threaded(i32),
    PriorityBump(i32),
    StateGet,
    FileSync(i32),
    Extended(i32),
    Ident(&'a [u8]),
    MaxLineLen(i32),
    Ellipsis(i32),
    UseJournal(i32),
    /// An unknown directive, or IDENT without a string.
    Invalid,
}

#[derive(Clone, Debug)]
pub struct Target {
    pub slot: usize,
    pub state: TargetState,
    /// Identity: syslog ident and `%N`.
    pub name: Vec<u8>,
    pub facility: i32,
    pub priority_bump: i32,
    pub file_sync: i32,
    pub extended: bool,
    pub threaded: i32,
    pub ellipsis: bool,
    pub size: i32,
    /// Signed like the C argument: a value below 2 leaves no room for any text.
    pub max_line_length: i32,
    /// Format after set-time expansion (see `format::expand_static`).
    pub format: Vec<u8>,
    pub filters: FilterList,
    /// File or custom output of a dynamic slot (see `dynamic`).
    pub output: super::dynamic::Output,
    /// `qb_log_target_user_data_set` value (an opaque C pointer, kept as an address).
    pub user_data: usize,
    /// Syslog target only: lines go to the systemd journal (see `journal`).
    pub use_journal: bool,
}

impl Target {
    pub fn new(slot: usize) -> Self {
        Target {
            slot,
            state: TargetState::Unused,
            name: Vec::new(),
            facility: libc::LOG_USER,
            priority_bump: 0,
            file_sync: 0,
            extended: true,
            threaded: 0,
            ellipsis: false,
            size: 0,
            max_line_length: DEFAULT_MAX_LINE,
            format: DEFAULT_FORMAT.to_vec(),
            filters: FilterList::default(),
            output: super::dynamic::Output::Builtin,
            user_data: 0,
            use_journal: false,
        }
    }

    /// Reset done by `qb_log_init()`. Like libqb, the priority bump, threading,
    /// ellipsis and blackbox size survive a `qb_log_fini()`/`qb_log_init()` cycle.
    pub fn reset(&mut self, name: &[u8], facility: i32) {
        if self.slot == BLACKBOX {
            super::blackbox::close();
        }
        self.state = if self.slot < STATIC_MAX {
            TargetState::Disabled
        } else {
            self.output = super::dynamic::Output::Builtin;
            self.user_data = 0;
            TargetState::Unused
        };
        self.name = name.to_vec();
        self.facility = facility;
        self.file_sync = 0;
        self.extended = true;
        self.max_line_length = DEFAULT_MAX_LINE;
        self.format = DEFAULT_FORMAT.to_vec();
        self.filters.clear();
    }

    pub fn is_enabled(&self) -> bool {
        self.state == TargetState::Enabled
    }

    /// Line length as a buffer size (0 when the setting leaves no room).
    pub fn line_len(&self) -> usize {
        usize::try_from(self.max_line_length).unwrap_or(0)
    }

    fn enable(&mut self) -> Result<(), i32> {
        if self.is_enabled() {
            return Ok(());
        }
        match self.slot {
            SYSLOG if self.use_journal => {}
            SYSLOG => os::syslog_open(&self.name, self.facility),
            STDERR | STDOUT => {}
            BLACKBOX => super::blackbox::open(&self.name, self.size, self.max_line_length)?,
            // File and custom targets (unused slots never get here).
            _ => {}
        }
        self.state = TargetState::Enabled;
        Ok(())
    }

    pub fn disable(&mut self) {
        if !self.is_enabled() {
            return;
        }
        self.state = TargetState::Disabled;
        if self.slot == BLACKBOX {
            super::blackbox::close();
        }
        if self.slot == SYSLOG && !self.use_journal {
            os::syslog_close();
        }
    }

    /// Applies one directive; returns the value `qb_log_ctl()` reports on success.
    pub fn configure(&mut self, conf: Conf) -> Result<i32, i32> {
        let mut reload = false;
        match conf {
            Conf::Enabled(true) => self.enable()?,
            Conf::Enabled(false) => self.disable(),
            Conf::StateGet => return Ok(self.state as i32),
            Conf::Facility(facility) => {
                self.facility = facility;
                reload = true;
            }
            Conf::Ident(name) => {
                self.name = name.to_vec();
                reload = true;
            }
            Conf::FileSync(v) => self.file_sync = v,
            Conf::PriorityBump(v) => self.priority_bump = v,
            Conf::Size(v) => {
                if self.slot != BLACKBOX {
                    return Err(libc::ENOSYS);
                }
                if v <= 0 {
                    return Err(libc::EINVAL);
                }
                self.size = v;
                // libqb re-creates an open ring (empty) with the new size.
                if self.is_enabled() {
                    let _ = super::blackbox::open(&self.name, v, self.max_line_length);
                }
            }
            Conf::Threaded(v) => self.threaded = v,
            Conf::Extended(v) => self.extended = v != 0,
            Conf::MaxLineLen(v) => {
                if v > format::ABSOLUTE_MAX_LEN as i32 {
                    return Err(libc::EINVAL);
                }
                self.max_line_length = v;
                if self.slot == BLACKBOX {
                    super::blackbox::set_max_line(v);
                }
            }
            Conf::Ellipsis(v) => self.ellipsis = v != 0,
            // EOPNOTSUPP where no journal runs (see `journal`).
            Conf::UseJournal(on) => return super::journal::configure(self, on),
            // libqb names QB_LOG_CONF_DEBUG but has no handler for it.
            Conf::Debug | Conf::Invalid => return Err(libc::EINVAL),
        }
        // The syslog connection follows its ident and facility even while disabled.
        if reload && self.slot == SYSLOG {
            if self.use_journal {
                os::syslog_close();
            } else {
                os::syslog_open(&self.name, self.facility);
            }
        }
        Ok(0)
    }

    /// Renders and writes one message with this target's format and limits.
    pub fn write(&self, fields: &LineFields, message: &[u8], line: &mut Line) {
        match self.slot {
            SYSLOG => self.write_syslog(fields, message, line),
            STDERR => self.write_stream(Stream::Stderr, fields, message, line),
            STDOUT => self.write_stream(Stream::Stdout, fields, message, line),
            _ => {}
        }
    }

    fn render(&self, fields: &LineFields, message: &[u8], line: &mut Line) {
        format::render_line(
            &self.format,
            self.line_len(),
            self.ellipsis,
            fields,
            message,
            line,
        );
    }

    fn write_stream(&self, stream: Stream, fields: &LineFields, message: &[u8], line: &mut Line) {
        self.render(fields, message, line);
        os::write_stream(stream, line.as_bytes());
    }

    fn write_syslog(&self, fields: &LineFields, message: &[u8], line: &mut Line) {
        let Some(priority) = syslog_priority(fields.priority, self.priority_bump) else {
            return;
        };
        self.render(fields, message, line);
        if let Ok(text) = CStr::from_bytes_until_nul(line.as_bytes_with_nul()) {
            os::syslog_write(priority, text);
        }
    }
}

/// The priority handed to syslog: debug-and-below messages are bumped by `bump`;
/// anything still below `LOG_DEBUG` in importance (e.g. `LOG_TRACE`) is not sent.
pub fn syslog_priority(priority: u8, bump: i32) -> Option<i32> {
    let mut p = i32::from(priority);
    if p > libc::LOG_INFO {
        p = p.saturating_add(bump);
    }
    if p > libc::LOG_DEBUG {
        return None;
    }
    Some(p.max(libc::LOG_EMERG))
}

/// How a target shows a message carrying `QB_XC` (extended information):
/// the marker becomes `|` when the target shows extended information and something
/// follows it; otherwise the message ends at the marker. A message that is only
/// extended information is dropped by targets that do not show it.
pub enum Extended {
    AsIs,
    Bar(usize),
    Cut(usize),
    Skip,
}

pub const XC: u8 = 0x07;

pub fn extended_view(message: &[u8], extended: bool) -> Extended {
    match super::find_byte(message, XC) {
        None => Extended::AsIs,
        Some(0) if !extended => Extended::Skip,
        Some(at) if extended && at + 1 < message.len() => Extended::Bar(at),
        Some(at) => Extended::Cut(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_priorities() {
        assert_eq!(syslog_priority(3, 0), Some(3));
        assert_eq!(syslog_priority(7, 0), Some(7));
        assert_eq!(syslog_priority(8, 0), None);
        assert_eq!(syslog_priority(7, -1), Some(6));
        assert_eq!(syslog_priority(8, -2), Some(6));
        // Bumps only touch debug-level messages.
        assert_eq!(syslog_priority(6, 5), Some(6));
        assert_eq!(syslog_priority(7, -100), Some(0));
    }

    #[test]
    fn extended_information() {
        assert!(matches!(extended_view(b"plain", true), Extended::AsIs));
        assert!(matches!(extended_view(b"a\x07b", true), Extended::Bar(1)));
        assert!(matches!(extended_view(b"a\x07b", false), Extended::Cut(1)));
        assert!(matches!(extended_view(b"a\x07", true), Extended::Cut(1)));
        assert!(matches!(extended_view(b"\x07b", false), Extended::Skip));
        assert!(matches!(extended_view(b"\x07b", true), Extended::Bar(0)));
    }

    #[test]
    fn configure_directives() {
        let mut t = Target::new(STDERR);
        t.reset(b"app", libc::LOG_DAEMON);
        assert_eq!(
            t.configure(Conf::StateGet),
            Ok(TargetState::Disabled as i32)
        );
        assert_eq!(t.configure(Conf::Enabled(true)), Ok(0));
        assert_eq!(t.configure(Conf::StateGet), Ok(TargetState::Enabled as i32));
        assert_eq!(t.configure(Conf::MaxLineLen(4097)), Err(libc::EINVAL));
        assert_eq!(t.configure(Conf::MaxLineLen(4096)), Ok(0));
        assert_eq!(t.configure(Conf::Size(10)), Err(libc::ENOSYS));
        assert_eq!(t.configure(Conf::Debug), Err(libc::EINVAL));
        assert_eq!(t.configure(Conf::UseJournal(1)), Err(libc::EINVAL));
        assert_eq!(t.configure(Conf::Threaded(1)), Ok(0));
        assert_eq!(t.configure(Conf::Enabled(false)), Ok(0));
        assert_eq!(t.state, TargetState::Disabled);
        let mut bb = Target::new(BLACKBOX);
        bb.reset(b"app", 0);
        assert_eq!(bb.configure(Conf::Size(0)), Err(libc::EINVAL));
        assert_eq!(bb.configure(Conf::Size(4096)), Ok(0));
    }
}
