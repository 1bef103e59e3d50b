//! Where a refusal becomes a gRPC status, for every role: the standard rich error model
//! (`google.rpc.Status` in `grpc-status-details-bin`), so that the helpers of every gRPC stack
//! read it (Python's `grpc_status.rpc_status.from_call`, Java's `StatusProto.fromThrowable`,
//! Go's `status.FromError`, tonic-types' `StatusExt`).
//!
//! A [`Refusal`] has a code, a stable reason (`ErrorInfo.reason`, UPPER_SNAKE, e.g.
//! `INVALID_SIGNAL`) and the violations, each naming a field and the rule it broke. Its status
//! carries, next to the same message:
//! - `ErrorInfo`: the reason, the domain [`DOMAIN`], and in its metadata the rule ids
//!   (`rules`, comma-separated, in order) and how many violations there were (`violations`);
//! - the violations, each with its field and a description ending in the rule id in brackets:
//!   as a `QuotaFailure` for RESOURCE_EXHAUSTED (subject = field, quota_id = rule), as a
//!   `PreconditionFailure` for FAILED_PRECONDITION (subject = field), else as a `BadRequest`
//!   (one `FieldViolation` each): one copy, in the detail each stack's documentation names;
//! - a `ResourceInfo` when a refusal is about one resource, a `RetryInfo` when it says when to
//!   try again.
//!
//! Bounded: at most [`MAX_REPORTED`] violations and a last one saying how many more there were,
//! every text cut and its control characters escaped, the message at most [`MAX_MESSAGE`] bytes.
//! A default grpcio client refuses trailers above 8–16 KiB; the worst case here stays under
//! 8 KiB for ASCII texts and under 16 KiB for any (tested below). Nothing here adds a caller's value: the texts are the callers'.

use prost::Message;
use signaalnet_proto::v1 as pb;
use std::collections::BTreeMap;
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::pb as rpc;

/// `ErrorInfo.domain` of every signaalnet refusal.
pub const DOMAIN: &str = "signaalnet.nl";
/// At most this many violations are reported, then one saying how many more there were: a
/// request of 10,000 bad attributes must not get a megabyte back.
pub const MAX_REPORTED: usize = 8;
/// The status message's bound in bytes.
pub const MAX_MESSAGE: usize = 512;
const MAX_FIELD: usize = 64;
const MAX_RULE: usize = 64;
const MAX_DESCRIPTION: usize = 300;
/// `ErrorInfo.reason` is at most 63 characters (google.rpc).
const MAX_REASON: usize = 63;

/// The rule of the violation that stands for those not listed.
pub const MORE_VIOLATIONS: &str = "request.more_violations";

/// A refused request, turned into a status by [`Refusal::into_status`].
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    code: Code,
    reason: String,
    summary: String,
    violations: Vec<pb::FieldViolation>,
    resource: Option<(String, String)>,
    retry_after: Option<Duration>,
}

impl Refusal {
    /// A refusal with `code`, the stable `reason` (UPPER_SNAKE, e.g. `INVALID_SIGNAL`) and the
    /// `summary` that starts the message (e.g. "invalid signal"; empty: the message is the
    /// violations alone, `field: description [rule]`).
    pub fn new(code: Code, reason: &str, summary: impl Into<String>) -> Self {
        Self {
            code,
            reason: upper_snake(reason),
            summary: summary.into(),
            violations: Vec::new(),
            resource: None,
            retry_after: None,
        }
    }

    /// INVALID_ARGUMENT, reason `INVALID_ARGUMENT`: a malformed request.
    pub fn invalid(summary: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, "INVALID_ARGUMENT", summary)
    }

    /// PERMISSION_DENIED, reason `POLICY_REFUSED`: the policy does not allow it.
    pub fn policy(summary: impl Into<String>) -> Self {
        Self::new(Code::PermissionDenied, "POLICY_REFUSED", summary)
    }

    /// FAILED_PRECONDITION, reason `FAILED_PRECONDITION`: the system is not in the state the
    /// request needs (e.g. a purpose without a key).
    pub fn precondition(summary: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, "FAILED_PRECONDITION", summary)
    }

    /// Adds the violation of `rule` by `field`.
    pub fn violation(
        mut self,
        field: impl Into<String>,
        rule: &str,
        description: impl Into<String>,
    ) -> Self {
        self.violations.push(pb::FieldViolation {
            field: field.into(),
            rule: rule.to_owned(),
            description: description.into(),
        });
        self
    }

    /// Adds every violation of `violations`.
    pub fn violations(mut self, violations: impl IntoIterator<Item = pb::FieldViolation>) -> Self {
        self.violations.extend(violations);
        self
    }

    /// Names the one resource the refusal is about (`ResourceInfo`), e.g. `("purpose", "…")`.
    pub fn resource(mut self, kind: &str, name: &str) -> Self {
        self.resource = Some((bounded(kind, MAX_FIELD), bounded(name, MAX_FIELD)));
        self
    }

    /// Says when to retry (`RetryInfo`), e.g. when a quota frees up.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    pub fn code(&self) -> Code {
        self.code
    }

    /// The bounded message: the summary, then each reported violation as
    /// `field: description [rule]`.
    pub fn message(&self) -> String {
        message(&self.summary, &self.violations)
    }

    /// The refusal as the partner API's own `SignalError` (a `SubmitSignals` stream's result).
    pub fn to_signal_error(&self) -> pb::SignalError {
        pb::SignalError {
            code: self.code as i32,
            message: self.message(),
            violations: reported(&self.violations),
        }
    }

    /// The status, with the details described in the module's documentation.
    pub fn into_status(self) -> Status {
        let message = self.message();
        let reported = reported(&self.violations);
        let mut details = Vec::new();
        let mut rules: Vec<&str> = Vec::new();
        for v in &reported {
            if v.rule != MORE_VIOLATIONS && !rules.contains(&v.rule.as_str()) {
                rules.push(&v.rule);
            }
        }
        let mut metadata =
            BTreeMap::from([("violations".to_owned(), self.violations.len().to_string())]);
        if !rules.is_empty() {
            metadata.insert("rules".to_owned(), rules.join(","));
        }
        details.push(any(
            "google.rpc.ErrorInfo",
            &ErrorInfo {
                reason: self.reason.clone(),
                domain: DOMAIN.to_owned(),
                metadata,
            },
        ));
        // The field violations in the detail made for the code: a client of one gRPC stack
        // looks for the one its documentation names, and one copy keeps the trailers small.
        match self.code {
            _ if reported.is_empty() => {}
            Code::ResourceExhausted => details.push(any(
                "google.rpc.QuotaFailure",
                &rpc::QuotaFailure {
                    violations: reported
                        .iter()
                        .map(|v| rpc::quota_failure::Violation {
                            subject: v.field.clone(),
                            description: format!("{} [{}]", v.description, v.rule),
                            quota_id: v.rule.clone(),
                            ..Default::default()
                        })
                        .collect(),
                },
            )),
            Code::FailedPrecondition => details.push(any(
                "google.rpc.PreconditionFailure",
                &rpc::PreconditionFailure {
                    violations: reported
                        .iter()
                        .map(|v| rpc::precondition_failure::Violation {
                            r#type: upper_snake(&v.rule),
                            subject: v.field.clone(),
                            description: format!("{} [{}]", v.description, v.rule),
                        })
                        .collect(),
                },
            )),
            _ => details.push(any(
                "google.rpc.BadRequest",
                &rpc::BadRequest {
                    field_violations: reported
                        .iter()
                        .map(|v| rpc::bad_request::FieldViolation {
                            field: v.field.clone(),
                            description: format!("{} [{}]", v.description, v.rule),
                            reason: String::new(),
                            localized_message: None,
                        })
                        .collect(),
                },
            )),
        }
        if let Some((resource_type, resource_name)) = self.resource {
            details.push(any(
                "google.rpc.ResourceInfo",
                &rpc::ResourceInfo {
                    resource_type,
                    resource_name,
                    owner: String::new(),
                    description: String::new(),
                },
            ));
        }
        if let Some(delay) = self.retry_after {
            details.push(any(
                "google.rpc.RetryInfo",
                &rpc::RetryInfo {
                    retry_delay: Some(prost_types::Duration {
                        seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
                        nanos: 0,
                    }),
                },
            ));
        }
        let status = rpc::Status {
            code: self.code as i32,
            // The standard helpers check that this is the status's own message.
            message: message.clone(),
            details,
        };
        Status::with_details(self.code, message, status.encode_to_vec().into())
    }
}

/// INVALID_ARGUMENT for one violation of `rule` by `field`.
pub fn invalid_argument(
    field: impl Into<String>,
    rule: &str,
    description: impl Into<String>,
) -> Status {
    Refusal::new(Code::InvalidArgument, "INVALID_ARGUMENT", "")
        .violation(field, rule, description)
        .into_status()
}

/// PERMISSION_DENIED for one violation of `rule` by `field`.
pub fn permission_denied(
    field: impl Into<String>,
    rule: &str,
    description: impl Into<String>,
) -> Status {
    Refusal::new(Code::PermissionDenied, "POLICY_REFUSED", "")
        .violation(field, rule, description)
        .into_status()
}

/// FAILED_PRECONDITION for one violation of `rule` by `field`.
pub fn failed_precondition(
    field: impl Into<String>,
    rule: &str,
    description: impl Into<String>,
) -> Status {
    Refusal::new(Code::FailedPrecondition, "FAILED_PRECONDITION", "")
        .violation(field, rule, description)
        .into_status()
}

impl From<Refusal> for Status {
    fn from(refusal: Refusal) -> Self {
        refusal.into_status()
    }
}

/// `google.rpc.ErrorInfo` with its metadata in key order: the same refusal is the same bytes
/// (tonic-types' own type keeps a `HashMap`, whose order changes from process to process, so
/// two answers that must not be told apart could be).
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(btree_map = "string, string", tag = "3")]
    metadata: BTreeMap<String, String>,
}

fn any(name: &str, message: &impl Message) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{name}"),
        value: message.encode_to_vec(),
    }
}

/// `summary: field: description [rule]; …` of the reported violations, at most
/// [`MAX_MESSAGE`] bytes; how many more there were is never cut off.
pub fn message(summary: &str, violations: &[pb::FieldViolation]) -> String {
    let mut list: Vec<String> = reported(violations)
        .iter()
        .map(|v| format!("{}: {} [{}]", v.field, v.description, v.rule))
        .collect();
    let summary = bounded(summary, MAX_DESCRIPTION);
    if list.is_empty() {
        return summary;
    }
    let more = (violations.len() > MAX_REPORTED)
        .then(|| list.pop())
        .flatten()
        .map(|m| format!("; {m}"))
        .unwrap_or_default();
    let head = if summary.is_empty() {
        list.join("; ")
    } else {
        format!("{summary}: {}", list.join("; "))
    };
    format!("{}{more}", cut(&head, MAX_MESSAGE - more.len()))
}

/// The first [`MAX_REPORTED`] violations, each cut to a bounded length with control characters
/// escaped, and a last one saying how many more there were.
pub fn reported(violations: &[pb::FieldViolation]) -> Vec<pb::FieldViolation> {
    let mut out: Vec<pb::FieldViolation> = violations
        .iter()
        .take(MAX_REPORTED)
        .map(|v| pb::FieldViolation {
            field: bounded(&v.field, MAX_FIELD),
            rule: bounded(&v.rule, MAX_RULE),
            description: bounded(&v.description, MAX_DESCRIPTION),
        })
        .collect();
    if let Some(more) = violations
        .len()
        .checked_sub(MAX_REPORTED)
        .filter(|n| *n > 0)
    {
        out.push(pb::FieldViolation {
            field: "request".to_owned(),
            rule: MORE_VIOLATIONS.to_owned(),
            description: format!("{more} more violation(s) not listed"),
        });
    }
    out
}

/// `text` with control characters escaped, cut at a character boundary to at most `max` bytes
/// (marked with `…`).
pub fn bounded(text: &str, max: usize) -> String {
    // No more than `max + 1` characters can be kept, and that many still shows the cut.
    let escaped: String = text
        .chars()
        .take(max + 1)
        .flat_map(char::escape_debug)
        .collect();
    cut(&escaped, max)
}

/// `text` cut at a character boundary to at most `max` bytes, marked with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let room = max.saturating_sub('…'.len_utf8());
    let end = (0..=room)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}…", &text[..end])
}

/// `observed_month.format` → `OBSERVED_MONTH_FORMAT`: a rule id as a google.rpc reason.
fn upper_snake(rule: &str) -> String {
    rule.chars()
        .take(MAX_REASON)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tonic_types::StatusExt;

    fn worst(code: Code, text: &str) -> Refusal {
        // Megabyte texts in the violations that are reported, short ones after them.
        let long = text.repeat(500_000);
        let text = |i: usize| if i < 20 { long.clone() } else { "x".into() };
        Refusal::new(code, &long, long.clone())
            .violations((0..10_000).map(|i| pb::FieldViolation {
                field: text(i),
                rule: text(i),
                description: text(i),
            }))
            .resource(&long, &long)
            .retry_after(Duration::from_secs(60))
    }

    /// The size of the status's trailers as sent: `grpc-message` percent-encoded (a byte
    /// outside printable ASCII, or `%`, takes three) and `grpc-status-details-bin` in base64.
    fn trailers(status: &Status) -> usize {
        let message: usize = status
            .message()
            .bytes()
            .map(|b| {
                if (0x20..0x7f).contains(&b) && b != b'%' {
                    1
                } else {
                    3
                }
            })
            .sum();
        message + status.details().len().div_ceil(3) * 4 + "grpc-status-details-bin".len() + 64
    }

    /// Every violation of a status, as `(field, description)`, from the detail its code uses.
    fn violations(status: &Status) -> Vec<(String, String)> {
        let details = status.get_error_details();
        match status.code() {
            Code::ResourceExhausted => details
                .quota_failure()
                .unwrap()
                .violations
                .iter()
                .map(|v| (v.subject.clone(), v.description.clone()))
                .collect(),
            Code::FailedPrecondition => details
                .precondition_failure()
                .unwrap()
                .violations
                .iter()
                .map(|v| (v.subject.clone(), v.description.clone()))
                .collect(),
            _ => details
                .bad_request()
                .unwrap()
                .field_violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect(),
        }
    }

    #[test]
    fn the_details_are_a_google_rpc_status_with_field_violations_and_error_info() {
        let status = Refusal::invalid("invalid signal")
            .violation("observed_month", "observed_month.format", "must be YYYY-MM")
            .violation("identifiers", "identifiers.required", "at least one")
            .into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.check_error_details().unwrap();
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, DOMAIN);
        assert_eq!(
            info.metadata["rules"],
            "observed_month.format,identifiers.required"
        );
        assert_eq!(info.metadata["violations"], "2");
        let bad = details.bad_request().unwrap();
        assert_eq!(bad.field_violations.len(), 2);
        assert_eq!(bad.field_violations[0].field, "observed_month");
        assert_eq!(
            bad.field_violations[0].description,
            "must be YYYY-MM [observed_month.format]"
        );
        let rich = rpc::Status::decode(status.details()).unwrap();
        assert_eq!(rich.message, status.message());
        assert_eq!(rich.code, Code::InvalidArgument as i32);
    }

    #[test]
    fn quota_and_precondition_refusals_carry_their_own_details() {
        let status = Refusal::new(Code::ResourceExhausted, "OVER_QUOTA", "over quota")
            .violation("identifiers", "limits.identifiers_per_day", "used up")
            .retry_after(Duration::from_secs(30))
            .into_status();
        let details = status.get_error_details();
        let quota = details.quota_failure().unwrap();
        assert_eq!(quota.violations[0].subject, "identifiers");
        assert_eq!(quota.violations[0].quota_id, "limits.identifiers_per_day");
        assert_eq!(
            details.retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(30))
        );
        let status = Refusal::precondition("no key")
            .violation("purpose", "purpose.no_key", "has no key")
            .resource("purpose", "mensenhandel")
            .into_status();
        let details = status.get_error_details();
        let failure = details.precondition_failure().unwrap();
        assert_eq!(failure.violations[0].r#type, "PURPOSE_NO_KEY");
        assert_eq!(failure.violations[0].subject, "purpose");
        assert_eq!(
            details.resource_info().unwrap().resource_name,
            "mensenhandel"
        );
    }

    #[test]
    fn ten_thousand_huge_violations_give_a_status_a_default_client_reads() {
        for code in [
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::ResourceExhausted,
            Code::FailedPrecondition,
        ] {
            for (text, limit) in [("a\n", 8 * 1024), ("é\u{85}", 16 * 1024)] {
                let status = worst(code, text).into_status();
                assert!(status.message().len() <= MAX_MESSAGE);
                assert!(!status.message().contains('\n'));
                assert!(
                    status.message().ends_with(&format!(
                        "request: {} more violation(s) not listed [{MORE_VIOLATIONS}]",
                        10_000 - MAX_REPORTED
                    )),
                    "{}",
                    status.message()
                );
                assert!(
                    trailers(&status) < limit,
                    "{code:?}: {} bytes",
                    trailers(&status)
                );
                let violations = violations(&status);
                assert_eq!(violations.len(), MAX_REPORTED + 1);
                assert_eq!(
                    violations[MAX_REPORTED].1,
                    format!(
                        "{} more violation(s) not listed [{MORE_VIOLATIONS}]",
                        10_000 - MAX_REPORTED
                    )
                );
                let info = status.get_error_details().error_info().cloned().unwrap();
                assert_eq!(info.metadata["violations"], "10000");
            }
        }
    }

    #[test]
    fn bounded_escapes_and_cuts_at_a_character_boundary() {
        assert_eq!(bounded("a\nb", 10), "a\\nb");
        let cut = bounded(&"é".repeat(100), 10);
        assert!(cut.len() <= 10 && cut.ends_with('…'));
        assert_eq!(
            upper_snake("observed_month.format"),
            "OBSERVED_MONTH_FORMAT"
        );
    }
}
