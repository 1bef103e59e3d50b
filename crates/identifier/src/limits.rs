//! The longest value accepted in each field, in characters (Unicode scalar values), checked
//! before any normalisation so a megabyte of input costs no more than a byte-length comparison.
//!
//! Each limit is the longest real value plus room for the ways people write it (spaces, dots,
//! dashes, a profile link around a handle), never so tight that a real value is refused:
//!
//! - Names follow the BRP (Logisch Ontwerp BRP, categorie 01 Persoon): voornamen (01.02.10) at
//!   most 200 positions, voorvoegsel geslachtsnaam (01.02.30) at most 10, geslachtsnaam
//!   (01.02.40) at most 200. The surname field here may carry the voorvoegsel ("van der Berg",
//!   "Berg, van der"), hence 200 + 10 + the two characters of `, `.
//! - Numbers (BSN, KvK, RSIN, BAG id, postcode, huisnummer) are a few digits long; their limits
//!   leave room for separators only.
//! - A phone number has at most 15 digits (ITU-T E.164); 64 characters leave room for `+`,
//!   `00`, `(0)` and spacing.
//! - An IBAN has at most 34 characters (ISO 13616), 42 when written in groups of four.
//! - A handle is at most 64 characters (the longest any listed platform allows is Telegram's
//!   32 and X's 15; Instagram 30, TikTok 24); 512 leaves room for a profile link with a
//!   tracking query string.

/// `person.surname`: BRP geslachtsnaam 200 + voorvoegsel 10 + `, ` between them.
pub const SURNAME: usize = 212;
/// `person.given_names`: BRP voornamen.
pub const GIVEN_NAMES: usize = 200;
/// `person.date_of_birth`: the longest accepted form is 10 characters.
pub const DATE_OF_BIRTH: usize = 32;
/// `bsn`: 9 digits with separators.
pub const BSN: usize = 32;
/// `address.postcode`: `1234 AB`.
pub const POSTCODE: usize = 16;
/// `address.huisnummer`: at most 5 digits (BAG), with an inline addition.
pub const HUISNUMMER: usize = 16;
/// `address.toevoeging`: huisletter (1) and huisnummertoevoeging (4) with separators.
pub const TOEVOEGING: usize = 16;
/// `address.bag_verblijfsobject_id`: 16 digits with spacing.
pub const BAG_ID: usize = 32;
/// `organisation.kvk` and `organisation.rsin`: 8 or 9 digits with separators.
pub const ORGANISATION_NUMBER: usize = 32;
/// `phone`: E.164's 15 digits with prefixes and spacing.
pub const PHONE: usize = 64;
/// `iban`: 34 characters, written in groups.
pub const IBAN: usize = 64;
/// `vehicle.country`: a two-letter code, with spacing.
pub const VEHICLE_COUNTRY: usize = 16;
/// `vehicle.plate`: the longest registrations have 10 characters (see `vehicle.rs`).
pub const PLATE: usize = 32;
/// `online_handle.platform`: a platform name.
pub const PLATFORM: usize = 64;
/// `online_handle.handle`: a handle or a profile link to it.
pub const HANDLE: usize = 512;
