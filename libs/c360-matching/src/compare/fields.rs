//! Comparison of the fields other than names: birth dates, national IDs,
//! phones, e-mails, addresses and localities.

use super::*;

/// 1 exact, 2 near (day/month swapped, one component off), 3 partial dates
/// that agree as far as they go, 4 different, 0 missing.
pub fn compare_dates(a: &PartialDate, b: &PartialDate) -> u8 {
    let (Some(ya), Some(yb)) = (a.year, b.year) else {
        return 0;
    };
    if a.is_complete() && b.is_complete() {
        if a == b {
            return 1;
        }
        if a.is_day_month_swap_of(b) {
            return 2;
        }
        let same_year = ya == yb;
        let same_month = a.month == b.month;
        let same_day = a.day == b.day;
        let year_off_by_one = ya.abs_diff(yb) == 1;
        let one_component_off = (same_year && same_month && digits_one_edit(a.day, b.day))
            || (same_year && same_day)
            || (year_off_by_one && same_month && same_day)
            || (same_month && same_day && digits_one_edit_year(ya, yb));
        return if one_component_off {
            2
        } else if a.days_apart(b).is_some_and(|d| d <= 366) {
            4
        } else {
            5
        };
    }
    let rest_agrees = opt_agree(a.month, b.month) && opt_agree(a.day, b.day);
    if ya == yb && rest_agrees {
        3
    } else if ya == yb && partial_month_is_swapped_day(a, b) {
        // "01/1989" against 01/12/1989 written with day and month swapped
        // (the person was born on 12 January).
        2
    } else if ya.abs_diff(yb) == 1 && rest_agrees {
        2
    } else if ya.abs_diff(yb) <= 1 {
        4
    } else {
        5
    }
}

/// One date has only a month and year, the other is full, and the month
/// is the full date's day (which could be a month): a day/month swap.
fn partial_month_is_swapped_day(a: &PartialDate, b: &PartialDate) -> bool {
    let (partial, full) = if a.is_complete() { (b, a) } else { (a, b) };
    match (partial.month, partial.day, full.day) {
        (Some(m), None, Some(d)) => full.is_complete() && m == d && d <= 12,
        _ => false,
    }
}

fn opt_agree(a: Option<u8>, b: Option<u8>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// Two-digit numbers one typo apart (a digit changed, or the two swapped).
fn digits_one_edit(a: Option<u8>, b: Option<u8>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => {
            let (x1, x0, y1, y0) = (x / 10, x % 10, y / 10, y % 10);
            x1 == y1 || x0 == y0 || (x1 == y0 && x0 == y1)
        }
        _ => false,
    }
}

fn digits_one_edit_year(a: u16, b: u16) -> bool {
    strsim::osa_distance(&a.to_string(), &b.to_string()) <= 1
}

/// 1 an address in common; 2 the same local part at domains a typo or
/// two apart ("aishab64@obrien-flocres.com"); 3 local parts a typo or two
/// apart as well ("jt40@combs.net", "jt4@cmbs.net"); 4 different; 0 when
/// either record has none. The same local part at another provider is
/// "different": a local part is often made of the holder's names, which
/// namesakes share.
pub(super) fn compare_emails(a: &[Box<str>], b: &[Box<str>]) -> u8 {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    if sorted_intersect(a, b) {
        return 1;
    }
    let mut best = 4;
    for x in a {
        for y in b {
            let (Some((lx, dx)), Some((ly, dy))) = (x.split_once('@'), y.split_once('@')) else {
                continue;
            };
            if osa_within(dx, dy, 2).is_none() {
                continue;
            }
            if lx == ly {
                return 2;
            }
            if lx.len().min(ly.len()) >= 3 && osa_within(lx, ly, 2).is_some() {
                best = 3;
            }
        }
    }
    best
}

/// 1 exact, 2 one edit (a typo or a transposition), 3 different.
pub(super) fn compare_ids(a: &str, b: &str) -> u8 {
    if a == b {
        return 1;
    }
    if osa_within(a, b, 1).is_some() {
        return 2;
    }
    3
}

/// Only phones that are not hot count. 1 a phone in common, 2 both have
/// phones and none in common.
pub(super) fn compare_phones(a: &[u64], b: &[u64], heat: PhoneHeat<'_>) -> (u8, Option<u64>) {
    let mut any_a = false;
    let mut any_b = false;
    let mut shared: Option<u64> = None;
    for &p in a.iter().filter(|&&p| !heat.is_hot(p)) {
        any_a = true;
        if b.binary_search(&p).is_ok() {
            shared = match shared {
                Some(s) if heat.count(s) <= heat.count(p) => Some(s),
                _ => Some(p),
            };
        }
    }
    if shared.is_some() {
        return (1, shared);
    }
    for &p in b {
        if !heat.is_hot(p) {
            any_b = true;
            break;
        }
    }
    if any_a && any_b { (2, None) } else { (0, None) }
}

pub(super) fn sorted_intersect<T: Ord>(a: &[T], b: &[T]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Token-set similarity of addresses: 1 same (Jaccard ≥ 0.8), 2 similar
/// (≥ 0.5), 3 some overlap, 4 nothing shared.
pub(super) fn compare_addresses(a: &[Box<str>], b: &[Box<str>]) -> u8 {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    let mut shared = 0usize;
    for t in a {
        if b.binary_search_by(|u| cmp_text(u, t)).is_ok() {
            shared += 1;
            continue;
        }
        // A typo in a long token still counts as shared.
        let first = t.as_bytes()[0];
        if t.len() >= 5
            && b.iter()
                .any(|u| u.len() >= 5 && u.as_bytes()[0] == first && jaro_winkler(t, u) >= 0.92)
        {
            shared += 1;
        }
    }
    let union = a.len() + b.len() - shared.min(a.len().min(b.len()));
    let jaccard = shared as f64 / union as f64;
    if jaccard >= 0.8 {
        1
    } else if jaccard >= 0.5 {
        2
    } else if shared > 0 {
        3
    } else {
        4
    }
}

/// 1 the same place, 2 a typo of it or a commune and its city ("Cocody"
/// and "Abidjan"), 3 different (two communes of one city are two places).
pub(super) fn compare_localities(a: &Prepared, b: &Prepared) -> u8 {
    let (x, y) = (&*a.locality, &*b.locality);
    if x.is_empty() || y.is_empty() {
        return 0;
    }
    if x == y {
        return 1;
    }
    if *a.city == *y || *b.city == *x || jaro_winkler(x, y) >= 0.88 {
        2
    } else {
        3
    }
}
