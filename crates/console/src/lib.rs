//! `signaalnet console`: the web console of the organisation that holds a recipient role (the
//! RIEC, a ZVH). People log in with a personal certificate; the console asks the coordinator's
//! analyst API as the organisation, shows only what the person's roles may see, and records
//! every query in its own audit trail with the person, the purpose and what was shown.
//!
//! - [`config`]: the configuration file; [`identity`]: certificate → person.
//! - [`server`]: HTTPS (rustls, ring) with the person's certificate on every request, and the
//!   security headers; [`pages`]: the routes and their templates.
//! - [`chart`]: SVG bar charts; [`trail`]: the console's audit trail.
#![forbid(unsafe_code)]

pub mod chart;
pub mod config;
pub mod identity;
mod labels;
pub mod pages;
pub mod server;
pub mod trail;

pub use config::ConsoleConfig;

use identity::People;
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1::analyst_service_client::AnalystServiceClient;
use signaalnet_proto::v1::role_service_client::RoleServiceClient;
use signaalnet_tls::{AnyOin, ExpectedPeer, RoleUrl, Trust};
use std::sync::Arc;
use tonic::transport::Channel;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("console configuration: {0}")]
    Config(String),
    #[error("client certificate: {0}")]
    Certificate(String),
    #[error(transparent)]
    Start(#[from] signaalnet_runtime::StartError),
    #[error(transparent)]
    Tls(#[from] signaalnet_tls::TlsError),
    #[error(transparent)]
    Serve(#[from] signaalnet_service::ServeError),
    #[error(transparent)]
    Audit(#[from] signaalnet_audit::AuditError),
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What every page works with.
pub struct Console {
    pub policy: PolicySet,
    /// The organisation's partner id and OIN in the policy set.
    pub organisation: String,
    pub oin: String,
    pub people: People,
    pub analyst: AnalystServiceClient<Channel>,
    /// The roles whose policy set in force the privacy officer sees, by name.
    pub roles: Vec<(String, RoleServiceClient<Channel>)>,
    pub trail: trail::Trail,
}

impl Console {
    /// Loads the policy set, checks the people against it, opens the audit trail and the
    /// channels (which connect lazily: a coordinator that is down shows as such on a page).
    pub async fn open(config: &ConsoleConfig) -> Result<Self, ConsoleError> {
        let policy = PolicySet::load(&config.policies).map_err(|p| {
            ConsoleError::Config(format!(
                "policy set {} is invalid: {p}",
                config.policies.display()
            ))
        })?;
        let trust = Trust::load(&config.tls)?;
        let oin = config.tls.own_oin()?.to_string();
        let partner = policy.partner_by_oin(&oin).ok_or_else(|| {
            ConsoleError::Config(format!(
                "[tls] cert: OIN {oin} is no organisation of the policy set"
            ))
        })?;
        let people = People::new(&config.people, partner)?;
        let channel = |url: &RoleUrl| -> Result<Channel, ConsoleError> {
            let expected: Arc<dyn ExpectedPeer> = match url.oin() {
                Some(oin) => Arc::new(oin.clone()),
                None => Arc::new(AnyOin),
            };
            Ok(signaalnet_service::channel_to(url.url(), &trust, expected)?)
        };
        let coordinator = channel(&config.coordinator)?;
        let mut roles = vec![(
            "coördinator".to_owned(),
            RoleServiceClient::new(coordinator.clone()),
        )];
        for role in &config.roles {
            roles.push((
                role.name.clone(),
                RoleServiceClient::new(channel(&role.url)?),
            ));
        }
        let trail = trail::Trail::open(config, &policy, &oin).await?;
        Ok(Self {
            organisation: partner.id.clone(),
            oin,
            people,
            analyst: AnalystServiceClient::new(coordinator),
            roles,
            policy,
            trail,
        })
    }
}

/// Runs the console as this process until SIGINT or SIGTERM.
pub fn run_process(config: ConsoleConfig) -> Result<(), ConsoleError> {
    signaalnet_runtime::files::restrict_umask();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = signaalnet_runtime::process::bind(config.listen).await?;
        let console = Console::open(&config).await?;
        tracing::info!(listen = %config.listen, organisation = %console.organisation, "console serving HTTPS");
        server::serve(listener, &config, Arc::new(console), async {
            signaalnet_runtime::process::interrupted().await;
        })
        .await
    })
}
