//! The channels service (being built).
