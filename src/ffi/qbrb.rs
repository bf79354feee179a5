//! qbrb.h entry points: work in progress.
