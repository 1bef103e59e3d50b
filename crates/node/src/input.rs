//! From a partner's request to a checked signal: every field validated and normalised, policy
//! applied, every problem listed with its field and rule. Nothing here echoes a value.
//!
//! The input rules (README, "Partner API input rules"):
//!
//! - Every field has a maximum length, checked before any other work on it: the keys and the
//!   case reference [`MAX_KEY`] characters, a purpose and an attribute id [`MAX_ID`], an
//!   attribute value [`MAX_ATTRIBUTE_VALUE`], every identifier field the limit of
//!   `signaalnet_identifier::limits`; at most [`MAX_IDENTIFIERS`] identifiers and
//!   [`MAX_ATTRIBUTES`] attributes (over that, the items are not examined one by one). A value
//!   over its limit is refused by a `…too_long` rule naming the field.
//! - No control characters in keys, references, purposes or attributes.
//! - `observed_month` is `YYYY-MM`, not before [`EARLIEST_MONTH`] (signaalnet keeps no older
//!   signals, and the policy's month attributes start there too), and not after the current
//!   month of the node's clock (UTC, with a day's slack for time zones ahead of it). A date of
//!   birth is not after today by the same clock. A month attribute (`maand_waarneming`) follows
//!   the same bounds.
//! - An attribute value its catalogue type cannot take is an input error
//!   (`attribute.malformed`), not a policy refusal.
//!
//! Input checks and the policy check both run, and every violation of both is reported. The
//! status is INVALID_ARGUMENT when there is any input violation (input errors take precedence:
//! the request cannot be judged as written), PERMISSION_DENIED when only the policy refuses.
//! The policy is asked only about what is well-formed: not about a purpose that failed its own
//! checks, nor about an attribute whose id or value did.

use signaalnet_identifier::{
    Address, Bsn, Day, Iban, Identifier, IdentifierError, OnlineHandle, Organisation, Person,
    Phone, Vehicle,
};
use signaalnet_policy::signal_check::{
    self, check_signal, malformed_value, policy_refusals, MALFORMED_RULE,
};
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1 as pb;
use signaalnet_service::status::Refusal;
use std::collections::BTreeMap;
use tonic::Code;

pub const MAX_KEY: usize = 128;
pub const MAX_IDENTIFIERS: usize = 32;
pub const MAX_ATTRIBUTES: usize = 32;
/// A purpose id or an attribute id (the policy's ids are short snake_case words).
pub const MAX_ID: usize = 64;
/// An attribute value (enum values, a month, a municipality code, a boolean).
pub const MAX_ATTRIBUTE_VALUE: usize = 128;
/// The earliest `observed_month`.
pub const EARLIEST_MONTH: &str = "2000-01";

/// A refused request: the status code and every violation.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub code: Code,
    pub violations: Vec<pb::FieldViolation>,
}

pub use signaalnet_service::status::MAX_REPORTED;

impl Refused {
    /// The refusal in the one form every role's statuses take (`signaalnet_service::status`):
    /// `ErrorInfo.reason` `INVALID_SIGNAL`, `POLICY_REFUSED` or `OVER_QUOTA`.
    pub fn to_refusal(&self) -> Refusal {
        let (reason, summary) = match self.code {
            Code::PermissionDenied => ("POLICY_REFUSED", "refused by policy"),
            Code::ResourceExhausted => ("OVER_QUOTA", "over quota"),
            _ => ("INVALID_SIGNAL", "invalid signal"),
        };
        Refusal::new(self.code, reason, summary).violations(self.violations.iter().cloned())
    }

    /// The bounded message: at most [`MAX_REPORTED`] violations as `field: description [rule]`.
    pub fn message(&self) -> String {
        self.to_refusal().message()
    }

    /// The refusal as a `SubmitSignals` stream's result carries it.
    pub fn to_error(&self) -> pb::SignalError {
        self.to_refusal().to_signal_error()
    }
}

pub(crate) fn violation(
    field: impl Into<String>,
    rule: &str,
    description: impl Into<String>,
) -> pb::FieldViolation {
    pb::FieldViolation {
        field: field.into(),
        rule: rule.to_owned(),
        description: description.into(),
    }
}

/// A request that passed every check.
pub struct Checked {
    pub identifiers: Vec<Identifier>,
}

/// Whether `value` has more than `max` characters, decided without scanning a value whose
/// byte length already settles it (a character is 1 to 4 bytes).
fn too_long(value: &str, max: usize) -> bool {
    value.len() > max && (value.len() > max.saturating_mul(4) || value.chars().count() > max)
}

/// Checks the non-identifier fields shared by every write.
pub fn check_key(field: &str, value: &str, out: &mut Vec<pb::FieldViolation>) {
    check_text(field, value, MAX_KEY, out);
}

/// Required, at most `max` characters, no control, separator or format characters (a bidi
/// override in a case reference shows it reordered in the partner's own systems). Returns
/// whether it passed.
pub(crate) fn check_text(
    field: &str,
    value: &str,
    max: usize,
    out: &mut Vec<pb::FieldViolation>,
) -> bool {
    let before = out.len();
    if value.is_empty() {
        out.push(violation(field, "request.required", "is required"));
    } else if too_long(value, max) {
        out.push(violation(
            field,
            "request.too_long",
            format!("is longer than {max} characters"),
        ));
    } else if value
        .chars()
        .any(signaalnet_identifier::is_control_or_format)
    {
        out.push(violation(
            field,
            "request.control_characters",
            "contains control, line-separator or format characters",
        ));
    }
    out.len() == before
}

/// Validates `request` for `partner` under `policy`; `now` (seconds since the epoch, the
/// node's clock) bounds the months and dates of birth.
pub fn check(
    policy: &PolicySet,
    partner: &str,
    request: &pb::SubmitSignalRequest,
    now: i64,
) -> Result<Checked, Refused> {
    // "Today" with a day's slack, so a partner in a time zone ahead of UTC is not refused its
    // own current month or date just after midnight.
    let today = Day::from_unix_seconds(now);
    let latest = today.next();
    let latest_month = format!("{:04}-{:02}", latest.year(), latest.month());
    let mut invalid = Vec::new();
    check_key("idempotency_key", &request.idempotency_key, &mut invalid);
    if check_text(
        "case_reference",
        &request.case_reference,
        MAX_KEY,
        &mut invalid,
    ) && Bsn::parse(&request.case_reference).is_ok()
    {
        // The case reference stays on the node, but it is a reference, not an identifier.
        invalid.push(violation(
            "case_reference",
            "case_reference.not_an_identifier",
            "looks like a BSN; use the case number of your own system",
        ));
    }
    let purpose_ok = check_text("purpose", &request.purpose, MAX_ID, &mut invalid);
    check_month(&request.observed_month, &latest_month, &mut invalid);
    if request.identifiers.is_empty() {
        invalid.push(violation(
            "identifiers",
            "identifiers.required",
            "at least one identifier is required",
        ));
    }
    let too_many_identifiers = request.identifiers.len() > MAX_IDENTIFIERS;
    if too_many_identifiers {
        invalid.push(violation(
            "identifiers",
            "identifiers.too_many",
            format!("at most {MAX_IDENTIFIERS}"),
        ));
    }
    let too_many_attributes = request.attributes.len() > MAX_ATTRIBUTES;
    if too_many_attributes {
        invalid.push(violation(
            "attributes",
            "attributes.too_many",
            format!("at most {MAX_ATTRIBUTES}"),
        ));
    }
    let mut identifiers = Vec::new();
    let mut unlinkable = Vec::new();
    let mut kinds = Vec::new();
    if !too_many_identifiers {
        for (i, identifier) in request.identifiers.iter().enumerate() {
            if let Some(kind) = kind_of(identifier) {
                kinds.push(kind);
            }
            let field = format!("identifiers[{i}]");
            match parse_identifier(identifier, &field, today) {
                Ok(id) => {
                    // A person the purpose cannot link (policy `person_match_keys`).
                    if purpose_ok {
                        unlinkable.extend(signal_check::unlinkable(
                            policy,
                            partner,
                            &request.purpose,
                            &field,
                            &id,
                        ));
                    }
                    identifiers.push(id);
                }
                Err(v) => invalid.push(v),
            }
        }
    }
    // The attributes the policy is asked about: well-formed, each id once.
    let mut well_formed: Vec<(&str, &str)> = Vec::new();
    if !too_many_attributes {
        let mut first_at = BTreeMap::new();
        for (i, a) in request.attributes.iter().enumerate() {
            let id_ok = check_text(&format!("attributes[{i}].id"), &a.id, MAX_ID, &mut invalid);
            let value_ok = check_text(
                &format!("attributes[{i}].value"),
                &a.value,
                MAX_ATTRIBUTE_VALUE,
                &mut invalid,
            );
            if !id_ok {
                continue;
            }
            if let Some(first) = first_at.get(a.id.as_str()) {
                invalid.push(violation(
                    format!("attributes[{i}].id"),
                    "attributes.duplicate",
                    format!("is the same attribute as attributes[{first}]; give each once"),
                ));
                continue;
            }
            first_at.insert(a.id.as_str(), i);
            if !value_ok {
                continue;
            }
            if let Some(problem) = malformed_value(policy, &a.id, &a.value, &latest_month) {
                invalid.push(violation(
                    format!("attributes[{i}].value"),
                    MALFORMED_RULE,
                    problem,
                ));
                continue;
            }
            well_formed.push((a.id.as_str(), a.value.as_str()));
        }
    }
    let refused_by_policy = if purpose_ok {
        let decision = check_signal(
            policy,
            partner,
            &request.purpose,
            kinds.iter().copied(),
            well_formed.iter().copied(),
        );
        policy_refusals(decision)
            .into_iter()
            .chain(unlinkable)
            // No identifier at all is already an input violation.
            .filter(|r| !(kinds.is_empty() && r.rule == "policy.no_identifiers"))
            .map(|r| violation(r.field, r.rule, r.message))
            .collect()
    } else {
        Vec::new()
    };
    if !invalid.is_empty() {
        invalid.extend(refused_by_policy);
        return Err(Refused {
            code: Code::InvalidArgument,
            violations: invalid,
        });
    }
    if !refused_by_policy.is_empty() {
        return Err(Refused {
            code: Code::PermissionDenied,
            violations: refused_by_policy,
        });
    }
    crate::quota::per_signal(policy, partner, &request.purpose, &identifiers)?;
    Ok(Checked { identifiers })
}

/// `observed_month`: `YYYY-MM`, from [`EARLIEST_MONTH`] to `latest_month`.
fn check_month(month: &str, latest_month: &str, out: &mut Vec<pb::FieldViolation>) {
    const FIELD: &str = "observed_month";
    if !valid_month(month) {
        out.push(violation(FIELD, "observed_month.format", "must be YYYY-MM"));
    } else if month < EARLIEST_MONTH {
        out.push(violation(
            FIELD,
            "observed_month.range",
            format!("is before {EARLIEST_MONTH}"),
        ));
    } else if month > latest_month {
        out.push(violation(
            FIELD,
            "observed_month.future",
            "is a month in the future",
        ));
    }
}

pub fn valid_month(month: &str) -> bool {
    let b = month.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(month[5..].parse::<u8>(), Ok(1..=12))
}

/// The kind a wire identifier claims to be, whether or not its value is valid.
fn kind_of(identifier: &pb::Identifier) -> Option<signaalnet_identifier::IdentifierKind> {
    use pb::identifier::Value;
    use signaalnet_identifier::IdentifierKind as K;
    Some(match identifier.value.as_ref()? {
        Value::Bsn(_) => K::Bsn,
        Value::Person(_) => K::Person,
        Value::Address(_) | Value::BagVerblijfsobjectId(_) => K::Address,
        Value::Kvk(_) | Value::Rsin(_) => K::Organisation,
        Value::Phone(_) => K::Phone,
        Value::Iban(_) => K::Iban,
        Value::Vehicle(_) => K::Vehicle,
        Value::OnlineHandle(_) => K::OnlineHandle,
    })
}

/// The library identifier of a wire identifier; errors name the field under `at`. `today` (the
/// node's clock) bounds a date of birth.
pub fn parse_identifier(
    identifier: &pb::Identifier,
    at: &str,
    today: Day,
) -> Result<Identifier, pb::FieldViolation> {
    let Some(parsed) = parse_value(identifier, today) else {
        return Err(violation(
            at,
            "identifier.required",
            "set one of bsn, person, address, bag_verblijfsobject_id, kvk, rsin, phone, iban, \
             vehicle, online_handle",
        ));
    };
    parsed.map_err(|e| {
        let e = e.at(at);
        violation(e.field(), e.rule(), e.problem())
    })
}

fn parse_value(
    identifier: &pb::Identifier,
    today: Day,
) -> Option<Result<Identifier, IdentifierError>> {
    use pb::identifier::Value;
    Some(match identifier.value.as_ref()? {
        Value::Bsn(v) => Bsn::parse(v).map(Identifier::Bsn),
        Value::Person(p) => Person::parse(&p.surname, &p.given_names, &p.date_of_birth, today)
            .map(Identifier::Person),
        Value::Address(a) => Address::parse_postal(&a.postcode, &a.huisnummer, &a.toevoeging)
            .map(Identifier::Address),
        Value::BagVerblijfsobjectId(v) => Address::parse_bag(v).map(Identifier::Address),
        Value::Kvk(v) => Organisation::parse_kvk(v).map(Identifier::Organisation),
        Value::Rsin(v) => Organisation::parse_rsin(v).map(Identifier::Organisation),
        Value::Phone(v) => Phone::parse(v).map(Identifier::Phone),
        Value::Iban(v) => Iban::parse(v).map(Identifier::Iban),
        Value::Vehicle(v) => Vehicle::parse(&v.country, &v.plate).map(Identifier::Vehicle),
        Value::OnlineHandle(h) => {
            OnlineHandle::parse(&h.platform, &h.handle).map(Identifier::OnlineHandle)
        }
    })
}
