//! qbipcs.h entry points: work in progress.
