//! Integration tests of the vault service.
