//! Validation of request values: fields named, values never echoed.

use super::*;

// ------------------------------------------------------------ validation

pub(super) fn check_token(
    field: &str,
    v: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<()> {
    if v.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if v.len() > max {
        return Err(Error::invalid(field, format!("is longer than {max} bytes")));
    }
    if !v.chars().all(allowed) {
        return Err(Error::invalid(field, "has characters that are not allowed"));
    }
    Ok(())
}

/// Client numbers are opaque here: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub(crate) fn check_number(field: &str, v: &str) -> Result<()> {
    // Client numbers end with a Crockford mod-37 check symbol, which may be
    // one of * ~ $ = as well as a letter or digit.
    check_token(field, v, 64, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '~' | '$' | '=')
    })
}

pub(super) fn check_record(field: &str, v: &str) -> Result<()> {
    check_token(field, v, 128, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/')
    })
}

/// Field names and purposes: 1 to 64 of `a-z 0-9 _`.
pub(crate) fn check_name(field: &str, v: &str) -> Result<()> {
    check_token(field, v, 64, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
    })
}

/// Channel: empty (every channel) or a contact channel (`SMS`, `EMAIL`...,
/// any case; upper-cased). A consent for a channel nothing contacts on
/// ("FAX") could never be checked: it is refused.
pub(super) fn normalise_channel(field: &str, v: &str) -> Result<String> {
    use c360_standardise::channel::{CONTACT_CHANNELS, is_contact_channel};
    if v.is_empty() {
        return Ok(String::new());
    }
    let upper = v.to_ascii_uppercase();
    if !is_contact_channel(&upper) {
        return Err(Error::invalid(
            field,
            format!("is not a channel (one of {})", CONTACT_CHANNELS.join(", ")),
        ));
    }
    Ok(upper)
}

/// Free text references (evidence, source system, notice version, basis,
/// reasons): up to 256 bytes, no control characters.
pub(super) fn check_text(field: &str, v: &str, required: bool) -> Result<()> {
    if required && v.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if v.len() > 256 {
        return Err(Error::invalid(field, "is longer than 256 bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "has control characters"));
    }
    Ok(())
}

/// Checks `fields[i].ref`; the field path is built only on error.
pub(super) fn check_ref(i: usize, r: &FieldRef) -> Result<()> {
    check_number("client_number", &r.client_number)
        .and_then(|()| check_record("record_id", &r.record_id))
        .and_then(|()| check_name("field", &r.field))
        .map_err(|e| e.within(|| format!("fields[{i}].ref")))
}
