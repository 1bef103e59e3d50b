//! What a role records: one processing step, by whom, for which purpose and processing activity,
//! under which policy version, about which pseudonymous references. Built by the caller, written
//! by [`crate::Audit`]; a purpose the policy set does not know never enters a trail.

use crate::Step;
use signaalnet_policy::PolicySet;

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

    /// What happened, in words; never a raw identifier or attribute value.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn step(&self) -> Step {
        self.step
    }
}
