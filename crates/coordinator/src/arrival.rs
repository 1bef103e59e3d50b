//! The checks on a delivered signal's arrival, before anything is decrypted: the partner may
//! deliver, every field is well-formed, one proof per transcryptor, and policy (with the
//! coordinator's own policy set) allows it. A failed check is that signal's answer.

use crate::core::{Coordinator, Outcome};
use crate::matching::month_index;
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::signal_check::check_signal;
use signaalnet_policy::{Partner, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::{ConversionProof, EncryptedIdentifier, OriginProof};
use signaalnet_service::convert::{kind_from_wire, submits_signals};
use tonic::Code;

/// Longest accepted signal id (the node's own ids are far shorter).
const MAX_SIGNAL_ID: usize = 64;
const MAX_ATTRIBUTES: usize = 64;
const MAX_IDENTIFIERS: usize = 256;

/// A signal that passed the checks on arrival.
pub(crate) struct Checked {
    pub(crate) month: i32,
    pub(crate) partner: String,
    pub(crate) purpose: String,
    pub(crate) kinds: Vec<IdentifierKind>,
    pub(crate) ciphertexts: Vec<EncryptedIdentifier>,
    /// Per identifier, one proof per transcryptor in the order of the chain.
    pub(crate) proofs: Vec<Vec<ConversionProof>>,
    pub(crate) origins: Vec<OriginProof>,
}

impl Coordinator {
    pub(crate) fn check(
        &self,
        policy: &PolicySet,
        partner: &Partner,
        signal: &pb::EncryptedSignal,
    ) -> Result<Checked, Outcome> {
        let invalid = |m: String| Err(Outcome::refuse(Code::InvalidArgument, m));
        if !submits_signals(partner.role) {
            return Err(Outcome::refuse(
                Code::PermissionDenied,
                format!(
                    "`{}` has role {} and may not deliver signals",
                    partner.id,
                    partner.role.as_str()
                ),
            ));
        }
        if signal.signal_id.is_empty() || signal.signal_id.len() > MAX_SIGNAL_ID {
            return invalid(format!(
                "signal_id: must be 1 to {MAX_SIGNAL_ID} characters"
            ));
        }
        let Some(month) = month_index(&signal.observed_month) else {
            return invalid("observed_month: must be YYYY-MM".into());
        };
        if signal.identifiers.is_empty() || signal.identifiers.len() > MAX_IDENTIFIERS {
            return invalid(format!(
                "identifiers: must hold 1 to {MAX_IDENTIFIERS} identifiers"
            ));
        }
        if signal.attributes.len() > MAX_ATTRIBUTES {
            return invalid(format!("attributes: at most {MAX_ATTRIBUTES}"));
        }
        let mut kinds = Vec::with_capacity(signal.identifiers.len());
        let mut ciphertexts = Vec::with_capacity(signal.identifiers.len());
        let mut proofs = Vec::with_capacity(signal.identifiers.len());
        let mut origins = Vec::with_capacity(signal.identifiers.len());
        for (i, identifier) in signal.identifiers.iter().enumerate() {
            let Some(kind) = kind_from_wire(identifier.kind) else {
                return invalid(format!(
                    "identifiers[{i}].kind: unspecified or unknown kind"
                ));
            };
            let ciphertext =
                EncryptedIdentifier::from_bytes(&identifier.ciphertext).map_err(|e| {
                    Outcome::refuse(
                        Code::InvalidArgument,
                        format!("identifiers[{i}].ciphertext: {e}"),
                    )
                })?;
            let transcryptors = self.decryptor.transcryptors();
            if identifier.proofs.len() != transcryptors {
                return invalid(format!(
                    "identifiers[{i}].proofs: one proof per transcryptor ({transcryptors}), got {}",
                    identifier.proofs.len()
                ));
            }
            let item_proofs = identifier
                .proofs
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    ConversionProof::from_bytes(p).map_err(|e| {
                        Outcome::refuse(
                            Code::InvalidArgument,
                            format!("identifiers[{i}].proofs[{j}]: {e}"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let origin = OriginProof::from_bytes(&identifier.origin_proof).map_err(|e| {
                Outcome::refuse(Code::InvalidArgument, format!("identifiers[{i}].{e}"))
            })?;
            kinds.push(kind);
            ciphertexts.push(ciphertext);
            proofs.push(item_proofs);
            origins.push(origin);
        }
        // Policy is checked again on arrival, with the coordinator's own policy set.
        let decision = check_signal(
            policy,
            &partner.id,
            &signal.purpose,
            kinds.iter().copied(),
            signal
                .attributes
                .iter()
                .map(|a| (a.id.as_str(), a.value.as_str())),
        );
        if !decision.is_allowed() {
            let list: Vec<String> = decision.refusals.iter().map(ToString::to_string).collect();
            for refusal in &decision.refusals {
                self.metrics.refused(refusal.rule);
            }
            // Only a purpose of the policy set is named in the log, never a sender's free text.
            tracing::warn!(
                partner = %partner.id,
                purpose = policy.purpose(&signal.purpose).map_or("(not in the policy set)", |p| p.id.as_str()),
                refusals = decision.refusals.len(),
                "signal refused by policy on arrival"
            );
            return Err(Outcome::refuse(
                Code::PermissionDenied,
                format!(
                    "refused by policy {}: {}",
                    policy.version(),
                    list.join("; ")
                ),
            ));
        }
        if policy
            .purpose(&signal.purpose)
            .is_some_and(|p| p.monitor.is_some())
        {
            return invalid(format!(
                "purpose: `{}` is aggregates-only; submit signals for the purposes it counts",
                signal.purpose
            ));
        }
        Ok(Checked {
            month,
            partner: partner.id.clone(),
            purpose: signal.purpose.clone(),
            kinds,
            ciphertexts,
            proofs,
            origins,
        })
    }
}
