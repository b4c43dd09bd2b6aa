//! Input validation of a record as a whole, before anything is stored.
//! Errors name the field as the wire names it (`record.phone`), never its
//! value.

use c360_core::Record;

use crate::{Error, Result};

/// Longest value accepted in any field.
pub const MAX_FIELD_BYTES: usize = 512;
/// Most phones or emails on one record.
pub const MAX_VALUES: usize = 8;

/// Checks that a record is well-formed as a whole before anything is stored:
/// lengths, control characters, at least one identifying value. `stored`
/// asks for the source identity that updates rely on.
pub fn validate(r: &Record, stored: bool) -> Result<()> {
    let singles: [(&str, &str); 15] = [
        ("source_system", &r.source_system),
        ("source_record_id", &r.record_id),
        ("given_name", &r.given_name),
        ("middle_name", &r.middle_name),
        ("surname", &r.surname),
        ("full_name", &r.full_name),
        ("sex", &r.sex),
        ("date_of_birth", &r.date_of_birth),
        ("national_id", &r.national_id),
        ("address", &r.address),
        ("locality", &r.locality),
        ("postcode", &r.postcode),
        ("region", &r.region),
        ("country", &r.country),
        ("group_id", &r.group_id),
    ];
    for (name, value) in singles {
        if value.len() > MAX_FIELD_BYTES {
            return Err(Error::invalid(
                &format!("record.{name}"),
                format!("longer than {MAX_FIELD_BYTES} bytes"),
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Error::invalid(
                &format!("record.{name}"),
                "contains control characters",
            ));
        }
    }
    for (name, values) in [("phone", &r.phones), ("email", &r.emails)] {
        if values.len() > MAX_VALUES {
            return Err(Error::invalid(
                &format!("record.{name}"),
                format!("more than {MAX_VALUES} values"),
            ));
        }
        if values.iter().any(|v| v.len() > MAX_FIELD_BYTES) {
            return Err(Error::invalid(
                &format!("record.{name}"),
                format!("a value is longer than {MAX_FIELD_BYTES} bytes"),
            ));
        }
    }
    if stored {
        if r.source_system.trim().is_empty() {
            return Err(Error::invalid("record.source_system", "is required"));
        }
        if r.record_id.trim().is_empty() {
            return Err(Error::invalid("record.source_record_id", "is required"));
        }
    }
    let identifies = [
        &r.given_name,
        &r.surname,
        &r.full_name,
        &r.national_id,
        &r.date_of_birth,
    ]
    .iter()
    .any(|v| !v.trim().is_empty())
        || r.phones
            .iter()
            .chain(&r.emails)
            .any(|v| !v.trim().is_empty());
    if !identifies {
        return Err(Error::invalid(
            "record",
            "needs at least a name, a date of birth, a national ID, a phone or an email",
        ));
    }
    // A value that cannot be standardised (a birth date "1950-51-01") does
    // not make the record malformed: it is kept and flagged (see
    // `crate::quality`), or refused by a strict request.
    Ok(())
}
