//! Integration tests of the channels service.
