//! The partner API's input rules, asked as a partner system asks them: every field has a limit
//! and a form, an impossible value is refused by a named rule, and the answer is the gRPC status
//! the partner gets (`tonic::Status::from`, the one mapping `grpc.rs` uses) with the field and
//! the rule, never the value; nothing is stored for a refusal. The node's clock stands at
//! 2026-09-21 (a manual clock), so "the future" is fixed.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{gemeente_node, request};
use signaalnet_node::Node;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_store::Clock;
use std::time::Duration;
use tonic::{Code, Status};

/// 2026-09-21T14:13:20Z.
const NOW_MS: i64 = 1_790_000_000_000;

async fn node() -> (tempfile::TempDir, Node, signaalnet_audit::Actor, Clock) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(NOW_MS);
    let (node, actor) = gemeente_node(dir.path(), &clock).await;
    (dir, node, actor, clock)
}

async fn stored(node: &Node) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM node_signals")
        .fetch_one(node.store().pool())
        .await
        .unwrap()
}

fn id(value: Value) -> pb::Identifier {
    pb::Identifier { value: Some(value) }
}

fn person(surname: &str, given: &str, dob: &str) -> pb::Identifier {
    id(Value::Person(pb::Person {
        surname: surname.into(),
        given_names: given.into(),
        date_of_birth: dob.into(),
    }))
}

fn address(postcode: &str, huisnummer: &str, toevoeging: &str) -> pb::Identifier {
    id(Value::Address(pb::PostalAddress {
        postcode: postcode.into(),
        huisnummer: huisnummer.into(),
        toevoeging: toevoeging.into(),
    }))
}

fn vehicle(country: &str, plate: &str) -> pb::Identifier {
    id(Value::Vehicle(pb::Vehicle {
        country: country.into(),
        plate: plate.into(),
    }))
}

fn handle(platform: &str, handle: &str) -> pb::Identifier {
    id(Value::OnlineHandle(pb::OnlineHandle {
        platform: platform.into(),
        handle: handle.into(),
    }))
}

fn attribute(id: &str, value: &str) -> pb::Attribute {
    pb::Attribute {
        id: id.into(),
        value: value.into(),
    }
}

fn with_identifier(case: &str, identifier: pb::Identifier) -> pb::SubmitSignalRequest {
    let mut r = request(case, "9711 AB");
    r.identifiers = vec![identifier];
    r
}

/// Submits `r` and returns the refusal as the partner sees it: the status and its violations.
async fn refused(
    node: &Node,
    actor: &signaalnet_audit::Actor,
    r: pb::SubmitSignalRequest,
) -> (Status, Vec<pb::FieldViolation>) {
    let status = Status::from(node.submit(actor.clone(), r).await.unwrap_err());
    let violations = violations_of(&status);
    (status, violations)
}

/// The violations in a status's standard details (`google.rpc.BadRequest`), each with its rule
/// read back from the `[rule]` that ends its description.
fn violations_of(status: &Status) -> Vec<pb::FieldViolation> {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let Some(bad_request) = details.bad_request() else {
        return Vec::new();
    };
    bad_request
        .field_violations
        .iter()
        .map(|v| {
            let (description, rule) = v
                .description
                .rsplit_once(" [")
                .map(|(d, r)| (d.to_owned(), r.trim_end_matches(']').to_owned()))
                .unwrap_or_else(|| (v.description.clone(), String::new()));
            pb::FieldViolation {
                field: v.field.clone(),
                rule,
                description,
            }
        })
        .collect()
}

/// Asserts that the refusal has `code`, names `field` under `rule`, and does not echo `secret`
/// in its message or details.
fn assert_refusal(
    what: &str,
    (status, violations): &(Status, Vec<pb::FieldViolation>),
    code: Code,
    field: &str,
    rule: &str,
    secret: &str,
) {
    assert_eq!(status.code(), code, "{what}: {}", status.message());
    assert!(
        violations
            .iter()
            .any(|v| v.field == field && v.rule == rule),
        "{what}: no {field} [{rule}] in {violations:?}"
    );
    let secret = secret.trim();
    if secret.chars().count() >= 4 {
        let probe: String = secret.chars().take(64).collect();
        assert!(
            !status.message().contains(&probe),
            "{what}: the message echoes the value: {}",
            status.message()
        );
        assert!(
            !violations.iter().any(|v| v.description.contains(&probe)),
            "{what}: a violation echoes the value"
        );
    }
    assert!(
        status.message().len() < 4096,
        "{what}: message of {} bytes",
        status.message().len()
    );
}

/// Every field has a limit: a megabyte (and a 4 MB surname, the case) in any one of them
/// is INVALID_ARGUMENT naming the field and its `…too_long` rule, and nothing is stored. The old
/// node accepted and stored the megabyte surnames.
#[tokio::test]
async fn a_megabyte_in_any_field_is_refused_by_its_limit() {
    let (_dir, node, actor, _clock) = node().await;
    let mb = "a".repeat(1 << 20);
    let with = |f: &dyn Fn(&mut pb::SubmitSignalRequest)| {
        let mut r = request("GRO-L", "9711 AB");
        f(&mut r);
        r
    };
    let cases: Vec<(&str, pb::SubmitSignalRequest, &str, &str)> = vec![
        (
            "surname",
            with_identifier("GRO-L", person(&mb, "Anna", "1990-03-14")),
            "identifiers[0].person.surname",
            "person.too_long",
        ),
        (
            "4 MB surname",
            with_identifier("GRO-L", person(&"a".repeat(4 << 20), "Anna", "1990-03-14")),
            "identifiers[0].person.surname",
            "person.too_long",
        ),
        (
            "given names",
            with_identifier("GRO-L", person("Jansen", &mb, "1990-03-14")),
            "identifiers[0].person.given_names",
            "person.too_long",
        ),
        (
            "date of birth",
            with_identifier("GRO-L", person("Jansen", "Anna", &mb)),
            "identifiers[0].person.date_of_birth",
            "date.too_long",
        ),
        (
            "postcode",
            with_identifier("GRO-L", address(&mb, "12", "")),
            "identifiers[0].address.postcode",
            "address.too_long",
        ),
        (
            "huisnummer",
            with_identifier("GRO-L", address("9711 AB", &mb, "")),
            "identifiers[0].address.huisnummer",
            "address.too_long",
        ),
        (
            "toevoeging",
            with_identifier("GRO-L", address("9711 AB", "12", &mb)),
            "identifiers[0].address.toevoeging",
            "address.too_long",
        ),
        (
            "bag id",
            with_identifier("GRO-L", id(Value::BagVerblijfsobjectId(mb.clone()))),
            "identifiers[0].address.bag_verblijfsobject_id",
            "address.too_long",
        ),
        (
            "bsn",
            with_identifier("GRO-L", id(Value::Bsn(mb.clone()))),
            "identifiers[0].bsn",
            "bsn.too_long",
        ),
        (
            "kvk",
            with_identifier("GRO-L", id(Value::Kvk(mb.clone()))),
            "identifiers[0].organisation.kvk",
            "organisation.too_long",
        ),
        (
            "rsin",
            with_identifier("GRO-L", id(Value::Rsin(mb.clone()))),
            "identifiers[0].organisation.rsin",
            "organisation.too_long",
        ),
        (
            "phone",
            with_identifier("GRO-L", id(Value::Phone(mb.clone()))),
            "identifiers[0].phone",
            "phone.too_long",
        ),
        (
            "iban",
            with_identifier("GRO-L", id(Value::Iban(mb.clone()))),
            "identifiers[0].iban",
            "iban.too_long",
        ),
        (
            "vehicle country",
            with_identifier("GRO-L", vehicle(&mb, "AB-12-34")),
            "identifiers[0].vehicle.country",
            "vehicle.too_long",
        ),
        (
            "plate",
            with_identifier("GRO-L", vehicle("NL", &mb)),
            "identifiers[0].vehicle.plate",
            "vehicle.too_long",
        ),
        (
            "platform",
            with_identifier("GRO-L", handle(&mb, "lisa")),
            "identifiers[0].online_handle.platform",
            "online_handle.too_long",
        ),
        (
            "handle",
            with_identifier("GRO-L", handle("Instagram", &mb)),
            "identifiers[0].online_handle.handle",
            "online_handle.too_long",
        ),
        (
            "purpose",
            with(&|r| r.purpose = mb.clone()),
            "purpose",
            "request.too_long",
        ),
        (
            "attribute id",
            with(&|r| r.attributes = vec![attribute(&mb, "true")]),
            "attributes[0].id",
            "request.too_long",
        ),
        (
            "attribute value",
            with(&|r| r.attributes = vec![attribute("minderjarig", &mb)]),
            "attributes[0].value",
            "request.too_long",
        ),
        (
            "case reference",
            with(&|r| r.case_reference = mb.clone()),
            "case_reference",
            "request.too_long",
        ),
        (
            "observed month",
            with(&|r| r.observed_month = mb.clone()),
            "observed_month",
            "observed_month.format",
        ),
    ];
    for (what, r, field, rule) in cases {
        let answer = refused(&node, &actor, r).await;
        assert_refusal(what, &answer, Code::InvalidArgument, field, rule, &mb);
    }
    assert_eq!(stored(&node).await, 0);
}

/// Withdrawing by an identifier no submission could have carried is INVALID_ARGUMENT naming the
/// field and the rule, checked before any lookup; the old node answered NOT_FOUND for a
/// megabyte surname.
#[tokio::test]
async fn withdrawing_by_an_impossible_identifier_is_invalid_argument() {
    let (_dir, node, actor, _clock) = node().await;
    node.submit(actor.clone(), request("GRO-W", "9711 AB"))
        .await
        .unwrap();
    let mb = "a".repeat(1 << 20);
    let cases = [
        (
            person(&mb, "Anna", "1990-03-14"),
            "target.identifier.person.surname",
            "person.too_long",
        ),
        (
            person(&"a".repeat(4 << 20), "Anna", "1990-03-14"),
            "target.identifier.person.surname",
            "person.too_long",
        ),
        (
            person("Jansen", "Anna", "2027-01-01"),
            "target.identifier.person.date_of_birth",
            "date.future",
        ),
        (
            address("97-11AB", "12", ""),
            "target.identifier.address.postcode",
            "address.postcode_format",
        ),
        (
            pb::Identifier { value: None },
            "target.identifier",
            "identifier.required",
        ),
    ];
    for (i, (identifier, field, rule)) in cases.into_iter().enumerate() {
        let status = node
            .withdraw(
                actor.clone(),
                pb::WithdrawSignalsRequest {
                    idempotency_key: format!("w-{i}"),
                    reason: String::new(),
                    target: Some(pb::withdraw_signals_request::Target::Identifier(identifier)),
                },
            )
            .await
            .unwrap_err();
        let violations = violations_of(&status);
        assert_refusal(
            field,
            &(status, violations),
            Code::InvalidArgument,
            field,
            rule,
            &mb,
        );
    }
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM node_signals WHERE state <> $1")
        .bind(signaalnet_node::SignalState::Pending.as_str())
        .fetch_one(node.store().pool())
        .await
        .unwrap();
    let withdrawals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM node_withdrawals")
        .fetch_one(node.store().pool())
        .await
        .unwrap();
    assert_eq!((pending, withdrawals), (0, 0));
}

/// The impossible values of the issue, each refused by its own rule (INVALID_ARGUMENT, field,
/// rule, value not echoed), and nothing stored. Each of these was accepted by the old node.
#[tokio::test]
async fn impossible_values_are_refused_by_their_rule() {
    let (_dir, node, actor, _clock) = node().await;
    let month = |m: &str| {
        let mut r = request("GRO-M", "9711 AB");
        r.observed_month = m.into();
        r
    };
    let cases: Vec<(pb::SubmitSignalRequest, &str, &str, &str)> = vec![
        (
            with_identifier("GRO-I", person("Jansen", "Anna", "2026-09-23")),
            "identifiers[0].person.date_of_birth",
            "date.future",
            "2026-09-23",
        ),
        (
            with_identifier("GRO-I", person("Jansen", "Anna", "2000/01/01")),
            "identifiers[0].person.date_of_birth",
            "date.format",
            "2000/01/01",
        ),
        (
            with_identifier("GRO-I", person("Jansen", "Anna", "1850-06-01")),
            "identifiers[0].person.date_of_birth",
            "date.range",
            "1850-06-01",
        ),
        (
            month("1800-01"),
            "observed_month",
            "observed_month.range",
            "",
        ),
        (
            month("2999-12"),
            "observed_month",
            "observed_month.future",
            "",
        ),
        // The month after the clock's (2026-09).
        (
            month("2026-10"),
            "observed_month",
            "observed_month.future",
            "",
        ),
        (
            with_identifier(
                "GRO-I",
                person("Jansen\nERROR forged", "Anna", "1990-03-14"),
            ),
            "identifiers[0].person.surname",
            "person.control_characters",
            "forged",
        ),
        (
            with_identifier("GRO-I", person("Jansen", "Anna\u{0085}Maria", "1990-03-14")),
            "identifiers[0].person.given_names",
            "person.control_characters",
            "Anna\u{0085}Maria",
        ),
        (
            with_identifier(
                "GRO-I",
                person(
                    &format!("Jan{}sen", "\u{0301}".repeat(5_000)),
                    "Anna",
                    "1990-03-14",
                ),
            ),
            "identifiers[0].person.surname",
            "person.too_long",
            "",
        ),
        (
            with_identifier(
                "GRO-I",
                person(
                    &format!("Jan{}sen", "\u{0301}".repeat(100)),
                    "Anna",
                    "1990-03-14",
                ),
            ),
            "identifiers[0].person.surname",
            "person.combining_marks",
            "",
        ),
        (
            with_identifier("GRO-I", person("1234567", "Anna", "1990-03-14")),
            "identifiers[0].person.surname",
            "person.digits",
            "1234567",
        ),
        (
            with_identifier("GRO-I", address("97-12KL", "12", "")),
            "identifiers[0].address.postcode",
            "address.postcode_format",
            "97-12KL",
        ),
        (
            with_identifier("GRO-I", address("9712 KL", "12.5", "")),
            "identifiers[0].address.huisnummer",
            "address.huisnummer",
            "12.5",
        ),
        (
            with_identifier("GRO-I", id(Value::Phone("+999 1234567".into()))),
            "identifiers[0].phone",
            "phone.country_code",
            "1234567",
        ),
        (
            with_identifier("GRO-I", id(Value::Phone("+48 51234567".into()))),
            "identifiers[0].phone",
            "phone.numbering_plan",
            "51234567",
        ),
        (
            with_identifier("GRO-I", vehicle("XX", "AB-12-34")),
            "identifiers[0].vehicle.country",
            "vehicle.country",
            "AB-12-34",
        ),
        (
            with_identifier("GRO-I", id(Value::Bsn("123/456/782".into()))),
            "identifiers[0].bsn",
            "bsn.digits",
            "123/456/782",
        ),
        (
            with_identifier(
                "GRO-I",
                handle("Instagram", "https://www.facebook.com/lisa.model.99"),
            ),
            "identifiers[0].online_handle.handle",
            "online_handle.platform_mismatch",
            "lisa.model.99",
        ),
    ];
    for (r, field, rule, secret) in cases {
        let answer = refused(&node, &actor, r).await;
        assert_refusal(field, &answer, Code::InvalidArgument, field, rule, secret);
    }
    assert_eq!(stored(&node).await, 0);
}

/// "The future" is the node's clock: a month and a date of birth refused today are accepted once
/// the clock has reached them (one day's slack for time zones ahead of UTC).
#[tokio::test]
async fn the_future_is_the_nodes_clock() {
    let (_dir, node, actor, clock) = node().await;
    // 2026-09-22 is today + 1 day: accepted.
    node.submit(
        actor.clone(),
        with_identifier("GRO-T0", person("Jansen", "Anna", "2026-09-22")),
    )
    .await
    .unwrap();
    let mut october = request("GRO-T1", "9711 AB");
    october.observed_month = "2026-10".into();
    october.attributes = vec![attribute("maand_waarneming", "2026-10")];
    let answer = refused(&node, &actor, october.clone()).await;
    assert_refusal(
        "october",
        &answer,
        Code::InvalidArgument,
        "observed_month",
        "observed_month.future",
        "",
    );
    assert!(answer
        .1
        .iter()
        .any(|v| v.field == "attributes[0].value" && v.rule == "attribute.malformed"));
    clock.advance(Duration::from_secs(14 * 86_400));
    node.submit(actor.clone(), october).await.unwrap();
    assert_eq!(stored(&node).await, 2);
}

/// A bad postcode and an attribute the gemeente may not share are both reported, input first;
/// the status is INVALID_ARGUMENT because input errors take precedence. The old node reported
/// only the postcode.
#[tokio::test]
async fn input_and_policy_violations_are_reported_together() {
    let (_dir, node, actor, _clock) = node().await;
    let mut r = with_identifier("GRO-P", address("97-12KL", "12", ""));
    r.attributes = vec![attribute("politie_registratie", "true")];
    let answer = refused(&node, &actor, r).await;
    assert_refusal(
        "postcode",
        &answer,
        Code::InvalidArgument,
        "identifiers[0].address.postcode",
        "address.postcode_format",
        "97-12KL",
    );
    assert_refusal(
        "attribute",
        &answer,
        Code::InvalidArgument,
        "attributes.politie_registratie",
        "policy.attribute_not_allowed",
        "97-12KL",
    );
    assert_eq!(answer.1[0].field, "identifiers[0].address.postcode");
    // The policy alone: PERMISSION_DENIED, as before.
    let mut r = request("GRO-P2", "9711 AB");
    r.attributes = vec![attribute("politie_registratie", "true")];
    let answer = refused(&node, &actor, r).await;
    assert_refusal(
        "policy only",
        &answer,
        Code::PermissionDenied,
        "attributes.politie_registratie",
        "policy.attribute_not_allowed",
        "",
    );
    assert_eq!(answer.1.len(), 1);
    assert_eq!(stored(&node).await, 0);
}

/// A malformed attribute value is an input error (INVALID_ARGUMENT, `attribute.malformed`), like
/// a malformed `observed_month`; the old node answered PERMISSION_DENIED. It is reported once,
/// not again as a policy refusal.
#[tokio::test]
async fn a_malformed_attribute_value_is_invalid_argument() {
    let (_dir, node, actor, _clock) = node().await;
    for (i, (id, value)) in [
        ("maand_waarneming", "2026-13"),
        ("maand_waarneming", "2999-12"),
        ("maand_waarneming", "1999-12"),
        ("minderjarig", "ja"),
        ("gemeente", "Groningen"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = request(&format!("GRO-A{i}"), "9711 AB");
        r.attributes = vec![attribute(id, value)];
        let answer = refused(&node, &actor, r).await;
        assert_refusal(
            id,
            &answer,
            Code::InvalidArgument,
            "attributes[0].value",
            "attribute.malformed",
            value,
        );
        assert_eq!(answer.1.len(), 1, "{:?}", answer.1);
    }
    assert_eq!(stored(&node).await, 0);
}

/// Victims' numbers are often Polish, Romanian, Bulgarian or Ukrainian: valid mobiles of those
/// countries are accepted and stored, invalid ones refused by the numbering plan.
#[tokio::test]
async fn foreign_mobile_numbers_follow_their_numbering_plan() {
    let (_dir, node, actor, _clock) = node().await;
    for (i, phone) in [
        "+48 601 234 567",
        "+40 721 234 567",
        "+359 87 123 4567",
        "+380 67 123 4567",
        "06 12345678",
    ]
    .into_iter()
    .enumerate()
    {
        node.submit(
            actor.clone(),
            with_identifier(&format!("GRO-F{i}"), id(Value::Phone(phone.into()))),
        )
        .await
        .unwrap();
    }
    for phone in [
        "+48 601 234 56",
        "+40 721 234 5678",
        "+359 87 123 456",
        "+380 00 123 4567",
    ] {
        let answer = refused(
            &node,
            &actor,
            with_identifier("GRO-F9", id(Value::Phone(phone.into()))),
        )
        .await;
        assert_refusal(
            phone,
            &answer,
            Code::InvalidArgument,
            "identifiers[0].phone",
            "phone.numbering_plan",
            phone,
        );
    }
    assert_eq!(stored(&node).await, 5);
}
