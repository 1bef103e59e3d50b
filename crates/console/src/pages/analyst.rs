//! The analyst's pages: the hits of a purpose (filters, paging), one hit, the monitor.
//!
//! The coordinator filters on attributes and pages by its own tokens. The partner kinds, the
//! linking identifier kinds and the month a hit formed are filtered here, on the pages the
//! coordinator returns: the console asks for further pages until it has a page's worth or the
//! list ends (at most [`MAX_CALLS`] calls per page shown), and the "next" link carries the
//! coordinator's token. What a page shows is also narrowed to the person's own recipient view:
//! the coordinator answers for the organisation, whose view may be wider.

use super::{audited, purposes_of, refused, render, Nav, PageError, State, Who};
use crate::chart::{self, Bar};
use crate::identity::Person;
use crate::labels;
use crate::trail::Shown;
use crate::Console;
use askama::Template;
use axum::extract::{Query, State as Extract};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use signaalnet_audit::Step;
use signaalnet_policy::{AttributeKind, RecipientView};
use signaalnet_proto::v1 as pb;
use std::time::Duration;

/// Hits per page shown.
const PAGE: usize = 25;
/// Calls to the coordinator for one page shown.
const MAX_CALLS: usize = 20;
/// How long the console waits for the coordinator.
const TIMEOUT: Duration = Duration::from_secs(15);

type Params = Query<Vec<(String, String)>>;

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// The person's view on `purpose`, or the refusal page (recorded).
async fn view_of<'c>(
    console: &'c Console,
    person: &Person,
    purpose: &str,
) -> Result<(&'static str, &'c RecipientView), Response> {
    let view = person.view_role(&console.policy, purpose).and_then(|role| {
        console
            .policy
            .recipient_view(role, purpose)
            .map(|v| (role.as_str(), v))
    });
    match view {
        Some(v) => Ok(v),
        None => Err(refused(
            console,
            person,
            purpose,
            "no view on the purpose through the person's roles",
            PageError::new(
                StatusCode::FORBIDDEN,
                "Geen inzage in dit doel",
                format!(
                    "Uw rollen ({}) geven geen inzage in het doel `{}`. Alleen doelen waarop \
                     een van uw rollen volgens het beleid zicht heeft, zijn te openen.",
                    person
                        .role_names()
                        .into_iter()
                        .map(labels::recipient_role)
                        .collect::<Vec<_>>()
                        .join(", "),
                    purpose
                ),
            ),
        )
        .await),
    }
}

/// One attribute filter of the form.
pub struct FilterField {
    pub id: String,
    pub name: String,
    /// The values to choose from (enum, boolean); empty: a text field.
    pub options: Vec<String>,
    pub pattern: &'static str,
    pub hint: &'static str,
    pub value: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct HitRow {
    pub hit_id: String,
    pub link: String,
    pub formed_month: String,
    pub signal_count: u32,
    pub partner_roles: String,
    pub linked_by: String,
    pub attributes: String,
}

#[derive(Template)]
#[template(path = "hits.html")]
struct HitsPage {
    nav: Option<Nav>,
    purpose: String,
    purpose_name: String,
    role: String,
    fields: Vec<FilterField>,
    partner_choices: Vec<Choice>,
    kind_choices: Vec<Choice>,
    sees_partner_roles: bool,
    sees_identifier_kinds: bool,
    month: String,
    hits: Vec<HitRow>,
    next: Option<String>,
    first: Option<String>,
    filtered_here: bool,
}

pub async fn hits(Extract(console): State, Who(person): Who, Query(params): Params) -> Response {
    let Some(purpose) = param(&params, "purpose").map(str::to_owned) else {
        return PageError::new(
            StatusCode::BAD_REQUEST,
            "Geen doel gekozen",
            "Kies een doel op de startpagina.",
        )
        .for_person(&person)
        .into_response();
    };
    let (role, view) = match view_of(&console, &person, &purpose).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    if console
        .policy
        .purpose(&purpose)
        .is_some_and(|p| p.monitor.is_some())
    {
        return monitor_redirect(&purpose);
    }
    // The attribute filters the view allows, each with the value asked for.
    let mut fields = Vec::new();
    let mut filter = Vec::new();
    for id in &view.attributes {
        let Some(attribute) = console.policy.attribute(id) else {
            continue;
        };
        let value = param(&params, &format!("attr.{id}")).unwrap_or_default();
        if !value.is_empty() {
            filter.push(pb::Attribute {
                id: id.clone(),
                value: value.to_owned(),
            });
        }
        let (options, pattern, hint) = match attribute.kind {
            AttributeKind::Enum => (attribute.values.clone(), "", ""),
            AttributeKind::Boolean => (vec!["true".into(), "false".into()], "", ""),
            AttributeKind::Month => (Vec::new(), "[0-9]{4}-[0-9]{2}", "JJJJ-MM"),
            AttributeKind::Municipality => (Vec::new(), "GM[0-9]{4}", "CBS-code, bv. GM0014"),
        };
        fields.push(FilterField {
            id: id.clone(),
            name: attribute.name.clone(),
            options,
            pattern,
            hint,
            value: value.to_owned(),
        });
    }
    let partner = param(&params, "partner")
        .and_then(|p| labels::PARTNER_ROLES.iter().find(|(name, _)| *name == p))
        .filter(|_| view.sees_partner_roles)
        .map(|(_, wire)| *wire);
    let linked = param(&params, "linked")
        .and_then(|k| labels::IDENTIFIER_KINDS.iter().find(|(name, _)| *name == k))
        .filter(|_| view.sees_identifier_kinds)
        .map(|(_, wire)| *wire);
    let month = param(&params, "month").unwrap_or_default().to_owned();
    let start = param(&params, "page").unwrap_or_default().to_owned();

    // Pages of the coordinator until a page's worth passes the console's own filters.
    let mut client = console.analyst.clone();
    let mut found = Vec::new();
    let mut token = start.clone();
    for _ in 0..MAX_CALLS {
        let request = pb::AnalystListHitsRequest {
            purpose: purpose.clone(),
            filter: filter.clone(),
            page_size: i32::try_from(PAGE).unwrap_or(50),
            page_token: token.clone(),
        };
        let page = match ask(client.list_hits(request)).await {
            Ok(page) => page,
            Err(e) => return e.for_person(&person).into_response(),
        };
        found.extend(page.hits.into_iter().filter(|h| {
            partner.is_none_or(|p| h.partner_roles.contains(&p))
                && linked.is_none_or(|k| h.handles.iter().any(|m| m.kind == k))
                && (month.is_empty() || h.formed_month == month)
        }));
        token = page.next_page_token;
        if token.is_empty() || found.len() >= PAGE {
            break;
        }
    }
    let rows: Vec<HitRow> = found
        .iter()
        .map(|h| hit_row(&console, view, &purpose, h))
        .collect();
    let shown = Shown {
        step: Step::AnalystQuery,
        person: &person,
        role,
        purpose: &purpose,
        references: found.iter().map(|h| format!("hit:{}", h.hit_id)).collect(),
        detail: format!(
            "listed hits: {} shown; attributes [{}], partner kind {}, linked by {}, month {}",
            found.len(),
            filter
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            param(&params, "partner").unwrap_or("-"),
            param(&params, "linked").unwrap_or("-"),
            if month.is_empty() { "-" } else { "given" },
        ),
    };
    if let Err(e) = audited(&console, shown).await {
        return e.for_person(&person).into_response();
    }
    let query_without_page: Vec<(String, String)> = params
        .iter()
        .filter(|(k, v)| k != "page" && !v.is_empty())
        .cloned()
        .collect();
    let link = |page: &str| {
        let mut q = query_without_page.clone();
        if !page.is_empty() {
            q.push(("page".into(), page.to_owned()));
        }
        format!("/hits?{}", encode(&q))
    };
    let page = HitsPage {
        nav: Some(Nav::of(&person)),
        purpose_name: console
            .policy
            .purpose(&purpose)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        role: labels::recipient_role(role).to_owned(),
        fields,
        partner_choices: choices(
            &labels::PARTNER_ROLES,
            param(&params, "partner"),
            labels::partner_role,
        ),
        kind_choices: choices(
            &labels::IDENTIFIER_KINDS,
            param(&params, "linked"),
            labels::identifier_kind,
        ),
        sees_partner_roles: view.sees_partner_roles,
        sees_identifier_kinds: view.sees_identifier_kinds,
        month,
        hits: rows,
        next: (!token.is_empty()).then(|| link(&token)),
        first: (!start.is_empty()).then(|| link("")),
        filtered_here: partner.is_some() || linked.is_some(),
        purpose,
    };
    render(&page)
}

fn choices(
    all: &[(&str, i32)],
    selected: Option<&str>,
    label: fn(i32) -> &'static str,
) -> Vec<Choice> {
    all.iter()
        .map(|(value, wire)| Choice {
            value: (*value).to_owned(),
            label: label(*wire).to_owned(),
            selected: selected == Some(*value),
        })
        .collect()
}

fn hit_row(console: &Console, view: &RecipientView, purpose: &str, h: &pb::AnalystHit) -> HitRow {
    let mut kinds: Vec<&str> = h
        .handles
        .iter()
        .map(|m| labels::identifier_kind(m.kind))
        .collect();
    kinds.dedup();
    HitRow {
        link: format!(
            "/hit?{}",
            encode(&[
                ("purpose".to_owned(), purpose.to_owned()),
                ("id".to_owned(), h.hit_id.clone())
            ])
        ),
        hit_id: h.hit_id.clone(),
        formed_month: h.formed_month.clone(),
        signal_count: h.signal_count,
        partner_roles: if view.sees_partner_roles {
            h.partner_roles
                .iter()
                .map(|r| labels::partner_role(*r))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "—".into()
        },
        linked_by: if view.sees_identifier_kinds {
            kinds.join(", ")
        } else {
            "—".into()
        },
        attributes: visible(console, view, &h.attributes)
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The attributes the person's view allows, by their names.
fn visible(
    console: &Console,
    view: &RecipientView,
    attributes: &[pb::Attribute],
) -> Vec<(String, String)> {
    attributes
        .iter()
        .filter(|a| view.attributes.contains(&a.id))
        .map(|a| {
            let name = console
                .policy
                .attribute(&a.id)
                .map_or_else(|| a.id.clone(), |d| d.name.clone());
            (name, a.value.clone())
        })
        .collect()
}

fn monitor_redirect(purpose: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!(
                "/monitor?{}",
                encode(&[("purpose".into(), purpose.to_owned())])
            ),
        )],
    )
        .into_response()
}

pub struct HandleRow {
    pub kind: String,
    pub handle: String,
}

#[derive(Template)]
#[template(path = "hit.html")]
struct HitPage {
    nav: Option<Nav>,
    purpose: String,
    purpose_name: String,
    role: String,
    hit_id: String,
    formed_month: String,
    signal_count: u32,
    handles: Vec<HandleRow>,
    sees_identifier_kinds: bool,
    sees_partner_roles: bool,
    partner_roles: Vec<String>,
    attributes: Vec<(String, String)>,
    back: String,
}

pub async fn hit(Extract(console): State, Who(person): Who, Query(params): Params) -> Response {
    let (Some(purpose), Some(hit_id)) = (param(&params, "purpose"), param(&params, "id")) else {
        return PageError::new(
            StatusCode::BAD_REQUEST,
            "Onvolledige vraag",
            "Een hit wordt geopend met een doel en een hit-id, vanuit de lijst van hits.",
        )
        .for_person(&person)
        .into_response();
    };
    let (role, view) = match view_of(&console, &person, purpose).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let request = pb::GetHitRequest {
        purpose: purpose.to_owned(),
        hit_id: hit_id.to_owned(),
    };
    let hit = match ask(console.analyst.clone().get_hit(request)).await {
        Ok(hit) => hit,
        Err(e) => return e.for_person(&person).into_response(),
    };
    let handles: Vec<HandleRow> = if view.sees_identifier_kinds {
        hit.handles
            .iter()
            .map(|m| HandleRow {
                kind: labels::identifier_kind(m.kind).to_owned(),
                handle: m.handle.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let shown = Shown {
        step: Step::AnalystQuery,
        person: &person,
        role,
        purpose,
        references: std::iter::once(format!("hit:{}", hit.hit_id))
            .chain(handles.iter().map(|h| format!("handle:{}", h.handle)))
            .collect(),
        detail: "read one hit".to_owned(),
    };
    if let Err(e) = audited(&console, shown).await {
        return e.for_person(&person).into_response();
    }
    let page = HitPage {
        nav: Some(Nav::of(&person)),
        purpose_name: console
            .policy
            .purpose(purpose)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        role: labels::recipient_role(role).to_owned(),
        hit_id: hit.hit_id.clone(),
        formed_month: hit.formed_month.clone(),
        signal_count: hit.signal_count,
        handles,
        sees_identifier_kinds: view.sees_identifier_kinds,
        sees_partner_roles: view.sees_partner_roles,
        partner_roles: if view.sees_partner_roles {
            hit.partner_roles
                .iter()
                .map(|r| labels::partner_role(*r).to_owned())
                .collect()
        } else {
            Vec::new()
        },
        attributes: visible(&console, view, &hit.attributes),
        back: format!(
            "/hits?{}",
            encode(&[("purpose".into(), purpose.to_owned())])
        ),
        purpose: purpose.to_owned(),
    };
    render(&page)
}

pub struct RowView {
    pub values: Vec<String>,
    pub count: String,
    pub status: &'static str,
}

pub struct TableView {
    pub title: String,
    pub dimensions: Vec<String>,
    pub rows: Vec<RowView>,
    pub total: RowView,
    pub method: String,
    pub method_text: String,
    pub noise_bound: u32,
    pub min_cell_size: u32,
    pub counts: String,
    pub period: String,
    pub counted_before: String,
    pub release_id: String,
    pub policy_version: String,
    pub chart: String,
    pub csv: String,
}

#[derive(Template)]
#[template(path = "monitor.html")]
struct MonitorPage {
    nav: Option<Nav>,
    purpose: String,
    purpose_name: String,
    monitors: Vec<super::PurposeLink>,
    period: String,
    dimension_choices: Vec<Choice>,
    tables: Vec<TableView>,
}

/// The dimensions the monitor page shows as separate tables when none is chosen.
const DEFAULT_DIMENSIONS: [&str; 3] = ["gemeente", "vorm_uitbuiting", "maand_waarneming"];

pub async fn monitor(Extract(console): State, Who(person): Who, Query(params): Params) -> Response {
    let monitors: Vec<super::PurposeLink> = purposes_of(&console, &person)
        .into_iter()
        .filter(|p| p.monitor)
        .collect();
    let purpose = match param(&params, "purpose") {
        Some(p) => p.to_owned(),
        None => match monitors.first() {
            Some(m) => m.id.clone(),
            None => {
                return PageError::new(
                    StatusCode::FORBIDDEN,
                    "Geen monitor",
                    "Geen van uw rollen heeft inzage in een monitor.",
                )
                .for_person(&person)
                .into_response()
            }
        },
    };
    let (role, view) = match view_of(&console, &person, &purpose).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let period = param(&params, "period").unwrap_or_default().to_owned();
    let chosen: Vec<String> = params
        .iter()
        .filter(|(k, v)| k == "dimension" && view.attributes.contains(v))
        .map(|(_, v)| v.clone())
        .collect();
    let sets: Vec<Vec<String>> = if chosen.is_empty() {
        DEFAULT_DIMENSIONS
            .iter()
            .filter(|d| view.attributes.contains(**d))
            .map(|d| vec![(*d).to_owned()])
            .collect()
    } else {
        vec![chosen.clone()]
    };
    let mut tables = Vec::new();
    let mut references = Vec::new();
    for dimensions in sets {
        let table = match ask_monitor(&console, &purpose, &dimensions, &period).await {
            Ok(t) => t,
            Err(e) => return e.for_person(&person).into_response(),
        };
        references.push(format!("release:{}", table.release_id));
        tables.push(table_view(
            &console,
            &purpose,
            &period,
            &table,
            tables.len(),
        ));
    }
    let shown = Shown {
        step: Step::MonitorQuery,
        person: &person,
        role,
        purpose: &purpose,
        references,
        detail: format!("{} monitor table(s) shown", tables.len()),
    };
    if let Err(e) = audited(&console, shown).await {
        return e.for_person(&person).into_response();
    }
    let page = MonitorPage {
        nav: Some(Nav::of(&person)),
        purpose_name: console
            .policy
            .purpose(&purpose)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        monitors,
        period,
        dimension_choices: view
            .attributes
            .iter()
            .map(|a| Choice {
                value: a.clone(),
                label: console
                    .policy
                    .attribute(a)
                    .map_or_else(|| a.clone(), |d| d.name.clone()),
                selected: chosen.contains(a),
            })
            .collect(),
        tables,
        purpose,
    };
    render(&page)
}

async fn ask_monitor(
    console: &Console,
    purpose: &str,
    dimensions: &[String],
    period: &str,
) -> Result<pb::MonitorTable, PageError> {
    let request = pb::GetMonitorRequest {
        purpose: purpose.to_owned(),
        dimensions: dimensions.to_vec(),
        period: period.to_owned(),
    };
    ask(console.analyst.clone().get_monitor(request)).await
}

/// The coordinator's answer to one analyst call, within [`TIMEOUT`]; a refusal or no answer in
/// time as the page's error.
async fn ask<T>(
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, PageError> {
    match tokio::time::timeout(TIMEOUT, call).await {
        Ok(Ok(answer)) => Ok(answer.into_inner()),
        Ok(Err(status)) => Err(PageError::from_status(&status)),
        Err(_) => Err(PageError::from_status(&tonic::Status::deadline_exceeded(
            "geen antwoord binnen 15 seconden",
        ))),
    }
}

fn row_view(row: &pb::MonitorRow) -> RowView {
    match pb::CellStatus::try_from(row.status) {
        Ok(pb::CellStatus::Perturbed) => RowView {
            values: row.values.clone(),
            count: format!("≈ {}", row.count),
            status: "verstoord",
        },
        Ok(pb::CellStatus::Suppressed) => RowView {
            values: row.values.clone(),
            count: "—".into(),
            status: "onderdrukt (te klein)",
        },
        _ => RowView {
            values: row.values.clone(),
            count: row.count.to_string(),
            status: "exact",
        },
    }
}

fn table_view(
    console: &Console,
    purpose: &str,
    period: &str,
    table: &pb::MonitorTable,
    index: usize,
) -> TableView {
    let names: Vec<String> = table
        .dimensions
        .iter()
        .map(|d| {
            console
                .policy
                .attribute(d)
                .map_or_else(|| d.clone(), |a| a.name.clone())
        })
        .collect();
    let title = format!("Per {}", lower_first(&names.join(" × ")));
    let method = table.method.clone().unwrap_or_default();
    let bars: Vec<Bar> = table
        .rows
        .iter()
        .map(|r| Bar {
            label: r.values.join(" · "),
            value: r.count,
            perturbed: r.status == pb::CellStatus::Perturbed as i32,
        })
        .collect();
    let chart = chart::bars(
        &format!("chart{index}"),
        &title,
        &format!(
            "Staafdiagram van de gepubliceerde cellen; elke waarde is verstoord met de \
             cell-key-methode (hooguit {} eraf of erbij); kleine cellen zijn weggelaten.",
            method.noise_bound
        ),
        &bars,
    );
    let mut csv_query = vec![("purpose".to_owned(), purpose.to_owned())];
    if !period.is_empty() {
        csv_query.push(("period".into(), period.to_owned()));
    }
    csv_query.extend(
        table
            .dimensions
            .iter()
            .map(|d| ("dimension".to_owned(), d.clone())),
    );
    TableView {
        title,
        dimensions: names,
        rows: table.rows.iter().map(row_view).collect(),
        total: table.total.as_ref().map_or_else(
            || RowView {
                values: Vec::new(),
                count: "—".into(),
                status: "onbekend",
            },
            row_view,
        ),
        method: method.name.clone(),
        method_text: method.description.clone(),
        noise_bound: method.noise_bound,
        min_cell_size: table.min_cell_size,
        counts: match table.counts.as_str() {
            "persons" => "personen (per doel)".into(),
            "signals" => "signalen".into(),
            other => other.to_owned(),
        },
        period: if table.period.is_empty() {
            "alles wat geteld is".into()
        } else {
            table.period.clone()
        },
        counted_before: table.counted_before.clone(),
        release_id: table.release_id.clone(),
        policy_version: table
            .policy
            .as_ref()
            .map(|p| p.version.clone())
            .unwrap_or_default(),
        chart,
        csv: format!("/monitor.csv?{}", encode(&csv_query)),
    }
}

pub async fn monitor_csv(
    Extract(console): State,
    Who(person): Who,
    Query(params): Params,
) -> Response {
    let Some(purpose) = param(&params, "purpose") else {
        return PageError::new(StatusCode::BAD_REQUEST, "Geen doel", "Kies een monitor.")
            .for_person(&person)
            .into_response();
    };
    let (role, view) = match view_of(&console, &person, purpose).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let dimensions: Vec<String> = params
        .iter()
        .filter(|(k, v)| k == "dimension" && view.attributes.contains(v))
        .map(|(_, v)| v.clone())
        .collect();
    let period = param(&params, "period").unwrap_or_default();
    let table = match ask_monitor(&console, purpose, &dimensions, period).await {
        Ok(t) => t,
        Err(e) => return e.for_person(&person).into_response(),
    };
    let Ok(csv) = signaalnet_coordinator::monitor::table_csv(&table) else {
        return PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CSV mislukt",
            "De tabel kon niet als CSV worden geschreven.",
        )
        .for_person(&person)
        .into_response();
    };
    let shown = Shown {
        step: Step::MonitorQuery,
        person: &person,
        role,
        purpose,
        references: vec![format!("release:{}", table.release_id)],
        detail: "monitor table downloaded as CSV".to_owned(),
    };
    if let Err(e) = audited(&console, shown).await {
        return e.for_person(&person).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{purpose}.csv\""),
            ),
        ],
        csv,
    )
        .into_response()
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_lowercase().chain(chars).collect::<String>()
    })
}

/// `application/x-www-form-urlencoded` of pairs.
pub fn encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", component(k), component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
