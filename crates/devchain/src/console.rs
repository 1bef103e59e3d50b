//! The web console on a development chain: personal certificates for people, issued by the
//! chain's development CA, and a console configuration for an organisation with a recipient
//! role (`signaalnet console --config`), used by the demo and the browser test.

use crate::Chain;
use anyhow::{Context, Result};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A person's certificate files.
#[derive(Debug, Clone)]
pub struct PersonalCertificate {
    pub common_name: String,
    pub name: String,
    /// Hex, as the console's configuration names it.
    pub serial: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Issues a personal client certificate (no OIN: a person is not an organisation) for
/// `common_name` under the development CA in `pki`: `<pki>/<common_name>.pem` and `.key`.
pub fn personal_certificate(
    pki: &Path,
    common_name: &str,
    name: &str,
    organisation: &str,
) -> Result<PersonalCertificate> {
    use signaalnet_tls::dev::{CA_CERT, CA_KEY};
    let ca_pem = std::fs::read_to_string(pki.join(CA_CERT)).context("the development CA")?;
    let ca_key = std::fs::read_to_string(pki.join(CA_KEY)).context("the development CA key")?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, KeyPair::from_pem(&ca_key)?)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, organisation);
    params.distinguished_name = dn;
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x10; // no leading zero byte, so the hex is the serial as printed
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer)?;
    let cert_path = pki.join(format!("{common_name}.pem"));
    let key_path = pki.join(format!("{common_name}.key"));
    signaalnet_tls::dev::write(&cert_path, cert.pem().as_bytes(), false)?;
    signaalnet_tls::dev::write(&key_path, key.serialize_pem().as_bytes(), true)?;
    Ok(PersonalCertificate {
        common_name: common_name.to_owned(),
        name: name.to_owned(),
        serial: hex::encode(serial),
        cert: cert_path,
        key: key_path,
    })
}

/// A person the console lets in, and as what.
#[derive(Debug, Clone)]
pub struct ConsolePerson {
    pub certificate: PersonalCertificate,
    pub roles: Vec<String>,
    pub privacy_officer: bool,
}

/// Writes `<chain>/console-<organisation>.toml`: the console of `organisation` (its certificate
/// toward the coordinator and for browsers), listening on `listen`, letting in `people`; the
/// privacy officer's page asks every node and transcryptor too.
pub fn console_config(
    chain: &Chain,
    organisation: &str,
    listen: SocketAddr,
    people: &[ConsolePerson],
) -> Result<PathBuf> {
    let tls = chain.tls(organisation);
    let coordinator = chain
        .policy
        .partners()
        .find(|p| p.role == signaalnet_policy::PartnerRole::Coordinator)
        .and_then(|p| p.oins.first())
        .context("the policy set has no coordinator with an OIN")?;
    let coordinator_url = &chain
        .roles
        .get("coordinator")
        .context("the chain has no coordinator")?
        .url;
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let mut text = format!(
        "# signaalnet console --config {{this file}}; open https://{listen}/ with a personal certificate\n\
         listen = \"{listen}\"\n\
         policies = {policies}\n\
         data_dir = {data}\n\
         secrets_dir = {secrets}\n\
         coordinator = {{ url = {coordinator_url:?}, oin = {coordinator:?} }}\n\
         roles = [\n",
        policies = q(&chain.policies()),
        data = q(&chain.dir().join("data").join(format!("console-{organisation}"))),
        secrets = q(&chain.dir().join("secrets").join(format!("console-{organisation}"))),
    );
    for role in chain.roles.values().filter(|r| r.name != "coordinator") {
        text.push_str(&format!(
            "    {{ name = {:?}, url = {:?} }},\n",
            role.name, role.url
        ));
    }
    text.push_str(&format!(
        "]\n\n[tls]\nca = {}\ncert = {}\nkey = {}\ncrl = [{}]\n\n\
         [https]\ncert = {}\nkey = {}\npeople_ca = {}\npeople_crl = [{}]\ncrl_reload_seconds = 1\n",
        q(&tls.ca),
        q(&tls.cert),
        q(&tls.key),
        tls.crl.iter().map(|c| q(c)).collect::<Vec<_>>().join(", "),
        q(&tls.cert),
        q(&tls.key),
        q(&tls.ca),
        tls.crl.iter().map(|c| q(c)).collect::<Vec<_>>().join(", "),
    ));
    for person in people {
        let c = &person.certificate;
        text.push_str(&format!(
            "\n[[person]]\ncommon_name = {:?}\nserial = {:?}\nname = {:?}\nroles = [{}]\nprivacy_officer = {}\n",
            c.common_name,
            c.serial,
            c.name,
            person
                .roles
                .iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            person.privacy_officer
        ));
    }
    let path = chain.dir().join(format!("console-{organisation}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The demo's people at the RIEC: an analyst who is also the privacy officer.
pub fn demo_people(chain: &Chain, organisation: &str) -> Result<Vec<ConsolePerson>> {
    let name = chain
        .policy
        .partner(organisation)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    Ok(vec![ConsolePerson {
        certificate: personal_certificate(
            &chain.certs(),
            "analist.a.devries",
            "A. de Vries",
            &name,
        )?,
        roles: vec!["riec_analist".into()],
        privacy_officer: true,
    }])
}

/// Starts the console of `organisation` in this process on a free port, with
/// [`demo_people`]; returns how to open it, for people.
pub async fn start_demo_console(chain: &Chain, organisation: &str) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let listen = listener.local_addr()?;
    let people = demo_people(chain, organisation)?;
    let path = console_config(chain, organisation, listen, &people)?;
    let config = signaalnet_console::ConsoleConfig::load(&path)?;
    let console = std::sync::Arc::new(signaalnet_console::Console::open(&config).await?);
    tokio::spawn(async move {
        let served =
            signaalnet_console::server::serve(listener, &config, console, std::future::pending())
                .await;
        if let Err(e) = served {
            eprintln!("the console stopped: {e}");
        }
    });
    let mut text = format!(
        "\nThe web console of {organisation} (docs/console.md): https://{listen}/\n  \
         configuration: {}\n  \
         log in with a personal certificate; import it and the development CA into your browser:\n",
        path.display()
    );
    for person in &people {
        let c = &person.certificate;
        let p12 = c.cert.with_extension("p12");
        text.push_str(&format!(
            "    {} ({}): openssl pkcs12 -export -in {} -inkey {} -out {} -passout pass:demo\n",
            c.name,
            person.roles.join(", "),
            c.cert.display(),
            c.key.display(),
            p12.display()
        ));
    }
    text.push_str(&format!(
        "    and trust the CA {} for websites",
        chain.certs().join(signaalnet_tls::dev::CA_CERT).display()
    ));
    Ok(text)
}
