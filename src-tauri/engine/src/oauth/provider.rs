//! `[mailbox.oauth2]`: which provider signs the mailbox in, and where its endpoints are.
//!
//! The presets for Microsoft 365 and Google live here and nowhere else: the URLs, scopes and
//! extra parameters their documentation gives for IMAP. They were written from that
//! documentation; the flows themselves are tested against a real authorization server
//! (oidc-provider) configured the same way, since the providers cannot be reached from the tests.

use serde::{Deserialize, Serialize};

/// Who runs the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum OAuthProvider {
    /// Microsoft 365 / Exchange Online / Outlook.com (Entra ID).
    Microsoft,
    /// Google Workspace / Gmail.
    Google,
    /// Any other authorization server: `authorize_url` and `token_url` are required.
    Other,
}

/// Whose authority the mailbox is opened with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum SignInFlow {
    /// A person signs in once (browser, or device code); the refresh token is kept in the keyring.
    #[default]
    User,
    /// The application itself (client credentials): Microsoft 365's `IMAP.AccessAsApp`, for a
    /// shared alarm mailbox on a server. The client secret comes from the keyring or environment.
    App,
}

/// The SASL mechanism the IMAP server is given the token with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum SaslMechanism {
    /// Google's and Microsoft's `XOAUTH2` (what both document for IMAP).
    #[default]
    Xoauth2,
    /// RFC 7628 `OAUTHBEARER`.
    Oauthbearer,
}

/// `[mailbox.oauth2]`: present when the mailbox is signed in with OAuth2 instead of a password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    pub provider: OAuthProvider,
    /// The app's registration: Entra ID's "Application (client) ID", or Google's OAuth client ID.
    pub client_id: String,
    /// Microsoft only: the directory (tenant) id or domain; `organizations` when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub tenant: String,
    #[serde(default)]
    pub flow: SignInFlow,
    #[serde(default)]
    pub mechanism: SaslMechanism,
    /// Overrides (required for `other`): the authorization, token and device-code endpoints
    /// and the scopes, space-separated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub authorize_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub token_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub device_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub scope: String,
}

/// The resolved endpoints and scopes of one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    pub device: String,
    pub scopes: Vec<String>,
    /// Extra authorization-request parameters the provider needs to hand out a refresh token.
    pub extra_params: &'static [(&'static str, &'static str)],
}

/// IMAP server, port and implicit TLS of a provider, for the settings window's preset.
pub fn imap_server(provider: OAuthProvider) -> Option<(&'static str, u16)> {
    match provider {
        OAuthProvider::Microsoft => Some(("outlook.office365.com", 993)),
        OAuthProvider::Google => Some(("imap.gmail.com", 993)),
        OAuthProvider::Other => None,
    }
}

impl OAuth2Config {
    pub fn endpoints(&self) -> Endpoints {
        let or = |given: &str, preset: String| {
            if given.trim().is_empty() {
                preset
            } else {
                given.trim().to_owned()
            }
        };
        let (authorize, token, device, scope, extra_params): (
            String,
            String,
            String,
            &str,
            &'static [(&str, &str)],
        ) = match self.provider {
            OAuthProvider::Microsoft => {
                let tenant = if self.tenant.trim().is_empty() {
                    "organizations"
                } else {
                    self.tenant.trim()
                };
                let base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
                let scope = match self.flow {
                    SignInFlow::User => {
                        "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
                    }
                    SignInFlow::App => "https://outlook.office365.com/.default",
                };
                (
                    format!("{base}/authorize"),
                    format!("{base}/token"),
                    format!("{base}/devicecode"),
                    scope,
                    &[],
                )
            }
            OAuthProvider::Google => (
                "https://accounts.google.com/o/oauth2/v2/auth".into(),
                "https://oauth2.googleapis.com/token".into(),
                "https://oauth2.googleapis.com/device/code".into(),
                "https://mail.google.com/",
                // Without both, Google hands out no refresh token on a second sign-in.
                &[("access_type", "offline"), ("prompt", "consent")],
            ),
            OAuthProvider::Other => (String::new(), String::new(), String::new(), "", &[]),
        };
        let scope = or(&self.scope, scope.to_owned());
        Endpoints {
            authorize: or(&self.authorize_url, authorize),
            token: or(&self.token_url, token),
            device: or(&self.device_url, device),
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            extra_params,
        }
    }

    /// What is wrong with this section, as (field, problem, fix) in English and Portuguese.
    pub fn problem(&self) -> Option<(&'static str, [String; 4])> {
        let missing = |field: &'static str, what: &str, o_que: &str| {
            Some((
                field,
                [
                    "it is empty.".to_owned(),
                    format!("write {what}."),
                    "está vazio.".to_owned(),
                    format!("escreva {o_que}."),
                ],
            ))
        };
        if self.client_id.trim().is_empty() {
            return missing(
                "mailbox.oauth2.client_id",
                "the app registration's client id (Entra ID: Application (client) ID; Google: the OAuth client ID)",
                "o ID do cliente do registro do aplicativo (Entra ID: ID do aplicativo (cliente); Google: ID do cliente OAuth)",
            );
        }
        let e = self.endpoints();
        if self.flow == SignInFlow::User && e.authorize.is_empty() {
            return missing(
                "mailbox.oauth2.authorize_url",
                "the provider's authorization endpoint",
                "o endereço de autorização do provedor",
            );
        }
        if e.token.is_empty() {
            return missing(
                "mailbox.oauth2.token_url",
                "the provider's token endpoint",
                "o endereço de token do provedor",
            );
        }
        if e.scopes.is_empty() {
            return missing(
                "mailbox.oauth2.scope",
                "the scopes the IMAP server needs",
                "os escopos que o servidor IMAP exige",
            );
        }
        for (field, url) in [
            ("mailbox.oauth2.authorize_url", &e.authorize),
            ("mailbox.oauth2.token_url", &e.token),
            ("mailbox.oauth2.device_url", &e.device),
        ] {
            if url.is_empty() {
                continue;
            }
            if !secure_or_loopback(url) {
                return Some((
                    field,
                    [
                        format!("{url} is not an https:// address."),
                        "use the provider's https:// address (plain http is accepted only on this machine, 127.0.0.1).".into(),
                        format!("{url} não é um endereço https://."),
                        "use o endereço https:// do provedor (http só é aceito nesta máquina, 127.0.0.1).".into(),
                    ],
                ));
            }
        }
        None
    }
}

/// Tokens and secrets only travel encrypted, except to this very machine (a test server, or an
/// SSH port forward).
fn secure_or_loopback(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => true,
        Ok(u) if u.scheme() == "http" => match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(provider: OAuthProvider) -> OAuth2Config {
        OAuth2Config {
            provider,
            client_id: "id".into(),
            tenant: String::new(),
            flow: SignInFlow::User,
            mechanism: SaslMechanism::Xoauth2,
            authorize_url: String::new(),
            token_url: String::new(),
            device_url: String::new(),
            scope: String::new(),
        }
    }

    #[test]
    fn microsoft_defaults_to_organizations_and_the_imap_scope() {
        let e = config(OAuthProvider::Microsoft).endpoints();
        assert_eq!(
            e.authorize,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
        );
        assert_eq!(
            e.scopes,
            ["https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"]
        );
        let mut app = config(OAuthProvider::Microsoft);
        app.flow = SignInFlow::App;
        app.tenant = "contoso.onmicrosoft.com".into();
        let e = app.endpoints();
        assert_eq!(
            e.token,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(e.scopes, ["https://outlook.office365.com/.default"]);
    }

    #[test]
    fn google_asks_for_a_refresh_token_every_time() {
        let e = config(OAuthProvider::Google).endpoints();
        assert_eq!(e.scopes, ["https://mail.google.com/"]);
        assert!(e.extra_params.contains(&("access_type", "offline")));
    }

    #[test]
    fn other_needs_its_endpoints_and_only_https_or_loopback() {
        let mut c = config(OAuthProvider::Other);
        assert_eq!(c.problem().unwrap().0, "mailbox.oauth2.authorize_url");
        c.authorize_url = "http://auth.example.com/authorize".into();
        c.token_url = "https://auth.example.com/token".into();
        c.scope = "imap".into();
        let (field, [problem, ..]) = c.problem().unwrap();
        assert_eq!(field, "mailbox.oauth2.authorize_url");
        assert!(problem.contains("not an https://"), "{problem}");
        c.authorize_url = "http://127.0.0.1:8080/auth".into();
        assert_eq!(c.problem(), None);
        c.client_id = " ".into();
        assert_eq!(c.problem().unwrap().0, "mailbox.oauth2.client_id");
    }
}
