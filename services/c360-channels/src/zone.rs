//! Time zones: which zone a client's quiet hours are read in, and the
//! quiet-hours arithmetic across midnight and DST changes.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::model::{ClientState, PointStatus, QuietHours};
use crate::policy::Policy;

/// Countries with a single IANA zone, by calling code: a client whose
/// active phones all belong to one of them is assumed to live there.
const SINGLE_ZONE_CODES: &[(u16, &str)] = &[
    (220, "Africa/Banjul"),
    (221, "Africa/Dakar"),
    (222, "Africa/Nouakchott"),
    (223, "Africa/Bamako"),
    (224, "Africa/Conakry"),
    (225, "Africa/Abidjan"),
    (226, "Africa/Ouagadougou"),
    (227, "Africa/Niamey"),
    (228, "Africa/Lome"),
    (229, "Africa/Porto-Novo"),
    (231, "Africa/Monrovia"),
    (232, "Africa/Freetown"),
    (233, "Africa/Accra"),
    (234, "Africa/Lagos"),
    (235, "Africa/Ndjamena"),
    (237, "Africa/Douala"),
    (238, "Atlantic/Cape_Verde"),
    (241, "Africa/Libreville"),
    (242, "Africa/Brazzaville"),
    (245, "Africa/Bissau"),
    (33, "Europe/Paris"),
];

/// The calling code of an E.164 number if it is one of the table's.
pub fn calling_code(e164: &str) -> Option<u16> {
    let digits = e164.strip_prefix('+')?;
    [3usize, 2].into_iter().find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        SINGLE_ZONE_CODES
            .iter()
            .any(|(c, _)| *c == code)
            .then_some(code)
    })
}

fn zone_of_code(code: u16) -> Option<&'static str> {
    SINGLE_ZONE_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, z)| *z)
}

/// The zone of a client, its name and where it came from; `Err` names why
/// it is unknown.
#[derive(Debug, Clone)]
pub struct ClientZone {
    pub tz: TimeZone,
    pub name: String,
    pub source: &'static str,
}

pub fn client_zone(policy: &Policy, client: &ClientState) -> Result<ClientZone, String> {
    let stated = &client.prefs.time_zone;
    if !stated.is_empty() {
        // A stated zone that the database does not know is not replaced by
        // a guess: fail closed.
        return TimeZone::get(stated)
            .map(|tz| ClientZone {
                tz,
                name: stated.clone(),
                source: "preference",
            })
            .map_err(|_| "the stated time zone is unknown".to_string());
    }
    let mut inferred: Option<&'static str> = None;
    let mut conflicting = false;
    for p in client
        .points
        .iter()
        .filter(|p| p.status == PointStatus::Active && p.channel.is_phone())
    {
        match p.calling_code.and_then(zone_of_code) {
            Some(z) if inferred.is_none_or(|i| i == z) => inferred = Some(z),
            Some(_) => conflicting = true,
            None => {}
        }
    }
    if let (Some(name), false) = (inferred, conflicting)
        && let Ok(tz) = TimeZone::get(name)
    {
        return Ok(ClientZone {
            tz,
            name: name.to_string(),
            source: "phone",
        });
    }
    if let Some(name) = &policy.default_time_zone
        && let Ok(tz) = TimeZone::get(name)
    {
        return Ok(ClientZone {
            tz,
            name: name.clone(),
            source: "policy default",
        });
    }
    Err(if conflicting {
        "no stated time zone and phones in several zones".to_string()
    } else {
        "no stated, inferable or default time zone".to_string()
    })
}

/// `None` when `at_ms` is outside quiet hours, else the instant they end.
pub fn quiet_until(q: &QuietHours, tz: &TimeZone, at_ms: i64) -> Option<i64> {
    let ts = Timestamp::from_millisecond(at_ms).ok()?;
    let local = ts.to_zoned_datetime(tz.clone());
    let minute = u16::try_from(local.hour()).ok()? * 60 + u16::try_from(local.minute()).ok()?;
    if !q.contains(minute) {
        return None;
    }
    let end_h = i8::try_from(q.end_min / 60).ok()?;
    let end_m = i8::try_from(q.end_min % 60).ok()?;
    let mut date = local.date();
    for _ in 0..3 {
        let end = date
            .at(end_h, end_m, 0, 0)
            .to_zoned_datetime(tz.clone())
            .ok()?;
        let end_ms = end.timestamp().as_millisecond();
        if end_ms > at_ms {
            return Some(end_ms);
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// Local "HH:MM" of an instant, for receipts.
pub fn local_hhmm(tz: &TimeZone, at_ms: i64) -> String {
    Timestamp::from_millisecond(at_ms)
        .map(|ts| {
            ts.to_zoned_datetime(tz.clone())
                .strftime("%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn calling_codes() {
        assert_eq!(calling_code("+2250707123456"), Some(225));
        assert_eq!(calling_code("+33612345678"), Some(33));
        assert_eq!(calling_code("+14155550100"), None);
        assert_eq!(calling_code("0707"), None);
    }

    #[test]
    fn quiet_hours_across_midnight_in_the_clients_zone() {
        let q = QuietHours {
            start_min: 21 * 60,
            end_min: 7 * 60,
        };
        // Cotonou is UTC+1: 20:30 UTC is 21:30 local, quiet until 06:00 UTC.
        let tz = TimeZone::get("Africa/Porto-Novo").unwrap();
        assert_eq!(
            quiet_until(&q, &tz, ms("2025-03-10T20:30:00Z")),
            Some(ms("2025-03-11T06:00:00Z"))
        );
        // 19:59:59 UTC = 20:59:59 local: not yet quiet.
        assert_eq!(quiet_until(&q, &tz, ms("2025-03-10T19:59:59Z")), None);
        // 20:00 UTC = 21:00 local: quiet starts (inclusive).
        assert!(quiet_until(&q, &tz, ms("2025-03-10T20:00:00Z")).is_some());
        // After midnight local, the same night ends the same day.
        assert_eq!(
            quiet_until(&q, &tz, ms("2025-03-11T02:00:00Z")),
            Some(ms("2025-03-11T06:00:00Z"))
        );
        // 06:00 UTC = 07:00 local: over (exclusive end).
        assert_eq!(quiet_until(&q, &tz, ms("2025-03-11T06:00:00Z")), None);
        // Abidjan (UTC+0) is not quiet at the same instant Cotonou is.
        let abj = TimeZone::get("Africa/Abidjan").unwrap();
        assert_eq!(quiet_until(&q, &abj, ms("2025-03-10T20:30:00Z")), None);
    }

    #[test]
    fn quiet_hours_over_a_dst_change() {
        // Paris springs forward on 2025-03-30: 02:00 -> 03:00 local.
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let q = QuietHours {
            start_min: 22 * 60,
            end_min: 8 * 60,
        };
        // 23:00 local on the 29th (UTC+1) = 22:00 UTC; ends 08:00 CEST = 06:00 UTC.
        assert_eq!(
            quiet_until(&q, &tz, ms("2025-03-29T22:00:00Z")),
            Some(ms("2025-03-30T06:00:00Z"))
        );
    }
}
