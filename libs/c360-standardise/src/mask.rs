//! Masked forms of personal values, for callers the access policy lets
//! see a value only in part: a phone's country code and two digits at each
//! end, an e-mail's first letter and domain, the initials of a name, the
//! year of a date, the last two characters of anything else.

/// Digits of an E.164 country code, from its first digits (ITU zones; West
/// African codes are three digits: +225, +221, +223, ...).
fn country_code_len(digits: &[char]) -> usize {
    let two = |a: char, b: char| digits.len() >= 2 && digits[0] == a && digits[1] == b;
    match digits.first() {
        Some('1') | Some('7') => 1,
        Some('2') if two('2', '0') || two('2', '7') => 2,
        Some('2') => 3,
        Some('3') if two('3', '5') || two('3', '7') || two('3', '8') => 3,
        Some('4') if two('4', '2') => 3,
        Some('5') if two('5', '0') || two('5', '9') => 3,
        Some('6') if two('6', '7') || two('6', '8') || two('6', '9') => 3,
        Some('8') if two('8', '5') || two('8', '7') || two('8', '8') || two('8', '0') => 3,
        Some('9') if two('9', '6') || two('9', '7') || two('9', '9') => 3,
        _ => 2,
    }
}

/// `+225 07 ** ** ** 78`: country code, first and last two digits of the
/// national number kept, the middle masked in pairs (a leading group of
/// three when odd: `+221 77 *** ** 67`).
fn mask_phone(value: &str) -> String {
    let international = value.trim_start().starts_with('+');
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return "*".repeat(digits.len().max(4));
    }
    let cc_len = if international {
        country_code_len(&digits).min(digits.len() - 5)
    } else {
        0
    };
    let (cc, national) = digits.split_at(cc_len);
    let n = national.len();
    let mut parts: Vec<String> = Vec::new();
    if international {
        parts.push(format!("+{}", cc.iter().collect::<String>()));
    }
    parts.push(national[..2].iter().collect());
    let mut middle = n - 4;
    if middle % 2 == 1 && middle >= 3 {
        parts.push("***".into());
        middle -= 3;
    } else if middle % 2 == 1 {
        parts.push("*".into());
        middle -= 1;
    }
    for _ in 0..middle / 2 {
        parts.push("**".into());
    }
    parts.push(national[n - 2..].iter().collect());
    parts.join(" ")
}

fn mask_email(value: &str) -> String {
    match value.trim().rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => mask_generic(value),
    }
}

fn mask_words(value: &str) -> String {
    value
        .split_whitespace()
        .map(|w| {
            let first: String = w.chars().take(1).collect();
            format!("{first}***")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Only the year of a date, whatever its format: `1985-**-**`,
/// `**/**/1985`. Without a four-digit year, the generic mask.
fn mask_date(value: &str) -> String {
    let v = value.trim();
    let chars: Vec<char> = v.chars().collect();
    let year = (0..chars.len().saturating_sub(3)).find(|&i| {
        let run = &chars[i..i + 4];
        run.iter().all(char::is_ascii_digit)
            && (i == 0 || !chars[i - 1].is_ascii_digit())
            && chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
    });
    let Some(start) = year else {
        return mask_generic(v);
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphanumeric() && !(start..start + 4).contains(&i) {
                '*'
            } else {
                *c
            }
        })
        .collect()
}

/// Every character but the last two masked (all of a short value).
fn mask_generic(value: &str) -> String {
    let chars: Vec<char> = value.trim().chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len().max(4));
    }
    let keep = 2;
    let mut out: String = "*".repeat(chars.len() - keep);
    out.extend(&chars[chars.len() - keep..]);
    out
}

/// The masked form of `value` for `field`.
pub fn mask(field: &str, value: &str) -> String {
    match field {
        f if f.contains("phone") || f == "mobile" || f == "whatsapp" => mask_phone(value),
        f if f.contains("email") => mask_email(value),
        f if f.contains("name") => mask_words(value),
        f if f.contains("date") || f == "dob" => mask_date(value),
        _ => mask_generic(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask("phone", "+2250701020378"), "+225 07 ** ** ** 78");
        assert_eq!(mask("mobile", "+221 77 123 45 67"), "+221 77 *** ** 67");
        assert_eq!(mask("phone", "0701020378"), "07 ** ** ** 78");
        assert_eq!(mask("phone", "123"), "****");
        assert_eq!(mask("email", "kone.aminata@example.ci"), "k***@example.ci");
        assert_eq!(mask("name", "Aminata Koné"), "A*** K***");
        assert_eq!(mask("date_of_birth", "1985-03-12"), "1985-**-**");
        assert_eq!(mask("date_of_birth", "12/03/1985"), "**/**/1985");
        assert_eq!(mask("date_of_birth", "12 mars 1985"), "** **** 1985");
        assert_eq!(mask("date_of_birth", "19850312"), "******12");
        assert_eq!(mask("national_id", "CI0012345678"), "**********78");
        assert_eq!(mask("national_id", "AB1"), "****");
        assert_eq!(mask("address", "Cocody"), "****dy");
    }
}
