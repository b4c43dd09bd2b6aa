//! How to reach the person, as the source system writes it: phones (the
//! country's grouping, a new SIM, a relative's phone) and e-mail.

use super::*;

/// Groups digits: `groups` are the sizes, joined with `sep`.
fn grouped(digits: &str, groups: &[usize], sep: &str) -> String {
    let mut out = String::with_capacity(digits.len() + groups.len() * sep.len());
    let mut at = 0;
    for (i, &g) in groups.iter().enumerate() {
        if at >= digits.len() {
            break;
        }
        if i > 0 {
            out.push_str(sep);
        }
        let end = (at + g).min(digits.len());
        out.push_str(&digits[at..end]);
        at = end;
    }
    if at < digits.len() {
        out.push_str(&digits[at..]);
    }
    out
}

fn phone_groups(country: Country, len: usize) -> &'static [usize] {
    match (country, len) {
        (Country::SN, _) => &[2, 3, 2, 2],
        (_, 10) => &[2, 2, 2, 2, 2],
        _ => &[2, 2, 2, 2],
    }
}

/// A phone number written in one of the local formats. Legacy Ivorian
/// records hold the pre-2021 8-digit number.
pub fn format_phone<R: Rng + ?Sized>(rng: &mut R, phone: Phone, source: Source) -> String {
    let country = phone.country;
    let cc = country.dial_code();
    let mut digits = phone.digits();
    let legacy_ci = country == Country::CI
        && match source {
            Source::LegacyMfi => yes(rng, 0.85),
            _ => yes(rng, 0.03),
        };
    if legacy_ci {
        digits = digits[2..].to_string();
    }
    let groups = phone_groups(country, digits.len());
    let spaced = || grouped(&digits, groups, " ");
    let weights: &[(u8, f64)] = match source {
        Source::CoreBanking => &[
            (0, 0.35),
            (1, 0.3),
            (2, 0.15),
            (3, 0.1),
            (4, 0.05),
            (5, 0.05),
        ],
        Source::MobileMoney => &[(6, 0.6), (3, 0.2), (0, 0.2)],
        Source::LoanOrigination => &[(0, 0.4), (1, 0.3), (2, 0.1), (7, 0.05), (8, 0.1), (5, 0.05)],
        Source::AgentApp => &[(0, 0.7), (1, 0.1), (9, 0.05), (3, 0.1), (4, 0.05)],
        Source::LegacyMfi => &[(0, 0.5), (1, 0.3), (8, 0.1), (10, 0.1)],
    };
    match pick(rng, weights) {
        1 => spaced(),
        2 => format!("+{cc} {}", spaced()),
        3 => format!("+{cc}{digits}"),
        4 => format!("00{cc} {digits}"),
        5 => grouped(&digits, groups, "."),
        6 => format!("{cc}{digits}"),
        7 => format!("00{cc}-{}", grouped(&digits, groups, "-")),
        8 => format!("({cc}) {digits}"),
        // A spreadsheet dropped the leading zero.
        9 if digits.starts_with('0') => digits[1..].to_string(),
        10 => format!("{cc} {}", spaced()),
        _ => digits,
    }
}

/// Fills the phones; returns whether one of them is the person's own (or
/// the family's) number rather than only an agent's.
pub(super) fn render_phones<R: Rng + ?Sized>(
    world: &World,
    rng: &mut R,
    person: &Person,
    k: usize,
    source: Source,
    p: &Profile,
    r: &mut Record,
) -> bool {
    let mut phones: Vec<Phone> = Vec::with_capacity(2);
    let mut new_sim = false;
    if yes(rng, p.phone) {
        new_sim = k > 0 && yes(rng, P_NEW_PHONE);
        let primary = if new_sim {
            Some(person.new_phone)
        } else {
            match (person.phone, person.family_phone) {
                (Some(own), Some(family)) => Some(if yes(rng, P_FAMILY_PHONE) {
                    family
                } else {
                    own
                }),
                (own, family) => own.or(family),
            }
        };
        phones.extend(primary);
        if let Some(second) = person.second_phone
            && yes(rng, p.second_phone)
        {
            phones.push(second);
        }
    }
    // Mobile money always has the account number.
    if phones.is_empty() && source == Source::MobileMoney {
        phones.push(
            person
                .phone
                .or(person.family_phone)
                .unwrap_or(person.new_phone),
        );
    }
    // The new SIM alone does not link the record to the person's others.
    let own = phones.len() > usize::from(new_sim);
    let mut written: Vec<String> = phones
        .iter()
        .map(|&ph| format_phone(rng, ph, source))
        .collect();
    if source == Source::AgentApp && !written.is_empty() && yes(rng, 0.01) {
        // One mistyped digit.
        let s = &mut written[0];
        if let Some((pos, _)) = s.char_indices().rev().find(|(_, c)| c.is_ascii_digit()) {
            let old = s.as_bytes()[pos];
            let new = if old == b'9' {
                '0'
            } else {
                char::from(old + 1)
            };
            s.replace_range(pos..pos + 1, &new.to_string());
        }
    }
    let mut own_kept = own;
    if yes(rng, p.hot_phone) {
        let agent = world.agent_phone(rng, person.country);
        let agent = format_phone(rng, agent, source);
        if !written.is_empty() && yes(rng, 0.6) {
            written[0] = agent;
            own_kept = written.len() > 1;
        } else {
            written.push(agent);
        }
    }
    r.phones = written;
    own_kept
}

pub(super) fn render_email<R: Rng + ?Sized>(rng: &mut R, email: &str, source: Source) -> String {
    let mut e = email.to_string();
    if yes(rng, 0.02) {
        e = e
            .replace("gmail.com", "gmial.com")
            .replace("yahoo.fr", "yaho.fr")
            .replace("hotmail", "hotmal");
    }
    match source {
        Source::LegacyMfi => e.to_uppercase(),
        _ if yes(rng, 0.05) => {
            let mut c = e.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or(e)
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn legacy_ci_phone_follows_migration_rule() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let world = World::new(&mut rng, 1000);
        for _ in 0..500 {
            let phone = world.phone(&mut rng, Country::CI);
            let d = phone.digits();
            assert_eq!(d.len(), 10);
            let second_old = d.as_bytes()[3] - b'0';
            let expected = match second_old {
                0..=3 => "01",
                4..=6 => "05",
                _ => "07",
            };
            assert_eq!(&d[..2], expected, "{d}");
        }
    }

    #[test]
    fn phone_formats() {
        let p = Phone {
            country: Country::CI,
            n: 707_123_456,
        };
        assert_eq!(p.digits(), "0707123456");
        assert_eq!(
            grouped("0707123456", &[2, 2, 2, 2, 2], " "),
            "07 07 12 34 56"
        );
        assert_eq!(grouped("771234567", &[2, 3, 2, 2], " "), "77 123 45 67");
    }
}
