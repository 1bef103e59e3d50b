//! A monitor table as it leaves signaalnet for a report: JSON (every field) and CSV (one line per
//! cell, each line carrying the method, the period and the policy version, so a line copied on
//! its own still says what it is). A suppressed total has no count, not a 0.

use signaalnet_proto::v1 as pb;

fn suppressed(row: &pb::MonitorRow) -> bool {
    row.status == pb::CellStatus::Suppressed as i32
}

/// A table as JSON, as it is kept and exported: every field, cell statuses by name.
pub fn table_json(table: &pb::MonitorTable) -> serde_json::Value {
    let row = |r: &pb::MonitorRow| {
        let suppressed = suppressed(r);
        serde_json::json!({
            "values": r.values,
            "count": if suppressed { serde_json::Value::Null } else { r.count.into() },
            "status": if suppressed { "suppressed" } else { "perturbed" },
        })
    };
    serde_json::json!({
        "dimensions": table.dimensions,
        "counts": table.counts,
        "period": table.period,
        "counted_before": table.counted_before,
        "min_cell_size": table.min_cell_size,
        "has_suppressed": table.has_suppressed,
        "method": table.method.as_ref().map(|m| serde_json::json!({
            "name": m.name, "noise_bound": m.noise_bound, "description": m.description,
        })),
        "policy_version": table.policy.as_ref().map(|p| p.version.clone()),
        "release_id": table.release_id,
        "total": table.total.as_ref().map(row),
        "rows": table.rows.iter().map(row).collect::<Vec<_>>(),
    })
}

/// A table as CSV: a header, then one line per published cell and one for the total (its values
/// `totaal`), each with the count (empty when suppressed), its status and the table's method,
/// noise bound, what is counted, period, cut-off, policy version and release id.
pub fn table_csv(table: &pb::MonitorTable) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = table.dimensions.iter().map(String::as_str).collect();
    header.extend([
        "count",
        "status",
        "method",
        "noise_bound",
        "counts",
        "period",
        "counted_before",
        "policy_version",
        "release_id",
    ]);
    out.write_record(&header)?;
    let method = table.method.as_ref();
    let line = |values: Vec<String>, row: &pb::MonitorRow| -> Vec<String> {
        let mut line = values;
        line.push(if suppressed(row) {
            String::new()
        } else {
            row.count.to_string()
        });
        line.push(
            if suppressed(row) {
                "suppressed"
            } else {
                "perturbed"
            }
            .to_owned(),
        );
        line.push(method.map(|m| m.name.clone()).unwrap_or_default());
        line.push(
            method
                .map(|m| m.noise_bound.to_string())
                .unwrap_or_default(),
        );
        line.push(table.counts.clone());
        line.push(table.period.clone());
        line.push(table.counted_before.clone());
        line.push(
            table
                .policy
                .as_ref()
                .map(|p| p.version.clone())
                .unwrap_or_default(),
        );
        line.push(table.release_id.clone());
        line
    };
    for row in &table.rows {
        out.write_record(line(row.values.clone(), row))?;
    }
    if let Some(total) = &table.total {
        out.write_record(line(
            vec!["totaal".to_owned(); table.dimensions.len()],
            total,
        ))?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> pb::MonitorTable {
        pb::MonitorTable {
            dimensions: vec!["gemeente".into()],
            rows: vec![pb::MonitorRow {
                values: vec!["(niet gedeeld)".into()],
                count: 12,
                status: pb::CellStatus::Perturbed as i32,
            }],
            total: Some(pb::MonitorRow {
                values: vec![],
                count: 0,
                status: pb::CellStatus::Suppressed as i32,
            }),
            method: Some(pb::DisclosureMethod {
                name: "cell_key".into(),
                noise_bound: 2,
                description: "ruis, met een komma".into(),
            }),
            counts: "signals".into(),
            period: "2023".into(),
            counted_before: "2024-02-01".into(),
            policy: Some(pb::PolicyVersion {
                version: "v1".into(),
            }),
            release_id: "ab".into(),
            ..Default::default()
        }
    }

    #[test]
    fn csv_carries_the_method_period_and_policy_on_every_line_and_no_count_for_a_suppressed_cell() {
        let csv = table_csv(&table()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            [
                "gemeente,count,status,method,noise_bound,counts,period,counted_before,policy_version,release_id",
                "(niet gedeeld),12,perturbed,cell_key,2,signals,2023,2024-02-01,v1,ab",
                "totaal,,suppressed,cell_key,2,signals,2023,2024-02-01,v1,ab",
            ]
        );
    }

    #[test]
    fn json_names_statuses_and_gives_no_count_for_a_suppressed_cell() {
        let json = table_json(&table());
        assert_eq!(json["rows"][0]["count"], 12);
        assert_eq!(json["rows"][0]["status"], "perturbed");
        assert!(json["total"]["count"].is_null());
        assert_eq!(json["method"]["noise_bound"], 2);
        assert_eq!(json["policy_version"], "v1");
    }
}
