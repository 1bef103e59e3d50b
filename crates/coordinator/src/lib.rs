//! The coordinator: sees matching-domain pseudonyms and the attributes policy lets through,
//! never an identifier.
#![forbid(unsafe_code)]

pub mod matching;
