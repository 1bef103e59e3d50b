//! The policy set a running role enforces, replaced whole when a new valid (and, where
//! required, signed) set is loaded. Readers take the current set once per request and use that
//! one throughout, so a request never sees half of one set and half of another.

use crate::PolicySet;
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone)]
pub struct LivePolicy {
    current: Arc<RwLock<Arc<PolicySet>>>,
}

impl LivePolicy {
    pub fn new(set: PolicySet) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(set))),
        }
    }

    /// The set in force now.
    pub fn current(&self) -> Arc<PolicySet> {
        // A writer cannot panic half-way through replacing an `Arc`, so a poisoned lock
        // still holds a whole set.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts `set` in force and returns the set it replaced.
    pub fn replace(&self, set: PolicySet) -> Arc<PolicySet> {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *guard, Arc::new(set))
    }

    pub fn version(&self) -> String {
        self.current().version().to_owned()
    }
}
