//! The privacy officer's pages: the policy set each role enforces (RoleService), what may flow
//! where (`explain` as a matrix), the register of processing activities (AVG art. 30), and the
//! state of the console's own audit trail. Only people configured as `privacy_officer`.

use super::{audited, refused, render, Nav, PageError, State, Who};
use crate::identity::Person;
use crate::trail::Shown;
use crate::Console;
use askama::Template;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use signaalnet_audit::Step;
use signaalnet_policy::explain::explanation;
use signaalnet_policy::register::{register as art30, Activity};
use signaalnet_proto::v1 as pb;
use std::time::Duration;

/// Refuses anyone but a privacy officer (recorded), or records the page.
async fn officer_page(console: &Console, person: &Person, page: &str) -> Result<(), Response> {
    if !person.privacy_officer {
        return Err(refused(
            console,
            person,
            "",
            &format!("privacy officer page {page}: not a privacy officer"),
            PageError::new(
                StatusCode::FORBIDDEN,
                "Alleen voor de privacy officer",
                "Deze pagina is er voor de privacy officer (FG) van de organisatie.",
            ),
        )
        .await);
    }
    let shown = Shown {
        step: Step::Query,
        person,
        role: "privacy_officer",
        purpose: "",
        references: Vec::new(),
        detail: format!("privacy officer page {page}"),
    };
    audited(console, shown)
        .await
        .map_err(|e| e.for_person(person).into_response())
}

pub struct RoleRow {
    pub name: String,
    pub answer: Result<pb::RoleInfo, String>,
    pub same_as_console: bool,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    nav: Option<Nav>,
    console_version: String,
    rows: Vec<RoleRow>,
}

pub async fn roles(Extract(console): State, Who(person): Who) -> Response {
    if let Err(r) = officer_page(&console, &person, "roles").await {
        return r;
    }
    let mut rows = Vec::new();
    for (name, client) in &console.roles {
        let asked = tokio::time::timeout(
            Duration::from_secs(5),
            client.clone().get_role_info(pb::GetRoleInfoRequest {}),
        )
        .await;
        let answer = match asked {
            Ok(Ok(info)) => Ok(info.into_inner()),
            Ok(Err(status)) => Err(status.message().to_owned()),
            Err(_) => Err("geen antwoord binnen 5 seconden".to_owned()),
        };
        rows.push(RoleRow {
            same_as_console: answer
                .as_ref()
                .is_ok_and(|i| i.policy_version == console.policy.version()),
            name: name.clone(),
            answer,
        });
    }
    render(&RolesPage {
        nav: Some(Nav::of(&person)),
        console_version: console.policy.version().to_owned(),
        rows,
    })
}

/// One purpose's matrix: items down, partners and recipient roles across.
pub struct Matrix {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub senders: Vec<String>,
    pub recipients: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

pub struct MatrixRow {
    pub item: String,
    pub class: String,
    /// Per sender: the legal basis it shares under, or empty.
    pub sent: Vec<String>,
    /// Per recipient role: whether it sees the item.
    pub seen: Vec<bool>,
}

#[derive(Template)]
#[template(path = "explain.html")]
struct ExplainPage {
    nav: Option<Nav>,
    version: String,
    matrices: Vec<Matrix>,
}

pub async fn explain(Extract(console): State, Who(person): Who) -> Response {
    if let Err(r) = officer_page(&console, &person, "explain").await {
        return r;
    }
    let all = explanation(&console.policy, None, None);
    let matrices = all
        .purposes
        .iter()
        .map(|p| {
            let mut senders: Vec<String> = p
                .items
                .iter()
                .flat_map(|i| i.sent_by.iter().map(|s| s.partner.clone()))
                .collect();
            senders.sort();
            senders.dedup();
            let mut recipients: Vec<String> =
                p.items.iter().flat_map(|i| i.seen_by.clone()).collect();
            recipients.sort();
            recipients.dedup();
            let rows = p
                .items
                .iter()
                .map(|i| MatrixRow {
                    item: item_label(&console, &i.item),
                    class: i.class.clone().unwrap_or_else(|| {
                        if i.derived {
                            "afgeleid".into()
                        } else {
                            String::new()
                        }
                    }),
                    sent: senders
                        .iter()
                        .map(|s| {
                            i.sent_by
                                .iter()
                                .find(|x| &x.partner == s)
                                .map(|x| x.legal_basis.clone())
                                .unwrap_or_default()
                        })
                        .collect(),
                    seen: recipients.iter().map(|r| i.seen_by.contains(r)).collect(),
                })
                .collect();
            Matrix {
                id: p.id.clone(),
                name: p.name.clone(),
                summary: p.summary.clone(),
                senders,
                recipients,
                rows,
            }
        })
        .collect();
    render(&ExplainPage {
        nav: Some(Nav::of(&person)),
        version: all.version,
        matrices,
    })
}

/// An `explain` item in the officer's words: the attribute's name from the policy set, the
/// identifier kind in Dutch, the two facts the coordinator derives.
fn item_label(console: &Console, item: &str) -> String {
    if let Some(id) = item.strip_prefix("attribute ") {
        return match console.policy.attribute(id) {
            Some(a) => format!("kenmerk: {} ({id})", a.name),
            None => format!("kenmerk: {id}"),
        };
    }
    if let Some(kind) = item.strip_prefix("identifier ") {
        let label = crate::labels::IDENTIFIER_KINDS
            .iter()
            .find(|(name, _)| *name == kind)
            .map_or(kind, |(_, wire)| crate::labels::identifier_kind(*wire));
        return format!("gegeven: {label} (alleen als pseudoniem)");
    }
    match item {
        "which identifier kinds linked the hit" => {
            "afgeleid: via welke soorten gegevens de hit ontstond".to_owned()
        }
        "which kinds of partner are involved" => {
            "afgeleid: welke soorten partners betrokken zijn".to_owned()
        }
        other => other.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    nav: Option<Nav>,
    version: String,
    activities: Vec<Activity>,
}

pub async fn register(Extract(console): State, Who(person): Who) -> Response {
    if let Err(r) = officer_page(&console, &person, "register").await {
        return r;
    }
    let register = art30(&console.policy);
    render(&RegisterPage {
        nav: Some(Nav::of(&person)),
        version: register.policy_version,
        activities: register.activities,
    })
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    intact: bool,
    entries: u64,
    checkpoints: u64,
    last_seq: i64,
    last_checkpoint: String,
    findings: Vec<String>,
    coordinator_entries: String,
}

pub async fn audit(Extract(console): State, Who(person): Who) -> Response {
    if let Err(r) = officer_page(&console, &person, "audit").await {
        return r;
    }
    let report = match console.trail.verify().await {
        Ok(r) => r,
        Err(e) => {
            return PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Controle mislukt",
                format!("Het auditlogboek kon niet worden gelezen: {e}"),
            )
            .for_person(&person)
            .into_response()
        }
    };
    let coordinator_entries = match console.roles.first() {
        Some((_, client)) => match tokio::time::timeout(
            Duration::from_secs(5),
            client.clone().get_role_info(pb::GetRoleInfoRequest {}),
        )
        .await
        {
            Ok(Ok(info)) => info.into_inner().audit_entries.to_string(),
            _ => "niet bereikbaar".to_owned(),
        },
        None => "-".to_owned(),
    };
    render(&AuditPage {
        nav: Some(Nav::of(&person)),
        intact: report.is_intact(),
        entries: report.entries,
        checkpoints: report.checkpoints,
        last_seq: report.last_seq,
        last_checkpoint: report
            .last_checkpoint
            .map_or_else(|| "nog geen".to_owned(), |c| c.to_string()),
        findings: report.findings.iter().map(ToString::to_string).collect(),
        coordinator_entries,
    })
}
