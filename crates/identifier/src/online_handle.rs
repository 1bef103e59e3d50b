//! Accounts on online platforms, where recruitment for sexual and labour exploitation often
//! starts (advertisements, "loverboy" contact, job offers on social media).

use crate::error::{only, IdentifierError};
use crate::redacted;

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
        let platform = Platform::parse(platform)?;
        let trimmed = strip_profile_link(handle.trim());
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

/// `https://www.instagram.com/name/?hl=nl` → `name`. Anything that is not a link is returned as
/// it is.
fn strip_profile_link(raw: &str) -> &str {
    let without_scheme = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    let Some((host, path)) = without_scheme.split_once('/') else {
        return raw;
    };
    if !host.contains('.') {
        return raw;
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/').find(|s| !s.is_empty()).unwrap_or("")
}
