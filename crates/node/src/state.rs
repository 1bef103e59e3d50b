//! A signal's state on the node, as `node_signals.state` holds it: SQL binds these as
//! parameters and reads them back through [`SignalState::parse`], so no state is spelled as a
//! string literal in a query.

use crate::NodeError;
use signaalnet_store::Store;
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalState {
    /// In the outbox: to be converted and delivered (again after a failure).
    Pending,
    Delivered,
    /// Refused by the coordinator on arrival; not tried again.
    Refused,
    /// Withdrawn by the partner; the outbox worker still has to tell the coordinator.
    WithdrawPending,
    Withdrawn,
    /// Past its purpose's retention: payload, lookups and case reference deleted.
    Expired,
}

impl SignalState {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Delivered,
        Self::Refused,
        Self::WithdrawPending,
        Self::Withdrawn,
        Self::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Refused => "refused",
            Self::WithdrawPending => "withdraw_pending",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    /// The state a stored text names; anything else means the row was not written by this code.
    pub fn parse(stored: &str) -> Result<Self, NodeError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| NodeError::Corrupt(format!("unknown signal state `{stored}`")))
    }
}

impl std::fmt::Display for SignalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Signals still waiting in a node's outbox (pending), read from its database: for the
/// benchmark, which waits for the outboxes to drain.
pub async fn pending_signals(store: &Store) -> Result<i64, NodeError> {
    Ok(
        sqlx::query("SELECT COUNT(*) AS n FROM node_signals WHERE state = $1")
            .bind(SignalState::Pending.as_str())
            .fetch_one(store.pool())
            .await?
            .get("n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_itself() {
        for state in SignalState::ALL {
            assert_eq!(SignalState::parse(state.as_str()).ok(), Some(state));
        }
        assert!(SignalState::parse("PENDING").is_err());
    }
}
