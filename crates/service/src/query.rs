//! The rules every query of every role follows, so that a list, a lookup or a cursor answers a
//! malformed or foreign value the same way everywhere (README, "Queries and paging"):
//!
//! - **Page size**: negative is INVALID_ARGUMENT (`page_size.negative`); 0 means the call's
//!   default; above the call's maximum it is lowered to the maximum (as Google's AIP-158 asks),
//!   never refused, so a client asking for "everything" gets full pages.
//! - **Page tokens** are opaque: `v1` and hex, naming the position after which the next page
//!   starts and a fingerprint of the query it belongs to, at most [`MAX_TOKEN`] characters. A
//!   token this role did not issue, or issued for another query (another purpose or filter),
//!   is INVALID_ARGUMENT (`page_token.invalid` / `page_token.other_query`). Tokens are not
//!   secret and not signed: a crafted one only moves the start of a list the caller may read.
//! - **Ids** (hit ids, signal ids) and **cursors** are checked for length and form before any
//!   lookup: INVALID_ARGUMENT (`hit_id.invalid`, …).
//! - **Purposes**: a query names a purpose the caller may use, or none where the call allows
//!   that. One that is malformed is INVALID_ARGUMENT (`purpose.invalid`); one that is unknown
//!   and one that exists but is not the caller's are the same PERMISSION_DENIED
//!   (`purpose.not_permitted`), so a caller cannot learn which purposes exist beyond its own.
//!
//! No refusal repeats the caller's value: a message names the field and the rule only.

use tonic::{Code, Status};

/// The longest page token any role issues.
pub const MAX_TOKEN: usize = 2 + 2 * (FINGERPRINT + MAX_POSITION);
/// The longest purpose id a query may name (policy ids are `[a-z][a-z0-9_]*`).
pub const MAX_PURPOSE: usize = 64;
const FINGERPRINT: usize = 8;
const MAX_POSITION: usize = 64;
const TOKEN_VERSION: &str = "v1";

/// A query refused: the status code, the field and the rule, and a description that never
/// holds the caller's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {description} [{rule}]")]
pub struct QueryError {
    pub code: Code,
    pub field: String,
    pub rule: &'static str,
    pub description: String,
}

impl QueryError {
    pub fn invalid(
        field: impl Into<String>,
        rule: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            code: Code::InvalidArgument,
            field: field.into(),
            rule,
            description: description.into(),
        }
    }

    /// The purpose is unknown or not the caller's: the same answer for both.
    pub fn purpose_not_permitted(field: &str) -> Self {
        Self {
            code: Code::PermissionDenied,
            field: field.to_owned(),
            rule: "purpose.not_permitted",
            description: "not a purpose you may query (unknown, or not one of yours)".to_owned(),
        }
    }
}

impl From<QueryError> for Status {
    /// The message names field and rule; the details are the standard ones of every refusal
    /// (`crate::status`): `ErrorInfo` with the rule, and the violation.
    fn from(e: QueryError) -> Self {
        let reason = match e.code {
            Code::PermissionDenied => "PURPOSE_NOT_PERMITTED",
            _ => "INVALID_QUERY",
        };
        crate::status::Refusal::new(e.code, reason, "")
            .violation(e.field, e.rule, e.description)
            .into_status()
    }
}

/// The size of a page: `requested`, 0 for `default`, at most `max`.
pub fn page_size(requested: i32, default: usize, max: usize) -> Result<usize, QueryError> {
    match usize::try_from(requested) {
        Err(_) => Err(QueryError::invalid(
            "page_size",
            "page_size.negative",
            format!("must be 0 (the default, {default}) or positive; at most {max} are returned"),
        )),
        Ok(0) => Ok(default),
        Ok(n) => Ok(n.min(max)),
    }
}

/// What a page token is bound to: the call and every parameter that selects what is listed
/// (not the page size, which may change between pages).
pub struct QueryKey(ring::digest::Context);

impl QueryKey {
    pub fn new(call: &str) -> Self {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(call.as_bytes());
        Self(ctx)
    }

    /// Adds one parameter (length-prefixed, so parameters cannot run into each other).
    pub fn with(mut self, part: &str) -> Self {
        self.0.update(&(part.len() as u64).to_be_bytes());
        self.0.update(part.as_bytes());
        self
    }

    fn fingerprint(&self) -> [u8; FINGERPRINT] {
        let digest = self.0.clone().finish();
        let mut out = [0u8; FINGERPRINT];
        out.copy_from_slice(&digest.as_ref()[..FINGERPRINT]);
        out
    }
}

/// The token of the page after `position` (the last item of this page) of `query`.
///
/// `position` is an id the role made (e.g. a hit id); one longer than the bound would give a
/// token the role itself refuses, so it is a programming error, reported as an empty token
/// (the list ends early rather than with a token nobody can use).
pub fn next_page_token(query: &QueryKey, position: &str) -> String {
    if position.is_empty() || position.len() > MAX_POSITION {
        tracing::error!(
            len = position.len(),
            "page position out of bounds; list ends here"
        );
        return String::new();
    }
    let mut bytes = query.fingerprint().to_vec();
    bytes.extend_from_slice(position.as_bytes());
    format!("{TOKEN_VERSION}{}", hex::encode(bytes))
}

/// The position a page token names, or `None` for the first page (empty token). `position`
/// checks the position's form (e.g. [`hit_id`]).
pub fn read_page_token(
    token: &str,
    query: &QueryKey,
    position: impl Fn(&str) -> bool,
) -> Result<Option<String>, QueryError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        QueryError::invalid(
            "page_token",
            "page_token.invalid",
            "not a page token this service issued; use the next_page_token of the previous \
             page, or an empty token for the first page",
        )
    };
    if token.len() > MAX_TOKEN {
        return Err(invalid());
    }
    let bytes = token
        .strip_prefix(TOKEN_VERSION)
        .and_then(|hex| hex::decode(hex).ok())
        .filter(|b| b.len() > FINGERPRINT)
        .ok_or_else(invalid)?;
    let (fingerprint, rest) = bytes.split_at(FINGERPRINT);
    let at = std::str::from_utf8(rest)
        .ok()
        .filter(|p| position(p))
        .ok_or_else(invalid)?;
    if fingerprint != query.fingerprint() {
        return Err(QueryError::invalid(
            "page_token",
            "page_token.other_query",
            "this page token belongs to a query with another purpose or filter; repeat the \
             query's parameters unchanged while paging, or start with an empty token",
        ));
    }
    Ok(Some(at.to_owned()))
}

/// A hit id as the coordinator makes them: `hit-` and 16 lowercase hex digits.
pub fn is_hit_id(s: &str) -> bool {
    prefixed_hex(s, "hit-", 16)
}

/// A signal id as a node makes them: `sig-` and 20 lowercase hex digits.
pub fn is_signal_id(s: &str) -> bool {
    prefixed_hex(s, "sig-", 20)
}

fn prefixed_hex(s: &str, prefix: &str, digits: usize) -> bool {
    s.strip_prefix(prefix).is_some_and(|h| {
        h.len() == digits
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Checks a required hit id in `field`.
pub fn hit_id<'a>(value: &'a str, field: &str) -> Result<&'a str, QueryError> {
    id(
        value,
        field,
        is_hit_id,
        "hit_id.invalid",
        "a hit id: `hit-` and 16 hex digits",
    )
}

/// Checks a required signal id in `field`.
pub fn signal_id<'a>(value: &'a str, field: &str) -> Result<&'a str, QueryError> {
    id(
        value,
        field,
        is_signal_id,
        "signal_id.invalid",
        "a signal id: `sig-` and 20 hex digits",
    )
}

fn id<'a>(
    value: &'a str,
    field: &str,
    form: fn(&str) -> bool,
    rule: &'static str,
    what: &str,
) -> Result<&'a str, QueryError> {
    if value.is_empty() {
        return Err(QueryError::invalid(
            field,
            rule,
            format!("required: {what}"),
        ));
    }
    if !form(value) {
        return Err(QueryError::invalid(field, rule, format!("must be {what}")));
    }
    Ok(value)
}

/// Checks the form of a purpose id in `field`: empty is allowed only where `optional`. The
/// caller then checks that the purpose is one the caller may use
/// ([`QueryError::purpose_not_permitted`] otherwise).
pub fn purpose<'a>(
    value: &'a str,
    field: &str,
    optional: bool,
) -> Result<Option<&'a str>, QueryError> {
    if value.is_empty() {
        return if optional {
            Ok(None)
        } else {
            Err(QueryError::invalid(
                field,
                "purpose.required",
                "required: the purpose to query",
            ))
        };
    }
    let mut chars = value.chars();
    let formed = value.len() <= MAX_PURPOSE
        && matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !formed {
        return Err(QueryError::invalid(
            field,
            "purpose.invalid",
            format!(
                "must be a purpose id of the policy set: a lowercase letter, then lowercase \
                 letters, digits or `_`, at most {MAX_PURPOSE} characters"
            ),
        ));
    }
    Ok(Some(value))
}

/// A cursor of a log this role keeps (`WatchHits`, `WatchNotifications`): empty for the start,
/// else the decimal position of an entry it sent, at most 19 digits.
pub fn cursor(value: &str, field: &str) -> Result<i64, QueryError> {
    if value.is_empty() {
        return Ok(0);
    }
    if value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(cursor) = value.parse::<i64>() {
            return Ok(cursor);
        }
    }
    Err(QueryError::invalid(
        field,
        "cursor.invalid",
        "not a cursor this service issued: the cursor of a notification it sent, or empty \
         for the start",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn page_sizes_default_clamp_and_refuse_negatives() {
        assert_eq!(page_size(0, 50, 500), Ok(50));
        assert_eq!(page_size(7, 50, 500), Ok(7));
        assert_eq!(page_size(i32::MAX, 50, 500), Ok(500));
        let e = page_size(-5, 50, 500).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str(), e.rule),
            (Code::InvalidArgument, "page_size", "page_size.negative")
        );
    }

    #[test]
    fn a_token_reads_back_only_for_its_own_query() {
        let q = || QueryKey::new("list").with("purpose_a");
        let token = next_page_token(&q(), "hit-0123456789abcdef");
        assert!(token.len() <= MAX_TOKEN);
        assert_eq!(
            read_page_token(&token, &q(), is_hit_id).unwrap().as_deref(),
            Some("hit-0123456789abcdef")
        );
        assert_eq!(read_page_token("", &q(), is_hit_id), Ok(None));
        let other = QueryKey::new("list").with("purpose_b");
        assert_eq!(
            read_page_token(&token, &other, is_hit_id).unwrap_err().rule,
            "page_token.other_query"
        );
        // Parameters cannot run into each other.
        let split = QueryKey::new("list").with("purpose").with("_a");
        assert!(read_page_token(&token, &split, is_hit_id).is_err());
    }

    #[test]
    fn garbage_tokens_are_refused_without_repeating_them() {
        let q = QueryKey::new("list");
        let long = "v1".to_owned() + &"ab".repeat(1 << 19);
        let forged = format!("v1{}", hex::encode(b"12345678not-a-hit-id"));
        for bad in [
            "hit-0123456789abcdef",
            "v1",
            "v1zz",
            "v2abcdef",
            long.as_str(),
            forged.as_str(),
            "v1\n",
        ] {
            let e = read_page_token(bad, &q, is_hit_id).unwrap_err();
            assert_eq!(e.rule, "page_token.invalid", "{bad:.40}");
            assert!(e.to_string().len() < 300);
            assert!(bad.len() < 4 || !e.to_string().contains(bad));
        }
    }

    #[test]
    fn ids_are_checked_for_form() {
        assert!(hit_id("hit-0123456789abcdef", "hit_id").is_ok());
        assert!(signal_id("sig-0123456789abcdef0123", "signal_id").is_ok());
        for bad in [
            "",
            "hit-0123456789ABCDEF",
            "hit-0123",
            "sig-0123456789abcdef0123",
            "x",
        ] {
            assert_eq!(hit_id(bad, "hit_id").unwrap_err().rule, "hit_id.invalid");
        }
        let huge = "a".repeat(1 << 20);
        let e = signal_id(&huge, "signal_id").unwrap_err();
        assert!(e.to_string().len() < 200);
    }

    #[test]
    fn purposes_and_cursors_are_checked_for_form() {
        assert_eq!(purpose("", "purpose", true), Ok(None));
        assert_eq!(
            purpose("", "purpose", false).unwrap_err().rule,
            "purpose.required"
        );
        assert_eq!(
            purpose("signalering_drieluik", "purpose", false),
            Ok(Some("signalering_drieluik"))
        );
        for bad in [
            "Signalering",
            "a b",
            "a\n2026 ERROR",
            "a".repeat(65).as_str(),
            "_x",
            "ü",
        ] {
            assert_eq!(
                purpose(bad, "purpose", false).unwrap_err().rule,
                "purpose.invalid"
            );
        }
        assert_eq!(cursor("", "after_cursor"), Ok(0));
        assert_eq!(cursor("42", "after_cursor"), Ok(42));
        for bad in [
            "-1",
            "+5",
            "x",
            "99999999999999999999",
            " 1",
            "1".repeat(1 << 20).as_str(),
        ] {
            assert_eq!(
                cursor(bad, "after_cursor").unwrap_err().rule,
                "cursor.invalid"
            );
        }
    }
}
