//! Why a role did not start (or stopped): one error type for every role's startup, so the binary
//! only prints it.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{path}: {message}")]
    Config { path: String, message: String },
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {what} may be read or written by others (mode {mode}); allow only its owner: chmod 600 {path}")]
    SecretMode {
        path: String,
        what: &'static str,
        mode: String,
    },
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{path}: the ceremony was held for coordinator context `{held}`, this {role} is configured for `{configured}`")]
    OtherContext {
        path: String,
        role: &'static str,
        held: String,
        configured: String,
    },
    #[error(transparent)]
    Policy(#[from] signaalnet_service::policy::PolicyError),
    #[error(transparent)]
    Tls(#[from] signaalnet_tls::TlsError),
    #[error(transparent)]
    Signature(#[from] signaalnet_policy::signature::SignatureError),
    #[error(transparent)]
    Audit(#[from] signaalnet_audit::AuditError),
    #[error(transparent)]
    Store(#[from] signaalnet_store::StoreError),
    #[error(transparent)]
    Telemetry(#[from] signaalnet_telemetry::export::TelemetryError),
    #[error(transparent)]
    Serve(#[from] signaalnet_service::ServeError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A role's own step (its keys, its database state, its upstream), with what it was doing.
    #[error("{doing}: {source}")]
    Role {
        doing: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StartError {
    /// A role-specific failure while `doing` something.
    pub fn role(
        doing: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Role {
            doing: doing.into(),
            source: source.into(),
        }
    }
}

/// Names the file an I/O or JSON error was about.
pub trait WithPath<T> {
    fn with_path(self, path: &Path) -> Result<T, StartError>;
}

impl<T> WithPath<T> for Result<T, std::io::Error> {
    fn with_path(self, path: &Path) -> Result<T, StartError> {
        self.map_err(|source| StartError::File {
            path: path.display().to_string(),
            source,
        })
    }
}

impl<T> WithPath<T> for Result<T, serde_json::Error> {
    fn with_path(self, path: &Path) -> Result<T, StartError> {
        self.map_err(|source| StartError::Json {
            path: path.display().to_string(),
            source,
        })
    }
}
