use thiserror::Error;

/// Why a pseudonymisation step was refused. Messages describe sizes, positions and roles, never
/// values.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PseudonymError {
    #[error("{field}: {problem}")]
    Malformed {
        field: &'static str,
        problem: &'static str,
    },
    #[error("a key ceremony needs 1 to 8 transcryptors, got {0}")]
    NoTranscryptors(usize),
    #[error(
        "ceremony record: the contribution of transcryptor {transcryptor} is refused: {problem}"
    )]
    Ceremony {
        transcryptor: usize,
        problem: &'static str,
    },
    #[error(
        "ceremony record: it is transcryptor {expected}'s turn (of {of}), not transcryptor \
         {got}'s; hand the record on in the order of the chain"
    )]
    CeremonyTurn {
        expected: usize,
        got: usize,
        of: usize,
    },
    #[error(
        "ceremony record: {contributed} of {of} transcryptors have contributed; it is not complete"
    )]
    CeremonyIncomplete { contributed: usize, of: usize },
    #[error(
        "these transcryptor secrets are not the ones transcryptor {index} committed to in the \
         ceremony record (wrong secret file, or a record of another ceremony)"
    )]
    NotInCeremony { index: usize },
    #[error(
        "the coordinator needs one key share from each of the {expected} transcryptors, got {got}"
    )]
    WrongShareCount { expected: usize, got: usize },
    #[error(
        "the key share of transcryptor {index} does not match its commitments in the ceremony \
         record"
    )]
    KeyShareInvalid { index: usize },
    #[error(
        "encrypted for another key than the one transcryptor {step} accepts; conversion follows \
         the fixed order of the chain, starting from the global public key"
    )]
    WrongStepKey { step: usize },
    #[error(
        "the origin proof does not show that the caller made this ciphertext for this purpose \
         and identifier kind (a ciphertext made by another partner, or for another purpose, is \
         not converted)"
    )]
    OriginInvalid,
    #[error("expected one conversion proof per transcryptor ({expected}), got {got}")]
    WrongProofCount { expected: usize, got: usize },
    #[error(
        "the conversion by transcryptor {step} does not verify against its commitments: that \
         transcryptor converted wrongly or the proof was altered"
    )]
    ConversionInvalid { step: usize },
}
