//! The values a blind index is keyed on: an exact-match form per domain,
//! kept deliberately simple and stable (a stored index's tags were made
//! with it; changing it needs a re-index), unlike the fuller standard forms
//! of [`crate::value`].

/// Phone-like fields share one blind-index domain.
pub fn blind_domain(field: &str) -> &str {
    match field {
        "mobile" | "whatsapp" | "phone" => "phone",
        other => other,
    }
}

/// Normalises a value for its blind-index domain; `None` when nothing is
/// left to index. Phones keep their digits (and a leading `+`), e-mails are
/// trimmed and lower-cased, national IDs lose spaces and dashes and are
/// upper-cased, anything else is trimmed.
pub fn normalise_for_index(domain: &str, value: &str) -> Option<String> {
    let v = match domain {
        "phone" | "mobile" | "whatsapp" => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if value.trim_start().starts_with('+') {
                format!("+{digits}")
            } else {
                digits
            }
        }
        "email" => value.trim().to_lowercase(),
        "national_id" => value
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect(),
        _ => value.trim().to_string(),
    };
    (!v.is_empty() && v != "+").then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_per_domain() {
        assert_eq!(blind_domain("whatsapp"), "phone");
        assert_eq!(blind_domain("email"), "email");
        assert_eq!(
            normalise_for_index("phone", " +225 07 01 02 03 78").as_deref(),
            Some("+2250701020378")
        );
        assert_eq!(
            normalise_for_index("email", " A.Kone@Example.CI ").as_deref(),
            Some("a.kone@example.ci")
        );
        assert_eq!(
            normalise_for_index("national_id", "ci-0012 3456").as_deref(),
            Some("CI00123456")
        );
        assert_eq!(normalise_for_index("phone", "+"), None);
        assert_eq!(normalise_for_index("address", "  "), None);
    }
}
