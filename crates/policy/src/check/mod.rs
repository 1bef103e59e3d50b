//! From parsed files to a validated [`PolicySet`]: resolve every reference and apply every
//! semantic rule, collecting all problems instead of stopping at the first, so a privacy officer
//! sees the whole list in one run.
//!
//! The files are checked in the order they refer to each other: legal bases and attributes
//! (referring to nothing), purposes (to legal bases), partners (to purposes, legal bases and
//! attributes), recipients (to purposes, attributes and what partners share). Each file has a
//! module of its own; [`report`] holds how a problem is located and recorded.

mod attributes;
mod legal_bases;
mod partners;
mod purposes;
mod recipients;
mod report;
mod shares;

pub use purposes::MIN_MONITOR_CELL_SIZE;
pub use shares::{contact_problem, MAX_CONTACT};

use crate::files::{AttributesFile, LegalBasesFile, PartnerFile, PurposesFile, RecipientsFile};
use crate::problem::{Problem, Source};
use crate::PolicySet;
use report::{Catalogue, Checker};

/// The parsed files, each with the source it came from.
pub(crate) struct Parsed<'a> {
    pub legal_bases: Option<(&'a Source, LegalBasesFile)>,
    pub purposes: Option<(&'a Source, PurposesFile)>,
    pub attributes: Option<(&'a Source, AttributesFile)>,
    pub recipients: Option<(&'a Source, RecipientsFile)>,
    pub partners: Vec<(&'a Source, PartnerFile)>,
}

/// Checks every file of `parsed`; the set, or every problem found (warnings are kept in the set).
pub(crate) fn check(parsed: Parsed<'_>, version: String) -> Result<PolicySet, Vec<Problem>> {
    let mut c = Checker::default();
    // A catalogue that is missing or did not parse has its own problem; what refers to it waits.
    for (catalogue, read) in [
        (Catalogue::LegalBasis, parsed.legal_bases.is_some()),
        (Catalogue::Purpose, parsed.purposes.is_some()),
        (Catalogue::Attribute, parsed.attributes.is_some()),
    ] {
        if !read {
            c.unresolved.insert(catalogue);
        }
    }
    let legal_bases = legal_bases::check(&mut c, parsed.legal_bases.as_ref());
    let attributes = attributes::check(&mut c, parsed.attributes.as_ref());
    let purposes = purposes::check(&mut c, parsed.purposes.as_ref(), &legal_bases);
    let (partners, oin_index) = partners::check(
        &mut c,
        &parsed.partners,
        &partners::Catalogues {
            legal_bases: &legal_bases,
            purposes: &purposes,
            attributes: &attributes,
        },
    );
    let recipients = recipients::check(
        &mut c,
        parsed.recipients.as_ref(),
        &purposes,
        &attributes,
        &partners,
    );
    c.report_undefined(|catalogue| match catalogue {
        Catalogue::LegalBasis => legal_bases.keys().map(String::as_str).collect(),
        Catalogue::Purpose => purposes.keys().map(String::as_str).collect(),
        Catalogue::Attribute => attributes.keys().map(String::as_str).collect(),
    });
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(PolicySet {
        version,
        legal_bases,
        purposes,
        attributes,
        partners,
        oin_index,
        recipients,
        warnings: c.warnings,
    })
}
