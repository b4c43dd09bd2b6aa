use std::fmt;
use std::str::FromStr;

/// A canonical field of a client record.
///
/// The names are the ones used by the CLI, the mapping files and the gRPC
/// API (`given_name`, `surname`, `date_of_birth`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    RecordId,
    SourceSystem,
    GivenName,
    MiddleName,
    Surname,
    FullName,
    Sex,
    DateOfBirth,
    NationalId,
    Phone,
    Email,
    Address,
    Locality,
    Postcode,
    Region,
    Country,
    GroupId,
}

impl Field {
    pub const ALL: [Field; 17] = [
        Field::RecordId,
        Field::SourceSystem,
        Field::GivenName,
        Field::MiddleName,
        Field::Surname,
        Field::FullName,
        Field::Sex,
        Field::DateOfBirth,
        Field::NationalId,
        Field::Phone,
        Field::Email,
        Field::Address,
        Field::Locality,
        Field::Postcode,
        Field::Region,
        Field::Country,
        Field::GroupId,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::RecordId => "record_id",
            Field::SourceSystem => "source_system",
            Field::GivenName => "given_name",
            Field::MiddleName => "middle_name",
            Field::Surname => "surname",
            Field::FullName => "full_name",
            Field::Sex => "sex",
            Field::DateOfBirth => "date_of_birth",
            Field::NationalId => "national_id",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::Address => "address",
            Field::Locality => "locality",
            Field::Postcode => "postcode",
            Field::Region => "region",
            Field::Country => "country",
            Field::GroupId => "group_id",
        }
    }

    /// Fields that may hold several values (a record may carry several
    /// phones and emails).
    pub fn is_multi_valued(self) -> bool {
        matches!(self, Field::Phone | Field::Email)
    }

    /// Whether the field holds personal data (everything that identifies or
    /// reaches a person). Identifiers of the record itself are not personal.
    pub fn is_personal(self) -> bool {
        !matches!(
            self,
            Field::RecordId | Field::SourceSystem | Field::Country | Field::Region | Field::GroupId
        )
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a name that is not a canonical field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown canonical field `{0}` (expected one of: {list})", list = Field::ALL.map(Field::name).join(", "))]
pub struct UnknownField(pub String);

impl FromStr for Field {
    type Err = UnknownField;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Field::ALL
            .into_iter()
            .find(|field| field.name() == s)
            .ok_or_else(|| UnknownField(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for field in Field::ALL {
            assert_eq!(field.name().parse::<Field>().unwrap(), field);
        }
        let err = "suburb".parse::<Field>().unwrap_err();
        assert!(err.to_string().contains("`suburb`"));
    }
}
