//! qbipcc.h entry points: work in progress.
