//! Shared-memory ring buffer (qbrb.h): work in progress.
