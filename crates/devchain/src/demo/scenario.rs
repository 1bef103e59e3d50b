//! The demo's scenario, drawn from the seed documents: four cases that must form hits (labour
//! exploitation at an employer's address, a minor in zorgcoördinatie, a person seen by three
//! partners, an online recruiter) among background signals that must not.

use crate::partners::{DRIELUIK, GEMEENTE, NLA, POLITIE, RIEC_ANALYSE, ZORG, ZVH};
use crate::requests::{address, handle, id, person, signal_for, vehicle};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;

fn signal(
    case: &str,
    purpose: &str,
    month: &str,
    identifiers: Vec<pb::Identifier>,
    attributes: &[(&str, &str)],
) -> pb::SubmitSignalRequest {
    signal_for(purpose, month, case, identifiers, attributes)
}

/// The scenario: (partner, signal). Cases A–D must form hits; the rest must not.
pub fn scenario() -> Vec<(&'static str, pb::SubmitSignalRequest)> {
    let gm = ("gemeente", "GM0014");
    let mut s = vec![
        // A. Labour exploitation: the NLA's employer at an address, the gemeente's overcrowded
        // address with a registered worker, a police contact with the same worker.
        (
            NLA,
            signal(
                "NLA-INS-2026-0412",
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk("68750110".into())), address("9711 AB", "12")],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "land_en_tuinbouw"),
                    ("woonsituatie", "huisvesting_via_werkgever"),
                    gm,
                    ("bron_signaal", "inspectie"),
                ],
            ),
        ),
        (
            GEMEENTE,
            signal(
                "GRO-HH-2026-88123",
                DRIELUIK,
                "2026-10",
                vec![
                    address("9711ab", "12"),
                    person("Wisniewski", "P.", "12-03-1994"),
                ],
                &[
                    ("woonsituatie", "overbewoning"),
                    ("barriere_fase", "huisvesting"),
                    gm,
                    ("bron_signaal", "handhaving"),
                ],
            ),
        ),
        (
            POLITIE,
            signal(
                "PL0100-2026-771203",
                DRIELUIK,
                "2026-09",
                vec![
                    person("WIŚNIEWSKI", "Piotr", "1994-03-12"),
                    id(Value::Phone("+48 601 234 567".into())),
                ],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("politie_registratie", "true"),
                    gm,
                    ("bron_signaal", "politiecontact"),
                ],
            ),
        ),
        // B. Sexual exploitation: the ZVH's client and a police signal share an online handle
        // and a phone number (spelled differently). The ZVH later withdraws its signal.
        (
            ZVH,
            signal(
                "ZVH-GRN-2026-0193",
                DRIELUIK,
                "2026-09",
                vec![
                    handle("Instagram", "@Lisa.Model_99"),
                    id(Value::Phone("06-12345678".into())),
                ],
                &[
                    ("vorm_uitbuiting", "seksuele_uitbuiting"),
                    ("bron_signaal", "hulpverlening"),
                    gm,
                ],
            ),
        ),
        (
            POLITIE,
            signal(
                "PL0100-2026-755001",
                DRIELUIK,
                "2026-09",
                vec![
                    handle("insta", "lisa.model_99"),
                    id(Value::Phone("+31 6 1234 5678".into())),
                ],
                &[
                    ("vorm_uitbuiting", "seksuele_uitbuiting"),
                    ("minderjarig", "false"),
                    gm,
                ],
            ),
        ),
        // C. Criminal exploitation of a minor: the gemeente and the ZVH coordinate care.
        (
            GEMEENTE,
            signal(
                "GRO-JZ-2026-0311",
                ZORG,
                "2026-10",
                vec![id(Value::Bsn("123456782".into()))],
                &[("minderjarig", "true"), ("zorgbehoefte", "true"), gm],
            ),
        ),
        (
            ZVH,
            signal(
                "ZVH-GRN-2026-0201",
                ZORG,
                "2026-10",
                vec![id(Value::Bsn("1234 56 782".into()))],
                &[
                    ("vorm_uitbuiting", "criminele_uitbuiting"),
                    ("minderjarig", "true"),
                    gm,
                ],
            ),
        ),
        // D. For the RIEC's integral analysis: wages paid into one account, workers driven in
        // one van, the employer known to the gemeente.
        (
            NLA,
            signal(
                "NLA-INS-2026-0398",
                RIEC_ANALYSE,
                "2026-08",
                vec![
                    id(Value::Iban("NL91 ABNA 0417 1643 00".into())),
                    vehicle("", "12-AB-34"),
                ],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "land_en_tuinbouw"),
                    gm,
                ],
            ),
        ),
        (
            POLITIE,
            signal(
                "PL0100-2026-771210",
                RIEC_ANALYSE,
                "2026-09",
                vec![vehicle("NL", "12ab34"), id(Value::Kvk("6875 0110".into()))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("politie_registratie", "true"),
                    gm,
                ],
            ),
        ),
        (
            GEMEENTE,
            signal(
                "GRO-RIEC-2026-0044",
                RIEC_ANALYSE,
                "2026-10",
                vec![id(Value::Kvk("68750110".into())), address("9711AB", "12")],
                &[("barriere_fase", "arbeid"), gm],
            ),
        ),
        // One partner alone never forms a hit: two NLA inspections of the same employer.
        (
            NLA,
            signal(
                "NLA-INS-2026-0501",
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk("40123456".into()))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "schoonmaak"),
                    gm,
                ],
            ),
        ),
        (
            NLA,
            signal(
                "NLA-INS-2026-0502",
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk("40123456".into()))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "schoonmaak"),
                    gm,
                ],
            ),
        ),
    ];
    // Background: many signals that share nothing, for the monitor.
    for i in 0..12 {
        s.push((
            NLA,
            signal(
                &format!("NLA-INS-2026-06{i:02}"),
                DRIELUIK,
                "2026-10",
                vec![id(Value::Kvk(format!("7{:07}", 100 + i)))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "land_en_tuinbouw"),
                    gm,
                ],
            ),
        ));
        s.push((
            POLITIE,
            signal(
                &format!("PL0100-2026-7800{i:02}"),
                DRIELUIK,
                "2026-09",
                vec![id(Value::Phone(format!("+31 6 2000 01{i:02}")))],
                &[("vorm_uitbuiting", "seksuele_uitbuiting"), gm],
            ),
        ));
    }
    for i in 0..10 {
        s.push((
            GEMEENTE,
            signal(
                &format!("GRO-HH-2026-900{i:02}"),
                DRIELUIK,
                "2026-10",
                vec![address("9712 CD", &format!("{}", i + 1))],
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("sector", "uitzendbranche"),
                    ("woonsituatie", "overbewoning"),
                    gm,
                ],
            ),
        ));
    }
    for i in 0..6 {
        s.push((
            ZVH,
            signal(
                &format!("ZVH-GRN-2026-03{i:02}"),
                DRIELUIK,
                "2026-09",
                vec![handle("telegram", &format!("werk_in_nl_{i}"))],
                &[
                    ("vorm_uitbuiting", "seksuele_uitbuiting"),
                    ("gemeente", "GM0363"),
                ],
            ),
        ));
    }
    s
}
