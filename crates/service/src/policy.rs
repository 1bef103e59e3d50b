//! The policy set a running role enforces: checked (and, when the role is configured with
//! privacy officer keys, signature-checked) at start, reloaded without a restart when the files
//! change or on SIGHUP, and reported by `RoleService`. A set that is invalid or not properly
//! signed is refused and the set in force stays; every change and every refusal is audited.
//!
//! The role's revocation lists (`[tls] crl`) are read again on the same schedule
//! ([`RolePolicy::reload_revocation`]): new lists are in force for the next handshake and the
//! next request; lists that do not pass their checks are refused and the lists in force stay.
//!
//! A signed set also carries a serial: a role refuses one older than the set it enforces, and
//! keeps the highest serial it has enforced in a small file beside its data (`high_water`), so
//! that a restart does not open the door to a restored older set either.

use signaalnet_audit::{Audit, Event, Step};
use signaalnet_policy::signature::{check_serial, SignatureError, Signed, Signers};
use signaalnet_policy::{LivePolicy, PolicyProblems, PolicySet};
use signaalnet_proto::v1 as pb;
use signaalnet_store::{format_time, Store};
use signaalnet_tls::{Reloaded, Trust};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request, Response, Status};

/// What a role does besides replacing the set (the coordinator rebuilds its matching rules).
#[tonic::async_trait]
pub trait PolicyTarget: Send + Sync {
    fn store(&self) -> &Store;
    fn audit(&self) -> &Audit;
    async fn after_change(&self) {}
    /// Deletes what is past its purpose's retention (node and coordinator; a transcryptor
    /// keeps nothing but its trail).
    async fn expire(&self) {}
}

/// Why a policy set is not taken into force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The set does not pass its checks; every problem, in one line for the log and `RoleInfo`.
    #[error(
        "policy set {} is invalid ({} problem(s)): {}",
        .dir.display(),
        .problems.0.len(),
        one_line(.problems)
    )]
    Invalid {
        dir: PathBuf,
        problems: PolicyProblems,
    },
    /// The role requires a privacy officer's signature and the set does not carry a valid one.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The file that keeps the highest serial enforced could not be read or written.
    #[error("{path}: {problem}")]
    HighWater { path: PathBuf, problem: String },
}

fn one_line(problems: &PolicyProblems) -> String {
    problems
        .0
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Loads the set in `dir` and, when `signers` is not empty, checks its signature. Returns the
/// set and what its signature says (signer and serial).
pub fn load_checked(
    dir: &std::path::Path,
    signers: &Signers,
) -> Result<(PolicySet, Option<Signed>), PolicyError> {
    let set = PolicySet::load(dir).map_err(|problems| PolicyError::Invalid {
        dir: dir.to_owned(),
        problems,
    })?;
    if signers.is_empty() {
        return Ok((set, None));
    }
    let signed = signers.check(dir, set.version())?;
    Ok((set, Some(signed)))
}

/// The highest serial a role has enforced, and that set's version: `<serial> <version>` in
/// one line.
fn read_high_water(path: &Path) -> Result<Option<(u64, String)>, PolicyError> {
    let err = |problem: String| PolicyError::HighWater {
        path: path.to_owned(),
        problem,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    let (serial, version) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| err("not `<serial> <version>`".into()))?;
    let serial = serial
        .parse()
        .map_err(|_| err("not `<serial> <version>`".into()))?;
    Ok(Some((serial, version.to_owned())))
}

fn write_high_water(path: &Path, serial: u64, version: &str) -> Result<(), PolicyError> {
    // Written whole to a temporary file and renamed: a crash leaves the old mark or the new.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{serial} {version}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| PolicyError::HighWater {
            path: path.to_owned(),
            problem: e.to_string(),
        })
}

#[derive(Debug, Clone, Default)]
struct State {
    /// The serial of the set in force (0 when the role does not require signatures).
    serial: u64,
    signed_by: String,
    since_ms: i64,
    last_refused: String,
}

/// The role's policy: where it is loaded from, who must have signed it, and what is in force.
#[derive(Debug)]
pub struct RolePolicy {
    role: &'static str,
    oin: String,
    dir: PathBuf,
    signers: Signers,
    /// Where the highest serial enforced is kept (signed sets only).
    high_water: Option<PathBuf>,
    live: LivePolicy,
    state: Mutex<State>,
    /// The CA and revocation lists the role's servers and channels verify peers with.
    trust: Option<Arc<Trust>>,
    /// Why the last reload of the revocation lists was refused (logged once per reason).
    trust_refused: Mutex<String>,
    trust_expired: Mutex<Option<i64>>,
}

/// The result of one reload attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Applied {
        from: String,
        to: String,
    },
    /// Why the set in force stays, in words: what `RoleInfo.last_refused_reload` reports.
    Refused(String),
}

impl RolePolicy {
    /// Loads and checks the set at start; a role does not start on a refused set, nor on a
    /// signed set older than the highest serial recorded in `high_water`.
    pub fn start(
        role: &'static str,
        oin: String,
        dir: PathBuf,
        signers: Signers,
        high_water: Option<PathBuf>,
        now_ms: i64,
    ) -> Result<Self, PolicyError> {
        let (set, signed) = load_checked(&dir, &signers)?;
        let serial = signed.as_ref().map_or(0, |s| s.serial);
        if let (Some(path), Some(_)) = (&high_water, &signed) {
            if let Some((floor, floor_version)) = read_high_water(path)? {
                check_serial(&dir, serial, set.version(), floor, Some(&floor_version))?;
            }
            write_high_water(path, serial, set.version())?;
        }
        Ok(Self {
            role,
            oin,
            dir,
            signers,
            high_water,
            live: LivePolicy::new(set),
            state: Mutex::new(State {
                serial,
                signed_by: signed.map(|s| s.key_id).unwrap_or_default(),
                since_ms: now_ms,
                last_refused: String::new(),
            }),
            trust: None,
            trust_refused: Mutex::new(String::new()),
            trust_expired: Mutex::new(None),
        })
    }

    /// The role's CA and revocation lists, read again with every reload of the set.
    pub fn with_trust(mut self, trust: Arc<Trust>) -> Self {
        self.trust = Some(trust);
        self
    }

    pub fn trust(&self) -> Option<&Arc<Trust>> {
        self.trust.as_ref()
    }

    /// Reads the revocation lists again. New lists are put in force (and logged); lists that
    /// do not pass their checks are refused, logged once per reason, and the lists in force
    /// stay. Lists in force past their nextUpdate are logged too: every handshake and request
    /// they cover is refused until current ones are in place.
    pub fn reload_revocation(&self) -> Option<Result<Reloaded, String>> {
        let trust = self.trust.as_ref()?;
        let outcome = trust.reload().map_err(|e| e.to_string());
        let mut refused = self.trust_refused.lock().unwrap_or_else(|e| e.into_inner());
        match &outcome {
            Ok(Reloaded::Changed { lists, revoked }) => {
                tracing::info!(
                    role = self.role,
                    lists,
                    revoked,
                    "certificate revocation lists reloaded"
                );
                refused.clear();
            }
            Ok(Reloaded::Unchanged) => refused.clear(),
            Err(reason) if *reason != *refused => {
                tracing::error!(role = self.role, reason = %reason, "certificate revocation lists refused; the lists in force stay");
                refused.clone_from(reason);
            }
            Err(_) => {}
        }
        if let Some((at, file)) = trust.expires() {
            let now = signaalnet_tls::trust::unix_now();
            // Once per list in force: `expired` is the nextUpdate last logged as passed.
            let mut expired = self.trust_expired.lock().unwrap_or_else(|e| e.into_inner());
            if at <= now && *expired != Some(at) {
                *expired = Some(at);
                tracing::error!(role = self.role, file = %file.display(), "the certificate revocation list in force has expired (nextUpdate passed): every connection and request it covers is refused until the CA's current list is in place");
            }
        }
        Some(outcome)
    }

    /// Refuses a signed set older than (or as old as, with other content) the set in force,
    /// and records its serial as the new high-water mark before it is taken into force.
    fn roll_forward(
        &self,
        set: &PolicySet,
        signed: Option<&Signed>,
        current: &PolicySet,
    ) -> Result<(), PolicyError> {
        let Some(signed) = signed else {
            return Ok(());
        };
        let floor = self.state().serial;
        check_serial(
            &self.dir,
            signed.serial,
            set.version(),
            floor,
            Some(current.version()),
        )?;
        if let Some(path) = &self.high_water {
            write_high_water(path, signed.serial, set.version())?;
        }
        Ok(())
    }

    pub fn live(&self) -> &LivePolicy {
        &self.live
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the directory again; applies a changed valid (signed) set, refuses anything else.
    pub async fn reload(&self, target: &dyn PolicyTarget) -> Reload {
        let current = self.live.current();
        let outcome = load_checked(&self.dir, &self.signers).and_then(|(set, signed)| {
            if set.version() != current.version() {
                self.roll_forward(&set, signed.as_ref(), &current)?;
            }
            Ok((set, signed))
        });
        let (set, signed) = match outcome {
            Ok((set, _)) if set.version() == current.version() => {
                self.state().last_refused.clear();
                return Reload::Unchanged;
            }
            Ok(found) => found,
            Err(refused) => {
                let reason = refused.to_string();
                if self.state().last_refused == reason {
                    return Reload::Refused(reason);
                }
                tracing::error!(role = self.role, reason = %reason, version = %current.version(), "policy reload refused; the set in force stays");
                let event = Event::new(Step::Refuse, &current).detail(format!(
                    "policy reload refused; set {} stays in force: {reason}",
                    current.version()
                ));
                target.audit().try_record(target.store(), event).await;
                self.state().last_refused = reason.clone();
                return Reload::Refused(reason);
            }
        };
        let to = set.version().to_owned();
        let event = Event::new(Step::PolicyChange, &set).detail(format!(
            "policy set reloaded without restart; was {}{}",
            current.version(),
            signed
                .as_ref()
                .map(|s| format!(
                    "; serial {}, signed by privacy officer key {}",
                    s.serial, s.key_id
                ))
                .unwrap_or_default()
        ));
        // Audit first: a change that cannot be recorded is not made.
        if let Err(e) = target.audit().record(target.store(), event).await {
            let reason = format!("the change could not be audited: {e}");
            tracing::error!(role = self.role, reason = %reason, "policy reload not applied");
            return Reload::Refused(reason);
        }
        {
            // The set and what is reported about it change together: `info` reads both under
            // this lock, so nobody sees the new version with the old signer or refusal.
            let mut state = self.state();
            state.serial = signed.as_ref().map_or(0, |s| s.serial);
            state.signed_by = signed.map(|s| s.key_id).unwrap_or_default();
            state.since_ms = target.audit().clock().now_ms();
            state.last_refused.clear();
            self.live.replace(set);
        }
        target.after_change().await;
        tracing::info!(role = self.role, from = %current.version(), to = %to, "policy set reloaded");
        Reload::Applied {
            from: current.version().to_owned(),
            to,
        }
    }

    pub fn info(&self, audit_entries: i64) -> pb::RoleInfo {
        let (state, policy_version) = {
            let state = self.state();
            (state.clone(), self.live.version())
        };
        pb::RoleInfo {
            role: self.role.to_owned(),
            oin: self.oin.clone(),
            policy_version,
            policy_signed_by: state.signed_by,
            policy_since: format_time(state.since_ms),
            last_refused_reload: state.last_refused,
            audit_entries,
        }
    }
}

/// Reloads every `every` and on SIGHUP, until the task is dropped.
pub async fn run_reloader(policy: Arc<RolePolicy>, target: Arc<dyn PolicyTarget>, every: Duration) {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        {
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = hup => tracing::info!("SIGHUP: reloading the policy set"),
            }
        }
        #[cfg(not(unix))]
        tokio::time::sleep(every).await;
        policy.reload(target.as_ref()).await;
        policy.reload_revocation();
    }
}

/// `RoleService`: the role and the policy set it enforces.
pub struct RoleGrpc {
    policy: Arc<RolePolicy>,
    target: Arc<dyn PolicyTarget>,
}

impl RoleGrpc {
    pub fn new(policy: Arc<RolePolicy>, target: Arc<dyn PolicyTarget>) -> Self {
        Self { policy, target }
    }

    /// The CA and revocation lists of the role (see [`RolePolicy::with_trust`]).
    pub fn trust(&self) -> Option<Arc<Trust>> {
        self.policy.trust().cloned()
    }
}

#[tonic::async_trait]
impl pb::role_service_server::RoleService for RoleGrpc {
    async fn get_role_info(
        &self,
        request: Request<pb::GetRoleInfoRequest>,
    ) -> Result<Response<pb::RoleInfo>, Status> {
        crate::caller(&request, &self.policy.live.current())?;
        use sqlx::Row;
        // The newest seq is the number of entries in an intact trail, without a table scan.
        let entries: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM audit_entries")
            .fetch_one(self.target.store().pool())
            .await
            .map(|row| row.get("n"))
            .unwrap_or(-1);
        Ok(Response::new(self.policy.info(entries)))
    }
}
