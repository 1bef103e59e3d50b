//! The organisations of the example policy set (`policies/`), by their ids there.

pub const GEMEENTE: &str = "gemeente_groningen";
pub const POLITIE: &str = "politie_noord_nederland";
pub const NLA: &str = "nla";
pub const ZVH: &str = "zvh_groningen";
/// The four partners that submit signals, each running a node.
pub const PARTNERS: [&str; 4] = [GEMEENTE, POLITIE, NLA, ZVH];
/// The RIEC, which runs the coordinator and whose analysts query it.
pub const RIEC: &str = "riec_noord_nederland";
pub const COORDINATOR: &str = "coordinator_riec";
pub const TRANSCRYPTORS: [&str; 2] = ["transcryptor_vng", "transcryptor_jenv"];

pub const DRIELUIK: &str = "signalering_drieluik";
pub const ZORG: &str = "zorgcoordinatie";
pub const RIEC_ANALYSE: &str = "riec_integrale_analyse";
pub const MONITOR: &str = "monitor_aard_omvang";
