//! qbloop.h entry points: work in progress.
