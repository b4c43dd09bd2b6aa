//! Domain types of the registry, as stored (serde, JSON) and as the decision
//! reads them. `Debug` of anything holding contact data shows counts and
//! ids only.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A contact channel (and the type of a contact point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    Sms,
    Voice,
    Email,
    Whatsapp,
    Push,
    Postal,
    CallCentre,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Sms,
        Channel::Voice,
        Channel::Email,
        Channel::Whatsapp,
        Channel::Push,
        Channel::Postal,
        Channel::CallCentre,
    ];

    /// The name used by the vault's consent ledger and the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Voice => "VOICE",
            Channel::Email => "EMAIL",
            Channel::Whatsapp => "WHATSAPP",
            Channel::Push => "PUSH",
            Channel::Postal => "POSTAL",
            Channel::CallCentre => "CALL_CENTRE",
        }
    }

    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Channels whose values are phone numbers.
    pub fn is_phone(self) -> bool {
        matches!(
            self,
            Channel::Sms | Channel::Voice | Channel::Whatsapp | Channel::CallCentre
        )
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointStatus {
    Active,
    Bounced,
    Invalid,
    Revoked,
}

/// The outcome of a touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    Failed,
    Bounced,
    OptedOut,
}

/// A blind-index tag of a normalised value (HMAC, not the value).
pub type Tag = [u8; c360_crypto::BLIND_TAG_LEN];

/// One way to reach a client. The value itself is only ever held sealed by
/// the vault (`sealed`, bound to `bound_client`/`id`/`field`) and masked.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactPoint {
    pub id: String,
    pub channel: Channel,
    #[serde(with = "hex_tag")]
    pub tag: Tag,
    pub masked: String,
    #[serde(with = "hex_bytes")]
    pub sealed: Vec<u8>,
    /// The client number and field the ciphertext is bound to (the number
    /// it was created under: merges do not re-seal).
    pub bound_client: String,
    pub bound_record: String,
    pub field: String,
    pub verified: bool,
    pub sources: Vec<String>,
    pub record_ids: Vec<String>,
    pub first_seen_ms: i64,
    pub last_confirmed_ms: i64,
    pub status: PointStatus,
    pub status_changed_ms: i64,
    /// The country calling code of a phone (e.g. 225), to infer a zone.
    #[serde(default)]
    pub calling_code: Option<u16>,
}

impl fmt::Debug for ContactPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactPoint")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("status", &self.status)
            .field("records", &self.record_ids.len())
            .finish_non_exhaustive()
    }
}

/// Local quiet hours in minutes after midnight; `start > end` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start_min: u16,
    pub end_min: u16,
}

impl QuietHours {
    /// "HH:MM" (00:00 to 23:59; "24:00" as an end means midnight).
    pub fn parse_hhmm(text: &str) -> Option<u16> {
        let (h, m) = text.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let h: u16 = h.parse().ok()?;
        let m: u16 = m.parse().ok()?;
        if h == 24 && m == 0 {
            return Some(0);
        }
        (h < 24 && m < 60).then_some(h * 60 + m)
    }

    pub fn format_min(min: u16) -> String {
        format!("{:02}:{:02}", min / 60, min % 60)
    }

    /// Whether local minute `m` is quiet.
    pub fn contains(&self, m: u16) -> bool {
        if self.start_min <= self.end_min {
            self.start_min <= m && m < self.end_min
        } else {
            m >= self.start_min || m < self.end_min
        }
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            Self::format_min(self.start_min),
            Self::format_min(self.end_min)
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preferences {
    /// (purpose, channel), sorted by purpose.
    pub preferred: Vec<(String, Channel)>,
    pub language: String,
    pub time_zone: String,
    pub quiet_hours: Option<QuietHours>,
    pub do_not_contact: bool,
    pub do_not_contact_channels: Vec<Channel>,
    pub updated_ms: i64,
}

impl Preferences {
    pub fn preferred_for(&self, purpose: &str) -> Option<Channel> {
        self.preferred
            .iter()
            .find(|(p, _)| p == purpose)
            .map(|(_, c)| *c)
    }

    /// Fail-closed union of two clients' preferences (a merge): any
    /// do-not-contact wins; `self`'s other choices win over `other`'s.
    pub fn merge_from(&mut self, other: &Preferences) {
        self.do_not_contact |= other.do_not_contact;
        for c in &other.do_not_contact_channels {
            if !self.do_not_contact_channels.contains(c) {
                self.do_not_contact_channels.push(*c);
            }
        }
        self.do_not_contact_channels.sort();
        for (p, c) in &other.preferred {
            if self.preferred_for(p).is_none() {
                self.preferred.push((p.clone(), *c));
            }
        }
        self.preferred.sort();
        if self.language.is_empty() {
            self.language = other.language.clone();
        }
        if self.time_zone.is_empty() {
            self.time_zone = other.time_zone.clone();
        }
        if self.quiet_hours.is_none() {
            self.quiet_hours = other.quiet_hours;
        }
        self.updated_ms = self.updated_ms.max(other.updated_ms);
    }
}

/// One touch (or inbound opt-out) in a client's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    pub at_ms: i64,
    pub channel: Channel,
    pub purpose: String,
    pub action_id: String,
    pub outcome: Outcome,
    pub point_id: String,
    /// The policy keyword recognised (never the raw inbound text).
    pub keyword: String,
    /// The client number it was recorded under.
    pub number: String,
}

/// What the resolver tells about a client, for sectors (no personal values:
/// flags, a region name and source system names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Name, given name, and a birth date or national id are known.
    pub identity: bool,
    /// Some member record comes from a transactional source system.
    pub transactions: bool,
    pub region: String,
    pub sources: Vec<String>,
}

/// Everything the registry holds about one client number.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientState {
    pub number: String,
    pub points: Vec<ContactPoint>,
    pub prefs: Preferences,
    pub hardship: bool,
    pub hardship_reason: String,
    /// Oldest first.
    pub history: Vec<Touch>,
    pub profile: Profile,
    /// Numbers merged into this one.
    pub aliases: Vec<String>,
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState")
            .field("number", &self.number)
            .field("points", &self.points)
            .field("hardship", &self.hardship)
            .field("history", &self.history.len())
            .finish_non_exhaustive()
    }
}

impl ClientState {
    pub fn new(number: &str) -> Self {
        ClientState {
            number: number.to_string(),
            ..Default::default()
        }
    }

    pub fn point(&self, id: &str) -> Option<&ContactPoint> {
        self.points.iter().find(|p| p.id == id)
    }

    /// Inserts a touch keeping the history ordered by time.
    pub fn push_touch(&mut self, touch: Touch) {
        let at = self.history.partition_point(|t| t.at_ms <= touch.at_ms);
        self.history.insert(at, touch);
    }

    /// Drops touches older than `cutoff_ms`.
    pub fn prune_history(&mut self, cutoff_ms: i64) {
        let keep_from = self.history.partition_point(|t| t.at_ms < cutoff_ms);
        if keep_from > 0 {
            self.history.drain(..keep_from);
        }
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        super::from_hex(&text).ok_or_else(|| serde::de::Error::custom("bad hex"))
    }
}

mod hex_tag {
    use serde::{Deserializer, Serializer};

    use super::Tag;

    pub fn serialize<S: Serializer>(tag: &Tag, s: S) -> Result<S::Ok, S::Error> {
        super::hex_bytes::serialize(tag, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tag, D::Error> {
        let bytes = super::hex_bytes::deserialize(d)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("bad tag length"))
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quiet_hours_across_midnight() {
        let q = QuietHours {
            start_min: 21 * 60,
            end_min: 7 * 60 + 30,
        };
        assert!(q.contains(21 * 60));
        assert!(q.contains(23 * 60 + 59));
        assert!(q.contains(0));
        assert!(q.contains(7 * 60 + 29));
        assert!(!q.contains(7 * 60 + 30));
        assert!(!q.contains(20 * 60 + 59));
        let day = QuietHours {
            start_min: 12 * 60,
            end_min: 14 * 60,
        };
        assert!(day.contains(13 * 60) && !day.contains(14 * 60) && !day.contains(11 * 60));
        assert_eq!(QuietHours::parse_hhmm("07:30"), Some(450));
        assert_eq!(QuietHours::parse_hhmm("24:00"), Some(0));
        for bad in ["7:30", "25:00", "12:60", "noon", ""] {
            assert_eq!(QuietHours::parse_hhmm(bad), None, "{bad}");
        }
    }

    #[test]
    fn hex_round_trip_and_channels() {
        let bytes = vec![0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes));
        assert_eq!(from_hex("abc"), None);
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
            assert_eq!(Channel::from_proto(c.to_proto()), Some(c));
        }
        assert_eq!(Channel::from_proto(0), None);
    }

    #[test]
    fn history_stays_ordered_and_prunes() {
        let mut s = ClientState::new("C1");
        for at in [30, 10, 20] {
            s.push_touch(Touch {
                at_ms: at,
                channel: Channel::Sms,
                purpose: "marketing".into(),
                action_id: String::new(),
                outcome: Outcome::Delivered,
                point_id: String::new(),
                keyword: String::new(),
                number: "C1".into(),
            });
        }
        let ats: Vec<i64> = s.history.iter().map(|t| t.at_ms).collect();
        assert_eq!(ats, [10, 20, 30]);
        s.prune_history(20);
        assert_eq!(s.history.len(), 2);
    }
}
