//! A development PKI: one CA and one certificate per role, each with its OIN in the subject
//! serialNumber, valid for localhost. For the demo and tests only; production uses PKIoverheid
//! certificates.

use crate::identity::Oin;
use crate::TlsError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// One certificate to issue.
#[derive(Clone, Debug)]
pub struct DevIdentity {
    /// File stem, e.g. `gemeente_groningen` → `gemeente_groningen.pem` / `.key`.
    pub name: String,
    /// Organisation name for the subject O.
    pub organisation: String,
    pub oin: Oin,
}

/// Writes `ca.pem` plus `<name>.pem` / `<name>.key` for every identity into `dir`. Keys are
/// written readable by the owner only. The CA key is not written anywhere: a dev PKI is
/// generated whole, so nobody can issue a further certificate under it afterwards. Returns the
/// path of the CA certificate.
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
    let issuer = Issuer::new(ca_params, ca_key);
    let ca_path = dir.join("ca.pem");
    write(&ca_path, ca_cert.pem().as_bytes(), false)?;

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
