//! A development PKI: one CA and one certificate per role, each with its OIN in the subject
//! serialNumber, valid for localhost, and the CA's revocation list. For the demo and tests
//! only; production uses PKIoverheid certificates and the CA's published CRLs.

use crate::identity::Oin;
use crate::TlsError;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::time::Duration;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::time::ASN1Time;

/// The development CA's certificate, key and revocation list in a PKI directory.
pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const CA_CRL: &str = "ca.crl.pem";

/// How long a development revocation list is current (its nextUpdate): a role refuses an
/// expired list, so `signaalnet certs revoke` (even with nothing new) issues a fresh one.
pub const CRL_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// One certificate to issue.
#[derive(Clone, Debug)]
pub struct DevIdentity {
    /// File stem, e.g. `gemeente_groningen` → `gemeente_groningen.pem` / `.key`.
    pub name: String,
    /// Organisation name for the subject O.
    pub organisation: String,
    pub oin: Oin,
}

/// Writes `ca.pem` plus `<name>.pem` / `<name>.key` for every identity into `dir`, and the
/// CA's key (`ca.key`) and its revocation list (`ca.crl.pem`, revoking nothing yet). Keys are
/// written readable by the owner only. The CA key is kept so that the development CA can revoke
/// ([`revoke`]); a development PKI belongs on one machine. Returns the path of the CA
/// certificate.
pub fn write_dev_pki(dir: &Path, identities: &[DevIdentity]) -> Result<PathBuf, TlsError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut ca_dn = DistinguishedName::new();
    ca_dn.push(
        DnType::CommonName,
        "signaalnet development CA (not for production)",
    );
    ca_dn.push(DnType::OrganizationName, "signaalnet dev");
    ca_params.distinguished_name = ca_dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    write(&dir.join(CA_KEY), ca_key.serialize_pem().as_bytes(), true)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let ca_path = dir.join(CA_CERT);
    write(&ca_path, ca_cert.pem().as_bytes(), false)?;
    write_crl(dir, &issuer, Vec::new(), 1)?;

    for identity in identities {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, identity.name.as_str());
        dn.push(DnType::OrganizationName, identity.organisation.as_str());
        dn.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(identity.oin.as_str().try_into()?),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer)?;
        write(
            &dir.join(format!("{}.pem", identity.name)),
            cert.pem().as_bytes(),
            false,
        )?;
        write(
            &dir.join(format!("{}.key", identity.name)),
            key.serialize_pem().as_bytes(),
            true,
        )?;
    }
    Ok(ca_path)
}

/// Revokes the certificates `<name>.pem` in the PKI directory `dir`: writes `ca.crl.pem` anew,
/// signed with `ca.key`, revoking them and every certificate it revoked before, with the next
/// CRL number and a fresh validity. Returns the path of the list.
pub fn revoke(dir: &Path, names: &[String]) -> Result<PathBuf, TlsError> {
    let ca_pem =
        std::fs::read_to_string(dir.join(CA_CERT)).map_err(|e| io(&dir.join(CA_CERT), e))?;
    let key_path = dir.join(CA_KEY);
    let key_pem = std::fs::read_to_string(&key_path).map_err(|e| io(&key_path, e))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, KeyPair::from_pem(&key_pem)?)?;
    let crl_path = dir.join(CA_CRL);
    let (mut revoked, number) = match std::fs::read(&crl_path) {
        Ok(pem) => revoked_so_far(&crl_path, &pem)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), 0),
        Err(e) => return Err(io(&crl_path, e)),
    };
    let now = ASN1Time::now().to_datetime();
    for name in names {
        let path = dir.join(format!("{name}.pem"));
        let pem = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(&pem).map_err(|e| {
            TlsError::File {
                path: path.display().to_string(),
                problem: e.to_string(),
            }
        })?;
        let (_, cert) = X509Certificate::from_der(der.as_ref())?;
        let serial = cert.tbs_certificate.raw_serial();
        if revoked
            .iter()
            .all(|r: &RevokedCertParams| r.serial_number.as_ref() != serial)
        {
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: now,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            });
        }
    }
    write_crl(dir, &issuer, revoked, number + 1)
}

/// The entries and the CRL number of the list in `pem`.
fn revoked_so_far(path: &Path, pem: &[u8]) -> Result<(Vec<RevokedCertParams>, u64), TlsError> {
    let problem = |problem: String| TlsError::File {
        path: path.display().to_string(),
        problem,
    };
    let der = rustls::pki_types::CertificateRevocationListDer::from_pem_slice(pem)
        .map_err(|e| problem(format!("is not a PEM certificate revocation list: {e}")))?;
    let (_, crl) = CertificateRevocationList::from_der(der.as_ref())
        .map_err(|e| problem(format!("is not a certificate revocation list: {e}")))?;
    let number = crl.crl_number().map_or(0, |n| {
        n.to_bytes_be().iter().fold(0u64, |acc, b| {
            acc.saturating_mul(256).saturating_add(u64::from(*b))
        })
    });
    let revoked = crl
        .iter_revoked_certificates()
        .map(|r| RevokedCertParams {
            serial_number: SerialNumber::from_slice(r.raw_serial()),
            revocation_time: r.revocation_date.to_datetime(),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        })
        .collect();
    Ok((revoked, number))
}

fn write_crl(
    dir: &Path,
    issuer: &Issuer<'_, KeyPair>,
    revoked_certs: Vec<RevokedCertParams>,
    number: u64,
) -> Result<PathBuf, TlsError> {
    let this_update = ASN1Time::now().to_datetime();
    let crl = CertificateRevocationListParams {
        this_update,
        next_update: this_update + CRL_VALIDITY,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(issuer)?;
    // Written whole and renamed into place: a role reloading meanwhile reads the old list or
    // the new one, never half of one.
    let path = dir.join(CA_CRL);
    let tmp = dir.join(format!("{CA_CRL}.tmp"));
    write(&tmp, crl.pem()?.as_bytes(), false)?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    Ok(path)
}

fn io(path: &Path, e: std::io::Error) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        problem: e.to_string(),
    }
}

/// Writes a file; secret files get mode 0600 on Unix before any byte is written.
pub fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), TlsError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io(path, e))?;
    // `mode` applies only to a file it creates: an existing file keeps its mode unless it is
    // narrowed here, before the secret is written into it.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io(path, e))?;
    }
    file.write_all(bytes).map_err(|e| io(path, e))
}
