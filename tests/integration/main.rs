//! All integration tests, compiled into one binary.
