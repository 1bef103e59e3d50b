//! What a role records: one processing step, by whom, for which purpose and processing activity,
//! under which policy version, about which pseudonymous references. Built by the caller, written
//! by [`crate::Audit`]; a purpose the policy set does not know never enters a trail.
//!
//! Every text of an entry is escaped and bounded before it is hashed and stored
//! ([`signaalnet_telemetry::safe::bounded`]: no line break, control or bidi character raw):
//! the detail to [`DETAIL_MAX`] bytes, every other field and each reference to
//! [`REFERENCE_MAX`], and an entry lists at most [`REFERENCES_MAX`] references, its detail
//! saying how many more there were. Entries written before these bounds are verified as they
//! were stored: the hash covers the stored text.

use crate::Step;
use signaalnet_policy::PolicySet;
use signaalnet_telemetry::safe;

/// The most bytes of an entry's detail, escaped.
pub const DETAIL_MAX: usize = 1024;
/// The most bytes of one reference, and of each other text of an entry, escaped.
pub const REFERENCE_MAX: usize = safe::VALUE_MAX;
/// The most references one entry lists. No caller chooses how many there are (pages of hits
/// are capped, a withdrawal covers the partner's own signals of one case, an expiry run what
/// retention says); this bounds an entry whatever a step hands it.
pub const REFERENCES_MAX: usize = 10_000;

/// Who caused a step: the OIN from the caller's certificate and its role in the policy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub oin: String,
    pub role: String,
}

/// One processing step to record.
#[derive(Debug, Clone)]
pub struct Event {
    pub(crate) step: Step,
    pub(crate) actor: Option<Actor>,
    pub(crate) purpose: String,
    pub(crate) processing_activity: String,
    pub(crate) policy_version: String,
    pub(crate) refs: Vec<String>,
    pub(crate) detail: String,
}

impl Event {
    /// A step without a purpose (a policy change, a key share).
    pub fn new(step: Step, policy: &PolicySet) -> Self {
        Self {
            step,
            actor: None,
            purpose: String::new(),
            processing_activity: String::new(),
            policy_version: policy.version().to_owned(),
            refs: Vec::new(),
            detail: String::new(),
        }
    }

    /// A step for `purpose`, with its processing activity from the policy set. A purpose the
    /// set does not know is left out: it is a caller's free text, which never enters a trail.
    pub fn for_purpose(step: Step, policy: &PolicySet, purpose: &str) -> Self {
        let mut event = Self::new(step, policy);
        if let Some(known) = policy.purpose(purpose) {
            event.purpose = known.id.clone();
            event.processing_activity = known.processing_activity_id.clone();
        }
        event
    }

    /// The caller who caused the step; without it the role itself is the actor.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.refs.push(reference.into());
        self
    }

    pub fn references(mut self, references: impl IntoIterator<Item = String>) -> Self {
        self.refs.extend(references);
        self
    }

    /// What happened, in words; never a raw identifier or attribute value. Stored escaped and
    /// cut to [`DETAIL_MAX`] bytes.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn step(&self) -> Step {
        self.step
    }
}

/// One text of an entry, escaped and bounded to [`REFERENCE_MAX`].
pub(crate) fn bounded(text: &str) -> String {
    safe::bounded(text, REFERENCE_MAX)
}

/// An entry's references, each bounded and at most [`REFERENCES_MAX`] of them, and its detail,
/// bounded, saying how many references were left out.
pub(crate) fn bounded_refs_and_detail(refs: Vec<String>, detail: &str) -> (Vec<String>, String) {
    let more = refs.len().saturating_sub(REFERENCES_MAX);
    let refs = refs
        .iter()
        .take(REFERENCES_MAX)
        .map(|r| bounded(r))
        .collect();
    let mut detail = safe::bounded(detail, DETAIL_MAX);
    if more > 0 {
        detail.push_str(&format!("; {more} more reference(s) not listed"));
    }
    (refs, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_escaped_and_bounded() {
        let forged = "refused\n2026-01-01T00:00:00Z ERROR forged\r\0\u{202e}";
        let (refs, detail) = bounded_refs_and_detail(
            vec![forged.to_owned(), "x".repeat(1 << 20)],
            &format!("{forged}{}", "y".repeat(1 << 20)),
        );
        assert_eq!(
            refs[0],
            "refused\\n2026-01-01T00:00:00Z ERROR forged\\r\\0\\u{202e}"
        );
        assert_eq!(refs[1].len(), REFERENCE_MAX);
        assert!(detail.starts_with("refused\\n2026"), "{detail}");
        assert!(detail.len() <= DETAIL_MAX && detail.ends_with(safe::TRUNCATED));
        assert!(!detail.contains(['\n', '\r', '\0', '\u{202e}']));
    }

    #[test]
    fn an_entry_lists_a_bounded_number_of_references_and_says_how_many_more() {
        let refs = (0..REFERENCES_MAX + 7)
            .map(|i| format!("signal:nla/{i}"))
            .collect();
        let (refs, detail) = bounded_refs_and_detail(refs, "expired");
        assert_eq!(refs.len(), REFERENCES_MAX);
        assert_eq!(detail, "expired; 7 more reference(s) not listed");
        let (refs, detail) = bounded_refs_and_detail(vec!["hit:1".to_owned()], "read one hit");
        assert_eq!(
            (refs, detail.as_str()),
            (vec!["hit:1".to_owned()], "read one hit")
        );
    }
}
