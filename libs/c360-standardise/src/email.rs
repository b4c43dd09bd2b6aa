//! E-mail addresses.

/// Trims, strips a `mailto:` prefix and surrounding `<>`, lowercases, and checks the
/// shape `local@domain.tld`: exactly one `@`, no whitespace, a non-empty local part, a
/// domain made of non-empty dot-separated labels (letters, digits, `-`) with at least
/// one dot and an alphabetic top-level label of 2+ characters. `None` when invalid or
/// empty.
pub fn normalise_email(raw: &str) -> Option<String> {
    let mut text = raw.trim();
    text = strip_prefix_ignore_case(text, "mailto:")
        .unwrap_or(text)
        .trim();
    if let Some(inner) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        text = inner.trim();
    }
    let (local, domain) = text.split_once('@')?;
    if !is_valid_local(local) || !is_valid_domain(domain) {
        return None;
    }
    Some(text.to_lowercase())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn is_valid_local(local: &str) -> bool {
    const ALLOWED_SYMBOLS: &str = ".!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || ALLOWED_SYMBOLS.contains(c))
}

fn is_valid_domain(domain: &str) -> bool {
    let Some((_, top_level)) = domain.rsplit_once('.') else {
        return false;
    };
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    labels_ok && top_level.chars().count() >= 2 && top_level.chars().all(char::is_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_table() {
        let cases = [
            (
                "Aminata.Traore@Example.CI",
                Some("aminata.traore@example.ci"),
            ),
            ("  kouassi@orange.ci  ", Some("kouassi@orange.ci")),
            ("mailto:kouassi@orange.ci", Some("kouassi@orange.ci")),
            ("MAILTO:Kouassi@Orange.ci", Some("kouassi@orange.ci")),
            ("<kouassi@orange.ci>", Some("kouassi@orange.ci")),
            ("mailto:<kouassi@orange.ci>", Some("kouassi@orange.ci")),
            (
                "jean-marc.nguessan+bank@mail.example.com",
                Some("jean-marc.nguessan+bank@mail.example.com"),
            ),
            ("awa_diop@yahoo.fr", Some("awa_diop@yahoo.fr")),
            ("", None),
            ("   ", None),
            ("neant", None),
            ("kouassi@orange", None),
            ("kouassi@@orange.ci", None),
            ("kou@assi@orange.ci", None),
            ("kouassi @orange.ci", None),
            ("@orange.ci", None),
            ("kouassi@", None),
            ("kouassi@.ci", None),
            ("kouassi@orange.", None),
            ("kouassi@orange..ci", None),
            ("kouassi@orange.c", None),
            ("kouassi@orange.c1", None),
            ("kouassi@-orange.ci", None),
            (".kouassi@orange.ci", None),
            ("kou..assi@orange.ci", None),
            ("kouassi,diallo@orange.ci", None),
            ("kouassi@orange.ci;diallo@orange.ci", None),
            ("mailto:", None),
            ("<>", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalise_email(raw).as_deref(), expected, "{raw}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_is_stable(raw in any::<String>()) {
            if let Some(email) = normalise_email(&raw) {
                prop_assert_eq!(normalise_email(&email), Some(email.clone()));
            }
        }
    }
}
