//! The policy files as written by privacy officers: plain serde structs with
//! `deny_unknown_fields`, every name that is referred to elsewhere kept with its position so an
//! error can point at the line.
//!
//! Layout of a policy directory:
//!
//! ```text
//! legal_bases.toml    [[legal_basis]]  the grounds processing rests on, and which data classes each permits
//! purposes.toml       [[purpose]]      why data is processed, retention, match window, monitor cell size
//! attributes.toml     [[attribute]]    the catalogue of attributes a signal may carry
//! recipients.toml     [[recipient]]    which recipient role sees which attributes of a hit, per purpose
//! partners/*.toml     one file per organisation: OINs, role, and what it may share for which purpose
//! ```

use serde::Deserialize;
use toml::Spanned;

pub type Name = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasesFile {
    #[serde(default)]
    pub legal_basis: Vec<LegalBasisEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasisEntry {
    pub id: Name,
    pub citation: String,
    pub description: String,
    /// Data classes (`basic`, `special`, `criminal`, `police`) this basis permits sharing.
    pub permits: Vec<Spanned<Sensitivity>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposesFile {
    #[serde(default)]
    pub purpose: Vec<PurposeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeEntry {
    pub id: Name,
    pub name: String,
    pub description: String,
    /// The legal bases a partner may invoke to share for this purpose.
    pub legal_bases: Vec<Name>,
    /// The processing activity in the register (Logboek Dataverwerkingen
    /// `dpl.core.processing_activity_id`).
    pub processing_activity_id: Name,
    pub data_subjects: Vec<String>,
    /// Which of a person's match keys (`full`, `initial`, `loose`) may link signals for this
    /// purpose; all of them where left out.
    pub person_match_keys: Option<Spanned<Vec<Name>>>,
    pub retention_unmatched: Spanned<String>,
    pub retention_hits: Spanned<String>,
    pub match_window: Spanned<String>,
    #[serde(default = "default_min_partners")]
    pub min_distinct_partners: Spanned<i64>,
    /// Monitor purposes: only counts leave, never a hit or a pseudonym.
    #[serde(default)]
    pub aggregates_only: bool,
    /// For monitor purposes: the purposes whose signals are counted.
    #[serde(default)]
    pub aggregates_of: Vec<Name>,
    /// For monitor purposes: cells with fewer signals than this are suppressed.
    pub min_cell_size: Option<Spanned<i64>>,
    /// For monitor purposes: how published cells are protected (`cell_key`).
    pub disclosure: Option<Spanned<String>>,
    /// For monitor purposes, cell key: the largest noise added to a published count.
    pub noise_bound: Option<Spanned<i64>>,
    /// For monitor purposes: `signals` (default) or `persons`.
    pub counts: Option<Spanned<String>>,
    /// For monitor purposes counting signals: at most this many signals of one person count.
    pub max_signals_per_person: Option<Spanned<i64>>,
    /// For monitor purposes: how long after its arrival a signal starts to count.
    pub counting_delay: Option<Spanned<String>>,
    /// When a partner's pattern for this purpose raises an alarm; defaults where left out.
    pub alarms: Option<Spanned<AlarmsEntry>>,
}

/// Alarm thresholds of a purpose (`alarms = { … }`), each over the last 24 hours per partner.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmsEntry {
    /// This many signals withdrawn soon after they were part of a hit raise an alarm.
    pub withdrawals_after_hit: Option<Spanned<i64>>,
    /// "Soon": within this many minutes of the signal's arrival.
    pub withdrawn_within_minutes: Option<Spanned<i64>>,
    /// A share of signals in a hit at or above this percentage raises an alarm …
    pub hit_rate_percent: Option<Spanned<i64>>,
    /// … once the partner submitted at least this many signals.
    pub hit_rate_min_signals: Option<Spanned<i64>>,
}

fn default_min_partners() -> Spanned<i64> {
    Spanned::new(0..0, 2)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributesFile {
    #[serde(default)]
    pub attribute: Vec<AttributeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeEntry {
    pub id: Name,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: Spanned<AttributeKind>,
    #[serde(default)]
    pub values: Vec<Name>,
    pub sensitivity: Sensitivity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    /// One of `values`.
    Enum,
    /// `YYYY-MM`.
    Month,
    /// CBS municipality code `GM` + 4 digits.
    Municipality,
    /// `true` / `false`.
    Boolean,
}

/// How sensitive an attribute is, in the AVG's and the Wpg's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Ordinary personal data.
    Basic,
    /// Special categories, AVG art. 9 (health, sex life, ethnicity …).
    Special,
    /// Criminal-law data, AVG art. 10 (suspicions and offences).
    Criminal,
    /// Police data under the Wet politiegegevens.
    Police,
}

impl Sensitivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Special => "special",
            Self::Criminal => "criminal",
            Self::Police => "police",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientsFile {
    #[serde(default)]
    pub recipient: Vec<RecipientEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientEntry {
    pub role: Spanned<RecipientRole>,
    pub purpose: Name,
    /// Attributes of a hit this role may see for this purpose.
    #[serde(default)]
    pub attributes: Vec<Name>,
    /// Whether the role sees which identifier kinds met (e.g. "person and address").
    #[serde(default)]
    pub sees_identifier_kinds: bool,
    /// Whether the role sees which partner roles are involved (not which organisations).
    #[serde(default)]
    pub sees_partner_roles: bool,
    /// Whether the role sees the contact points of the other partners in a hit (functional
    /// addresses, which do name their organisations). Only for role `partner`.
    #[serde(default)]
    pub sees_contact_points: Option<Spanned<bool>>,
}

/// Who receives information about hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientRole {
    /// A partner node, about hits that contain its own signals.
    Partner,
    RiecAnalist,
    Ketenregisseur,
    Zorgcoordinator,
}

impl RecipientRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Partner => "partner",
            Self::RiecAnalist => "riec_analist",
            Self::Ketenregisseur => "ketenregisseur",
            Self::Zorgcoordinator => "zorgcoordinator",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerFile {
    pub id: Name,
    pub name: String,
    pub role: Spanned<PartnerRole>,
    pub oins: Vec<Name>,
    /// Recipient roles people of this organisation may act in (analyst API).
    #[serde(default)]
    pub recipient_roles: Vec<Spanned<RecipientRole>>,
    #[serde(default)]
    pub share: Vec<ShareEntry>,
}

/// The kind of organisation, as the certificate's OIN maps to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerRole {
    Gemeente,
    Politie,
    Nla,
    Zvh,
    Riec,
    /// Runs a transcryptor: converts ciphertexts, never shares or receives signals.
    Transcryptor,
    /// Runs the coordinator: matches, never shares or receives as a partner.
    Coordinator,
}

impl PartnerRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gemeente => "gemeente",
            Self::Politie => "politie",
            Self::Nla => "nla",
            Self::Zvh => "zvh",
            Self::Riec => "riec",
            Self::Transcryptor => "transcryptor",
            Self::Coordinator => "coordinator",
        }
    }

    /// Transcryptors and the coordinator: infrastructure, not chain partners.
    pub fn is_infrastructure(self) -> bool {
        matches!(self, Self::Transcryptor | Self::Coordinator)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareEntry {
    pub purpose: Name,
    pub legal_basis: Name,
    pub identifier_kinds: Vec<Name>,
    #[serde(default)]
    pub attributes: Vec<Name>,
    /// Probing limits; the defaults apply where left out.
    pub limits: Option<Spanned<LimitsEntry>>,
    /// A bulk cross-check: higher limits, granted explicitly and with a reason.
    pub bulk: Option<Spanned<BulkEntry>>,
    /// The partner's contact point for this purpose: a functional e-mail address of its
    /// aandachtsfunctionaris or team (`mensenhandel@groningen.nl`), never a person's. Shown to
    /// the other partners of a hit as their recipient view allows, and sent with a
    /// consultation request or acceptance.
    pub contact: Option<Spanned<String>>,
}

/// How many identifiers a partner may have matched for a purpose (`limits = { … }`). An
/// identifier counts as the match keys it is sent as: a person 3 (2 without a given name, fewer
/// where the purpose's `person_match_keys` leaves keys out), every other kind 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsEntry {
    pub identifiers_per_signal: Option<Spanned<i64>>,
    /// Over any 24 hours (a sliding window, not a calendar day).
    pub identifiers_per_day: Option<Spanned<i64>>,
}

/// An explicit grant for a bulk cross-check (`[share.bulk]`): replaces the share's limits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkEntry {
    pub identifiers_per_signal: Spanned<i64>,
    pub identifiers_per_day: Spanned<i64>,
    /// Why, in words the register can show: the decision and who took it.
    pub reason: Spanned<String>,
}
