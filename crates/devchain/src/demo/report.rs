//! How the demo prints what each party learned: hit notifications, analyst hits, monitor
//! tables.

use signaalnet_proto::v1 as pb;

pub fn short(version: &str) -> &str {
    &version[..version.len().min(19)]
}

pub fn kind(value: i32) -> &'static str {
    signaalnet_service::convert::kind_from_wire(value).map_or("?", |k| k.as_str())
}

pub fn roles(values: &[i32]) -> String {
    values
        .iter()
        .map(|r| match pb::PartnerRole::try_from(*r) {
            Ok(pb::PartnerRole::Gemeente) => "gemeente",
            Ok(pb::PartnerRole::Politie) => "politie",
            Ok(pb::PartnerRole::Nla) => "NLA",
            Ok(pb::PartnerRole::Zvh) => "ZVH",
            Ok(pb::PartnerRole::Riec) => "RIEC",
            _ => "?",
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

pub fn attrs(values: &[pb::Attribute]) -> String {
    if values.is_empty() {
        return "(none visible)".into();
    }
    values
        .iter()
        .map(|a| format!("{}={}", a.id, a.value))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn describe(n: &pb::HitNotification) -> String {
    if let Some(c) = &n.consultation {
        return describe_consultation(n, c);
    }
    let change = match pb::HitChange::try_from(n.change) {
        Ok(pb::HitChange::Formed) => "FORMED",
        Ok(pb::HitChange::Grew) => "GREW",
        Ok(pb::HitChange::Shrank) => "SHRANK",
        Ok(pb::HitChange::Dissolved) => "DISSOLVED",
        _ => "?",
    };
    let own: Vec<&str> = n
        .own_signals
        .iter()
        .map(|s| {
            if s.withdrawn {
                "(withdrawn signal)"
            } else {
                s.case_reference.as_str()
            }
        })
        .collect();
    let kinds: Vec<&str> = n.matched_kinds.iter().map(|k| kind(*k)).collect();
    let mut line = format!(
        "{} {:<9} {:<22} your case {}",
        n.hit_id,
        change,
        n.purpose,
        own.join(", ")
    );
    if !n.partner_roles.is_empty() {
        line.push_str(&format!("; partners {}", roles(&n.partner_roles)));
    }
    if !kinds.is_empty() {
        line.push_str(&format!("; linked through {}", kinds.join(", ")));
    }
    if !n.attributes.is_empty() {
        line.push_str(&format!("\n      {}", attrs(&n.attributes)));
    }
    if !n.contact_points.is_empty() {
        line.push_str(&format!("\n      contact: {}", n.contact_points.join(", ")));
    }
    line
}

/// A consultation notice: the request with the requester's contact point, or an answer.
fn describe_consultation(n: &pb::HitNotification, c: &pb::Consultation) -> String {
    let own: Vec<&str> = n
        .own_signals
        .iter()
        .map(|s| s.case_reference.as_str())
        .collect();
    let role = |r: i32| {
        if r == 0 {
            String::new()
        } else {
            format!(" ({})", roles(&[r]))
        }
    };
    if c.event == pb::ConsultationEvent::Requested as i32 {
        let reason = pb::ConsultationReason::try_from(c.reason).map_or("?", |r| {
            r.as_str_name().trim_start_matches("CONSULTATION_REASON_")
        });
        format!(
            "{} CONSULTATION REQUESTED ({reason}) by {}{} about your case {}",
            n.hit_id,
            c.requester_contact,
            role(c.requester_role),
            own.join(", ")
        )
    } else if c.answer == pb::ConsultationAnswer::Accepted as i32 {
        format!(
            "{} CONSULTATION ACCEPTED by {}{}",
            n.hit_id,
            c.answerer_contact,
            role(c.answerer_role)
        )
    } else {
        let reason = pb::DeclineReason::try_from(c.decline_reason).map_or("?", |r| {
            r.as_str_name().trim_start_matches("DECLINE_REASON_")
        });
        format!(
            "{} CONSULTATION DECLINED{} ({reason})",
            n.hit_id,
            role(c.answerer_role)
        )
    }
}

pub fn print_table(table: &pb::MonitorTable) {
    let method = table.method.as_ref();
    println!(
        "\n  {} — {} received before {}{}; cells below {} left out (the total counts them), the \
         rest perturbed by {} (at most ±{})",
        table.dimensions.join(" × "),
        table.counts,
        table.counted_before,
        if table.period.is_empty() {
            String::new()
        } else {
            format!(", observed in {}", table.period)
        },
        table.min_cell_size,
        method.map_or("?", |m| m.name.as_str()),
        method.map_or(0, |m| m.noise_bound),
    );
    let count = |row: &pb::MonitorRow| {
        if row.status == pb::CellStatus::Suppressed as i32 {
            format!("< {}", table.min_cell_size)
        } else {
            format!("~{}", row.count)
        }
    };
    for row in &table.rows {
        println!("    {:<60} {:>6}", row.values.join(" | "), count(row));
    }
    if let Some(total) = &table.total {
        println!(
            "    {:<60} {:>6}",
            "total (a cell of its own)",
            count(total)
        );
    }
    let total_shown = table
        .total
        .as_ref()
        .is_some_and(|t| t.status == pb::CellStatus::Perturbed as i32);
    if table.rows.is_empty() && total_shown {
        println!("    (no cell reaches the minimum: only the total can be shown)");
    } else if table.rows.is_empty() {
        println!(
            "    (fewer than the minimum counted: a signal counts from the start of the month \
             its counting delay reaches back to)"
        );
    }
    println!(
        "    ~ perturbed: the true count is within ±{bound}",
        bound = method.map_or(0, |m| m.noise_bound)
    );
}
