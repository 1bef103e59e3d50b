//! The console's routes. Every page is rendered on the server (askama templates, escaped by
//! default), in Dutch; none carries script. A page that shows anything from the coordinator is
//! recorded in the console's audit trail before it is sent.
//!
//! - [`analyst`]: hits of a purpose, one hit, the monitor (tables, charts, CSV).
//! - [`officer`]: the privacy officer's pages: policy sets in force, `explain`, the register,
//!   the audit trail's state.

mod analyst;
mod officer;

use crate::identity::{PeerCertificate, Person};
use crate::trail::Shown;
use crate::Console;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use signaalnet_audit::Step;
use std::sync::Arc;

pub type State = axum::extract::State<Arc<Console>>;

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/hits", get(analyst::hits))
        .route("/hit", get(analyst::hit))
        .route("/monitor", get(analyst::monitor))
        .route("/monitor.csv", get(analyst::monitor_csv))
        .route("/privacy/roles", get(officer::roles))
        .route("/privacy/explain", get(officer::explain))
        .route("/privacy/register", get(officer::register))
        .route("/privacy/audit", get(officer::audit))
        .route("/console.css", get(stylesheet))
        .fallback(not_found)
        .with_state(console)
}

/// The person at the browser; every page but the stylesheet needs one.
pub struct Who(pub Person);

impl FromRequestParts<Arc<Console>> for Who {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<PeerCertificate>();
        match peer.and_then(|p| console.people.find(p)) {
            Some(person) => Ok(Self(person.clone())),
            None => {
                tracing::warn!(
                    cn = peer.map(|p| p.common_name.as_str()).unwrap_or("-"),
                    "a certificate of the people's CA that names nobody of the console"
                );
                Err(PageError::new(
                    StatusCode::FORBIDDEN,
                    "Geen toegang",
                    "Dit certificaat hoort bij niemand die deze console mag gebruiken. Vraag \
                     de beheerder van de console om uw persoonlijke certificaat op te nemen.",
                )
                .into_response())
            }
        }
    }
}

/// The layout's header: who is logged in and what they may open.
pub struct Nav {
    pub name: String,
    pub roles: String,
    pub officer: bool,
    pub analyst: bool,
}

impl Nav {
    pub fn of(person: &Person) -> Self {
        Self {
            name: person.name.clone(),
            roles: person
                .role_names()
                .into_iter()
                .map(crate::labels::recipient_role)
                .collect::<Vec<_>>()
                .join(", "),
            officer: person.privacy_officer,
            analyst: !person.roles.is_empty(),
        }
    }
}

/// A page that could not be shown, and why, as a page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    pub nav: Option<Nav>,
}

impl PageError {
    pub fn new(status: StatusCode, title: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            title: title.to_owned(),
            message: message.into(),
            nav: None,
        }
    }

    pub fn for_person(mut self, person: &Person) -> Self {
        self.nav = Some(Nav::of(person));
        self
    }

    /// The coordinator's refusal, in words for the person; its message names the field and
    /// rule and never a value.
    pub fn from_status(status: &tonic::Status) -> Self {
        use tonic::Code;
        let (code, title) = match status.code() {
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "Geweigerd door de coördinator"),
            Code::NotFound => (StatusCode::NOT_FOUND, "Niet gevonden"),
            Code::InvalidArgument | Code::FailedPrecondition => {
                (StatusCode::BAD_REQUEST, "Ongeldige vraag")
            }
            Code::Unavailable | Code::DeadlineExceeded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "De coördinator is niet bereikbaar",
            ),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "Te veel vragen"),
            _ => (StatusCode::BAD_GATEWAY, "De coördinator gaf een fout"),
        };
        Self::new(code, title, status.message().to_owned())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status;
        (status, render(&self)).into_response()
    }
}

/// A template as an HTML answer; a template that fails to render is a 500 without details.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "interne fout").into_response()
        }
    }
}

/// Records `shown`; a page whose entry cannot be written is not shown.
pub async fn audited(console: &Console, shown: Shown<'_>) -> Result<(), PageError> {
    console
        .trail
        .record(&console.policy, shown)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the console's audit trail could not be written");
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Niet vastgelegd",
                "De vraag kon niet in het auditlogboek van de console worden vastgelegd en wordt \
             daarom niet getoond.",
            )
        })
}

/// Records a refusal by the console itself (no view, not an officer), then answers it.
pub async fn refused(
    console: &Console,
    person: &Person,
    purpose: &str,
    why: &str,
    error: PageError,
) -> Response {
    let shown = Shown {
        step: Step::Refuse,
        person,
        role: "",
        purpose,
        references: Vec::new(),
        detail: why.to_owned(),
    };
    if let Err(e) = audited(console, shown).await {
        return e.for_person(person).into_response();
    }
    error.for_person(person).into_response()
}

/// One purpose the person may open, for the start page.
pub struct PurposeLink {
    pub id: String,
    pub name: String,
    pub role: String,
    pub monitor: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Option<Nav>,
    organisation: String,
    common_name: String,
    serial: String,
    purposes: Vec<PurposeLink>,
}

/// The purposes the person has a view on through one of their roles.
pub fn purposes_of(console: &Console, person: &Person) -> Vec<PurposeLink> {
    console
        .policy
        .purposes()
        .filter_map(|p| {
            person
                .view_role(&console.policy, &p.id)
                .map(|role| PurposeLink {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    role: crate::labels::recipient_role(role.as_str()).to_owned(),
                    monitor: p.monitor.is_some(),
                })
        })
        .collect()
}

async fn home(axum::extract::State(console): State, Who(person): Who) -> Response {
    let page = Home {
        nav: Some(Nav::of(&person)),
        organisation: console
            .policy
            .partner(&console.organisation)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        common_name: person.common_name.clone(),
        serial: person.serial.clone(),
        purposes: purposes_of(&console, &person),
    };
    render(&page)
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/console.css"),
    )
        .into_response()
}

async fn not_found() -> Response {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Pagina niet gevonden",
        "Deze pagina bestaat niet.",
    )
    .into_response()
}
