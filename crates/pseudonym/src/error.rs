use thiserror::Error;

/// Why a pseudonymisation step was refused. Messages describe sizes and roles, never values.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PseudonymError {
    #[error("{field}: {problem}")]
    Malformed {
        field: &'static str,
        problem: &'static str,
    },
    #[error("a key ceremony needs at least 1 transcryptor, got {0}")]
    NoTranscryptors(usize),
    #[error(
        "the coordinator needs one key share from each of the {expected} transcryptors, got {got}"
    )]
    WrongShareCount { expected: usize, got: usize },
    #[error(
        "the ciphertext is not encrypted for the coordinator's session key: it has not been \
         converted by all transcryptors (or was converted for another coordinator context)"
    )]
    NotFullyConverted,
}
