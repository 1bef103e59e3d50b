//! What every role configures for accountability: the policy set it enforces (and who must have
//! signed it), the key that signs its audit trail, and whom it trusts: its CA and the CA's
//! revocation lists (`[tls]`), reloaded with the policy set.

use crate::{StartError, WithPath};
use serde::{Deserialize, Serialize};
use signaalnet_audit::{Actor, Audit, Signer};
use signaalnet_policy::signature::Signers;
use signaalnet_service::policy::RolePolicy;
use signaalnet_store::Clock;
use signaalnet_tls::{TlsFiles, Trust};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What every role configures for accountability: who must have signed its policy set, how
/// often it looks for a changed set, and where its audit signing key lives.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// Privacy officer public keys (`signaalnet policy keygen`); when any is given, the role
    /// only enforces a policy set signed by one of them.
    #[serde(default)]
    pub policy_signers: Vec<PathBuf>,
    /// Seconds between looks at the policy directory for a changed set (SIGHUP: at once).
    #[serde(default = "default_reload_seconds")]
    pub policy_reload_seconds: u64,
    /// Where this role's own secrets live (the audit signing key and, on a node, the node
    /// secret), apart from its data so that a copy or backup of the data does not carry them;
    /// created 0700. Default: the data directory (a warning says so at start).
    #[serde(default)]
    pub secrets_dir: Option<PathBuf>,
    /// The audit trail's checkpoint signing key (Ed25519, created on first start, mode 0600);
    /// default `<secrets_dir>/<role>.audit.key`. Keep a copy of `<key>.pub` where the role cannot
    /// write: `signaalnet audit verify --public-key` checks against it.
    #[serde(default)]
    pub audit_key: Option<PathBuf>,
    /// Seconds between retention runs (deleting unmatched signals and hits past their
    /// purpose's retention).
    #[serde(default = "default_retention_seconds")]
    pub retention_check_seconds: u64,
}

/// The same defaults as a configuration without a `[governance]` table (a derived `Default`
/// would give zero intervals, i.e. a reload and a retention run every second).
impl Default for Governance {
    fn default() -> Self {
        Self {
            policy_signers: Vec::new(),
            policy_reload_seconds: default_reload_seconds(),
            secrets_dir: None,
            audit_key: None,
            retention_check_seconds: default_retention_seconds(),
        }
    }
}

fn default_reload_seconds() -> u64 {
    5
}

fn default_retention_seconds() -> u64 {
    60
}

/// A role's policy in force and its audit trail writer.
pub struct Accountability {
    pub policy: Arc<RolePolicy>,
    /// The CA and revocation lists every server and channel of the role verifies peers with
    /// (also held by `policy`, which reloads the lists).
    pub trust: Arc<Trust>,
    pub audit: Audit,
    pub schedule: Schedule,
}

/// How often a role's background tasks run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub reload_every: Duration,
    pub retention_every: Duration,
}

impl Governance {
    /// The directory of this role's secrets: `secrets_dir`, else the data directory.
    pub fn secrets_dir(&self, data_dir: &Path) -> PathBuf {
        self.secrets_dir
            .clone()
            .unwrap_or_else(|| data_dir.to_owned())
    }

    pub fn audit_key(&self, data_dir: &Path, role: &str) -> PathBuf {
        self.audit_key
            .clone()
            .unwrap_or_else(|| self.secrets_dir(data_dir).join(format!("{role}.audit.key")))
    }

    /// Loads (and signature-checks) the policy set, reads the CA and its revocation lists (a list
    /// that is unreadable, not the CA's or expired stops the role, naming the file) and opens
    /// the audit signing key. First the
    /// process's umask becomes 0077, the secrets directory is made (0700), and the TLS key and
    /// the audit key are refused if others may read them.
    pub fn open(
        &self,
        kind: &'static str,
        role: &str,
        policies: &Path,
        data_dir: &Path,
        tls: &TlsFiles,
    ) -> Result<Accountability, StartError> {
        crate::files::restrict_umask();
        let secrets = self.secrets_dir(data_dir);
        if self.secrets_dir.is_none() {
            tracing::warn!(
                directory = %data_dir.display(),
                "secrets are kept in the data directory; set [governance] secrets_dir to keep them apart"
            );
        }
        signaalnet_store::private_dir(&secrets).with_path(&secrets)?;
        signaalnet_store::private_dir(data_dir).with_path(data_dir)?;
        crate::files::check_secret(&tls.key, "the TLS private key")?;
        let audit_key = self.audit_key(data_dir, role);
        crate::files::check_secret(&audit_key, "the audit signing key")?;
        let oin = tls.own_oin()?.to_string();
        let trust = Trust::load(tls)?;
        let signers = Signers::read(&self.policy_signers)?;
        let clock = Clock::system();
        let policy = RolePolicy::start(
            kind,
            oin.clone(),
            policies.to_owned(),
            signers,
            // The highest serial of a signed set this role has enforced: no older set after it.
            Some(data_dir.join(format!("{role}.policy-serial"))),
            clock.now_ms(),
        )?
        .with_trust(Arc::clone(&trust));
        let own_role = policy
            .live()
            .current()
            .partner_by_oin(&oin)
            .map_or(kind, |p| p.role.as_str());
        let signer = Signer::load_or_create(&audit_key)?;
        let audit = Audit::new(
            signer,
            Actor {
                oin,
                role: own_role.to_owned(),
            },
            clock,
        );
        Ok(Accountability {
            policy: Arc::new(policy),
            trust,
            audit,
            schedule: Schedule {
                reload_every: Duration::from_secs(self.policy_reload_seconds.max(1)),
                retention_every: Duration::from_secs(self.retention_check_seconds.max(1)),
            },
        })
    }
}
