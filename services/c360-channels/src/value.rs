//! Contact point values: normalisation (so one phone written two ways is
//! one point), blind-index tags (equality across clients without clear
//! text) and masks. The clear value lives only in memory, in [`Normalised`],
//! whose `Debug` is redacted.

use std::fmt;

use c360_crypto::BlindIndexer;
use c360_standardise::phone::Phones;
use c360_standardise::value::{self as rule, Unusable};

use crate::model::{Channel, Tag};
use crate::zone;

/// A value ready to store: its canonical form (to seal), tag and mask.
pub struct Normalised {
    pub canonical: String,
    pub tag: Tag,
    pub masked: String,
    pub calling_code: Option<u16>,
}

impl fmt::Debug for Normalised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Normalised")
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

/// The tag domain of a channel: every phone channel shares "phone", so the
/// same number on SMS for one client and VOICE for another is shared.
pub fn tag_domain(channel: Channel) -> &'static str {
    match channel {
        c if c.is_phone() => "phone",
        Channel::Email => "email",
        Channel::Push => "push",
        _ => "postal",
    }
}

/// Normalises `raw` for `channel`; the error describes the problem without
/// the value. Phones and e-mails follow the one rule of
/// [`c360_standardise::value`] (the resolver's: a value it flags as
/// unusable is never a contact point); `country` is the ISO code of the
/// record's country, when the value comes from a record.
pub fn normalise(
    phones: &Phones,
    indexer: &BlindIndexer,
    channel: Channel,
    raw: &str,
    country: Option<&str>,
) -> Result<Normalised, String> {
    let unusable = |u: Unusable| u.description().to_string();
    let empty = || "is empty".to_string();
    let (canonical, masked, calling_code) = if channel.is_phone() {
        let e164 = rule::phone(phones, raw, country)
            .map_err(unusable)?
            .ok_or_else(empty)?;
        let code = zone::calling_code(&e164);
        let masked = mask_phone(&e164, code);
        (e164, masked, code)
    } else if channel == Channel::Email {
        let email = rule::email(raw).map_err(unusable)?.ok_or_else(empty)?;
        let masked = mask_email(&email);
        (email, masked, None)
    } else {
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Err("is empty".into());
        }
        if text.len() > 2048 {
            return Err("is longer than 2048 bytes".into());
        }
        let masked = if channel == Channel::Push {
            let tail: String = text
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("***{tail}")
        } else {
            "*** (postal address)".to_string()
        };
        let canonical = if channel == Channel::Push {
            text
        } else {
            text.to_lowercase()
        };
        (canonical, masked, None)
    };
    let tag = indexer.tag(tag_domain(channel), canonical.as_bytes());
    Ok(Normalised {
        canonical,
        tag,
        masked,
        calling_code,
    })
}

/// "+225********78": the calling code (when known) and the last two digits.
pub fn mask_phone(e164: &str, code: Option<u16>) -> String {
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    let shown_head = code.map_or(0, |c| c.to_string().len()).min(digits.len());
    let shown_tail = 2.min(digits.len().saturating_sub(shown_head));
    let mut out = String::from("+");
    for (i, d) in digits.iter().enumerate() {
        if i < shown_head || i >= digits.len() - shown_tail {
            out.push(*d);
        } else {
            out.push('*');
        }
    }
    out
}

/// "a***@g***.com".
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return "***".into();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let tld = domain.rsplit_once('.').map_or("", |(_, t)| t);
    format!("{}***@{}***.{tld}", first(local), first(domain))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use c360_crypto::KeyMaterial;

    fn indexer() -> BlindIndexer {
        BlindIndexer::new(KeyMaterial::from_bytes([7; 32]))
    }

    #[test]
    fn phones_written_two_ways_are_one_value() {
        let phones = Phones::new("CI").unwrap();
        let ix = indexer();
        let a = normalise(&phones, &ix, Channel::Sms, "07 07 12 34 56", None).unwrap();
        let b = normalise(&phones, &ix, Channel::Voice, "+225 0707123456", None).unwrap();
        assert_eq!(a.tag, b.tag, "phone channels share the tag domain");
        assert_eq!(a.masked, "+225********56");
        assert_eq!(a.calling_code, Some(225));
        assert!(!format!("{a:?}").contains("0707"));
        assert!(normalise(&phones, &ix, Channel::Sms, "hello", None).is_err());
    }

    #[test]
    fn emails_and_others() {
        let phones = Phones::new("CI").unwrap();
        let ix = indexer();
        let e = normalise(&phones, &ix, Channel::Email, " Awa.Kone@Gmail.com ", None).unwrap();
        assert_eq!(e.masked, "a***@g***.com");
        assert_eq!(e.canonical, "awa.kone@gmail.com");
        assert!(normalise(&phones, &ix, Channel::Email, "nope", None).is_err());
        let p = normalise(&phones, &ix, Channel::Push, "tok-123456789", None).unwrap();
        assert_eq!(p.masked, "***6789");
        assert!(normalise(&phones, &ix, Channel::Postal, "   ", None).is_err());
    }

    /// The resolver's rule: what it flags as unusable is refused here, and
    /// what it reads as a number (a Senegalese mobile written nationally
    /// under an Ivorian default) is a contact point here too.
    #[test]
    fn one_rule_with_the_resolver() {
        let phones = Phones::new("CI").unwrap();
        let ix = indexer();
        for (channel, raw) in [(Channel::Sms, "+999 Zanzibarine"), (Channel::Email, "x@")] {
            let err = normalise(&phones, &ix, channel, raw, None).unwrap_err();
            assert!(!err.contains("Zanzibarine") && !err.contains("x@"), "{err}");
        }
        let sn = normalise(&phones, &ix, Channel::Sms, "77 123 45 67", None).unwrap();
        assert_eq!(sn.canonical, "+221771234567");
        let ml = normalise(&phones, &ix, Channel::Sms, "76 12 34 56", Some("ML")).unwrap();
        assert_eq!(ml.canonical, "+22376123456");
    }

    #[test]
    fn channel_names_are_the_shared_list() {
        let names: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, c360_standardise::channel::CONTACT_CHANNELS);
    }
}
