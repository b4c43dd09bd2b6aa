//! The vault service (being built).
