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
        .map(|s| s.case_reference.as_str())
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
    line
}

pub fn print_table(table: &pb::MonitorTable) {
    println!(
        "\n  {} (cells below {} suppressed: {} of the finest table; totals count published cells only)",
        table.dimensions.join(" × "),
        table.min_cell_size,
        table.suppressed_cells
    );
    let mut total = 0;
    for row in &table.rows {
        println!("    {:<60} {:>5}", row.values.join(" | "), row.count);
        total += row.count;
    }
    println!("    {:<60} {:>5}", "total (published)", total);
}
