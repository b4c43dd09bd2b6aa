//! Integration tests of the search service.
