//! Who is at the browser: the person whose personal certificate completed the TLS handshake,
//! looked up by its subject CN and serial number in the console's configuration. A certificate
//! of the CA that names nobody in the configuration (an organisation's certificate, a person
//! who left) is refused on every page.

use crate::config::PersonConfig;
use crate::ConsoleError;
use signaalnet_policy::{Partner, PolicySet, RecipientRole};
use std::collections::BTreeSet;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The certificate a connection presented: what the console reads from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    pub common_name: String,
    /// Lowercase hex without leading zero bytes' separators.
    pub serial: String,
    pub der: std::sync::Arc<Vec<u8>>,
}

impl PeerCertificate {
    pub fn from_der(der: &[u8]) -> Result<Self, ConsoleError> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| ConsoleError::Certificate(e.to_string()))?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or_else(|| ConsoleError::Certificate("no subject CN".into()))?
            .to_owned();
        Ok(Self {
            common_name,
            serial: normalise_serial(&hex::encode(cert.tbs_certificate.raw_serial())),
            der: std::sync::Arc::new(der.to_vec()),
        })
    }
}

/// Hex without separators or leading zeros, lowercase: `00:1A:2b` and `1a2b` are one serial.
pub fn normalise_serial(serial: &str) -> String {
    let hex: String = serial
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A person who may use the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub common_name: String,
    pub serial: String,
    pub name: String,
    pub roles: BTreeSet<RecipientRole>,
    pub privacy_officer: bool,
}

impl Person {
    /// How the audit trail names them: CN and certificate serial, never more.
    pub fn reference(&self) -> String {
        format!("person:{}#{}", self.common_name, self.serial)
    }

    /// The recipient roles, in the policy's words.
    pub fn role_names(&self) -> Vec<&'static str> {
        self.roles.iter().map(|r| r.as_str()).collect()
    }

    /// The first of their roles with a view on `purpose`, if any.
    pub fn view_role(&self, policy: &PolicySet, purpose: &str) -> Option<RecipientRole> {
        self.roles
            .iter()
            .copied()
            .find(|r| policy.recipient_view(*r, purpose).is_some())
    }
}

/// Everyone in the configuration, checked against the organisation's roles in the policy set.
#[derive(Debug, Clone)]
pub struct People(Vec<Person>);

impl People {
    /// Refuses a person given a role the organisation does not hold (or `partner`, which is a
    /// node's role, not a person's), and a certificate named twice.
    pub fn new(configured: &[PersonConfig], organisation: &Partner) -> Result<Self, ConsoleError> {
        let mut people: Vec<Person> = Vec::new();
        for p in configured {
            for role in &p.roles {
                if *role == RecipientRole::Partner || !organisation.recipient_roles.contains(role) {
                    return Err(ConsoleError::Config(format!(
                        "person `{}`: the policy set does not give {} the role `{}` (it holds: {})",
                        p.common_name,
                        organisation.id,
                        role.as_str(),
                        organisation
                            .recipient_roles
                            .iter()
                            .filter(|r| **r != RecipientRole::Partner)
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            let person = Person {
                common_name: p.common_name.clone(),
                serial: normalise_serial(&p.serial),
                name: p.name.clone(),
                roles: p.roles.iter().copied().collect(),
                privacy_officer: p.privacy_officer,
            };
            if people
                .iter()
                .any(|q| q.common_name == person.common_name && q.serial == person.serial)
            {
                return Err(ConsoleError::Config(format!(
                    "person `{}` with serial {} is configured twice",
                    person.common_name, person.serial
                )));
            }
            people.push(person);
        }
        Ok(Self(people))
    }

    /// The person a certificate belongs to: CN and serial must both match.
    pub fn find(&self, cert: &PeerCertificate) -> Option<&Person> {
        self.0
            .iter()
            .find(|p| p.common_name == cert.common_name && p.serial == cert.serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PolicySet {
        PolicySet::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"))
            .unwrap_or_else(|p| panic!("{p}"))
    }

    fn person(cn: &str, serial: &str, roles: &[RecipientRole]) -> PersonConfig {
        PersonConfig {
            common_name: cn.into(),
            serial: serial.into(),
            name: cn.into(),
            roles: roles.to_vec(),
            privacy_officer: false,
        }
    }

    #[test]
    fn people_act_only_in_roles_the_policy_gives_their_organisation() {
        let policy = policy();
        let riec = policy
            .partner("riec_noord_nederland")
            .unwrap_or_else(|| panic!("riec"));
        let people = People::new(&[person("a", "0A", &[RecipientRole::RiecAnalist])], riec)
            .unwrap_or_else(|e| panic!("{e}"));
        let cert = |cn: &str, serial: &str| PeerCertificate {
            common_name: cn.into(),
            serial: serial.into(),
            der: std::sync::Arc::new(Vec::new()),
        };
        let a = people
            .find(&cert("a", "a"))
            .unwrap_or_else(|| panic!("found"));
        // The analyst sees the analysis purpose, not the Drieluik (the ketenregisseur's).
        assert_eq!(
            a.view_role(&policy, "riec_integrale_analyse"),
            Some(RecipientRole::RiecAnalist)
        );
        assert_eq!(a.view_role(&policy, "signalering_drieluik"), None);
        // Both CN and serial must match: a reissued or someone else's certificate is nobody.
        assert!(people.find(&cert("a", "b")).is_none());
        assert!(people.find(&cert("b", "a")).is_none());
        // The RIEC holds no ketenregisseur role, and `partner` is a node's, not a person's.
        for role in [RecipientRole::Ketenregisseur, RecipientRole::Partner] {
            let refused = People::new(&[person("k", "1", &[role])], riec)
                .map(|_| ())
                .unwrap_err();
            assert!(refused.to_string().contains(role.as_str()), "{refused}");
        }
        let twice = [person("a", "01", &[]), person("a", "1", &[])];
        assert!(People::new(&twice, riec).is_err());
    }

    #[test]
    fn serials_compare_in_any_notation() {
        assert_eq!(normalise_serial("00:1A:2b"), "1a2b");
        assert_eq!(normalise_serial("1A2B"), "1a2b");
        assert_eq!(normalise_serial("00"), "0");
    }
}
