//! The processing steps a trail records, by the names stored in `audit_entries.step`.

use std::fmt;
use std::str::FromStr;

/// The processing steps the trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// A partner system's signal accepted by its node.
    Submit,
    /// A signal, request or policy set refused (the detail says by which rule).
    Refuse,
    /// Signals sent from the node's outbox to the transcryptors and the coordinator.
    Forward,
    /// A batch converted by a transcryptor.
    Transcrypt,
    /// A key share handed to the coordinator.
    KeyShare,
    /// A signal received by the coordinator and matched.
    Match,
    /// A hit notification: created for a partner (coordinator) or received (node).
    Notify,
    /// A partner's question about its own signals (status, its hits).
    Query,
    AnalystQuery,
    MonitorQuery,
    Withdraw,
    Expire,
    /// A policy set taken into force (at start or by reload).
    PolicyChange,
    /// A partner's pattern crossed a policy threshold (withdrawals right after hits, an
    /// unusual hit rate): counts only, never an identifier or a case reference.
    Alarm,
    /// Another role's audit checkpoint kept and countersigned (this role is its witness).
    Witness,
    /// A case consultation on a hit: asked or answered by a partner (node), routed to the
    /// other partners of the hit and back (coordinator), received (node). Hit and consultation
    /// ids and reason codes only, never case data.
    Consult,
}

impl Step {
    pub const ALL: [Step; 16] = [
        Step::Submit,
        Step::Refuse,
        Step::Forward,
        Step::Transcrypt,
        Step::KeyShare,
        Step::Match,
        Step::Notify,
        Step::Query,
        Step::AnalystQuery,
        Step::MonitorQuery,
        Step::Withdraw,
        Step::Expire,
        Step::PolicyChange,
        Step::Alarm,
        Step::Witness,
        Step::Consult,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::Refuse => "refuse",
            Step::Forward => "forward",
            Step::Transcrypt => "transcrypt",
            Step::KeyShare => "key_share",
            Step::Match => "match",
            Step::Notify => "notify",
            Step::Query => "query",
            Step::AnalystQuery => "analyst_query",
            Step::MonitorQuery => "monitor_query",
            Step::Withdraw => "withdraw",
            Step::Expire => "expire",
            Step::PolicyChange => "policy_change",
            Step::Alarm => "alarm",
            Step::Witness => "witness",
            Step::Consult => "consult",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Step {
    type Err = UnknownStep;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| UnknownStep(s.to_owned()))
    }
}

/// A name that is not one of [`Step::ALL`] (e.g. in `signaalnet audit show --step`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown step `{0}`; one of: {names}", names = step_names())]
pub struct UnknownStep(pub String);

fn step_names() -> String {
    Step::ALL.map(Step::as_str).join(", ")
}
