//! The console's configuration file (`signaalnet console --config console.toml`): where it
//! listens, whom it asks, as which organisation, and which people may use it in which roles.
//! Unknown keys are refused; every key can be overridden from the environment as
//! `SIGNAALNET_CONSOLE__<KEY>` (`signaalnet_runtime::config`).

use serde::Deserialize;
use signaalnet_policy::RecipientRole;
use signaalnet_tls::{RoleUrl, TlsFiles};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Where browsers connect (HTTPS only).
    pub listen: SocketAddr,
    /// The organisation's copy of the policy set in force (for the filters, `explain`, the
    /// register, and the purposes and processing activities of the console's audit entries).
    pub policies: PathBuf,
    /// The coordinator's analyst API.
    pub coordinator: RoleUrl,
    /// Roles whose policy set in force the privacy officer's page shows (RoleService); the
    /// coordinator is always asked.
    #[serde(default)]
    pub roles: Vec<NamedRole>,
    /// The console's own audit trail (SQLite) lives here.
    pub data_dir: PathBuf,
    /// The audit trail's signing key, `<secrets_dir>/console.audit.key` (default: in data_dir).
    #[serde(default)]
    pub secrets_dir: Option<PathBuf>,
    /// The organisation's certificate, with which the console calls the coordinator.
    pub tls: TlsFiles,
    /// The console's HTTPS side: its server certificate and the CA of the people's personal
    /// certificates.
    pub https: HttpsConfig,
    /// Who may log in, and in which roles.
    #[serde(default, rename = "person")]
    pub people: Vec<PersonConfig>,
}

/// Another role, by a name for people.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedRole {
    pub name: String,
    pub url: RoleUrl,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsConfig {
    /// The certificate browsers see (PEM chain) and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA that issues the organisation's personal certificates.
    pub people_ca: PathBuf,
    /// Its revocation lists, re-read every `crl_reload_seconds`; none: no revocation check.
    #[serde(default)]
    pub people_crl: Vec<PathBuf>,
    /// How often the revocation lists are re-read (default 60).
    #[serde(default = "default_crl_reload")]
    pub crl_reload_seconds: u64,
}

fn default_crl_reload() -> u64 {
    60
}

/// One person: the certificate that is theirs, and what they may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// The subject CN of their personal certificate.
    pub common_name: String,
    /// The certificate's serial number, hex (as `openssl x509 -serial` prints it).
    pub serial: String,
    /// The name shown to them and written in the audit trail with the CN.
    pub name: String,
    /// The recipient roles of the organisation they may act in (`riec_analist`,
    /// `ketenregisseur`, `zorgcoordinator`); each must be one the policy set gives the
    /// organisation.
    #[serde(default)]
    pub roles: Vec<RecipientRole>,
    /// May read the privacy officer's pages.
    #[serde(default)]
    pub privacy_officer: bool,
}

impl ConsoleConfig {
    pub fn load(path: &Path) -> Result<Self, signaalnet_runtime::StartError> {
        signaalnet_runtime::config::load(path, "console")
    }

    /// Where the audit signing key lives.
    pub fn audit_key(&self) -> PathBuf {
        self.secrets_dir
            .as_deref()
            .unwrap_or(&self.data_dir)
            .join("console.audit.key")
    }
}
