//! The HTTP client: Basic auth, form-encoded requests, JSON answers, bounded retries.
//!
//! Retries cover what a later attempt can fix — network errors, HTTP 429 (honouring
//! `Retry-After`) and 5xx — with exponential backoff and jitter. Other 4xx answers are final:
//! repeating a request Twilio refused only hides the problem. The secret goes only into the
//! Authorization header; no error or log line carries it.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tracing::warn;

use super::error::TwilioError;
use super::resources::{Account, Call, InboundMessage, IncomingNumbers, Message, MessageList, OutgoingCallerIds};
use crate::config::TwilioConfig;
use crate::imap::Backoff;
use crate::secrets::Secret;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How hard to try one request.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 5, base: Duration::from_millis(500), cap: Duration::from_secs(8) }
    }
}

/// A WhatsApp message to create: plain `body`, or an approved template with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub from: String,
    pub to: String,
    pub body: String,
    /// `(content_sid, content_variables_json)` when a template is used instead of `body`.
    pub template: Option<(String, String)>,
}

/// A call to place with inline TwiML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    pub from: String,
    pub to: String,
    pub twiml: String,
    pub timeout_secs: u32,
    pub machine_detection: bool,
}

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    user: String,
    secret: Secret,
    retry: RetryPolicy,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient").field("base_url", &self.base_url).field("account_sid", &self.account_sid).finish()
    }
}

impl TwilioClient {
    pub fn new(config: &TwilioConfig, secret: Secret) -> Self {
        Self::with_retry(config, secret, RetryPolicy::default())
    }

    pub fn with_retry(config: &TwilioConfig, secret: Secret, retry: RetryPolicy) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("sentinela/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with default TLS");
        let user = if config.api_key_sid.is_empty() { config.account_sid.clone() } else { config.api_key_sid.clone() };
        TwilioClient {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            account_sid: config.account_sid.clone(),
            user,
            secret,
            retry,
        }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}{tail}", self.base_url, self.account_sid)
    }

    /// GET the account itself: proves the credentials.
    pub async fn fetch_account(&self) -> Result<Account, TwilioError> {
        self.call(Method::GET, &self.url(".json"), &[]).await
    }

    pub async fn create_message(&self, m: &NewMessage) -> Result<Message, TwilioError> {
        let mut form = vec![("From", format!("whatsapp:{}", m.from)), ("To", format!("whatsapp:{}", m.to))];
        match &m.template {
            Some((sid, vars)) => {
                form.push(("ContentSid", sid.clone()));
                form.push(("ContentVariables", vars.clone()));
            }
            None => form.push(("Body", m.body.clone())),
        }
        self.call(Method::POST, &self.url("/Messages.json"), &form).await
    }

    pub async fn fetch_message(&self, sid: &str) -> Result<Message, TwilioError> {
        self.call(Method::GET, &self.url(&format!("/Messages/{sid}.json")), &[]).await
    }

    /// WhatsApp messages sent to `to` (our sender) on or after the UTC day of `since`, newest
    /// first, following Twilio's pages until one is entirely older than `since` (Twilio filters
    /// `DateSent` by day only: the time is filtered here). At most `max_pages` pages.
    pub async fn inbound_whatsapp(&self, to: &str, since: chrono::DateTime<chrono::Utc>, max_pages: usize) -> Result<Vec<InboundMessage>, TwilioError> {
        let query = vec![
            ("To", format!("whatsapp:{to}")),
            ("DateSent>", (since - chrono::Duration::days(1)).format("%Y-%m-%d").to_string()),
            ("PageSize", "50".to_owned()),
        ];
        let mut page: MessageList = self.call_query(&self.url("/Messages.json"), &query).await?;
        let mut out = Vec::new();
        for _ in 0..max_pages {
            let older = page.messages.iter().any(|m| m.sent_at().is_some_and(|t| t < since));
            out.extend(page.messages.into_iter().filter(|m| m.direction == "inbound" && m.sent_at().is_none_or(|t| t >= since)));
            let Some(next) = page.next_page_uri.filter(|_| !older) else { break };
            page = self.call_query(&format!("{}{next}", self.base_url), &[]).await?;
        }
        Ok(out)
    }

    pub async fn create_call(&self, c: &NewCall) -> Result<Call, TwilioError> {
        let mut form = vec![
            ("To", c.to.clone()),
            ("From", c.from.clone()),
            ("Twiml", c.twiml.clone()),
            ("Timeout", c.timeout_secs.to_string()),
        ];
        if c.machine_detection {
            form.push(("MachineDetection", "Enable".into()));
        }
        self.call(Method::POST, &self.url("/Calls.json"), &form).await
    }

    pub async fn fetch_call(&self, sid: &str) -> Result<Call, TwilioError> {
        self.call(Method::GET, &self.url(&format!("/Calls/{sid}.json")), &[]).await
    }

    /// Ends a call: `canceled` while queued or ringing, `completed` once answered.
    pub async fn end_call(&self, sid: &str, ringing: bool) -> Result<Call, TwilioError> {
        let status = if ringing { "canceled" } else { "completed" };
        self.call(Method::POST, &self.url(&format!("/Calls/{sid}.json")), &[("Status", status.into())]).await
    }

    /// Whether `number` (E.164) is one of the account's own numbers or a verified caller ID,
    /// i.e. usable as a caller ID.
    pub async fn can_send_from(&self, number: &str) -> Result<bool, TwilioError> {
        let query = [("PhoneNumber", number.to_owned())];
        let own: IncomingNumbers = self.call_query(&self.url("/IncomingPhoneNumbers.json"), &query).await?;
        if !own.incoming_phone_numbers.is_empty() {
            return Ok(true);
        }
        let verified: OutgoingCallerIds = self.call_query(&self.url("/OutgoingCallerIds.json"), &query).await?;
        Ok(!verified.outgoing_caller_ids.is_empty())
    }

    async fn call_query<T: DeserializeOwned>(&self, url: &str, query: &[(&str, String)]) -> Result<T, TwilioError> {
        self.send(|| self.http.get(url).query(query)).await
    }

    async fn call<T: DeserializeOwned>(&self, method: Method, url: &str, form: &[(&str, String)]) -> Result<T, TwilioError> {
        self.send(|| {
            let req = self.http.request(method.clone(), url);
            if form.is_empty() { req } else { req.form(form) }
        })
        .await
    }

    /// Sends with retries; `build` makes a fresh request for every attempt.
    async fn send<T: DeserializeOwned>(&self, build: impl Fn() -> RequestBuilder) -> Result<T, TwilioError> {
        let mut backoff = Backoff::new(self.retry.base, self.retry.cap);
        let mut attempt = 1;
        loop {
            let (error, retry_after) = match self.send_once(build()).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !error.is_transient() || attempt >= self.retry.attempts {
                return Err(error);
            }
            let delay = retry_after.map(|d| d.min(MAX_RETRY_AFTER)).unwrap_or_else(|| backoff.next_delay());
            warn!(attempt, retry_in_ms = delay.as_millis() as u64, "twilio: {error}");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send_once<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, (TwilioError, Option<Duration>)> {
        let network = |e: reqwest::Error| {
            // reqwest's message names the URL, which carries no secret; strip it anyway to keep
            // log lines short.
            (TwilioError::Network { base_url: self.base_url.clone(), reason: e.without_url().to_string() }, None)
        };
        let resp = req.basic_auth(&self.user, Some(self.secret.expose())).send().await.map_err(network)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.text().await.map_err(network)?;
        if status.is_success() {
            return serde_json::from_str(&body).map_err(|e| (TwilioError::Decode { reason: e.to_string() }, None));
        }
        let retry_after = (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()).then_some(retry_after).flatten();
        Err((TwilioError::from_body(status.as_u16(), &body), retry_after))
    }
}
