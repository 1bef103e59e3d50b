//! Witnessing, the pure part: what a witness accepts, what it countersigns, and the record of a
//! role's witnessed checkpoints that `signaalnet audit verify --witness` reads.
//!
//! A role's operator holds both its trail and its signing key, so checkpoints alone cannot show
//! that the end of the trail was cut off (checkpoints deleted with it) or that the trail was
//! rewritten and signed again. A witness run by another organisation keeps each checkpoint it
//! accepted and countersigns it; what it holds is out of the role operator's reach. It accepts
//! only a checkpoint that moves forward under the key it already holds for the caller:
//! a lower `seq` (going back), another hash at a `seq` it holds (equivocation) or another key
//! without a stated reason is refused ([`judge`]). The I/O is in `witnessing`.

use crate::entry::{checkpoint_message, key_id, Checkpoint};
use serde::{Deserialize, Serialize};

/// The longest `key_change_reason` a witness records.
pub const REASON_MAX: usize = 200;

/// The `format` of a witness record file.
pub const RECORD_FORMAT: &str = "signaalnet-witness-record-v1";

/// A checkpoint a caller offers a witness, with the caller's public key (32 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub checkpoint: Checkpoint,
    pub public_key: Vec<u8>,
    /// Why the caller's key changed, when it did; empty otherwise.
    pub key_change_reason: String,
}

/// A checkpoint a witness accepted from the role with OIN `oin`, with its countersignature: a
/// row of the witness's `audit_witnessed`, and the receipt the role keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witnessed {
    pub oin: String,
    pub seq: i64,
    pub hash: String,
    pub at_ms: i64,
    pub key_id: String,
    pub signature: String,
    /// The role's audit public key, hex.
    pub public_key: String,
    #[serde(default)]
    pub key_change_reason: String,
    pub witnessed_at_ms: i64,
    pub witness_oin: String,
    pub witness_key_id: String,
    /// The witness's signature over [`receipt_message`], hex.
    pub countersignature: String,
}

/// The bytes a witness countersigns: the caller's OIN and the checkpoint it accepted.
pub fn receipt_message(oin: &str, seq: i64, hash: &str, at_ms: i64) -> Vec<u8> {
    let mut message = b"signaalnet-audit-witness-v1\0".to_vec();
    message.extend_from_slice(&(oin.len() as u64).to_be_bytes());
    message.extend_from_slice(oin.as_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(&at_ms.to_be_bytes());
    message.extend_from_slice(hash.as_bytes());
    message
}

impl Witnessed {
    /// Whether the checkpoint carries the role's signature under the key it names, as the
    /// witness checked before accepting it.
    pub fn signed_by_role(&self) -> bool {
        let Ok(public_key) = hex::decode(&self.public_key) else {
            return false;
        };
        key_id(&public_key) == self.key_id
            && crate::key::signature_valid(
                &public_key,
                &checkpoint_message(self.seq, &self.hash, self.at_ms),
                &self.signature,
            )
    }

    /// Whether the countersignature verifies with the witness's public key.
    pub fn countersigned_by(&self, witness_public_key: &[u8]) -> bool {
        crate::key::signature_valid(
            witness_public_key,
            &receipt_message(&self.oin, self.seq, &self.hash, self.at_ms),
            &self.countersignature,
        )
    }
}

/// Why a witness refuses a checkpoint. Each names the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Objection {
    /// The request is malformed (not hex, wrong length, `key_id` not the key's id, …).
    #[error("{problem}")]
    Malformed {
        field: &'static str,
        problem: String,
    },
    /// The checkpoint's signature does not verify with the public key sent.
    #[error("the signature does not verify with the public key sent")]
    BadSignature,
    /// A role does not witness its own trail.
    #[error("a role does not witness its own audit trail")]
    OwnTrail,
    /// The witness holds a newer checkpoint of the caller.
    #[error("checkpoint {seq} goes back: this witness holds checkpoint {held} of the caller")]
    Backwards { seq: i64, held: i64 },
    /// The witness holds another hash at this `seq`.
    #[error("checkpoint {seq} signs hash {hash}, but this witness holds hash {held} at {seq}")]
    Equivocation {
        seq: i64,
        hash: String,
        held: String,
    },
    /// The caller signs under another key than the witness holds, and says not why.
    #[error(
        "the caller's audit key changed from {held} (held since checkpoint {since}) to {key_id} \
         without a key_change_reason"
    )]
    KeyChanged {
        key_id: String,
        held: String,
        since: i64,
    },
}

impl Objection {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Malformed { field, .. } => field,
            Self::BadSignature => "signature",
            Self::OwnTrail => "oin",
            Self::Backwards { .. } => "seq",
            Self::Equivocation { .. } => "hash",
            Self::KeyChanged { .. } => "public_key",
        }
    }

    /// A stable id of the rule the checkpoint broke.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "witness.malformed",
            Self::BadSignature => "witness.signature",
            Self::OwnTrail => "witness.own_trail",
            Self::Backwards { .. } => "witness.backwards",
            Self::Equivocation { .. } => "witness.equivocation",
            Self::KeyChanged { .. } => "witness.key_changed",
        }
    }

    /// Whether the request is well-formed but conflicts with what the witness holds
    /// (FAILED_PRECONDITION), as opposed to malformed (INVALID_ARGUMENT).
    pub fn conflicts(&self) -> bool {
        matches!(
            self,
            Self::Backwards { .. } | Self::Equivocation { .. } | Self::KeyChanged { .. }
        )
    }
}

/// What a witness does with an acceptable checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Not held yet: keep and countersign it.
    New,
    /// Held already (sent again): answer with the receipt given then.
    Again(Box<Witnessed>),
}

/// Judges `offered` against what the witness holds for the caller: `newest`, its newest record,
/// and `at_seq`, its record at the offered `seq`, if any.
pub fn judge(
    offered: &Offered,
    newest: Option<&Witnessed>,
    at_seq: Option<&Witnessed>,
) -> Result<Judgement, Objection> {
    check_form(offered)?;
    let c = &offered.checkpoint;
    if let Some(held) = at_seq {
        if held.hash != c.hash {
            return Err(Objection::Equivocation {
                seq: c.seq,
                hash: c.hash.clone(),
                held: held.hash.clone(),
            });
        }
        return Ok(Judgement::Again(Box::new(held.clone())));
    }
    let Some(newest) = newest else {
        return Ok(Judgement::New);
    };
    if c.seq < newest.seq {
        return Err(Objection::Backwards {
            seq: c.seq,
            held: newest.seq,
        });
    }
    if c.key_id != newest.key_id && offered.key_change_reason.trim().is_empty() {
        return Err(Objection::KeyChanged {
            key_id: c.key_id.clone(),
            held: newest.key_id.clone(),
            since: newest.seq,
        });
    }
    Ok(Judgement::New)
}

/// The checks that need nothing the witness holds.
fn check_form(offered: &Offered) -> Result<(), Objection> {
    let malformed = |field, problem: &str| {
        Err(Objection::Malformed {
            field,
            problem: problem.to_owned(),
        })
    };
    let c = &offered.checkpoint;
    if c.seq < 1 {
        return malformed("seq", "a checkpoint covers entry 1 or later");
    }
    if !is_lower_hex(&c.hash, 64) {
        return malformed("hash", "expected 64 lowercase hex characters");
    }
    if offered.public_key.len() != 32 {
        return malformed(
            "public_key",
            "expected an Ed25519 public key, 32 bytes in hex",
        );
    }
    if c.key_id != key_id(&offered.public_key) {
        return malformed("key_id", "is not the id of the public key sent");
    }
    if !is_lower_hex(&c.signature, 128) {
        return malformed("signature", "expected 128 lowercase hex characters");
    }
    if offered.key_change_reason.chars().count() > REASON_MAX {
        return malformed("key_change_reason", "at most 200 characters");
    }
    if offered.key_change_reason.chars().any(char::is_control) {
        return malformed("key_change_reason", "control characters are not allowed");
    }
    if !crate::key::signature_valid(
        &offered.public_key,
        &checkpoint_message(c.seq, &c.hash, c.at_ms),
        &c.signature,
    ) {
        return Err(Objection::BadSignature);
    }
    Ok(())
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a witness exported for one role (`signaalnet audit witnessed`): every checkpoint of the
/// role it accepted, oldest first, each countersigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_FORMAT`].
    pub format: String,
    pub witness_oin: String,
    /// The witness's audit public key, hex (check it against a copy kept apart with
    /// `--witness-public-key`).
    pub witness_public_key: String,
    /// The witnessed role's OIN.
    pub oin: String,
    pub exported_at_ms: i64,
    pub checkpoints: Vec<Witnessed>,
}

/// Why a witness record cannot be relied on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not a witness record (format `{0}`, expected `{RECORD_FORMAT}`)")]
    Format(String),
    #[error("the witness public key in the record is not 32 bytes of hex")]
    PublicKey,
    #[error("the record is of OIN {found}, not of {expected}")]
    OtherRole { found: String, expected: String },
    #[error(
        "checkpoint {seq}: the countersignature does not verify with witness key {key_id} (the \
         record was altered or comes from another witness)"
    )]
    Countersignature { seq: i64, key_id: String },
    /// The witnessed checkpoint does not carry the role's own signature: the witness could not
    /// have accepted it, so the record cannot stand against the role.
    #[error("checkpoint {seq}: the role's signature on it does not verify with the key it names")]
    CheckpointSignature { seq: i64 },
}

impl Record {
    /// Checks that the record is of the role with `oin` and that every checkpoint in it is
    /// countersigned by `witness_key` (the record's own key when `None`). Returns what was
    /// witnessed, for [`crate::Verifier::witnessed`].
    pub fn check(
        &self,
        oin: &str,
        witness_key: Option<&[u8]>,
    ) -> Result<Vec<Witnessed>, RecordError> {
        if self.format != RECORD_FORMAT {
            return Err(RecordError::Format(self.format.clone()));
        }
        let own = hex::decode(&self.witness_public_key).map_err(|_| RecordError::PublicKey)?;
        if own.len() != 32 {
            return Err(RecordError::PublicKey);
        }
        let key = witness_key.unwrap_or(&own);
        let id = key_id(key);
        if self.oin != oin {
            return Err(RecordError::OtherRole {
                found: self.oin.clone(),
                expected: oin.to_owned(),
            });
        }
        for w in &self.checkpoints {
            if w.oin != oin {
                return Err(RecordError::OtherRole {
                    found: w.oin.clone(),
                    expected: oin.to_owned(),
                });
            }
            if w.witness_key_id != id || !w.countersigned_by(key) {
                return Err(RecordError::Countersignature {
                    seq: w.seq,
                    key_id: id,
                });
            }
            if !w.signed_by_role() {
                return Err(RecordError::CheckpointSignature { seq: w.seq });
            }
        }
        Ok(self.checkpoints.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn pair() -> Ed25519KeyPair {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap()
    }

    fn offer(pair: &Ed25519KeyPair, seq: i64, hash_byte: char) -> Offered {
        let hash: String = std::iter::repeat_n(hash_byte, 64).collect();
        let public_key = pair.public_key().as_ref().to_vec();
        Offered {
            checkpoint: Checkpoint {
                seq,
                at_ms: 1_000 + seq,
                key_id: key_id(&public_key),
                signature: hex::encode(pair.sign(&checkpoint_message(seq, &hash, 1_000 + seq))),
                hash,
            },
            public_key,
            key_change_reason: String::new(),
        }
    }

    fn held(offered: &Offered) -> Witnessed {
        let c = &offered.checkpoint;
        Witnessed {
            oin: "00000001".into(),
            seq: c.seq,
            hash: c.hash.clone(),
            at_ms: c.at_ms,
            key_id: c.key_id.clone(),
            signature: c.signature.clone(),
            public_key: hex::encode(&offered.public_key),
            key_change_reason: String::new(),
            witnessed_at_ms: 5,
            witness_oin: "00000002".into(),
            witness_key_id: "w".into(),
            countersignature: String::new(),
        }
    }

    #[test]
    fn a_first_and_a_newer_checkpoint_are_new_and_one_sent_again_gets_its_receipt() {
        let key = pair();
        let first = offer(&key, 10, 'a');
        assert_eq!(judge(&first, None, None), Ok(Judgement::New));
        let h = held(&first);
        assert_eq!(
            judge(&offer(&key, 11, 'b'), Some(&h), None),
            Ok(Judgement::New)
        );
        assert_eq!(
            judge(&first, Some(&h), Some(&h)),
            Ok(Judgement::Again(Box::new(h.clone())))
        );
    }

    #[test]
    fn going_back_equivocating_and_an_unexplained_new_key_are_refused() {
        let key = pair();
        let h = held(&offer(&key, 10, 'a'));
        let back = judge(&offer(&key, 9, 'c'), Some(&h), None).unwrap_err();
        assert_eq!(back, Objection::Backwards { seq: 9, held: 10 });
        assert_eq!((back.field(), back.conflicts()), ("seq", true));
        let twice = judge(&offer(&key, 10, 'b'), Some(&h), Some(&h)).unwrap_err();
        assert!(matches!(twice, Objection::Equivocation { seq: 10, .. }));
        assert_eq!(twice.field(), "hash");
        let mut other = offer(&pair(), 11, 'd');
        let changed = judge(&other, Some(&h), None).unwrap_err();
        assert!(matches!(changed, Objection::KeyChanged { since: 10, .. }));
        assert_eq!(changed.field(), "public_key");
        other.key_change_reason =
            "key lost with the old server; new key ceremony 2026-12-01".into();
        assert_eq!(judge(&other, Some(&h), None), Ok(Judgement::New));
    }

    #[test]
    fn malformed_and_forged_checkpoints_are_refused_naming_the_field() {
        let key = pair();
        let mut bad = offer(&key, 3, 'a');
        bad.checkpoint.at_ms += 1;
        assert_eq!(judge(&bad, None, None), Err(Objection::BadSignature));
        let mut bad = offer(&key, 0, 'a');
        assert_eq!(judge(&bad, None, None).unwrap_err().field(), "seq");
        bad = offer(&key, 3, 'A');
        assert_eq!(judge(&bad, None, None).unwrap_err().field(), "hash");
        bad = offer(&key, 3, 'a');
        bad.checkpoint.key_id = "0011223344556677".into();
        assert_eq!(judge(&bad, None, None).unwrap_err().field(), "key_id");
        bad = offer(&key, 3, 'a');
        bad.public_key.pop();
        assert_eq!(judge(&bad, None, None).unwrap_err().field(), "public_key");
        bad = offer(&key, 3, 'a');
        bad.key_change_reason = "x".repeat(REASON_MAX + 1);
        let e = judge(&bad, None, None).unwrap_err();
        assert_eq!((e.field(), e.conflicts()), ("key_change_reason", false));
    }

    #[test]
    fn a_record_holds_only_when_every_countersignature_verifies() {
        let witness = pair();
        let wkey = witness.public_key().as_ref().to_vec();
        let role = pair();
        let mut w = held(&offer(&role, 4, 'a'));
        assert!(w.signed_by_role());
        w.witness_key_id = key_id(&wkey);
        w.countersignature =
            hex::encode(witness.sign(&receipt_message(&w.oin, w.seq, &w.hash, w.at_ms)));
        let record = Record {
            format: RECORD_FORMAT.into(),
            witness_oin: w.witness_oin.clone(),
            witness_public_key: hex::encode(&wkey),
            oin: w.oin.clone(),
            exported_at_ms: 9,
            checkpoints: vec![w.clone()],
        };
        assert_eq!(record.check(&w.oin, None), Ok(vec![w.clone()]));
        assert_eq!(record.check(&w.oin, Some(&wkey)), Ok(vec![w.clone()]));
        let other = pair();
        assert!(matches!(
            record.check(&w.oin, Some(other.public_key().as_ref())),
            Err(RecordError::Countersignature { seq: 4, .. })
        ));
        assert!(matches!(
            record.check("00000009", None),
            Err(RecordError::OtherRole { .. })
        ));
        let mut altered = record.clone();
        altered.checkpoints[0].hash = "b".repeat(64);
        assert!(altered.check(&w.oin, None).is_err());
        // Countersigned, but never signed by the role: a witness's word alone does not stand.
        let mut made_up = w.clone();
        made_up.signature = "00".repeat(64);
        let mut record = record;
        record.checkpoints = vec![made_up];
        assert_eq!(
            record.check(&w.oin, None),
            Err(RecordError::CheckpointSignature { seq: 4 })
        );
    }
}
