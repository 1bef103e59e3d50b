//! A corpus of malformed requests, sent over real gRPC to every role of a chain of real processes,
//! as a partner's case system, an analyst's tool or a misbehaving peer could send them.
//!
//! Every request gets a precise, bounded answer: the expected status code, a message that names
//! the field (and is short enough for a default grpcio client, whose metadata limit is 16 KiB),
//! and never the caller's personal value. After the corpus: every process is alive, nothing was
//! stored for any refusal (no case reference, key or identifier of the corpus in any role's
//! database), and every role's log has only well-formed lines: none forged by an injected line
//! break, no raw control character, none unbounded, and no personal value of the corpus.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::*;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::analyst_service_client::AnalystServiceClient;
use signaalnet_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_proto::v1::partner_service_client::PartnerServiceClient;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::Code;

/// A status message a default grpcio client can read whole, with room for the details.
const MAX_MESSAGE: usize = 4 * 1024;
const MAX_DETAILS: usize = 8 * 1024;
/// The longest log line a role may write, whatever it is sent.
const MAX_LOG_LINE: usize = 16 * 1024;
/// Every corpus case reference, key and marker value starts with this: none may be stored.
const MARK: &str = "Qmal";
/// What a caller tries to smuggle into a log as a line of its own.
const FORGED: &str = "2026-01-01T00:00:00Z ERROR forged";

/// One request of the corpus and what it must get.
struct Case {
    name: String,
    call: Call,
    expect: Vec<Code>,
    /// Each must appear in the answer's message (field names, rules).
    names: Vec<String>,
    /// Must appear neither in the message nor in the details (a personal value).
    secret: Option<String>,
}

enum Call {
    Submit(pb::SubmitSignalRequest),
    /// The same request as the one item of a `SubmitSignals` stream: answered in its result.
    SubmitStream(pb::SubmitSignalRequest),
    Withdraw(pb::WithdrawSignalsRequest),
    Status(pb::GetSignalStatusRequest),
    ListHits(pb::ListHitsRequest),
    WatchHits(pb::WatchHitsRequest),
    AnalystList(pb::AnalystListHitsRequest),
    GetHit(pb::GetHitRequest),
    Monitor(pb::GetMonitorRequest),
    Convert(pb::ConvertRequest),
    Deliver(pb::EncryptedSignal),
    CoordinatorWithdraw(pb::CoordinatorWithdrawRequest),
    WatchNotifications(pb::WatchNotificationsRequest),
}

/// What came back.
struct Answer {
    code: Code,
    message: String,
    details: Vec<u8>,
}

impl From<tonic::Status> for Answer {
    fn from(status: tonic::Status) -> Self {
        Answer {
            code: status.code(),
            message: status.message().to_owned(),
            details: status.details().to_vec(),
        }
    }
}

fn ok() -> Answer {
    Answer {
        code: Code::Ok,
        message: String::new(),
        details: Vec::new(),
    }
}

fn case(name: impl Into<String>, call: Call, expect: &[Code], names: &[&str]) -> Case {
    Case {
        name: name.into(),
        call,
        expect: expect.to_vec(),
        names: names.iter().map(|s| (*s).to_owned()).collect(),
        secret: None,
    }
}

impl Case {
    fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }
}

const INVALID: &[Code] = &[Code::InvalidArgument];
const DENIED: &[Code] = &[Code::PermissionDenied];

/// Values that no text field of any request may carry, with the marker in each: a line break
/// forging a log line, a NUL, ESC, C1 control, a line separator, a bidi override and a megabyte.
fn hostile(n: usize) -> Vec<(String, String)> {
    vec![
        ("newline".into(), format!("{MARK}{n}a\n{FORGED}")),
        ("carriage-return".into(), format!("{MARK}{n}b\r{FORGED}")),
        ("nul".into(), format!("{MARK}{n}c\0x")),
        ("escape".into(), format!("{MARK}{n}d\u{1b}[31mred")),
        ("next-line".into(), format!("{MARK}{n}e\u{85}x")),
        ("line-separator".into(), format!("{MARK}{n}f\u{2028}x")),
        ("bidi-override".into(), format!("{MARK}{n}g\u{202e}x")),
        ("megabyte".into(), format!("{MARK}{n}h").repeat(200_000)),
    ]
}

/// A signal the gemeente may submit for the drieluik; each case breaks one thing of it.
fn base(n: usize) -> pb::SubmitSignalRequest {
    signal(
        &format!("{MARK}-case-{n}"),
        vec![address("9711 AB", "12")],
        &[("vorm_uitbuiting", "arbeidsuitbuiting")],
    )
}

fn with_identifier(n: usize, identifier: pb::Identifier) -> pb::SubmitSignalRequest {
    let mut r = base(n);
    r.identifiers = vec![identifier];
    r
}

fn person_id(surname: &str, given: &str, dob: &str) -> pb::Identifier {
    person(surname, given, dob)
}

fn address_id(postcode: &str, number: &str, addition: &str) -> pb::Identifier {
    id(Value::Address(pb::PostalAddress {
        postcode: postcode.into(),
        huisnummer: number.into(),
        toevoeging: addition.into(),
    }))
}

/// Identifiers that must be refused, each with the field the refusal names and the value that
/// must not come back.
fn bad_identifiers() -> Vec<(String, pb::Identifier, String, String)> {
    let mut out: Vec<(String, pb::Identifier, String, String)> = Vec::new();
    let mut add = |label: &str, identifier: pb::Identifier, field: &str, secret: &str| {
        out.push((label.into(), identifier, field.into(), secret.into()))
    };
    // BSN: nine digits passing the 11-test, nothing else.
    for (label, v) in [
        ("bsn-empty", ""),
        ("bsn-seven-digits", "1234567"),
        ("bsn-eleven-test", "123456789"),
        ("bsn-ten-digits", "1234567890"),
        ("bsn-letters", "12345678a"),
        ("bsn-slashes", "111/222/333"),
        ("bsn-fullwidth", "１１１２２２３３３"),
        ("bsn-zeros", "000000000"),
        ("bsn-negative", "-11122233"),
    ] {
        add(label, id(Value::Bsn(v.into())), "bsn", v);
    }
    for (label, v) in hostile(1) {
        add(
            &format!("bsn-{label}"),
            id(Value::Bsn(v.clone())),
            "bsn",
            &v,
        );
    }
    // Person: names of letters, a real date of birth in the past.
    for (label, surname, given, dob, field) in [
        ("surname-empty", "", "Piotr", "1994-03-12", "surname"),
        ("surname-digits", "123456", "Piotr", "1994-03-12", "surname"),
        (
            "surname-newline",
            "Nowak\nERROR forged",
            "Piotr",
            "1994-03-12",
            "surname",
        ),
        (
            "surname-nel",
            "Now\u{85}ak",
            "Piotr",
            "1994-03-12",
            "surname",
        ),
        ("surname-nul", "Now\0ak", "Piotr", "1994-03-12", "surname"),
        ("given-tab", "Nowak", "Pi\totr", "1994-03-12", "given_names"),
        ("given-digits", "Nowak", "4711", "1994-03-12", "given_names"),
        (
            "dob-slashes",
            "Nowak",
            "Piotr",
            "1994/03/12",
            "date_of_birth",
        ),
        (
            "dob-future",
            "Nowak",
            "Piotr",
            "2999-01-01",
            "date_of_birth",
        ),
        ("dob-1800", "Nowak", "Piotr", "1800-01-01", "date_of_birth"),
        (
            "dob-feb-30",
            "Nowak",
            "Piotr",
            "1994-02-30",
            "date_of_birth",
        ),
        (
            "dob-month-13",
            "Nowak",
            "Piotr",
            "1994-13-01",
            "date_of_birth",
        ),
        (
            "dob-seven-digits",
            "Nowak",
            "Piotr",
            "1994031",
            "date_of_birth",
        ),
        ("dob-short", "Nowak", "Piotr", "1994-3-12", "date_of_birth"),
        (
            "dob-text",
            "Nowak",
            "Piotr",
            "twaalf maart",
            "date_of_birth",
        ),
    ] {
        let secret = if surname.len() > 4 && field == "surname" {
            surname
        } else if field == "date_of_birth" {
            dob
        } else {
            ""
        };
        add(label, person_id(surname, given, dob), field, secret);
    }
    let combining = format!("{MARK}a{}", "\u{301}".repeat(5_000));
    add(
        "surname-combining-marks",
        person_id(&combining, "Piotr", "1994-03-12"),
        "surname",
        &combining,
    );
    for (label, v) in hostile(2) {
        add(
            &format!("surname-{label}"),
            person_id(&v, "Piotr", "1994-03-12"),
            "surname",
            &v,
        );
        add(
            &format!("given-{label}"),
            person_id("Nowak", &v, "1994-03-12"),
            "given_names",
            &v,
        );
    }
    let four_mb = format!("{MARK}z").repeat(700_000);
    add(
        "surname-four-megabytes",
        person_id(&four_mb, "Piotr", "1994-03-12"),
        "surname",
        &four_mb,
    );
    // Postal address: postcode 9999 AA (no leading zero), a positive whole house number.
    for (label, postcode, number, addition, field) in [
        ("postcode-dash", "97-12KL", "12", "", "postcode"),
        ("postcode-empty", "", "12", "", "postcode"),
        ("postcode-short", "9712", "12", "", "postcode"),
        ("postcode-leading-zero", "0712 AB", "12", "", "postcode"),
        ("postcode-letters-first", "AB 9712", "12", "", "postcode"),
        ("postcode-three-letters", "9712 ABC", "12", "", "postcode"),
        ("huisnummer-decimal", "9711 AB", "12.5", "", "huisnummer"),
        ("huisnummer-zero", "9711 AB", "0", "", "huisnummer"),
        ("huisnummer-negative", "9711 AB", "-3", "", "huisnummer"),
        ("huisnummer-empty", "9711 AB", "", "", "huisnummer"),
        ("huisnummer-letters", "9711 AB", "twaalf", "", "huisnummer"),
        ("huisnummer-huge", "9711 AB", "123456789", "", "huisnummer"),
        (
            "toevoeging-long",
            "9711 AB",
            "12",
            "bis-boven-achter-links",
            "toevoeging",
        ),
    ] {
        add(
            label,
            address_id(postcode, number, addition),
            field,
            if postcode.len() > 5 { postcode } else { "" },
        );
    }
    for (label, v) in hostile(3) {
        add(
            &format!("postcode-{label}"),
            address_id(&v, "12", ""),
            "postcode",
            &v,
        );
        add(
            &format!("toevoeging-{label}"),
            address_id("9711 AB", "12", &v),
            "toevoeging",
            &v,
        );
    }
    // BAG verblijfsobject id: 16 digits with the object type 01.
    for (label, v) in [
        ("bag-empty", ""),
        ("bag-short", "0014010011067"),
        ("bag-letters", "00140100110672ab"),
        ("bag-seventeen", "00140100110672000"),
    ] {
        add(
            label,
            id(Value::BagVerblijfsobjectId(v.into())),
            "bag_verblijfsobject_id",
            "",
        );
    }
    // KvK: eight digits; RSIN: nine digits passing the 11-test.
    for (label, v) in [
        ("kvk-empty", ""),
        ("kvk-seven", "1234567"),
        ("kvk-nine", "123456789"),
        ("kvk-letters", "1234567a"),
    ] {
        add(label, id(Value::Kvk(v.into())), "kvk", "");
    }
    for (label, v) in [
        ("rsin-empty", ""),
        ("rsin-eleven-test", "123456789"),
        ("rsin-letters", "12345678a"),
    ] {
        add(label, id(Value::Rsin(v.into())), "rsin", "");
    }
    // Phone: a number of a real numbering plan.
    for (label, v) in [
        ("phone-empty", ""),
        ("phone-country-999", "+999 1234567"),
        ("phone-letters", "bel me"),
        ("phone-too-short-nl", "+31 6 1234"),
        ("phone-too-short-national", "0612"),
        ("phone-too-short-pl", "+48 12"),
        ("phone-too-long-nl", "+31 6 1234 5678 9012"),
    ] {
        add(label, id(Value::Phone(v.into())), "phone", v);
    }
    for (label, v) in hostile(4) {
        add(
            &format!("phone-{label}"),
            id(Value::Phone(v.clone())),
            "phone",
            &v,
        );
    }
    // IBAN: a known country, its length, the mod-97 check.
    for (label, v) in [
        ("iban-empty", ""),
        ("iban-checksum", "NL00ABNA0417164300"),
        ("iban-country", "XX82WEST12345698765432"),
        ("iban-short", "NL91ABNA04171643"),
        ("iban-letters-in-account", "NL91ABNA04171643AB"),
    ] {
        add(label, id(Value::Iban(v.into())), "iban", v);
    }
    for (label, v) in hostile(5) {
        add(
            &format!("iban-{label}"),
            id(Value::Iban(v.clone())),
            "iban",
            &v,
        );
    }
    // Vehicle: an ISO 3166-1 country and a plate.
    for (label, country, plate, field) in [
        ("vehicle-country-xx", "XX", "12-ABC-3", "country"),
        ("vehicle-country-digits", "12", "12-ABC-3", "country"),
        ("vehicle-country-three", "NLD", "12-ABC-3", "country"),
        ("vehicle-plate-empty", "NL", "", "plate"),
        ("vehicle-plate-symbols", "NL", "!!!", "plate"),
    ] {
        add(
            label,
            id(Value::Vehicle(pb::Vehicle {
                country: country.into(),
                plate: plate.into(),
            })),
            field,
            "",
        );
    }
    for (label, v) in hostile(6) {
        add(&format!("plate-{label}"), vehicle("NL", &v), "plate", &v);
    }
    // Online handle: a known platform and a handle of that platform.
    for (label, platform, name, field) in [
        ("handle-platform-empty", "", "anna_1994", "platform"),
        (
            "handle-platform-symbols",
            "<script>",
            "anna_1994",
            "platform",
        ),
        ("handle-empty", "instagram", "", "handle"),
        (
            "handle-facebook-link-as-instagram",
            "instagram",
            "https://www.facebook.com/anna.qmalx",
            "handle",
        ),
        ("handle-spaces", "instagram", "anna qmal 1994", "handle"),
    ] {
        add(
            label,
            handle(platform, name),
            field,
            if name.len() > 12 { name } else { "" },
        );
    }
    for (label, v) in hostile(7) {
        add(
            &format!("handle-{label}"),
            handle("instagram", &v),
            "handle",
            &v,
        );
    }
    add(
        "identifier-no-value",
        pb::Identifier { value: None },
        "",
        "",
    );
    out
}

fn submit_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for (label, identifier, field, secret) in bad_identifiers() {
        let names: Vec<&str> = ["identifiers[0]", field.as_str()]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect();
        let unary = case(
            format!("submit/{label}"),
            Call::Submit(with_identifier(next(), identifier.clone())),
            INVALID,
            &names,
        );
        let streamed = case(
            format!("submit-stream/{label}"),
            Call::SubmitStream(with_identifier(next(), identifier.clone())),
            INVALID,
            &names,
        );
        let withdraw = case(
            format!("withdraw-by-identifier/{label}"),
            Call::Withdraw(pb::WithdrawSignalsRequest {
                idempotency_key: format!("{MARK}-withdraw-{}", next()),
                target: Some(pb::withdraw_signals_request::Target::Identifier(identifier)),
                reason: "correctie".into(),
            }),
            INVALID,
            &["target.identifier", field.as_str()][..names.len()],
        );
        if secret.chars().count() >= 4 {
            cases.push(unary.secret(secret.clone()));
            cases.push(streamed.secret(secret.clone()));
            cases.push(withdraw.secret(secret));
        } else {
            cases.extend([unary, streamed, withdraw]);
        }
    }

    // The request's own fields.
    for (label, value) in hostile(10) {
        let mut r = base(next());
        r.case_reference = value.clone();
        cases.push(
            case(
                format!("submit/case_reference-{label}"),
                Call::Submit(r),
                INVALID,
                &["case_reference"],
            )
            .secret(value.clone()),
        );
        let mut r = base(next());
        r.idempotency_key = value.clone();
        cases.push(case(
            format!("submit/idempotency_key-{label}"),
            Call::Submit(r),
            INVALID,
            &["idempotency_key"],
        ));
        let mut r = base(next());
        r.purpose = value.clone();
        cases.push(case(
            format!("submit/purpose-{label}"),
            Call::Submit(r),
            &[Code::InvalidArgument, Code::PermissionDenied],
            &["purpose"],
        ));
        let mut r = base(next());
        r.observed_month = value.clone();
        cases.push(case(
            format!("submit/observed_month-{label}"),
            Call::Submit(r),
            INVALID,
            &["observed_month"],
        ));
    }
    for (label, field, edit) in [
        (
            "case_reference-empty",
            "case_reference",
            (|r: &mut pb::SubmitSignalRequest| r.case_reference.clear())
                as fn(&mut pb::SubmitSignalRequest),
        ),
        ("case_reference-a-bsn", "case_reference", |r| {
            r.case_reference = "111222333".into()
        }),
        ("case_reference-too-long", "case_reference", |r| {
            r.case_reference = format!("{MARK}-{}", "x".repeat(200))
        }),
        ("idempotency_key-empty", "idempotency_key", |r| {
            r.idempotency_key.clear()
        }),
        ("idempotency_key-too-long", "idempotency_key", |r| {
            r.idempotency_key = "k".repeat(129)
        }),
        ("observed_month-empty", "observed_month", |r| {
            r.observed_month.clear()
        }),
        ("observed_month-13", "observed_month", |r| {
            r.observed_month = "2026-13".into()
        }),
        ("observed_month-00", "observed_month", |r| {
            r.observed_month = "2026-00".into()
        }),
        ("observed_month-1800", "observed_month", |r| {
            r.observed_month = "1800-01".into()
        }),
        ("observed_month-2999", "observed_month", |r| {
            r.observed_month = "2999-12".into()
        }),
        ("observed_month-next-year", "observed_month", |r| {
            r.observed_month = next_year_month()
        }),
        ("observed_month-slash", "observed_month", |r| {
            r.observed_month = "2026/10".into()
        }),
        ("observed_month-compact", "observed_month", |r| {
            r.observed_month = "202610".into()
        }),
        ("observed_month-one-digit", "observed_month", |r| {
            r.observed_month = "2026-1".into()
        }),
        ("observed_month-with-day", "observed_month", |r| {
            r.observed_month = "2026-10-01".into()
        }),
        ("identifiers-none", "identifiers", |r| r.identifiers.clear()),
        ("identifiers-33", "identifiers", |r| {
            r.identifiers = (0..33)
                .map(|i| address("9711 AB", &(i + 1).to_string()))
                .collect()
        }),
        ("attributes-33", "attributes", |r| {
            r.attributes = (0..33)
                .map(|i| pb::Attribute {
                    id: format!("extra_{i}"),
                    value: "x".into(),
                })
                .collect()
        }),
        ("attributes-10000-duplicates", "attributes", |r| {
            r.attributes = (0..10_000)
                .map(|_| pb::Attribute {
                    id: "vorm_uitbuiting".into(),
                    value: "arbeidsuitbuiting".into(),
                })
                .collect()
        }),
        ("attribute-duplicate", "attributes[1]", |r| {
            r.attributes.push(pb::Attribute {
                id: "vorm_uitbuiting".into(),
                value: "onbekend".into(),
            })
        }),
        ("attribute-maand-month-13", "attributes[0].value", |r| {
            r.attributes = vec![attr("maand_waarneming", "2026-13")]
        }),
        ("attribute-maand-future", "attributes[0].value", |r| {
            r.attributes = vec![attr("maand_waarneming", "2999-01")]
        }),
        ("attribute-maand-text", "attributes[0].value", |r| {
            r.attributes = vec![attr("maand_waarneming", "oktober")]
        }),
        ("attribute-enum-unknown-value", "attributes[0].value", |r| {
            r.attributes = vec![attr("vorm_uitbuiting", "toerisme")]
        }),
        ("attribute-enum-empty-value", "attributes[0].value", |r| {
            r.attributes = vec![attr("vorm_uitbuiting", "")]
        }),
        ("attribute-boolean-maybe", "attributes[0].value", |r| {
            r.attributes = vec![attr("minderjarig", "misschien")]
        }),
        ("attribute-municipality-text", "attributes[0].value", |r| {
            r.attributes = vec![attr("gemeente", "Groningen")]
        }),
        ("attribute-id-empty", "attributes", |r| {
            r.attributes = vec![attr("", "x")]
        }),
        ("attribute-id-megabyte", "attributes", |r| {
            r.attributes = vec![attr(&"a".repeat(1 << 20), "x")]
        }),
        ("attribute-value-megabyte", "attributes[0].value", |r| {
            r.attributes = vec![attr("vorm_uitbuiting", &"a".repeat(1 << 20))]
        }),
        ("bad-postcode-and-disallowed-attribute", "postcode", |r| {
            r.identifiers = vec![address("97-12KL", "12")];
            r.attributes = vec![attr("politie_registratie", "true")];
        }),
    ] {
        let mut r = base(next());
        edit(&mut r);
        cases.push(case(
            format!("submit/{label}"),
            Call::Submit(r),
            INVALID,
            &[field],
        ));
    }
    // Policy refusals: well-formed, but not allowed.
    for (label, names, edit) in [
        (
            "purpose-unknown",
            &["purpose"][..],
            (|r: &mut pb::SubmitSignalRequest| r.purpose = "onbekend_doel".into())
                as fn(&mut pb::SubmitSignalRequest),
        ),
        ("kind-not-shared", &["iban"][..], |r| {
            r.identifiers = vec![id(Value::Iban("NL91ABNA0417164300".into()))]
        }),
        ("attribute-not-shared", &["politie_registratie"][..], |r| {
            r.attributes = vec![attr("politie_registratie", "true")]
        }),
        ("attribute-unknown", &["attributes"][..], |r| {
            r.attributes = vec![attr("schoenmaat", "44")]
        }),
        ("attribute-of-other-purpose", &["zorgbehoefte"][..], |r| {
            r.attributes = vec![attr("zorgbehoefte", "true")]
        }),
    ] {
        let mut r = base(next());
        edit(&mut r);
        cases.push(case(
            format!("submit/{label}"),
            Call::Submit(r),
            DENIED,
            names,
        ));
    }
    cases
}

fn attr(id: &str, value: &str) -> pb::Attribute {
    pb::Attribute {
        id: id.into(),
        value: value.into(),
    }
}

/// A month a year from now: an observation cannot lie in the future.
fn next_year_month() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Days since 1970 to a year: close enough for "a year from now" (no month boundary matters).
    let year = 1970 + now / 31_556_952;
    format!("{}-06", year + 1)
}

fn withdraw_cases() -> Vec<Case> {
    use pb::withdraw_signals_request::Target;
    let w = |key: &str, target: Option<Target>| pb::WithdrawSignalsRequest {
        idempotency_key: key.into(),
        target,
        reason: "correctie".into(),
    };
    let mut cases = vec![
        case(
            "withdraw/no-target",
            Call::Withdraw(w("Qmal-w1", None)),
            INVALID,
            &["target"],
        ),
        case(
            "withdraw/empty-case-reference",
            Call::Withdraw(w("Qmal-w2", Some(Target::CaseReference(String::new())))),
            INVALID,
            &["target.case_reference"],
        ),
        case(
            "withdraw/empty-signal-id",
            Call::Withdraw(w("Qmal-w3", Some(Target::SignalId(String::new())))),
            INVALID,
            &["target.signal_id"],
        ),
        case(
            "withdraw/megabyte-signal-id",
            Call::Withdraw(w(
                "Qmal-w4",
                Some(Target::SignalId(format!("{MARK}s").repeat(250_000))),
            )),
            INVALID,
            &["target.signal_id"],
        ),
        case(
            "withdraw/empty-key",
            Call::Withdraw(w("", Some(Target::CaseReference("Qmal-x".into())))),
            INVALID,
            &["idempotency_key"],
        ),
        case(
            "withdraw/identifier-without-value",
            Call::Withdraw(w(
                "Qmal-w5",
                Some(Target::Identifier(pb::Identifier { value: None })),
            )),
            INVALID,
            &["target.identifier"],
        ),
        case(
            "withdraw/reason-megabyte",
            Call::Withdraw(pb::WithdrawSignalsRequest {
                idempotency_key: "Qmal-w6".into(),
                target: Some(Target::CaseReference("Qmal-none".into())),
                reason: "r".repeat(1 << 20),
            }),
            INVALID,
            &["reason"],
        ),
    ];
    for (label, value) in hostile(20) {
        cases.push(
            case(
                format!("withdraw/case-reference-{label}"),
                Call::Withdraw(w("Qmal-w7", Some(Target::CaseReference(value.clone())))),
                INVALID,
                &["target.case_reference"],
            )
            .secret(value.clone()),
        );
        cases.push(case(
            format!("withdraw/signal-id-{label}"),
            Call::Withdraw(w("Qmal-w8", Some(Target::SignalId(value.clone())))),
            INVALID,
            &["target.signal_id"],
        ));
        cases.push(case(
            format!("withdraw/key-{label}"),
            Call::Withdraw(w(&value, Some(Target::CaseReference("Qmal-none".into())))),
            INVALID,
            &["idempotency_key"],
        ));
    }
    cases
}

fn query_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let list = |purpose: &str, page_size: i32, page_token: &str| pb::ListHitsRequest {
        purpose: purpose.into(),
        page_size,
        page_token: page_token.into(),
    };
    for (label, request, field) in [
        ("unknown-purpose", list("onbekend_doel", 10, ""), "purpose"),
        ("page-size-minus-5", list(DRIELUIK, -5, ""), "page_size"),
        ("page-size-min", list(DRIELUIK, i32::MIN, ""), "page_size"),
        (
            "page-token-garbage",
            list(DRIELUIK, 10, "garbage"),
            "page_token",
        ),
        (
            "page-token-megabyte",
            list(DRIELUIK, 10, &"t".repeat(1 << 20)),
            "page_token",
        ),
        (
            "purpose-megabyte",
            list(&"p".repeat(1 << 20), 10, ""),
            "purpose",
        ),
    ] {
        cases.push(case(
            format!("list-hits/{label}"),
            Call::ListHits(request),
            &[
                Code::InvalidArgument,
                Code::NotFound,
                Code::PermissionDenied,
            ],
            &[field],
        ));
    }
    for (label, value) in hostile(30) {
        cases.push(case(
            format!("list-hits/purpose-{label}"),
            Call::ListHits(list(&value, 10, "")),
            &[
                Code::InvalidArgument,
                Code::NotFound,
                Code::PermissionDenied,
            ],
            &["purpose"],
        ));
        cases.push(case(
            format!("list-hits/page-token-{label}"),
            Call::ListHits(list(DRIELUIK, 10, &value)),
            INVALID,
            &["page_token"],
        ));
        cases.push(case(
            format!("signal-status/{label}"),
            Call::Status(pb::GetSignalStatusRequest {
                signal_id: value.clone(),
            }),
            INVALID,
            &["signal_id"],
        ));
        cases.push(case(
            format!("watch-hits/{label}"),
            Call::WatchHits(pb::WatchHitsRequest {
                after_cursor: value.clone(),
            }),
            INVALID,
            &["after_cursor"],
        ));
    }
    for (label, signal_id) in [("empty", ""), ("garbage", "not a signal id")] {
        cases.push(case(
            format!("signal-status/{label}"),
            Call::Status(pb::GetSignalStatusRequest {
                signal_id: signal_id.into(),
            }),
            INVALID,
            &["signal_id"],
        ));
    }
    for (label, cursor) in [
        ("negative", "-1"),
        ("text", "abc"),
        ("overflow", "99999999999999999999999"),
    ] {
        cases.push(case(
            format!("watch-hits/{label}"),
            Call::WatchHits(pb::WatchHitsRequest {
                after_cursor: cursor.into(),
            }),
            INVALID,
            &["after_cursor"],
        ));
    }
    cases
}

fn analyst_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let list = |purpose: &str, filter: Vec<pb::Attribute>, size: i32, token: &str| {
        pb::AnalystListHitsRequest {
            purpose: purpose.into(),
            filter,
            page_size: size,
            page_token: token.into(),
        }
    };
    let any_refusal = &[
        Code::InvalidArgument,
        Code::NotFound,
        Code::PermissionDenied,
    ][..];
    for (label, request, expect, field) in [
        (
            "unknown-purpose",
            list("onbekend_doel", vec![], 10, ""),
            any_refusal,
            "purpose",
        ),
        (
            "page-size-minus-1",
            list(RIEC_ANALYSE, vec![], -1, ""),
            INVALID,
            "page_size",
        ),
        (
            "page-token-garbage",
            list(RIEC_ANALYSE, vec![], 10, "garbage"),
            INVALID,
            "page_token",
        ),
        (
            "page-token-megabyte",
            list(RIEC_ANALYSE, vec![], 10, &"t".repeat(1 << 20)),
            INVALID,
            "page_token",
        ),
        (
            "filter-unknown-attribute",
            list(RIEC_ANALYSE, vec![attr("schoenmaat", "44")], 10, ""),
            INVALID,
            "filter",
        ),
        (
            "filter-unknown-value",
            list(
                RIEC_ANALYSE,
                vec![attr("vorm_uitbuiting", "toerisme")],
                10,
                "",
            ),
            INVALID,
            "filter",
        ),
        (
            "filter-megabyte-id",
            list(RIEC_ANALYSE, vec![attr(&"a".repeat(1 << 20), "x")], 10, ""),
            INVALID,
            "filter",
        ),
        (
            "filter-10000",
            list(
                RIEC_ANALYSE,
                (0..10_000).map(|i| attr(&format!("a{i}"), "x")).collect(),
                10,
                "",
            ),
            INVALID,
            "filter",
        ),
        (
            "purpose-not-theirs",
            list(ZORG, vec![], 10, ""),
            any_refusal,
            "purpose",
        ),
    ] {
        cases.push(case(
            format!("analyst-list/{label}"),
            Call::AnalystList(request),
            expect,
            &[field],
        ));
    }
    let get = |purpose: &str, hit_id: &str| pb::GetHitRequest {
        purpose: purpose.into(),
        hit_id: hit_id.into(),
    };
    for (label, request, field) in [
        ("empty-id", get(RIEC_ANALYSE, ""), "hit_id"),
        ("garbage-id", get(RIEC_ANALYSE, "not a hit"), "hit_id"),
        (
            "megabyte-id",
            get(RIEC_ANALYSE, &format!("{MARK}h").repeat(250_000)),
            "hit_id",
        ),
    ] {
        cases.push(case(
            format!("analyst-get/{label}"),
            Call::GetHit(request),
            INVALID,
            &[field],
        ));
    }
    for (label, value) in hostile(40) {
        cases.push(case(
            format!("analyst-get/id-{label}"),
            Call::GetHit(get(RIEC_ANALYSE, &value)),
            INVALID,
            &["hit_id"],
        ));
        cases.push(case(
            format!("analyst-list/purpose-{label}"),
            Call::AnalystList(list(&value, vec![], 10, "")),
            any_refusal,
            &["purpose"],
        ));
        cases.push(case(
            format!("monitor/dimension-{label}"),
            Call::Monitor(pb::GetMonitorRequest {
                purpose: MONITOR.into(),
                dimensions: vec![value.clone()],
                period: String::new(),
            }),
            INVALID,
            &["dimensions[0]"],
        ));
        cases.push(case(
            format!("monitor/period-{label}"),
            Call::Monitor(pb::GetMonitorRequest {
                purpose: MONITOR.into(),
                dimensions: vec![],
                period: value.clone(),
            }),
            INVALID,
            &["period"],
        ));
    }
    for (label, dimensions, field) in [
        (
            "unknown-dimension",
            vec!["schoenmaat".to_owned()],
            "dimensions[0]",
        ),
        (
            "twice",
            vec!["gemeente".to_owned(), "gemeente".to_owned()],
            "dimensions[1]",
        ),
        (
            "ten-thousand",
            (0..10_000).map(|i| format!("d{i}")).collect(),
            "dimensions",
        ),
    ] {
        cases.push(case(
            format!("monitor/{label}"),
            Call::Monitor(pb::GetMonitorRequest {
                purpose: MONITOR.into(),
                dimensions,
                period: String::new(),
            }),
            INVALID,
            &[field],
        ));
    }
    cases.push(case(
        "monitor/not-a-monitor-purpose",
        Call::Monitor(pb::GetMonitorRequest {
            purpose: RIEC_ANALYSE.into(),
            dimensions: vec![],
            period: String::new(),
        }),
        &[
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::FailedPrecondition,
        ],
        &["purpose"],
    ));
    cases
}

/// Requests a node's own peers could send: the transcryptor's and the coordinator's node-facing
/// calls, made with a partner node's certificate.
fn peer_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let item = |ciphertext: Vec<u8>, purpose: &str, kind: pb::IdentifierKind| pb::ConvertItem {
        ciphertext,
        purpose: purpose.into(),
        kind: kind as i32,
        origin_proof: vec![0; 64],
    };
    let convert = |key: &str, items: Vec<pb::ConvertItem>| pb::ConvertRequest {
        idempotency_key: key.into(),
        coordinator_context: CONTEXT.into(),
        items,
    };
    let address_kind = pb::IdentifierKind::Address;
    for (label, request, field) in [
        ("no-items", convert("Qmal-c1", vec![]), "items"),
        (
            "short-ciphertext",
            convert("Qmal-c2", vec![item(vec![1; 10], DRIELUIK, address_kind)]),
            "items[0].ciphertext",
        ),
        (
            "ciphertext-not-points",
            convert(
                "Qmal-c3",
                vec![item(vec![0xff; 96], DRIELUIK, address_kind)],
            ),
            "items[0].ciphertext",
        ),
        (
            "kind-unspecified",
            convert(
                "Qmal-c4",
                vec![item(
                    vec![0xff; 96],
                    DRIELUIK,
                    pb::IdentifierKind::Unspecified,
                )],
            ),
            "items[0]",
        ),
        (
            "purpose-unknown",
            convert(
                "Qmal-c5",
                vec![item(vec![0xff; 96], "onbekend_doel", address_kind)],
            ),
            "items[0]",
        ),
        (
            "purpose-megabyte",
            convert(
                "Qmal-c6",
                vec![item(vec![0xff; 96], &"p".repeat(1 << 20), address_kind)],
            ),
            "items[0]",
        ),
        (
            "context-wrong",
            pb::ConvertRequest {
                idempotency_key: "Qmal-c7".into(),
                coordinator_context: "coordinator/elsewhere".into(),
                items: vec![item(vec![0xff; 96], DRIELUIK, address_kind)],
            },
            "coordinator_context",
        ),
        (
            "too-many-items",
            convert(
                "Qmal-c8",
                (0..20_000)
                    .map(|_| item(vec![0xff; 96], DRIELUIK, address_kind))
                    .collect(),
            ),
            "items",
        ),
    ] {
        cases.push(case(
            format!("transcryptor-convert/{label}"),
            Call::Convert(request),
            &[
                Code::InvalidArgument,
                Code::PermissionDenied,
                Code::FailedPrecondition,
                Code::ResourceExhausted,
            ],
            &[field],
        ));
    }
    let encrypted = |signal_id: &str, purpose: &str, ciphertext: Vec<u8>| pb::EncryptedSignal {
        signal_id: signal_id.into(),
        purpose: purpose.into(),
        observed_month: "2026-10".into(),
        identifiers: vec![pb::EncryptedIdentifier {
            kind: address_kind as i32,
            ciphertext,
            proofs: vec![vec![0; 64]; 2],
            origin_proof: vec![0; 64],
        }],
        attributes: vec![],
        policy: None,
        traceparent: String::new(),
    };
    for (label, signal) in [
        ("empty-signal-id", encrypted("", DRIELUIK, vec![0xff; 96])),
        (
            "unknown-purpose",
            encrypted("peer-refused-d2", "onbekend_doel", vec![0xff; 96]),
        ),
        (
            "garbage-ciphertext",
            encrypted("peer-refused-d3", DRIELUIK, vec![0xff; 96]),
        ),
        (
            "short-ciphertext",
            encrypted("peer-refused-d4", DRIELUIK, vec![1; 3]),
        ),
        ("no-identifiers", {
            let mut s = encrypted("peer-refused-d5", DRIELUIK, vec![]);
            s.identifiers.clear();
            s
        }),
        ("megabyte-signal-id", {
            encrypted(&"s".repeat(1 << 20), DRIELUIK, vec![0xff; 96])
        }),
        ("forged-traceparent", {
            let mut s = encrypted("peer-refused-d7", DRIELUIK, vec![0xff; 96]);
            s.traceparent = format!("00-{FORGED}\n{FORGED}");
            s
        }),
    ] {
        cases.push(case(
            format!("coordinator-deliver/{label}"),
            Call::Deliver(signal),
            &[
                Code::InvalidArgument,
                Code::PermissionDenied,
                Code::FailedPrecondition,
            ],
            &[],
        ));
    }
    for (label, request, field) in [
        (
            "no-ids",
            pb::CoordinatorWithdrawRequest {
                signal_ids: vec![],
                reason: "correctie".into(),
            },
            "signal_ids",
        ),
        (
            "megabyte-id",
            pb::CoordinatorWithdrawRequest {
                signal_ids: vec!["s".repeat(1 << 20)],
                reason: "correctie".into(),
            },
            "signal_ids",
        ),
        (
            "too-many-ids",
            pb::CoordinatorWithdrawRequest {
                signal_ids: (0..100_000).map(|i| format!("s{i}")).collect(),
                reason: "correctie".into(),
            },
            "signal_ids",
        ),
    ] {
        cases.push(case(
            format!("coordinator-withdraw/{label}"),
            Call::CoordinatorWithdraw(request),
            INVALID,
            &[field],
        ));
    }
    for (label, cursor) in [("text", "abc"), ("negative", "-7"), ("megabyte", "")] {
        let after_cursor = if label == "megabyte" {
            "9".repeat(1 << 20)
        } else {
            cursor.to_owned()
        };
        cases.push(case(
            format!("coordinator-watch/{label}"),
            Call::WatchNotifications(pb::WatchNotificationsRequest { after_cursor }),
            INVALID,
            &["after_cursor"],
        ));
    }
    cases
}

/// A unary request above the 4 MiB decoding limit: RESOURCE_EXHAUSTED, as gRPC clients expect.
fn oversized_cases() -> Vec<Case> {
    let mut r = base(9_999);
    r.case_reference = format!("{MARK}-big").repeat(1_000_000);
    vec![case(
        "submit/five-megabytes",
        Call::Submit(r),
        &[Code::ResourceExhausted],
        &[],
    )]
}

struct Clients {
    partner: PartnerServiceClient<Channel>,
    analyst: AnalystServiceClient<Channel>,
    transcryptor: TranscryptorServiceClient<Channel>,
    coordinator: CoordinatorServiceClient<Channel>,
}

async fn send(clients: &mut Clients, call: Call) -> Answer {
    match call {
        Call::Submit(r) => clients
            .partner
            .submit_signal(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::SubmitStream(r) => {
            let response = clients
                .partner
                .submit_signals(tokio_stream::iter(vec![r]))
                .await;
            let mut stream = match response {
                Err(status) => return Answer::from(status),
                Ok(response) => response.into_inner(),
            };
            match stream.message().await {
                Err(status) => Answer::from(status),
                Ok(None) => panic!("a submission stream of one signal ended without a result"),
                Ok(Some(result)) => match result.outcome {
                    Some(pb::submit_signal_result::Outcome::Refused(error)) => {
                        use prost::Message;
                        Answer {
                            code: Code::from(error.code),
                            message: error.message.clone(),
                            details: error.encode_to_vec(),
                        }
                    }
                    _ => ok(),
                },
            }
        }
        Call::Withdraw(r) => clients
            .partner
            .withdraw_signals(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::Status(r) => clients
            .partner
            .get_signal_status(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::ListHits(r) => clients
            .partner
            .list_hits(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::WatchHits(r) => first_of(clients.partner.watch_hits(r).await).await,
        Call::AnalystList(r) => clients
            .analyst
            .list_hits(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::GetHit(r) => clients
            .analyst
            .get_hit(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::Monitor(r) => clients
            .analyst
            .get_monitor(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::Convert(r) => clients
            .transcryptor
            .convert(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::Deliver(signal) => {
            let response = clients
                .coordinator
                .deliver_signals(tokio_stream::iter(vec![signal]))
                .await;
            let mut stream = match response {
                Err(status) => return Answer::from(status),
                Ok(response) => response.into_inner(),
            };
            match stream.message().await {
                Err(status) => Answer::from(status),
                Ok(None) => panic!("a delivery of one signal ended without an acknowledgement"),
                Ok(Some(ack)) => Answer {
                    code: Code::from(ack.code),
                    message: ack.message,
                    details: Vec::new(),
                },
            }
        }
        Call::CoordinatorWithdraw(r) => clients
            .coordinator
            .withdraw_signals(r)
            .await
            .map_or_else(Answer::from, |_| ok()),
        Call::WatchNotifications(r) => {
            first_of(clients.coordinator.watch_notifications(r).await).await
        }
    }
}

/// The answer to a server stream: its error status, or OK when an item came or it stayed open.
async fn first_of<T>(
    stream: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
) -> Answer {
    match stream {
        Err(status) => Answer::from(status),
        Ok(response) => {
            let mut stream = response.into_inner();
            match tokio::time::timeout(Duration::from_secs(2), stream.message()).await {
                Ok(Err(status)) => Answer::from(status),
                _ => ok(),
            }
        }
    }
}

/// What is wrong with `answer` for `case`; empty when it is right.
fn judge(case: &Case, answer: &Answer) -> Vec<String> {
    let mut wrong = Vec::new();
    if !case.expect.contains(&answer.code) {
        wrong.push(format!(
            "code {:?}, expected one of {:?}",
            answer.code, case.expect
        ));
    }
    if answer.message.len() > MAX_MESSAGE {
        wrong.push(format!("message of {} bytes", answer.message.len()));
    }
    if answer.details.len() > MAX_DETAILS {
        wrong.push(format!("details of {} bytes", answer.details.len()));
    }
    for name in &case.names {
        if !answer.message.contains(name.as_str()) {
            wrong.push(format!("the message does not name `{name}`"));
        }
    }
    if answer.message.chars().any(|c| c.is_control()) {
        wrong.push("a raw control character in the message".to_owned());
    }
    if let Some(secret) = &case.secret {
        // The value, or any 12-byte piece of it, must not come back.
        let details = String::from_utf8_lossy(&answer.details);
        let pieces: Vec<&str> = if secret.len() <= 12 {
            vec![secret.as_str()]
        } else {
            secret
                .char_indices()
                .filter_map(|(i, _)| secret.get(i..i + 12))
                .take(64)
                .collect()
        };
        if pieces
            .iter()
            .any(|p| answer.message.contains(p) || details.contains(p))
        {
            wrong.push("the answer echoes the caller's value".to_owned());
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_request_gets_a_precise_bounded_answer_and_leaves_nothing() {
    let mut chain = common::start(None).await;
    let big = 64 * 1024 * 1024;
    let mut clients = Clients {
        partner: chain
            .partner(GEMEENTE)
            .unwrap()
            .max_decoding_message_size(big)
            .max_encoding_message_size(big),
        analyst: chain
            .analyst(RIEC)
            .unwrap()
            .max_decoding_message_size(big)
            .max_encoding_message_size(big),
        transcryptor: TranscryptorServiceClient::new(
            chain.channel(TRANSCRYPTORS[0], GEMEENTE).unwrap(),
        )
        .max_decoding_message_size(big)
        .max_encoding_message_size(big),
        coordinator: CoordinatorServiceClient::new(chain.channel("coordinator", GEMEENTE).unwrap())
            .max_decoding_message_size(big)
            .max_encoding_message_size(big),
    };
    // One accepted signal first, so that lookups have something to not find.
    let accepted = clients
        .partner
        .submit_signal(signal("GRO-ok-1", vec![address("9711 AB", "12")], &[]))
        .await
        .unwrap()
        .into_inner();
    assert!(!accepted.replayed);

    let cases: Vec<Case> = [
        submit_cases(),
        withdraw_cases(),
        query_cases(),
        analyst_cases(),
        peer_cases(),
        oversized_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(cases.len() >= 300, "the corpus has {} cases", cases.len());

    let mut failures = Vec::new();
    let total = cases.len();
    for mut case in cases {
        let call = std::mem::replace(
            &mut case.call,
            Call::Status(pb::GetSignalStatusRequest::default()),
        );
        let answer = send(&mut clients, call).await;
        for wrong in judge(&case, &answer) {
            let shown: String = answer.message.chars().take(300).collect();
            failures.push(format!("{}: {wrong} ({shown:?})", case.name));
        }
    }

    // Every role is alive and answers.
    let roles = every_role();
    for role in &roles {
        chain
            .wait_healthy(role, Duration::from_secs(10))
            .await
            .unwrap();
    }

    // Nothing of the corpus was stored anywhere, and the one accepted signal was.
    for role in &roles {
        let stored = chain.stored_bytes(role).await.unwrap();
        if contains(&stored, MARK.as_bytes()) {
            failures.push(format!("{role} stored a value of the corpus"));
        }
    }
    // A refused delivery is audited by its pseudonymous signal id, and stored nowhere else.
    {
        use sqlx::Row;
        let mut db = chain.connect("coordinator").await.unwrap();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM coord_signals WHERE signal_id LIKE '%peer-refused%'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        let n: i64 = row.get("n");
        if n > 0 {
            failures.push(format!("the coordinator stored {n} refused deliveries"));
        }
    }
    let node = chain.stored_bytes(GEMEENTE).await.unwrap();
    assert!(
        contains(&node, b"GRO-ok-1"),
        "the control signal was stored"
    );

    // Logs: no forged line, no raw control character, no unbounded line, no corpus value.
    for role in &roles {
        let log = chain.log(role).unwrap();
        for (i, line) in log.lines().enumerate() {
            let at = format!("{role} log line {}", i + 1);
            if line.starts_with(FORGED) || line.starts_with("ERROR forged") {
                failures.push(format!("{at}: a forged line"));
            }
            if line.chars().any(|c| {
                c.is_control() && c != '\t' || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202e}')
            }) {
                failures.push(format!("{at}: a raw control character"));
            }
            if line.len() > MAX_LOG_LINE {
                failures.push(format!("{at}: {} bytes", line.len()));
            }
            if line.contains(MARK) {
                failures.push(format!("{at}: a value of the corpus"));
            }
        }
    }
    chain.stop().await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} cases or checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
