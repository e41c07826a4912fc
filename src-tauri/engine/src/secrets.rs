//! Where secrets come from: an environment variable first, then a systemd credential (a file
//! named after the keyring user in `$CREDENTIALS_DIRECTORY`, from `LoadCredential=`), then the
//! OS keyring.
//!
//! The keyring crate abstracts Secret Service (Linux), Credential Manager (Windows) and Keychain
//! (macOS). Keyring calls can block forever when the store is locked and waiting for a prompt, so
//! they run on a blocking thread under a time limit and a stuck store becomes a clear error.
//! A [`Secret`] never prints its value, so it cannot leak into a log line or an error message.

use std::fmt;
use std::time::Duration;

/// Service name under which every Sentinela secret is stored in the keyring.
pub const KEYRING_SERVICE: &str = "sentinela";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(10);

/// A named secret: its environment variable and its keyring user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretName {
    pub env_var: &'static str,
    pub keyring_user: &'static str,
    /// How the user would call it, for messages.
    pub label: &'static str,
}

pub const IMAP_PASSWORD: SecretName = SecretName {
    env_var: "SENTINELA_IMAP_PASSWORD",
    keyring_user: "imap-password",
    label: "IMAP password",
};

pub const TWILIO_AUTH_TOKEN: SecretName = SecretName {
    env_var: "SENTINELA_TWILIO_AUTH_TOKEN",
    keyring_user: "twilio-auth-token",
    label: "Twilio auth token (or API key secret)",
};

/// The shared journal's database password (`[journal] url` without it).
pub const JOURNAL_PASSWORD: SecretName = SecretName {
    env_var: "SENTINELA_JOURNAL_PASSWORD",
    keyring_user: "journal-password",
    label: "shared journal's database password",
};

/// The OAuth2 app registration's client secret (Google's installed apps, Microsoft's app-only
/// sign-in); a public client has none.
pub const OAUTH_CLIENT_SECRET: SecretName = SecretName {
    env_var: "SENTINELA_OAUTH_CLIENT_SECRET",
    keyring_user: "oauth-client-secret",
    label: "OAuth2 client secret",
};

/// The mailbox sign-in's refresh token. Only ever in the keyring (see [`load_from_keyring`]):
/// the provider rotates it, so it must be somewhere Sentinela can write the new one.
pub const OAUTH_REFRESH_TOKEN: SecretName = SecretName {
    env_var: "",
    keyring_user: "oauth-refresh-token",
    label: "mailbox sign-in (OAuth2 refresh token)",
};

/// A secret value whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the {label} is not set: set the environment variable {env_var} or store it in the OS keyring (service \"sentinela\", user \"{keyring_user}\") from the settings window or with `sentinela-headless store-secret {keyring_user}`")]
    Missing { label: &'static str, env_var: &'static str, keyring_user: &'static str },
    #[error("the OS keyring could not be read for the {label}: {reason}. Unlock the keyring (or set {env_var}) and try again")]
    Unavailable { label: &'static str, env_var: &'static str, reason: String },
}

/// Reads a secret from its environment variable or, when that is unset or empty, the keyring.
pub async fn load(name: SecretName) -> Result<Secret, SecretError> {
    if let Some(v) =
        std::env::var(name.env_var).ok().filter(|v| !v.is_empty() && !name.env_var.is_empty())
    {
        return Ok(Secret(v));
    }
    if let Some(v) = from_credentials_directory(name) {
        return Ok(Secret(v));
    }
    load_from_keyring(name).await
}

/// Reads a secret from the OS keyring only.
pub async fn load_from_keyring(name: SecretName) -> Result<Secret, SecretError> {
    let unavailable = |reason: String| SecretError::Unavailable {
        label: name.label,
        env_var: name.env_var,
        reason,
    };
    let lookup = tokio::task::spawn_blocking(move || {
        keyring::Entry::new(KEYRING_SERVICE, name.keyring_user)?.get_password()
    });
    match tokio::time::timeout(KEYRING_TIMEOUT, lookup).await {
        Err(_) => Err(unavailable(
            "no answer within 10 s (locked or waiting for a password prompt?)".into(),
        )),
        Ok(Err(join)) => Err(unavailable(join.to_string())),
        Ok(Ok(Ok(v))) => Ok(Secret(v)),
        Ok(Ok(Err(keyring::Error::NoEntry))) => Err(SecretError::Missing {
            label: name.label,
            env_var: name.env_var,
            keyring_user: name.keyring_user,
        }),
        Ok(Ok(Err(e))) => Err(unavailable(e.to_string())),
    }
}

/// `$CREDENTIALS_DIRECTORY/<keyring user>` (systemd's `LoadCredential=imap-password:…`), without
/// its trailing line break. The directory is private to the service: systemd makes it so.
fn from_credentials_directory(name: SecretName) -> Option<String> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let text = std::fs::read_to_string(std::path::Path::new(&dir).join(name.keyring_user)).ok()?;
    Some(text.trim_end_matches(['\r', '\n']).to_owned()).filter(|v| !v.is_empty())
}

/// Stores a secret in the keyring (the settings window's "Replace" button).
pub async fn store(name: SecretName, value: Secret) -> Result<(), SecretError> {
    let unavailable = |reason: String| SecretError::Unavailable {
        label: name.label,
        env_var: name.env_var,
        reason,
    };
    let write = tokio::task::spawn_blocking(move || {
        keyring::Entry::new(KEYRING_SERVICE, name.keyring_user)?.set_password(value.expose())
    });
    match tokio::time::timeout(KEYRING_TIMEOUT, write).await {
        Err(_) => Err(unavailable("no answer within 10 s".into())),
        Ok(Err(join)) => Err(unavailable(join.to_string())),
        Ok(Ok(r)) => r.map_err(|e| unavailable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
