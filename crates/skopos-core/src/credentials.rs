//! Registry credentials and the [`Secret`] they are built on: one type for what the command
//! line gives (`--creds`, `--registry-token`, `--no-creds`), what auth files and credential
//! helpers hold, and what the registry client sends.

use std::fmt;

/// A password, token or passphrase: kept out of `Debug` output so it never reaches a log.
/// It deserializes from a plain string, for configuration files that hold one.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to authenticate to one registry. `Debug` shows usernames but never a password or
/// token (they are [`Secret`]s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials: access the registry anonymously (`--no-creds`, or nothing configured).
    #[default]
    Anonymous,
    /// A username and password (`--creds USER:PASS`, `--username`/`--password`, an auth file's
    /// `auth`), sent as HTTP Basic or to a token realm's password grant.
    Basic {
        /// The username.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An OAuth2 refresh token (`identitytoken` in auth files, or a credential helper's
    /// `<token>` user), exchanged at the token realm.
    IdentityToken {
        /// The username stored next to the token, if any (what `login --get-login` prints);
        /// the registry is never sent it.
        username: Option<String>,
        /// The refresh token.
        token: Secret,
    },
    /// A bearer token sent as it is (`--registry-token`).
    BearerToken(Secret),
}

impl Credentials {
    /// `username` and `password` as [`Credentials::Basic`].
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// The username, if these credentials have one (what `login --get-login` prints).
    pub fn username(&self) -> Option<&str> {
        match self {
            Credentials::Anonymous | Credentials::BearerToken(_) => None,
            Credentials::Basic { username, .. } => Some(username),
            Credentials::IdentityToken { username, .. } => username.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_password_or_token() {
        let all = [
            Credentials::basic("alice", "password-secret"),
            Credentials::IdentityToken {
                username: Some("bob".into()),
                token: Secret::new("refresh-secret"),
            },
            Credentials::BearerToken(Secret::new("bearer-secret")),
        ];
        for creds in all {
            let shown = format!("{creds:?}");
            let pretty = format!("{creds:#?}");
            for text in [&shown, &pretty] {
                assert!(!text.contains("secret"), "{text}");
                assert!(text.contains("<redacted>"), "{text}");
            }
        }
        assert!(format!("{:?}", Credentials::basic("alice", "x")).contains("alice"));
    }

    #[test]
    fn username_is_what_login_get_login_prints() {
        assert_eq!(Credentials::basic("alice", "p").username(), Some("alice"));
        assert_eq!(Credentials::Anonymous.username(), None);
        assert_eq!(Credentials::BearerToken(Secret::new("t")).username(), None);
        let token_only = Credentials::IdentityToken {
            username: None,
            token: Secret::new("t"),
        };
        assert_eq!(token_only.username(), None);
    }
}
