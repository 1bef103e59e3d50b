//! Decryption of a checked signal: every transcryptor's conversion is verified against its
//! pinned commitments before the pseudonyms are used for matching.

use crate::arrival::Checked;
use crate::core::Outcome;
use crate::matching::Pseudonym;
use signaalnet_identifier::IdentifierKind;
use signaalnet_pseudonym::{
    CoordinatorDecryptor, DomainCommitments, MatchDomain, Origin, PseudonymError,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tonic::Code;

/// A checked signal, decrypted.
#[derive(Clone)]
pub(crate) struct Ready {
    pub(crate) month: i32,
    /// Identifiers as delivered (the keys are their distinct pseudonyms).
    pub(crate) identifiers: usize,
    pub(crate) keys: Vec<(IdentifierKind, Pseudonym)>,
}

/// Verifies every conversion of one checked signal and decrypts it into its distinct
/// pseudonyms. A conversion that does not verify is answered with ABORTED, naming the
/// transcryptor: the node keeps the signal and converts it again.
pub(crate) fn decrypt(
    decryptor: &CoordinatorDecryptor,
    commitments: &HashMap<MatchDomain, Arc<DomainCommitments>>,
    checked: &Checked,
) -> Result<Ready, Outcome> {
    let mut keys = BTreeSet::new();
    for (i, (((kind, ciphertext), proofs), origin)) in checked
        .kinds
        .iter()
        .zip(&checked.ciphertexts)
        .zip(&checked.proofs)
        .zip(&checked.origins)
        .enumerate()
    {
        let made_for = Origin {
            partner: &checked.partner,
            purpose: &checked.purpose,
            kind: *kind,
        };
        if let Err(e) = made_for.verify(ciphertext, origin) {
            return Err(Outcome::refuse(
                Code::PermissionDenied,
                format!("identifiers[{i}].origin_proof: {e}"),
            ));
        }
        let domain = MatchDomain::new(&checked.purpose, *kind)
            .map_err(|e| Outcome::refuse(Code::InvalidArgument, format!("purpose: {e}")))?;
        let Some(domain_commitments) = commitments.get(&domain) else {
            return Err(Outcome::refuse(
                Code::Unavailable,
                "the transcryptors' commitments for this purpose could not be fetched; retry",
            ));
        };
        match decryptor.verify_and_decrypt(ciphertext, proofs, domain_commitments) {
            Ok(p) => {
                keys.insert((*kind, *p.as_bytes()));
            }
            Err(e @ PseudonymError::ConversionInvalid { step }) => {
                tracing::error!(
                    transcryptor = step,
                    identifier = i,
                    "a conversion proof does not verify; the signal is not stored"
                );
                return Err(Outcome::refuse(
                    Code::Aborted,
                    format!("identifiers[{i}]: {e}"),
                ));
            }
            Err(e) => {
                return Err(Outcome::refuse(
                    Code::InvalidArgument,
                    format!("identifiers[{i}].ciphertext: {e}"),
                ))
            }
        }
    }
    Ok(Ready {
        month: checked.month,
        identifiers: checked.kinds.len(),
        keys: keys.into_iter().collect(),
    })
}
