//! Opening an authenticated IMAP session: TCP, then implicit TLS or STARTTLS, then LOGIN (or
//! SASL with an OAuth2 token, see [`super::login`]).
//!
//! Certificate and host-name verification are always on; `ca_file` can only add a trust anchor.
//! Every network step runs under a time limit so a silent peer becomes an error, not a hang.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use async_imap::types::Capabilities;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::login::{BearerAuthenticator, MailboxLogin};
use super::MailboxError;
use crate::config::{MailboxConfig, Security};

/// Time limit for one IMAP command or one connection step.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Any byte stream an IMAP session can run over (plain TCP or TLS).
pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapIo for T {}

pub type ImapSession = async_imap::Session<Box<dyn ImapIo>>;

/// Runs one IMAP step under [`COMMAND_TIMEOUT`], naming it in the error.
pub(crate) async fn step<T>(
    operation: &'static str,
    fut: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, MailboxError> {
    step_within(operation, COMMAND_TIMEOUT, fut).await
}

/// [`step`] with its own time limit (a large fetch is given longer).
pub(crate) async fn step_within<T>(
    operation: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, MailboxError> {
    match tokio::time::timeout(limit, fut).await {
        Err(_) => Err(MailboxError::Timeout { operation, secs: limit.as_secs() }),
        Ok(r) => r.map_err(|e| MailboxError::protocol(operation, e)),
    }
}

async fn timed<T, E: ToString>(
    operation: &'static str,
    fut: impl Future<Output = Result<T, E>>,
    wrap: impl FnOnce(String) -> MailboxError,
) -> Result<T, MailboxError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Err(_) => Err(MailboxError::Timeout { operation, secs: COMMAND_TIMEOUT.as_secs() }),
        Ok(r) => r.map_err(|e| wrap(e.to_string())),
    }
}

fn tls_connector(cfg: &MailboxConfig) -> Result<async_native_tls::TlsConnector, MailboxError> {
    let mut tls = async_native_tls::TlsConnector::new();
    if let Some(ca) = cfg.ca_file() {
        let tls_err = |reason: String| MailboxError::Tls { host: cfg.host.clone(), reason };
        let pem = std::fs::read(ca)
            .map_err(|e| tls_err(format!("cannot read mailbox.ca_file {}: {e}", ca.display())))?;
        let cert = async_native_tls::Certificate::from_pem(&pem).map_err(|e| {
            tls_err(format!("mailbox.ca_file {} is not a PEM certificate: {e}", ca.display()))
        })?;
        tls = tls.add_root_certificate(cert);
    }
    Ok(tls)
}

async fn start_tls<S: ImapIo + 'static>(
    cfg: &MailboxConfig,
    stream: S,
) -> Result<Box<dyn ImapIo>, MailboxError> {
    let host = cfg.host.trim_start_matches('[').trim_end_matches(']');
    let tls = tls_connector(cfg)?;
    let stream = timed("the TLS handshake", tls.connect(host, stream), |reason| {
        MailboxError::Tls { host: cfg.host.clone(), reason }
    })
    .await?;
    Ok(Box::new(stream))
}

/// Connects, secures and logs in. Returns the session and the server's capabilities.
pub async fn connect(
    cfg: &MailboxConfig,
    login: &MailboxLogin,
) -> Result<(ImapSession, Capabilities), MailboxError> {
    let port = cfg.port();
    let host = cfg.host.trim_start_matches('[').trim_end_matches(']');
    let tcp = timed("the TCP connection", TcpStream::connect((host, port)), |reason| {
        MailboxError::Connect { host: cfg.host.clone(), port, reason }
    })
    .await?;
    // IMAP is request/response with small lines: Nagle only adds latency.
    let _ = tcp.set_nodelay(true);

    let stream: Box<dyn ImapIo> = match cfg.security {
        Security::Tls => start_tls(cfg, tcp).await?,
        Security::Starttls | Security::Plain => Box::new(tcp),
    };
    let mut client = async_imap::Client::new(stream);
    let greeting = timed("the server greeting", client.read_response(), |reason| {
        MailboxError::Protocol { operation: "the server greeting", reason }
    })
    .await?;
    if greeting.is_none() {
        return Err(MailboxError::Protocol {
            operation: "the server greeting",
            reason: "connection closed".into(),
        });
    }
    if cfg.security == Security::Starttls {
        timed("STARTTLS", client.run_command_and_check_ok("STARTTLS", None), |_| {
            MailboxError::NoStartTls { host: cfg.host.clone() }
        })
        .await?;
        // No greeting follows STARTTLS: the next bytes are the TLS handshake.
        client = async_imap::Client::new(start_tls(cfg, client.into_inner()).await?);
    }

    let mut session = match login {
        MailboxLogin::Password(password) => {
            let login = tokio::time::timeout(
                COMMAND_TIMEOUT,
                client.login(&cfg.username, password.expose()),
            )
            .await;
            match login {
                Err(_) => {
                    return Err(MailboxError::Timeout {
                        operation: "LOGIN",
                        secs: COMMAND_TIMEOUT.as_secs(),
                    })
                }
                Ok(Ok(session)) => session,
                Ok(Err((async_imap::error::Error::No(reason), _)))
                | Ok(Err((async_imap::error::Error::Bad(reason), _))) => {
                    return Err(MailboxError::AuthFailed {
                        username: cfg.username.clone(),
                        reason,
                    });
                }
                Ok(Err((e, _))) => return Err(MailboxError::protocol("LOGIN", e)),
            }
        }
        MailboxLogin::OAuth2(tokens) => {
            let token = tokens.access_token().await?;
            let mut sasl = BearerAuthenticator::new(tokens.mechanism(), &cfg.username, token.token);
            let mechanism = sasl.mechanism_name();
            match tokio::time::timeout(COMMAND_TIMEOUT, client.authenticate(mechanism, &mut sasl))
                .await
            {
                Err(_) => {
                    return Err(MailboxError::Timeout {
                        operation: "AUTHENTICATE",
                        secs: COMMAND_TIMEOUT.as_secs(),
                    })
                }
                Ok(Ok(session)) => session,
                Ok(Err((async_imap::error::Error::No(reason), _)))
                | Ok(Err((async_imap::error::Error::Bad(reason), _))) => {
                    // Revoked before it expired, or never good for IMAP: ask for a new one next time.
                    tokens.forget_access_token().await;
                    return Err(MailboxError::TokenRefused {
                        username: cfg.username.clone(),
                        reason,
                    });
                }
                Ok(Err((e, _))) => return Err(MailboxError::protocol("AUTHENTICATE", e)),
            }
        }
    };
    let caps = step("CAPABILITY", session.capabilities()).await?;
    Ok((session, caps))
}
