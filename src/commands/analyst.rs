//! `signaalnet analyst`: the analyst API from a terminal, as the organisation that holds the
//! recipient role (its certificate, from a small config file): hits of a purpose, one hit, a
//! monitor table. Tables for people, `--json` (and `--csv` for the monitor) for scripts.
//!
//! Exit codes: 0 answered; 1 the coordinator refused (no view on the purpose, no such hit,
//! a filter it does not accept…: the message says which field and rule); 2 usage or
//! configuration error (bad arguments, unreadable config or certificate); 3 the coordinator
//! could not be reached or did not answer in time.

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;
use signaalnet_devchain::demo::report::{attrs, kind, roles};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::analyst_service_client::AnalystServiceClient;
use signaalnet_tls::{AnyOin, ExpectedPeer, RoleUrl, TlsFiles, Trust};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct AnalystArgs {
    /// The analyst client's configuration: the coordinator's URL (optionally with the OIN its
    /// certificate must carry) and the organisation's certificate (see deploy/dev/analyst.toml).
    #[arg(long)]
    config: PathBuf,
    #[command(subcommand)]
    command: AnalystCommand,
}

#[derive(Subcommand)]
enum AnalystCommand {
    /// The current hits of a purpose, every page (or at most --limit).
    Hits {
        /// The purpose (your recipient role must have a view on it).
        #[arg(long)]
        purpose: String,
        /// Only hits with this attribute value, `attribute=value`; may be repeated.
        #[arg(long = "filter", value_name = "ATTRIBUTE=VALUE")]
        filters: Vec<String>,
        /// At most this many hits.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// JSON (one array of hits) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One hit of a purpose.
    Hit {
        /// The purpose of the hit.
        #[arg(long)]
        purpose: String,
        /// The hit's id (`hit-…`), from `hits` or a notification.
        hit_id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A monitor table (counts, small cells left out, the rest perturbed: docs/monitor.md).
    Monitor {
        /// The monitor purpose.
        #[arg(long)]
        purpose: String,
        /// A dimension to count by; may be repeated; none: every dimension of your view.
        #[arg(long = "dimension", value_name = "DIMENSION")]
        dimensions: Vec<String>,
        /// The year of observation, YYYY; none: everything counted.
        #[arg(long)]
        period: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// For people.
    Table,
    /// Every field, for scripts.
    Json,
    /// One line per cell with the method, period and policy version.
    Csv,
}

/// The analyst client's configuration file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalystConfig {
    /// The coordinator's analyst API.
    coordinator: RoleUrl,
    /// The organisation's certificate and the CA (and CRLs) to check the coordinator with.
    tls: TlsFiles,
}

/// What went wrong, as an exit code.
enum Failure {
    Refused(tonic::Status),
    Unreachable(tonic::Status),
    Usage(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Usage(e)
    }
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Self::Unreachable(status),
            _ => Self::Refused(status),
        }
    }
}

pub fn run(args: AnalystArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let outcome = runtime.block_on(async {
        let mut client = connect(&args.config)?;
        query(&mut client, args.command).await
    });
    Ok(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(status)) => {
            eprintln!("refused ({:?}): {}", status.code(), status.message());
            ExitCode::from(1)
        }
        Err(Failure::Unreachable(status)) => {
            eprintln!(
                "the coordinator did not answer ({:?}): {}",
                status.code(),
                status.message()
            );
            ExitCode::from(3)
        }
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    })
}

fn connect(path: &Path) -> Result<AnalystServiceClient<tonic::transport::Channel>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config: AnalystConfig = toml::from_str(&text)
        .with_context(|| format!("{} is no analyst config", path.display()))?;
    let trust = Trust::load(&config.tls).context("the [tls] files")?;
    let expected: Arc<dyn ExpectedPeer> = match config.coordinator.oin() {
        Some(oin) => Arc::new(oin.clone()),
        None => Arc::new(AnyOin),
    };
    let channel = signaalnet_service::channel_to(config.coordinator.url(), &trust, expected)?;
    Ok(AnalystServiceClient::new(channel))
}

async fn query(
    client: &mut AnalystServiceClient<tonic::transport::Channel>,
    command: AnalystCommand,
) -> Result<(), Failure> {
    match command {
        AnalystCommand::Hits {
            purpose,
            filters,
            limit,
            json,
        } => {
            let filter = filters
                .iter()
                .map(|f| match f.split_once('=') {
                    Some((id, value)) => Ok(pb::Attribute {
                        id: id.to_owned(),
                        value: value.to_owned(),
                    }),
                    None => Err(anyhow::anyhow!("--filter `{f}`: write attribute=value")),
                })
                .collect::<Result<Vec<_>>>()?;
            let mut hits = Vec::new();
            let mut token = String::new();
            loop {
                let page = client
                    .list_hits(pb::AnalystListHitsRequest {
                        purpose: purpose.clone(),
                        filter: filter.clone(),
                        page_size: 500,
                        page_token: token,
                    })
                    .await?
                    .into_inner();
                hits.extend(page.hits);
                token = page.next_page_token;
                if token.is_empty() || hits.len() >= limit {
                    break;
                }
            }
            hits.truncate(limit);
            if json {
                print_json(&serde_json::Value::Array(
                    hits.iter().map(hit_json).collect(),
                ));
            } else {
                println!("{} hit(s) of {purpose}", hits.len());
                for hit in &hits {
                    print_hit(hit);
                }
            }
        }
        AnalystCommand::Hit {
            purpose,
            hit_id,
            json,
        } => {
            let hit = client
                .get_hit(pb::GetHitRequest { purpose, hit_id })
                .await?
                .into_inner();
            if json {
                print_json(&hit_json(&hit));
            } else {
                print_hit(&hit);
            }
        }
        AnalystCommand::Monitor {
            purpose,
            dimensions,
            period,
            format,
        } => {
            let table = client
                .get_monitor(pb::GetMonitorRequest {
                    purpose,
                    dimensions,
                    period: period.unwrap_or_default(),
                })
                .await?
                .into_inner();
            match format {
                Format::Table => signaalnet_devchain::demo::report::print_table(&table),
                Format::Json => print_json(&signaalnet_coordinator::monitor::table_json(&table)),
                Format::Csv => print!(
                    "{}",
                    signaalnet_coordinator::monitor::table_csv(&table)
                        .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?
                ),
            }
        }
    }
    Ok(())
}

fn hit_json(hit: &pb::AnalystHit) -> serde_json::Value {
    serde_json::json!({
        "hit_id": hit.hit_id,
        "purpose": hit.purpose,
        "formed_month": hit.formed_month,
        "signal_count": hit.signal_count,
        "partner_roles": hit.partner_roles.iter().map(|r| {
            pb::PartnerRole::try_from(*r).map_or("?".to_owned(), |r| r.as_str_name().to_owned())
        }).collect::<Vec<_>>(),
        "handles": hit.handles.iter().map(|h| serde_json::json!({
            "kind": kind(h.kind), "handle": h.handle,
        })).collect::<Vec<_>>(),
        "attributes": hit.attributes.iter().map(|a| (a.id.clone(), a.value.clone().into()))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
    })
}

fn print_hit(hit: &pb::AnalystHit) {
    println!(
        "  {}  formed {}  {} signal(s) from {}",
        hit.hit_id,
        hit.formed_month,
        hit.signal_count,
        roles(&hit.partner_roles)
    );
    for h in &hit.handles {
        println!("    {:<14} {}", kind(h.kind), h.handle);
    }
    println!("    attributes: {}", attrs(&hit.attributes));
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}
