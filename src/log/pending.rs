//! Output that is produced after the configuration lock is released.
//!
//! [`super::dispatch`] renders lines while it holds the configuration (read) lock, but
//! must not do slow or re-entrant work there: a file write may block on the disk
//! (and a waiting `qb_log_ctl()` would then stall every logging thread), and a custom
//! target's callback may call back into the logger. So those are recorded here and
//! done by [`Pending::run`] once the lock is gone: file lines, custom target calls,
//! posting to the logging thread, and the deprecated internal-message hook.
//! Nothing here allocates on the common path (one file target).

use std::sync::Arc;

use super::callsite::Callsite;
use super::custom::{self, CMessage, LoggerFn};
use super::dynamic::Output;
use super::file::FileSink;
use super::format::{self, ABSOLUTE_MAX_LEN, Line, LineFields};
use super::targets::{SYSLOG, TARGET_MAX, Target};
use super::{journal, thread};

struct CustomCall {
    slot: usize,
    logger: LoggerFn,
    extended: bool,
}

/// One file line waiting to be written (with its newline).
struct FileLine {
    sink: Arc<FileSink>,
    sync: bool,
    len: usize,
    buf: [u8; ABSOLUTE_MAX_LEN + 1],
}

pub struct Pending {
    cs: *mut Callsite,
    /// Writing lines taken from the logging thread's queue: threaded targets are
    /// written, not queued again.
    from_queue: bool,
    file: Option<Box<FileLine>>,
    more_files: Vec<(Arc<FileSink>, bool, Vec<u8>)>,
    customs: [Option<CustomCall>; TARGET_MAX],
    n_customs: usize,
    /// Threaded targets (bit per slot) that want this message.
    threaded: u32,
}

thread_local! {
    /// A spare file-line buffer per thread, so the common path does not allocate.
    static SPARE: std::cell::Cell<Option<Box<FileLine>>> = const { std::cell::Cell::new(None) };
}

impl Pending {
    pub fn new(cs: *mut Callsite, from_queue: bool) -> Self {
        Pending {
            cs,
            from_queue,
            file: None,
            more_files: Vec::new(),
            customs: [const { None }; TARGET_MAX],
            n_customs: 0,
            threaded: 0,
        }
    }

    /// Records work for `target` that must wait until the lock is released (a
    /// threaded target's line, a custom target's call). True when recorded: the
    /// caller then does nothing else with this target.
    pub fn defer(&mut self, target: &Target) -> bool {
        if target.threaded != 0 && !self.from_queue {
            self.threaded |= 1u32.checked_shl(target.slot as u32).unwrap_or(0);
            return true;
        }
        if let Output::Custom(fns) = &target.output {
            if let Some(logger) = fns.logger
                && let Some(entry) = self.customs.get_mut(self.n_customs)
            {
                *entry = Some(CustomCall {
                    slot: target.slot,
                    logger,
                    extended: target.extended,
                });
                self.n_customs += 1;
            }
            return true;
        }
        false
    }

    /// Writes `text` (already cut for extended information) to `target`: file
    /// targets render now and write later; the journal gets its entry; everything
    /// else is the target's own output.
    pub fn output(&mut self, target: &Target, fields: &LineFields, text: &[u8], line: &mut Line) {
        match &target.output {
            Output::File(sink) => {
                render(target, fields, text, line);
                self.push_file(sink, target.file_sync != 0, line.as_bytes());
            }
            Output::Custom(_) => {}
            Output::Builtin if target.slot == SYSLOG && target.use_journal => {
                // SAFETY: a non-NULL call site handed to the logger is valid.
                let cs = unsafe { self.cs.as_ref() };
                journal::write(target, cs, fields, text, line);
            }
            Output::Builtin => target.write(fields, text, line),
        }
    }

    fn push_file(&mut self, sink: &Arc<FileSink>, sync: bool, line: &[u8]) {
        if self.file.is_none() {
            let mut spare = SPARE.with(|s| s.take()).unwrap_or_else(|| {
                Box::new(FileLine {
                    sink: sink.clone(),
                    sync,
                    len: 0,
                    buf: [0; ABSOLUTE_MAX_LEN + 1],
                })
            });
            let len = line.len().min(ABSOLUTE_MAX_LEN);
            spare.buf[..len].copy_from_slice(&line[..len]);
            spare.buf[len] = b'\n';
            spare.len = len + 1;
            spare.sink = sink.clone();
            spare.sync = sync;
            self.file = Some(spare);
        } else {
            let mut bytes = Vec::with_capacity(line.len() + 1);
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
            self.more_files.push((sink.clone(), sync, bytes));
        }
    }

    /// Does the recorded work. `message` is the formatted message (before any
    /// extended-information handling) and `timestamp` the line's time.
    pub fn run(mut self, timestamp: (i64, i64), message: &[u8]) {
        if let Some(file) = self.file.take() {
            file.sink.write_line(&file.buf[..file.len], file.sync);
            SPARE.with(|s| s.set(Some(file)));
        }
        for (sink, sync, bytes) in self.more_files.drain(..) {
            sink.write_line(&bytes, sync);
        }
        if self.n_customs > 0 {
            let mut scratch = CMessage::new();
            for call in self.customs[..self.n_customs].iter().flatten() {
                custom::call_logger(
                    call.logger,
                    call.slot,
                    call.extended,
                    self.cs,
                    timestamp,
                    message,
                    &mut scratch,
                );
            }
        }
        if self.threaded != 0 {
            thread::post(self.cs, self.threaded, timestamp, message);
        }
    }
}

/// Renders `text` with `target`'s format and limits into `line`.
pub fn render(target: &Target, fields: &LineFields, text: &[u8], line: &mut Line) {
    format::render_line(
        &target.format,
        target.line_len(),
        target.ellipsis,
        fields,
        text,
        line,
    );
}
