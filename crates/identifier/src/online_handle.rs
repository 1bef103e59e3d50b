//! Accounts on online platforms, where recruitment for sexual and labour exploitation often
//! starts (advertisements, "loverboy" contact, job offers on social media).
//!
//! A handle may be given as a profile link. The link's site must be the named platform's: a
//! Facebook link given as an Instagram handle is refused (`online_handle.platform_mismatch`),
//! because its last path segment is a Facebook name, and matching it as an Instagram account
//! would join two different people. A link to a site that is none of the listed platforms is
//! refused for a listed platform for the same reason; for another platform (`Other`) any link
//! is read.

use crate::error::{at_most, only, IdentifierError};
use crate::{limits, redacted};

/// The platforms a partner can name. The list is closed so that `insta`, `ig` and `Instagram`
/// all land on the same platform; `Other` takes a folded platform name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Platform {
    Instagram,
    TikTok,
    Snapchat,
    Telegram,
    Facebook,
    X,
    OnlyFans,
    Kik,
    Signal,
    WhatsApp,
    Discord,
    Reddit,
    Other(String),
}

impl Platform {
    fn parse(raw: &str) -> Result<Self, IdentifierError> {
        at_most(
            "online_handle.platform",
            raw,
            limits::PLATFORM,
            "online_handle.too_long",
        )?;
        let folded: String = raw
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_' && *c != '.')
            .collect();
        Ok(match folded.as_str() {
            "instagram" | "insta" | "ig" => Self::Instagram,
            "tiktok" => Self::TikTok,
            "snapchat" | "snap" => Self::Snapchat,
            "telegram" | "tg" => Self::Telegram,
            "facebook" | "fb" | "messenger" => Self::Facebook,
            "x" | "twitter" => Self::X,
            "onlyfans" | "of" => Self::OnlyFans,
            "kik" => Self::Kik,
            "signal" => Self::Signal,
            "whatsapp" | "wa" => Self::WhatsApp,
            "discord" => Self::Discord,
            "reddit" => Self::Reddit,
            "" => {
                return Err(IdentifierError::new(
                    "online_handle.platform",
                    "is empty",
                    "online_handle.platform_required",
                ))
            }
            other => {
                only(
                    "online_handle.platform",
                    other,
                    |c| c.is_ascii_alphanumeric(),
                    "a platform name has letters and digits only",
                    "online_handle.platform",
                )?;
                if other.len() > 32 {
                    return Err(IdentifierError::new(
                        "online_handle.platform",
                        "is longer than 32 characters",
                        "online_handle.platform",
                    ));
                }
                Self::Other(other.to_owned())
            }
        })
    }

    /// The platform a profile link's host belongs to, if it is one of the listed ones.
    fn of_host(host: &str) -> Option<Self> {
        let host = host.to_ascii_lowercase();
        let host = host.split(':').next().unwrap_or("");
        let site = host
            .strip_prefix("www.")
            .or_else(|| host.strip_prefix("m."))
            .or_else(|| host.strip_prefix("mobile."))
            .or_else(|| host.strip_prefix("web."))
            .or_else(|| host.strip_prefix("old."))
            .or_else(|| host.strip_prefix("vm."))
            .unwrap_or(host);
        Some(match site {
            "instagram.com" | "instagr.am" => Self::Instagram,
            "tiktok.com" => Self::TikTok,
            "snapchat.com" => Self::Snapchat,
            "t.me" | "telegram.me" | "telegram.org" => Self::Telegram,
            "facebook.com" | "fb.com" | "fb.me" | "messenger.com" | "m.me" => Self::Facebook,
            "x.com" | "twitter.com" => Self::X,
            "onlyfans.com" => Self::OnlyFans,
            "kik.me" | "kik.com" => Self::Kik,
            "signal.me" | "signal.org" => Self::Signal,
            "wa.me" | "whatsapp.com" => Self::WhatsApp,
            "discord.com" | "discord.gg" | "discordapp.com" => Self::Discord,
            "reddit.com" => Self::Reddit,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Instagram => "instagram",
            Self::TikTok => "tiktok",
            Self::Snapchat => "snapchat",
            Self::Telegram => "telegram",
            Self::Facebook => "facebook",
            Self::X => "x",
            Self::OnlyFans => "onlyfans",
            Self::Kik => "kik",
            Self::Signal => "signal",
            Self::WhatsApp => "whatsapp",
            Self::Discord => "discord",
            Self::Reddit => "reddit",
            Self::Other(name) => name,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OnlineHandle {
    platform: Platform,
    handle: String,
}
redacted!(OnlineHandle);

impl OnlineHandle {
    /// The handle may be written with a leading `@` or as a profile link
    /// (`https://www.instagram.com/name/`, `t.me/name`); it is case-folded. Handles are
    /// 1–64 characters of letters, digits, `.`, `_` and `-`.
    pub fn parse(platform: &str, handle: &str) -> Result<Self, IdentifierError> {
        const FIELD: &str = "online_handle.handle";
        at_most(FIELD, handle, limits::HANDLE, "online_handle.too_long")?;
        let platform = Platform::parse(platform)?;
        let (host, trimmed) = strip_profile_link(handle.trim());
        if let Some(host) = host {
            match Platform::of_host(host) {
                Some(linked) if linked == platform => {}
                _ if matches!(platform, Platform::Other(_)) => {}
                Some(linked) => {
                    return Err(IdentifierError::new(
                        FIELD,
                        format!(
                            "is a link to a {} profile, not to {}",
                            linked.as_str(),
                            platform.as_str()
                        ),
                        "online_handle.platform_mismatch",
                    ))
                }
                None => {
                    return Err(IdentifierError::new(
                        FIELD,
                        format!("is a link to another site than {}", platform.as_str()),
                        "online_handle.platform_mismatch",
                    ))
                }
            }
        }
        let trimmed = trimmed.strip_prefix('@').unwrap_or(trimmed);
        let folded = trimmed.to_lowercase();
        if folded.is_empty() {
            return Err(IdentifierError::new(
                FIELD,
                "is empty",
                "online_handle.handle_required",
            ));
        }
        only(
            FIELD,
            &folded,
            |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
            "handles have letters, digits, '.', '_' and '-' only",
            "online_handle.characters",
        )?;
        if folded.len() > 64 {
            return Err(IdentifierError::new(
                FIELD,
                format!("has {} characters; at most 64", folded.len()),
                "online_handle.length",
            ));
        }
        Ok(Self {
            platform,
            handle: folded,
        })
    }

    /// `instagram:name`.
    pub fn normalised(&self) -> String {
        format!("{}:{}", self.platform.as_str(), self.handle)
    }
}

/// `https://www.instagram.com/name/?hl=nl` → (`www.instagram.com`, `name`). Also reads
/// `facebook.com/profile.php?id=100012345` (the id), `reddit.com/user/name` and
/// `reddit.com/u/name`, `snapchat.com/add/name`, and `tiktok.com/@name`. Anything that is not a
/// link is returned as it is, without a host.
fn strip_profile_link(raw: &str) -> (Option<&str>, &str) {
    let without_scheme = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    let Some((host, rest)) = without_scheme.split_once('/') else {
        return (None, raw);
    };
    if !host.contains('.') {
        return (None, raw);
    }
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, query.split('#').next().unwrap_or("")),
        None => (rest.split('#').next().unwrap_or(""), ""),
    };
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let first = segments.next().unwrap_or("");
    let handle = match first {
        "profile.php" => query
            .split('&')
            .find_map(|kv| kv.strip_prefix("id="))
            .unwrap_or(""),
        "user" | "u" | "add" => segments.next().unwrap_or(first),
        _ => first,
    };
    (Some(host), handle)
}
