//! Personal values leave the resolver only under the vault's policy
//! ([`c360_rpc::Disclosure`]): `GetClient` answers an outside caller with
//! each personal value of the golden and member records clear, masked or
//! withheld, as the vault decided and logged.

use c360_core::Field;
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_rpc::{Access, Grant};

/// The fields of a record that hold personal values (their names are the
/// policy's).
pub fn personal_fields() -> Vec<&'static str> {
    Field::ALL
        .into_iter()
        .filter(|f| f.is_personal())
        .map(|f| f.name())
        .collect()
}

/// A record with each personal value disclosed as `grant` says.
fn record(grant: &Grant, r: &pb::Record) -> pb::Record {
    pb::Record {
        source_system: r.source_system.clone(),
        source_record_id: r.source_record_id.clone(),
        given_name: grant.show("given_name", &r.given_name),
        middle_name: grant.show("middle_name", &r.middle_name),
        surname: grant.show("surname", &r.surname),
        full_name: grant.show("full_name", &r.full_name),
        sex: grant.show("sex", &r.sex),
        date_of_birth: grant.show("date_of_birth", &r.date_of_birth),
        national_id: grant.show("national_id", &r.national_id),
        phone: grant.show_all("phone", &r.phone),
        email: grant.show_all("email", &r.email),
        address: grant.show("address", &r.address),
        locality: grant.show("locality", &r.locality),
        postcode: grant.show("postcode", &r.postcode),
        region: r.region.clone(),
        country: r.country.clone(),
        group_id: r.group_id.clone(),
    }
}

/// A client as `grant` discloses it.
pub fn client(grant: &Grant, mut c: api::GetClientResponse) -> api::GetClientResponse {
    c.golden
        .retain(|v| grant.access(&v.field) != Access::Withheld);
    for v in &mut c.golden {
        v.value = grant.show(&v.field, &v.value);
    }
    for m in &mut c.records {
        m.record = m.record.as_ref().map(|r| record(grant, r));
    }
    c.masked_fields = grant.limited(Access::Masked);
    c.withheld_fields = grant.limited(Access::Withheld);
    c.access_log_sequence = grant.access_sequence;
    c
}
