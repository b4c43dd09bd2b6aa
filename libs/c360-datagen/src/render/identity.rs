//! Who the record says the person is, as the source system writes it:
//! names (their order, parts and noise), birth date and national id.

use super::*;

pub(super) fn render_names<R: Rng + ?Sized>(
    world: &World,
    rng: &mut R,
    person: &Person,
    source: Source,
    p: &Profile,
    r: &mut Record,
) {
    let surname_true = match person.married_surname {
        Some(m) if yes(rng, P_MARRIED_NAME) => m,
        _ => person.surname,
    };
    let mut given = noisy_name(world, rng, person.given, p);
    let mut surname = noisy_name(world, rng, surname_true, p);
    let mut middle = String::new();
    if let Some(m) = person.middle {
        let m = noisy_name(world, rng, m, p);
        if yes(rng, p.middle_field) {
            middle = m;
        } else if yes(rng, 0.5) {
            let sep = if yes(rng, 0.3) { "-" } else { " " };
            given = format!("{given}{sep}{m}");
        } else if yes(rng, 0.1) {
            middle = format!("{}.", m.chars().next().unwrap_or('X'));
        }
    }
    if yes(rng, P_SWAP_NAMES) {
        std::mem::swap(&mut given, &mut surname);
    }
    // Case and accents by system.
    let accents = match source {
        Source::CoreBanking => yes(rng, 0.85),
        Source::MobileMoney => yes(rng, 0.4),
        Source::LoanOrigination => yes(rng, 0.7),
        Source::AgentApp | Source::LegacyMfi => false,
    };
    let (given_case, surname_case) = match source {
        Source::CoreBanking => (
            Case::Title,
            if yes(rng, 0.5) {
                Case::Upper
            } else {
                Case::Title
            },
        ),
        Source::MobileMoney => {
            let c = pick(
                rng,
                &[(Case::Upper, 0.4), (Case::Title, 0.4), (Case::Lower, 0.2)],
            );
            (c, c)
        }
        Source::LoanOrigination => (
            Case::Title,
            if yes(rng, 0.3) {
                Case::Upper
            } else {
                Case::Title
            },
        ),
        Source::AgentApp => {
            let c = pick(
                rng,
                &[(Case::Lower, 0.75), (Case::Title, 0.2), (Case::Upper, 0.05)],
            );
            (c, c)
        }
        Source::LegacyMfi => (Case::Upper, Case::Upper),
    };
    let style = |s: &str, case: Case| -> String {
        let s = if accents {
            s.to_string()
        } else {
            strip_accents(s)
        };
        // Title case keeps the written form ("N'Guessan"); others recase it.
        match case {
            Case::Title if s.chars().next().is_some_and(char::is_uppercase) => s,
            Case::Title => title_case(&s),
            other => apply_case(&s, other),
        }
    };
    let given = style(&given, given_case);
    let surname = style(&surname, surname_case);
    let middle = style(&middle, given_case);
    // Francophone forms put the surname first half of the time.
    let surname_first = source == Source::LegacyMfi || yes(rng, 0.5);
    let full = || -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        if surname_first {
            parts.push(&surname);
        }
        parts.push(&given);
        if !middle.is_empty() {
            parts.push(&middle);
        }
        if !surname_first {
            parts.push(&surname);
        }
        parts.join(" ")
    };
    if yes(rng, p.full_name_only) {
        r.full_name = full();
    } else {
        if yes(rng, p.full_name_too) {
            r.full_name = full();
        }
        r.given_name = given;
        r.middle_name = middle;
        r.surname = surname;
    }
}

pub(super) fn render_dob<R: Rng + ?Sized>(
    rng: &mut R,
    person: &Person,
    source: Source,
    p: &Profile,
) -> String {
    let Date {
        mut y,
        mut m,
        mut d,
    } = person.dob;
    if yes(rng, P_YEAR_OFF) {
        y = if yes(rng, 0.5) { y + 1 } else { y - 1 };
    }
    let year_only = yes(rng, p.year_only) || (person.presumed_dob && yes(rng, 0.3));
    if year_only {
        return match source {
            Source::CoreBanking => match pick(rng, &[(0u8, 0.5), (1, 0.3), (2, 0.2)]) {
                0 => format!("{y}"),
                1 => format!("00/00/{y}"),
                _ => format!("vers {y}"),
            },
            Source::LegacyMfi if yes(rng, 0.5) => format!("{y}0000"),
            Source::LegacyMfi => format!("{y}"),
            Source::AgentApp => format!("{y}"),
            Source::LoanOrigination => format!("{y}"),
            Source::MobileMoney => format!("{y}"),
        };
    }
    if yes(rng, P_MONTH_YEAR) {
        return match source {
            Source::LegacyMfi => format!("{y}{m:02}00"),
            Source::LoanOrigination => format!("{y}-{m:02}"),
            _ => format!("{m:02}/{y}"),
        };
    }
    // A day/month swap is a slip in typing a full date.
    if d <= 12 && d != m && yes(rng, P_DAY_MONTH_SWAP) {
        std::mem::swap(&mut d, &mut m);
    }
    match source {
        Source::CoreBanking => format!("{d:02}/{m:02}/{y}"),
        Source::MobileMoney => {
            if yes(rng, 0.5) {
                format!("{d:02}-{m:02}-{y}")
            } else {
                format!("{d:02}/{m:02}/{y}")
            }
        }
        Source::LoanOrigination => format!("{y}-{m:02}-{d:02}"),
        Source::AgentApp => {
            if yes(rng, 0.6) {
                format!("{d}/{m}/{:02}", y % 100)
            } else {
                format!("{d:02}/{m:02}/{y}")
            }
        }
        Source::LegacyMfi => format!("{y}{m:02}{d:02}"),
    }
}

pub(super) fn render_id<R: Rng + ?Sized>(
    rng: &mut R,
    canonical: &str,
    country: Country,
    source: Source,
) -> String {
    // Canonical ids are ASCII: letters and digits.
    let mut bytes = canonical.as_bytes().to_vec();
    if yes(rng, P_ID_TYPO) {
        let digits: Vec<usize> = (0..bytes.len())
            .filter(|&i| bytes[i].is_ascii_digit())
            .collect();
        if !digits.is_empty() {
            let i = digits[rng.random_range(0..digits.len())];
            let old = bytes[i];
            while bytes[i] == old {
                bytes[i] = b'0' + rng.random_range(0..10u8);
            }
        }
    }
    let id = String::from_utf8_lossy(&bytes);
    let digits: String = if bytes.iter().all(u8::is_ascii_digit) {
        id.to_string()
    } else {
        id.chars().filter(char::is_ascii_digit).collect()
    };
    let out = match country {
        Country::CI => {
            let (a, b, c) = (&digits[0..4], &digits[4..8], &digits[8..]);
            match rng.random_range(0..7) {
                0 | 1 => id.to_string(),
                2 => format!("CI-{a}-{b}-{c}"),
                3 => format!("CI {a} {b} {c}"),
                4 => format!("C {a} {b} {c}"),
                5 => format!("CI{digits}"),
                _ => digits.clone(),
            }
        }
        Country::SN => match rng.random_range(0..4) {
            0 | 1 => digits.clone(),
            2 => format!(
                "{} {} {} {}",
                &digits[0..1],
                &digits[1..4],
                &digits[4..8],
                &digits[8..]
            ),
            _ => format!("{}-{}-{}", &digits[0..4], &digits[4..8], &digits[8..]),
        },
        Country::ML => match rng.random_range(0..4) {
            0 | 1 => id.to_string(),
            2 => format!("{} {} {}", &id[0..5], &id[5..10], &id[10..]),
            _ => id.to_lowercase(),
        },
        Country::BF => match rng.random_range(0..4) {
            0 | 1 => id.to_string(),
            2 => format!("B {digits}"),
            _ => format!("B-{} {}", &digits[0..4], &digits[4..]),
        },
    };
    match source {
        Source::AgentApp => out.to_lowercase(),
        _ => out,
    }
}
