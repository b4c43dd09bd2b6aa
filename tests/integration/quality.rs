//! Data is kept, not rejected: a record with a value that cannot be
//! standardised is stored with the value flagged (not used for matching, the
//! golden record or contact), found again by its source id, shown in
//! GetClient, Explain and the CLI, and counted in a data-quality summary that
//! a restart keeps. A strict request refuses it; a record malformed as a
//! whole is refused either way.

use std::path::Path;
use std::process::Command;

use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::common::v1::Record;
use c360_proto::resolver::v1 as api;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::Role;
use tonic::Code;
use tonic_types::StatusExt;

use crate::server::{Client, TestServer, aminata_core, keyring_text, resolve, test_config};

/// Aminata's core-banking record as a careless clerk typed it: an
/// impossible birth date, a phone, an e-mail and a national ID that are not
/// one, a usable phone beside them, and a right-to-left override hidden in
/// her surname.
fn flawed() -> Record {
    Record {
        surname: "Tra\u{202E}oré".into(),
        date_of_birth: "1950-51-01".into(),
        national_id: "Zanzibarine!!".into(),
        phone: vec!["+999 Zanzibarine".into(), "07 07 12 34 56".into()],
        email: vec!["x@".into()],
        ..aminata_core()
    }
}

fn flags_of(flags: &[c360_proto::common::v1::ValueFlag]) -> Vec<(String, u32, String)> {
    flags
        .iter()
        .map(|f| (f.field.clone(), f.index, f.reason.clone()))
        .collect()
}

fn expected_flags() -> Vec<(String, u32, String)> {
    [
        ("date_of_birth", 0, "impossible_date"),
        ("national_id", 0, "invalid_national_id"),
        ("phone", 0, "invalid_phone"),
        ("email", 0, "invalid_email"),
    ]
    .map(|(f, i, r)| (f.to_string(), i, r.to_string()))
    .to_vec()
}

async fn quality(c: &mut Client) -> api::GetQualitySummaryResponse {
    c.get_quality_summary(api::GetQualitySummaryRequest::default())
        .await
        .expect("quality summary")
        .into_inner()
}

async fn get_client(c: &mut Client, number: &str) -> api::GetClientResponse {
    c.get_client(api::GetClientRequest {
        client_number: number.to_string(),
        purpose: "stewardship".into(),
    })
    .await
    .expect("get client")
    .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flagged_record_is_kept_found_again_counted_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = keyring_text();
    // With the vault, which decides what GetClient discloses.
    let platform = || test_config(dir.path(), "resolver,vault");
    let server = TestServer::start_with(platform(), &keyring).await;
    let mut c = server.client.clone();
    // Personal values are read as a data steward would, for stewardship.
    let mut steward = Client::new(server.channel_as("steward", Role::Steward).await);

    // Strict: refused, naming the field, nothing written.
    let head = server.resolver.events().head();
    let err = c
        .resolve(api::ResolveRequest {
            record: Some(flawed()),
            dry_run: false,
            strict: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let details = err.get_details_bad_request().expect("BadRequest details");
    assert_eq!(details.field_violations[0].field, "record.date_of_birth");
    assert!(!err.message().contains("1950"), "{}", err.message());
    assert_eq!(server.resolver.events().head(), head, "nothing written");

    // Lenient (the default): accepted with warnings.
    let stored = resolve(&mut c, flawed(), false).await;
    assert_eq!(stored.decision(), api::Decision::New);
    assert_eq!(flags_of(&stored.flags), expected_flags());
    let text = format!("{stored:?}");
    assert!(
        !text.contains("Zanzibarine") && !text.contains("1950-51"),
        "{text}"
    );
    let number = stored.client_number.clone();

    // Found again by its source id: the same source record updates in place.
    let again = resolve(&mut c, flawed(), false).await;
    assert!(again.updated, "{again:?}");
    assert_eq!(again.client_number, number);
    assert_eq!(again.record_id, stored.record_id);
    // And by its usable values: a dry-run lookup of the same person as
    // another system knows her.
    let other = Record {
        source_system: "agent_app".into(),
        source_record_id: "AG-1".into(),
        ..aminata_core()
    };
    let lookup = resolve(&mut c, other.clone(), true).await;
    assert_eq!(lookup.client_number, number, "{lookup:?}");

    // GetClient shows the flags per member record; the golden record holds
    // only usable values.
    server.wait_for_followers().await;
    let client = get_client(&mut steward, &number).await;
    let member = &client.records[0];
    assert_eq!(member.source_record_id, "CBS-0001");
    assert_eq!(flags_of(&member.flags), expected_flags());
    let kept = member.record.as_ref().unwrap();
    assert_eq!(
        kept.date_of_birth, "1950-51-01",
        "the value is kept as given"
    );
    let golden = |field: &str| -> Vec<String> {
        client
            .golden
            .iter()
            .filter(|f| f.field == field)
            .map(|f| f.value.clone())
            .collect()
    };
    assert!(golden("date_of_birth").is_empty());
    assert!(golden("national_id").is_empty());
    assert!(golden("email").is_empty());
    assert_eq!(golden("phone"), ["07 07 12 34 56"]);
    assert_eq!(golden("surname"), ["Traoré"], "bidi override stripped");

    // A second record of hers with a usable birth date: it becomes the
    // golden one, and Explain names the flagged values it ignored.
    let second = resolve(&mut c, other, false).await;
    assert_eq!(second.client_number, number, "{second:?}");
    assert!(second.flags.is_empty());
    let client = get_client(&mut steward, &number).await;
    let dob: Vec<&str> = client
        .golden
        .iter()
        .filter(|f| f.field == "date_of_birth")
        .map(|f| f.value.as_str())
        .collect();
    assert_eq!(dob, ["12/03/1985"]);
    let explained = c
        .explain(api::ExplainRequest {
            target: Some(api::explain_request::Target::ClientNumber(number.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(explained.pairs.len(), 1);
    assert_eq!(explained.flagged_records.len(), 1);
    assert_eq!(explained.flagged_records[0].record_id, stored.record_id);
    assert_eq!(
        flags_of(&explained.flagged_records[0].flags),
        expected_flags()
    );

    // The summary counts flags per source system and field.
    let summary = quality(&mut c).await;
    assert_eq!((summary.records, summary.flagged_records), (2, 1));
    let core = summary
        .sources
        .iter()
        .find(|s| s.source_system == "core_banking")
        .expect("core banking counted");
    assert_eq!((core.records, core.flagged_records), (1, 1));
    let counted: Vec<(String, String, u64)> = core
        .flags
        .iter()
        .map(|f| (f.field.clone(), f.reason.clone(), f.values))
        .collect();
    assert_eq!(
        counted,
        [
            ("date_of_birth", "impossible_date", 1),
            ("national_id", "invalid_national_id", 1),
            ("phone", "invalid_phone", 1),
            ("email", "invalid_email", 1),
        ]
        .map(|(f, r, n)| (f.to_string(), r.to_string(), n))
    );
    // A steward may read it; a source system may not.
    let mut source = crate::server::Client::new(server.channel_as("cbs", Role::Source).await);
    let err = source
        .get_quality_summary(api::GetQualitySummaryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A restart recounts from the records: the same summary.
    drop(source);
    server.stop().await;
    let server = TestServer::start_with(platform(), &keyring).await;
    let mut c = server.client.clone();
    assert_eq!(quality(&mut c).await, summary, "a restart keeps the counts");

    // Fixing the value at the source clears its flag, incrementally.
    let mut fixed = flawed();
    fixed.date_of_birth = "12/03/1985".into();
    let updated = resolve(&mut c, fixed, false).await;
    assert!(updated.updated);
    assert_eq!(updated.flags.len(), 3);
    let after = quality(&mut c).await;
    assert_eq!(after.flagged_records, 1);
    let core = after
        .sources
        .iter()
        .find(|s| s.source_system == "core_banking")
        .unwrap();
    assert_eq!(core.flags.len(), 3, "{core:?}");
    assert!(
        core.flags.iter().all(|f| f.field != "date_of_birth"),
        "{core:?}"
    );
    server.stop().await;
}

/// Point 12: the phone, e-mail and national ID the resolver flags never
/// become contact points; consent for a channel that does not exist, a
/// legal hold that ends in the past and a contact decision at i64::MAX are
/// refused, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_values_are_not_contact_points_and_impossible_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "resolver,vault,channels");
    let server = TestServer::start_with(config, &keyring_text()).await;
    let mut c = server.client.clone();
    let stored = resolve(&mut c, flawed(), false).await;
    server.wait_for_followers().await;

    let mut channels = ChannelServiceClient::new(server.channel_as("crm", Role::App).await);
    let points = channels
        .list_contact_points(ch::ListContactPointsRequest {
            client_number: stored.client_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    assert!(!points.is_empty(), "the usable phone is a contact point");
    for p in &points {
        assert!(
            p.masked_value.starts_with("+225") && p.masked_value.ends_with("56"),
            "only the usable phone: {p:?}"
        );
    }
    // Channels refuses the same values the resolver flags.
    for (channel, value) in [
        (ch::Channel::Sms, "+999 Zanzibarine"),
        (ch::Channel::Email, "x@"),
    ] {
        let err = channels
            .upsert_contact_point(ch::UpsertContactPointRequest {
                client_number: stored.client_number.clone(),
                channel: channel as i32,
                value: value.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(!err.message().contains(value), "{}", err.message());
    }
    let err = channels
        .may_contact(ch::MayContactRequest {
            client_number: stored.client_number.clone(),
            purpose: "marketing".into(),
            at_unix_ms: i64::MAX,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let field = &err.get_details_bad_request().unwrap().field_violations[0].field;
    assert_eq!(field, "at_unix_ms");

    let mut vault = VaultServiceClient::new(server.channel_as("dpo", Role::Compliance).await);
    let err = vault
        .record_consent(va::RecordConsentRequest {
            client_number: stored.client_number.clone(),
            purpose: "marketing".into(),
            channel: "FAX".into(),
            decision: va::ConsentDecision::Granted as i32,
            evidence_ref: "form-1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let field = &err.get_details_bad_request().unwrap().field_violations[0].field;
    assert_eq!(field, "channel");
    let err = vault
        .set_legal_hold(va::SetLegalHoldRequest {
            client_number: stored.client_number.clone(),
            basis: "litigation 7".into(),
            expires_at_unix_ms: 1,
            release: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let field = &err.get_details_bad_request().unwrap().field_violations[0].field;
    assert_eq!(field, "expires_at_unix_ms");
    server.stop().await;
}

/// Runs the real CLI against `server`, as its admin.
fn cli(server: &TestServer, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
        .current_dir(dir)
        .args(args)
        .args(["--server", &server.url])
        .env("C360_TOKEN", &server.token)
        .output()
        .expect("cli runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const FLAWED_CSV: &str = "record_id,given_name,surname,date_of_birth,phone,email,locality\n\
    CBS-1,Aminata,Traoré,1950-51-01,0707123456,,Abidjan\n\
    CBS-2,Moussa,Diallo,01/01/1970,+999 Zanzibarine,x@,Dakar\n\
    CBS-3,Awa,Koné,04/07/1990,0505123456,awa@orange.ci,Bouaké\n\
    CBS-4,Ibrahim,Ouattara,23/11/1962,0102030405,,Korhogo\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shows_flags_strict_refuses_and_quality_counts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let keyring = keyring_text();
    let config = test_config(&data, "resolver,vault");
    let server = TestServer::start_with(config.clone(), &keyring).await;
    std::fs::write(d.join("in.csv"), FLAWED_CSV).unwrap();

    // --strict keeps the old rejection, with line and column.
    let (ok, _, err) = cli(
        &server,
        d,
        &["ingest", "in.csv", "--source", "core_banking", "--strict"],
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("rejected in.csv line 2, column 4: record.date_of_birth"),
        "{err}"
    );
    assert!(err.contains("2 rejected by the server"), "{err}");

    // Without it: every record is kept; the flagged values are named by
    // line and column, never shown.
    let (ok, _, err) = cli(
        &server,
        d,
        &[
            "ingest",
            "in.csv",
            "--source",
            "core_banking",
            "--output",
            "out.csv",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("flagged in.csv line 2, column 4: date_of_birth"),
        "{err}"
    );
    assert!(
        err.contains("flagged in.csv line 3, column 5: phone"),
        "{err}"
    );
    assert!(
        err.contains("flagged in.csv line 3, column 6: email"),
        "{err}"
    );
    assert!(
        err.contains("2 accepted with warnings, 0 rejected by the server"),
        "{err}"
    );
    assert!(
        err.contains(
            "date_of_birth impossible_date 1, phone invalid_phone 1, email invalid_email 1"
        ),
        "{err}"
    );
    assert!(
        !err.contains("1950-51") && !err.contains("Zanzibarine"),
        "{err}"
    );
    let rows = crate::common::read_csv_rows(&d.join("out.csv"));
    assert_eq!(rows[0].last().unwrap(), "flags");
    assert_eq!(rows[1].last().unwrap(), "date_of_birth:impossible_date");
    assert_eq!(
        rows[2].last().unwrap(),
        "phone[0]:invalid_phone;email[0]:invalid_email"
    );
    assert_eq!(rows[3].last().unwrap(), "");
    let aminata = rows[1][3].clone();

    // The flagged record is found again by its source id.
    let (ok, _, err) = cli(
        &server,
        d,
        &["ingest", "in.csv", "--source", "core_banking"],
    );
    assert!(ok, "{err}");
    assert!(err.contains("4 matched, 0 new clients"), "{err}");

    let (ok, out, err) = cli(
        &server,
        d,
        &["client", "get", &aminata, "--purpose", "stewardship"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("CBS-1")
            && out.contains("flagged (kept, not used): date_of_birth (impossible_date)"),
        "{out}"
    );
    assert!(
        !out.contains("1950-51-01"),
        "not in the golden record: {out}"
    );
    let (ok, out, err) = cli(&server, d, &["client", "explain", &aminata]);
    assert!(ok, "{err}");
    assert!(
        out.contains("flagged values") && out.contains("date_of_birth (impossible_date)"),
        "{out}"
    );

    let (ok, before, err) = cli(&server, d, &["quality"]);
    assert!(ok, "{err}");
    assert!(
        before.starts_with("4 records, 2 with values flagged as unusable (50.00 %)"),
        "{before}"
    );
    assert!(
        before.contains("core_banking: 4 records, 2 flagged"),
        "{before}"
    );
    assert!(
        before.contains("date_of_birth  impossible_date"),
        "{before}"
    );

    // Consent for a channel that does not exist, a hold that has ended.
    let (ok, _, err) = cli(
        &server,
        d,
        &[
            "consent",
            "record",
            &aminata,
            "--purpose",
            "marketing",
            "--channel",
            "FAX",
            "--decision",
            "granted",
            "--evidence",
            "form-1",
        ],
    );
    assert!(
        !ok && err.contains("InvalidArgument") && err.contains("channel"),
        "{err}"
    );
    let (ok, _, err) = cli(
        &server,
        d,
        &[
            "vault",
            "hold",
            &aminata,
            "--basis",
            "case 9",
            "--expires-at-ms",
            "1",
        ],
    );
    assert!(!ok && err.contains("expires_at_unix_ms"), "{err}");

    // A restart recounts the same.
    server.stop().await;
    let server = TestServer::start_with(config, &keyring).await;
    let (ok, after, err) = cli(&server, d, &["quality"]);
    assert!(ok, "{err}");
    assert_eq!(after, before, "a restart keeps the quality counts");
    server.stop().await;

    // Batch dedupe treats the values the same way.
    let (ok, _, err) = cli_offline(d, &["dedupe", "--input", "in.csv", "--output", "d.csv"]);
    assert!(ok, "{err}");
    assert!(err.contains("4 records ->"), "{err}");
    assert!(
        err.contains("2 records kept with values flagged as unusable (ignored for matching): date_of_birth impossible_date 1, phone invalid_phone 1, email invalid_email 1"),
        "{err}"
    );
    let (ok, _, err) = cli_offline(
        d,
        &[
            "dedupe", "--input", "in.csv", "--output", "d.csv", "--strict",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("line 2, column 4: date_of_birth is a date that does not exist"),
        "{err}"
    );
    assert!(
        err.contains("line 3, column 5: phone value 1 is not a phone number"),
        "{err}"
    );
    assert!(
        err.contains("2 records -> 2 clients") && err.contains("2 bad rows skipped"),
        "{err}"
    );
}

fn cli_offline(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = crate::common::c360(dir, args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
