//! The console's own audit trail (`signaalnet_audit`, in `<data_dir>/console.db`): one entry
//! per page that asked the coordinator or was refused, naming the person (certificate CN and
//! serial), the recipient role they acted in, the purpose, and the pseudonymous references
//! shown (hit ids, handles, monitor release ids). The coordinator's own trail records the same
//! calls as the organisation; this one says which person of the organisation made them.

use crate::config::ConsoleConfig;
use crate::identity::Person;
use crate::ConsoleError;
use signaalnet_audit::{Actor, Audit, Event, Report, Signer, Step};
use signaalnet_policy::PolicySet;
use signaalnet_store::{Clock, Location, Store};

pub struct Trail {
    audit: Audit,
    store: Store,
    oin: String,
}

/// What one page showed, for the trail.
pub struct Shown<'a> {
    pub step: Step,
    pub person: &'a Person,
    /// The recipient role the person acted in (empty for a privacy officer's page).
    pub role: &'a str,
    pub purpose: &'a str,
    pub references: Vec<String>,
    pub detail: String,
}

impl Trail {
    pub async fn open(
        config: &ConsoleConfig,
        policy: &PolicySet,
        oin: &str,
    ) -> Result<Self, ConsoleError> {
        signaalnet_store::private_dir(&config.data_dir)?;
        let key = config.audit_key();
        signaalnet_runtime::files::check_secret(&key, "the audit key")?;
        let signer = Signer::load_or_create(&key)?;
        let location = Location::for_role(&config.data_dir, "console", None)?;
        let store = Store::open(&location, &[&signaalnet_audit::schema::MIGRATIONS]).await?;
        let own = Actor {
            oin: oin.to_owned(),
            role: "console".to_owned(),
        };
        let audit = Audit::new(signer, own, Clock::system());
        audit.record_policy_at_start(&store, policy).await?;
        Ok(Self {
            audit,
            store,
            oin: oin.to_owned(),
        })
    }

    /// Records what a person was shown. A page is not shown when its entry cannot be written.
    pub async fn record(&self, policy: &PolicySet, shown: Shown<'_>) -> Result<(), ConsoleError> {
        let actor = Actor {
            oin: self.oin.clone(),
            role: shown.person.reference(),
        };
        let mut event = if shown.purpose.is_empty() {
            Event::new(shown.step, policy)
        } else {
            Event::for_purpose(shown.step, policy, shown.purpose)
        };
        event = event.by(actor).references(shown.references).detail(format!(
            "as {}: {}",
            or_dash(shown.role),
            shown.detail
        ));
        self.audit.record(&self.store, event).await?;
        Ok(())
    }

    /// The trail checked against the console's own public key: intact or which findings.
    pub async fn verify(&self) -> Result<Report, ConsoleError> {
        Ok(signaalnet_audit::verify(&self.store, self.audit.public_key()).await?)
    }

    /// Seals the trail with a checkpoint (at shutdown).
    pub async fn seal(&self) -> Result<(), ConsoleError> {
        self.audit.seal(&self.store).await?;
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}
