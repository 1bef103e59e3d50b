//! From a partner's request to a checked signal: every field validated and normalised, policy
//! applied, every problem listed with its field and rule. Nothing here echoes a value.

use signaalnet_identifier::{
    Address, Bsn, Iban, Identifier, IdentifierError, OnlineHandle, Organisation, Person, Phone,
    Vehicle,
};
use signaalnet_policy::signal_check::check_signal;
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1 as pb;
use signaalnet_service::status::Refusal;
use tonic::Code;

pub const MAX_KEY: usize = 128;
pub const MAX_IDENTIFIERS: usize = 32;
pub const MAX_ATTRIBUTES: usize = 32;

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

/// Checks the non-identifier fields shared by every write.
pub fn check_key(field: &str, value: &str, out: &mut Vec<pb::FieldViolation>) {
    if value.is_empty() {
        out.push(violation(field, "request.required", "is required"));
    } else if value.chars().count() > MAX_KEY {
        out.push(violation(
            field,
            "request.too_long",
            format!("is longer than {MAX_KEY} characters"),
        ));
    } else if value.chars().any(char::is_control) {
        out.push(violation(
            field,
            "request.control_characters",
            "contains control characters",
        ));
    }
}

/// Validates `request` for `partner` under `policy`.
pub fn check(
    policy: &PolicySet,
    partner: &str,
    request: &pb::SubmitSignalRequest,
) -> Result<Checked, Refused> {
    let mut invalid = Vec::new();
    check_key("idempotency_key", &request.idempotency_key, &mut invalid);
    check_key("case_reference", &request.case_reference, &mut invalid);
    if Bsn::parse(&request.case_reference).is_ok() {
        // The case reference stays on the node, but it is a reference, not an identifier.
        invalid.push(violation(
            "case_reference",
            "case_reference.not_an_identifier",
            "looks like a BSN; use the case number of your own system",
        ));
    }
    if !valid_month(&request.observed_month) {
        invalid.push(violation(
            "observed_month",
            "observed_month.format",
            "must be YYYY-MM",
        ));
    }
    if request.identifiers.is_empty() {
        invalid.push(violation(
            "identifiers",
            "identifiers.required",
            "at least one identifier is required",
        ));
    }
    if request.identifiers.len() > MAX_IDENTIFIERS {
        invalid.push(violation(
            "identifiers",
            "identifiers.too_many",
            format!("at most {MAX_IDENTIFIERS}"),
        ));
    }
    if request.attributes.len() > MAX_ATTRIBUTES {
        invalid.push(violation(
            "attributes",
            "attributes.too_many",
            format!("at most {MAX_ATTRIBUTES}"),
        ));
    }
    let mut identifiers = Vec::new();
    for (i, identifier) in request.identifiers.iter().enumerate() {
        if identifier.value.is_none() {
            invalid.push(violation(
                format!("identifiers[{i}]"),
                "identifier.required",
                "set one of bsn, person, address, bag_verblijfsobject_id, kvk, rsin, phone, \
                 iban, vehicle, online_handle",
            ));
            continue;
        }
        match parse_identifier(identifier, &format!("identifiers[{i}]")) {
            Ok(id) => identifiers.push(id),
            Err(v) => invalid.push(v),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, a) in request.attributes.iter().enumerate() {
        if !seen.insert(a.id.as_str()) {
            invalid.push(violation(
                format!("attributes[{i}].id"),
                "attributes.duplicate",
                format!("attribute `{}` is given twice", a.id),
            ));
        }
    }
    if !invalid.is_empty() {
        return Err(Refused {
            code: Code::InvalidArgument,
            violations: invalid,
        });
    }
    let decision = check_signal(
        policy,
        partner,
        &request.purpose,
        identifiers.iter().map(Identifier::kind),
        request
            .attributes
            .iter()
            .map(|a| (a.id.as_str(), a.value.as_str())),
    );
    if !decision.is_allowed() {
        return Err(Refused {
            code: Code::PermissionDenied,
            violations: decision
                .refusals
                .into_iter()
                .map(|r| violation(r.field, r.rule, r.message))
                .collect(),
        });
    }
    crate::quota::per_signal(policy, partner, &request.purpose, &identifiers)?;
    Ok(Checked { identifiers })
}

pub fn valid_month(month: &str) -> bool {
    let b = month.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(month[5..].parse::<u8>(), Ok(1..=12))
}

/// The library identifier of a wire identifier; errors name the field under `identifiers[i]`.
pub fn parse_identifier(
    identifier: &pb::Identifier,
    at: &str,
) -> Result<Identifier, pb::FieldViolation> {
    let Some(parsed) = parse_value(identifier) else {
        return Err(violation(
            at,
            "identifier.required",
            "no identifier value is set",
        ));
    };
    parsed.map_err(|e| {
        let e = e.at(at);
        violation(e.field(), e.rule(), e.problem())
    })
}

fn parse_value(identifier: &pb::Identifier) -> Option<Result<Identifier, IdentifierError>> {
    use pb::identifier::Value;
    Some(match identifier.value.as_ref()? {
        Value::Bsn(v) => Bsn::parse(v).map(Identifier::Bsn),
        Value::Person(p) => {
            Person::parse(&p.surname, &p.given_names, &p.date_of_birth).map(Identifier::Person)
        }
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
