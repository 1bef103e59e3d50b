//! The validated policy set: every reference resolved, every duration parsed, every rule
//! checked. Only [`crate::PolicySet::load`] and [`crate::PolicySet::from_sources`] build one.

use crate::duration::IsoDuration;
pub use crate::files::{AttributeKind, PartnerRole, RecipientRole, Sensitivity};
pub use crate::limits::{Alarms, Grant, Limits};
pub use crate::match_keys::PersonMatchKey;
use signaalnet_identifier::IdentifierKind;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub struct LegalBasis {
    pub id: String,
    pub citation: String,
    pub description: String,
    pub permits: BTreeSet<Sensitivity>,
}

#[derive(Debug, Clone)]
pub struct Purpose {
    pub id: String,
    pub name: String,
    pub description: String,
    pub legal_bases: Vec<String>,
    pub processing_activity_id: String,
    pub data_subjects: Vec<String>,
    /// The person match keys that may link signals for this purpose.
    pub person_match_keys: BTreeSet<PersonMatchKey>,
    pub retention_unmatched: IsoDuration,
    pub retention_hits: IsoDuration,
    pub match_window: IsoDuration,
    pub min_distinct_partners: u32,
    /// Set for monitor purposes: only aggregates leave.
    pub monitor: Option<Monitor>,
    /// When a partner's pattern for this purpose raises an alarm.
    pub alarms: Alarms,
}

/// How a monitor purpose counts and protects its tables (`docs/monitor.md`).
#[derive(Debug, Clone)]
pub struct Monitor {
    /// Purposes whose signals are counted.
    pub aggregates_of: Vec<String>,
    /// Cells below this count are suppressed.
    pub min_cell_size: u32,
    /// How published cells are protected.
    pub disclosure: Disclosure,
    /// What one unit of a count is.
    pub counts: Counting,
    /// A signal counts only once this long has passed since it arrived at the coordinator
    /// (rounded to the start of that month), so a contributor cannot pad a cell and withdraw.
    pub counting_delay: IsoDuration,
}

/// The statistical disclosure control of a monitor purpose's published cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// The cell-key method: each published count is the true count plus noise of at most
    /// `noise_bound`, fixed by the set of records in the cell.
    CellKey { noise_bound: u32 },
}

/// What a monitor purpose counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Signals, at most `max_per_person` of one person (`None`: no cap).
    Signals { max_per_person: Option<u32> },
    /// Distinct persons or cases: signals sharing a person-identifying pseudonym (BSN or
    /// name and date of birth) within a purpose count once; a signal without one is a case.
    Persons,
}

impl Counting {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Signals { .. } => "signals",
            Self::Persons => "persons",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub id: String,
    pub name: String,
    pub description: String,
    pub kind: AttributeKind,
    /// Allowed values of an enum attribute; empty for other kinds.
    pub values: Vec<String>,
    pub sensitivity: Sensitivity,
}

impl Attribute {
    /// Checks a value against the attribute's type. The error says what is expected; it does
    /// not repeat the value (attribute values are not identifiers, but the same habit is cheap).
    pub fn check_value(&self, value: &str) -> Result<(), InvalidValue> {
        let ok = match self.kind {
            AttributeKind::Enum => self.values.iter().any(|v| v == value),
            AttributeKind::Boolean => matches!(value, "true" | "false"),
            AttributeKind::Month => {
                let b = value.as_bytes();
                b.len() == 7
                    && b[4] == b'-'
                    && b[..4].iter().all(u8::is_ascii_digit)
                    && b[5..].iter().all(u8::is_ascii_digit)
                    && matches!(value[5..].parse::<u8>(), Ok(1..=12))
                    && matches!(value[..4].parse::<u16>(), Ok(2000..=2099))
            }
            AttributeKind::Municipality => {
                let b = value.as_bytes();
                b.len() == 6 && value.starts_with("GM") && b[2..].iter().all(u8::is_ascii_digit)
            }
        };
        if ok {
            return Ok(());
        }
        Err(match self.kind {
            AttributeKind::Enum => InvalidValue::NotListed(self.values.clone()),
            AttributeKind::Boolean => InvalidValue::NotBoolean,
            AttributeKind::Month => InvalidValue::NotMonth,
            AttributeKind::Municipality => InvalidValue::NotMunicipality,
        })
    }
}

/// What an attribute value should have been; the message reads after the attribute's name
/// ("attribute `fase` must be one of: …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// Not one of the enum's values, which it lists.
    #[error("must be one of: {}", .0.join(", "))]
    NotListed(Vec<String>),
    #[error("must be true or false")]
    NotBoolean,
    #[error("must be a month YYYY-MM between 2000 and 2099")]
    NotMonth,
    #[error("must be a CBS municipality code: GM followed by 4 digits")]
    NotMunicipality,
}

#[derive(Debug, Clone)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub role: PartnerRole,
    pub oins: Vec<String>,
    pub recipient_roles: BTreeSet<RecipientRole>,
    /// Per purpose id: what this partner may share.
    pub shares: BTreeMap<String, Share>,
    /// File the partner was defined in, relative to the policy directory.
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct Share {
    pub legal_basis: String,
    pub identifier_kinds: BTreeSet<IdentifierKind>,
    pub attributes: BTreeSet<String>,
    /// How many identifiers per signal and per 24 hours.
    pub limits: Limits,
    /// The partner's contact point for the purpose (a functional address), if it has one.
    pub contact: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RecipientView {
    pub role: RecipientRole,
    pub purpose: String,
    pub attributes: BTreeSet<String>,
    pub sees_identifier_kinds: bool,
    pub sees_partner_roles: bool,
    /// Sees the other partners' contact points in a hit (role `partner` only).
    pub sees_contact_points: bool,
}
