//! What every role configures for accountability: the policy set it enforces (and who must have
//! signed it), the key that signs its audit trail, the witnesses that keep its checkpoints, and
//! whom it trusts: its CA and the CA's revocation lists (`[tls]`), reloaded with the policy set.

use crate::{StartError, WithPath};
use serde::{Deserialize, Serialize};
use signaalnet_audit::{Actor, Audit, Signer};
use signaalnet_policy::signature::Signers;
use signaalnet_policy::IsoDuration;
use signaalnet_service::policy::RolePolicy;
use signaalnet_service::witness::Witness;
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
    /// How long what is left of a signal or a hit after it ended (withdrawn, expired,
    /// dissolved) is kept before it too is deleted: a tombstone against late re-delivery, the
    /// row that answers a status question, the notice that a hit ended, a withdrawal request
    /// for its idempotency. An ISO 8601 duration in days, weeks, months or years; default
    /// `P30D`.
    #[serde(default)]
    pub ended_kept: Option<String>,
    /// Witnesses of this role's audit trail, `https://host:port` of roles run by other
    /// organisations (the coordinator, the transcryptors; never this role itself). The role
    /// offers each its newest signed checkpoint every `witness_seconds`; a witness keeps it and
    /// countersigns it, so cutting off or rewriting the trail shows in `signaalnet audit verify
    /// --witness`. A witness that cannot be reached is retried; it never holds up the role.
    #[serde(default)]
    pub witnesses: Vec<String>,
    /// Seconds between offers to the witnesses.
    #[serde(default = "default_witness_seconds")]
    pub witness_seconds: u64,
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
            ended_kept: None,
            witnesses: Vec::new(),
            witness_seconds: default_witness_seconds(),
        }
    }
}

fn default_reload_seconds() -> u64 {
    5
}

fn default_retention_seconds() -> u64 {
    60
}

/// Each accepted offer is one entry in the witness's trail, which it seals and offers in turn:
/// once a minute keeps that small, and bounds what can be cut off unnoticed to a minute.
fn default_witness_seconds() -> u64 {
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
    /// `[governance] ended_kept`, checked.
    pub ended_kept: IsoDuration,
}

/// How often a role's background tasks run, and the witnesses it offers its checkpoints to.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub reload_every: Duration,
    pub retention_every: Duration,
    pub witnesses: Vec<Witness>,
    pub witness_every: Duration,
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
        let ended_kept = match &self.ended_kept {
            None => signaalnet_service::retention::ENDED_KEPT,
            Some(text) => IsoDuration::parse(text).map_err(|e| StartError::Config {
                path: "[governance] ended_kept".to_owned(),
                message: e.to_owned(),
            })?,
        };
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
        let witnesses = self
            .witnesses
            .iter()
            .map(|url| Witness::new(url, &trust, policy.live()))
            .collect::<Result<_, _>>()?;
        Ok(Accountability {
            policy: Arc::new(policy),
            trust,
            audit,
            schedule: Schedule {
                reload_every: Duration::from_secs(self.policy_reload_seconds.max(1)),
                retention_every: Duration::from_secs(self.retention_check_seconds.max(1)),
                witnesses,
                witness_every: Duration::from_secs(self.witness_seconds.max(1)),
            },
            ended_kept,
        })
    }
}
