//! Main loop (qbloop.h): work in progress.
