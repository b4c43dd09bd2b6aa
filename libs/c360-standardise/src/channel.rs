//! The contact channels, by the names the consent ledger, the contact policy and
//! the CLI use. A consent for a channel that is not one of these could never be
//! checked by anything: it is refused where it is written.

/// Every contact channel, in the order of `c360.channels.v1.Channel`.
pub const CONTACT_CHANNELS: [&str; 7] = [
    "SMS",
    "VOICE",
    "EMAIL",
    "WHATSAPP",
    "PUSH",
    "POSTAL",
    "CALL_CENTRE",
];

/// Whether `name` (upper case) is a contact channel.
pub fn is_contact_channel(name: &str) -> bool {
    CONTACT_CHANNELS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels() {
        assert!(is_contact_channel("SMS") && is_contact_channel("CALL_CENTRE"));
        assert!(!is_contact_channel("FAX") && !is_contact_channel("sms"));
    }
}
