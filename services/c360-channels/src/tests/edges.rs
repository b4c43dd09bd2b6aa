//! Channels' edges, tried as an attacker would: writes naming a number
//! never issued, and a source system's token writing as another.

use c360_proto::channels::v1 as api;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_rpc::{Caller, Role, Sources, in_process};
use tonic::Code;

use super::{client_as, world};

const NEXT: &str = "C0000099Z";

#[tokio::test]
async fn writes_naming_a_number_never_issued_are_not_found() {
    let w = world();
    w.resolver.never_issued(NEXT);
    let mut app = client_as(&w.channels, Role::App);
    let phone = api::UpsertContactPointRequest {
        client_number: NEXT.into(),
        channel: api::Channel::Sms as i32,
        value: "+225 07 07 12 34 56".into(),
        verified: true,
        source_system: String::new(),
    };
    let codes = [
        app.upsert_contact_point(phone.clone()).await.map(|_| ()),
        app.set_preferences(api::SetPreferencesRequest {
            client_number: NEXT.into(),
            preferences: Some(api::Preferences {
                time_zone: "Africa/Abidjan".into(),
                ..Default::default()
            }),
        })
        .await
        .map(|_| ()),
        app.set_hardship(api::SetHardshipRequest {
            client_number: NEXT.into(),
            hardship: true,
            reason_code: "arrears".into(),
        })
        .await
        .map(|_| ()),
        app.record_contact(api::RecordContactRequest {
            client_number: NEXT.into(),
            channel: api::Channel::Sms as i32,
            purpose: "service".into(),
            action_id: "a-1".into(),
            outcome: api::Outcome::Delivered as i32,
            ..Default::default()
        })
        .await
        .map(|_| ()),
    ]
    .map(|r| r.map_err(|e| e.code()));
    assert_eq!(codes, [Err(Code::NotFound); 4]);
    let points = app
        .list_contact_points(api::ListContactPointsRequest {
            client_number: NEXT.into(),
        })
        .await
        .map(|r| r.into_inner().contact_points.len());
    assert!(matches!(points, Ok(0) | Err(_)), "nothing stored");

    // Once issued, the same write goes through.
    let mut issued = phone;
    issued.client_number = "C0000012K".into();
    app.upsert_contact_point(issued).await.unwrap();
}

#[tokio::test]
async fn a_source_token_writes_contact_points_only_for_its_own_source() {
    let w = world();
    let caller =
        Caller::new("agents", Role::Source).with_sources(Sources::parse("agent_app").unwrap());
    let mut agents = ChannelServiceClient::new(in_process(w.channels.grpc(), caller));
    let mut point = api::UpsertContactPointRequest {
        client_number: "C0000012K".into(),
        channel: api::Channel::Sms as i32,
        value: "+225 07 07 12 34 56".into(),
        verified: false,
        source_system: "core_banking".into(),
    };
    let err = agents
        .upsert_contact_point(point.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    point.source_system = "agent_app".into();
    agents.upsert_contact_point(point).await.unwrap();
}
