use std::fmt;

use crate::Field;

/// The canonical client record, as a source system sent it (raw values,
/// before standardisation).
///
/// Every field but `record_id` may be empty. A record may carry several
/// phones and emails. `Debug` prints only the record id, the source and which
/// fields are present: never a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub record_id: String,
    pub source_system: String,
    pub given_name: String,
    pub middle_name: String,
    pub surname: String,
    pub full_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub national_id: String,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub address: String,
    pub locality: String,
    pub postcode: String,
    pub region: String,
    pub country: String,
    /// Solidarity group the record was captured in, if any.
    pub group_id: String,
}

impl Record {
    /// Sets a field from a raw value. Multi-valued fields (phone, email)
    /// append; a cell holding several values separated by `;` or `|` is split.
    pub fn set(&mut self, field: Field, value: &str) {
        let value = value.trim();
        if field.is_multi_valued() {
            let target = match field {
                Field::Phone => &mut self.phones,
                _ => &mut self.emails,
            };
            target.extend(
                value
                    .split([';', '|'])
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            );
            return;
        }
        let slot = match field {
            Field::RecordId => &mut self.record_id,
            Field::SourceSystem => &mut self.source_system,
            Field::GivenName => &mut self.given_name,
            Field::MiddleName => &mut self.middle_name,
            Field::Surname => &mut self.surname,
            Field::FullName => &mut self.full_name,
            Field::Sex => &mut self.sex,
            Field::DateOfBirth => &mut self.date_of_birth,
            Field::NationalId => &mut self.national_id,
            Field::Address => &mut self.address,
            Field::Locality => &mut self.locality,
            Field::Postcode => &mut self.postcode,
            Field::Region => &mut self.region,
            Field::Country => &mut self.country,
            Field::GroupId => &mut self.group_id,
            Field::Phone | Field::Email => unreachable!("multi-valued fields handled above"),
        };
        *slot = value.to_string();
    }

    /// The values of a single-valued field, or the joined values of a
    /// multi-valued one (`;`-separated).
    pub fn get(&self, field: Field) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match field {
            Field::RecordId => Cow::Borrowed(&self.record_id),
            Field::SourceSystem => Cow::Borrowed(&self.source_system),
            Field::GivenName => Cow::Borrowed(&self.given_name),
            Field::MiddleName => Cow::Borrowed(&self.middle_name),
            Field::Surname => Cow::Borrowed(&self.surname),
            Field::FullName => Cow::Borrowed(&self.full_name),
            Field::Sex => Cow::Borrowed(&self.sex),
            Field::DateOfBirth => Cow::Borrowed(&self.date_of_birth),
            Field::NationalId => Cow::Borrowed(&self.national_id),
            Field::Phone => Cow::Owned(self.phones.join(";")),
            Field::Email => Cow::Owned(self.emails.join(";")),
            Field::Address => Cow::Borrowed(&self.address),
            Field::Locality => Cow::Borrowed(&self.locality),
            Field::Postcode => Cow::Borrowed(&self.postcode),
            Field::Region => Cow::Borrowed(&self.region),
            Field::Country => Cow::Borrowed(&self.country),
            Field::GroupId => Cow::Borrowed(&self.group_id),
        }
    }

    /// How many values a field holds (0 or 1 for single-valued fields).
    pub fn values(&self, field: Field) -> usize {
        match field {
            Field::Phone => self.phones.len(),
            Field::Email => self.emails.len(),
            _ => usize::from(!self.get(field).is_empty()),
        }
    }

    /// Names of the fields that hold a value.
    pub fn present_fields(&self) -> Vec<Field> {
        Field::ALL
            .into_iter()
            .filter(|&f| !self.get(f).is_empty())
            .collect()
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present: Vec<&str> = self
            .present_fields()
            .into_iter()
            .filter(|f| f.is_personal())
            .map(Field::name)
            .collect();
        f.debug_struct("Record")
            .field("record_id", &self.record_id)
            .field("source_system", &self.source_system)
            .field("present", &present)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_values() {
        let mut r = Record::default();
        r.set(Field::RecordId, "r1");
        r.set(Field::GivenName, "Aminata");
        r.set(Field::Surname, "Traoré");
        r.set(Field::Phone, "+225 07 07 12 34 56; 0505050505");
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("Aminata"));
        assert!(!dbg.contains("Traor"));
        assert!(!dbg.contains("07 07"));
        assert!(dbg.contains("given_name"));
        assert_eq!(r.phones.len(), 2);
    }
}
