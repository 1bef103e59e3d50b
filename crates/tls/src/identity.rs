//! Identity from certificates: the OIN in the subject serialNumber.

use crate::TlsError;
use x509_parser::oid_registry::OID_X509_SERIALNUMBER;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A 20-digit Organisatie-identificatienummer.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Oin(String);

impl TryFrom<String> for Oin {
    type Error = TlsError;

    fn try_from(s: String) -> Result<Self, TlsError> {
        Self::parse(&s)
    }
}

impl From<Oin> for String {
    fn from(oin: Oin) -> Self {
        oin.0
    }
}

impl Oin {
    pub fn parse(s: &str) -> Result<Self, TlsError> {
        if s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(TlsError::MalformedOin)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Oin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The OIN of a DER certificate (the peer's end-entity certificate after rustls verified the
/// chain). Exactly one serialNumber attribute is accepted: two would make the identity
/// ambiguous.
pub fn oin_from_der(der: &[u8]) -> Result<Oin, TlsError> {
    let (_, cert) = X509Certificate::from_der(der)?;
    let mut serials = cert.subject().iter_by_oid(&OID_X509_SERIALNUMBER);
    let first = serials.next().ok_or(TlsError::NoOin)?;
    if serials.next().is_some() {
        return Err(TlsError::MalformedOin);
    }
    let value = first.as_str().map_err(|_| TlsError::MalformedOin)?;
    Oin::parse(value)
}
