//! The HTTP client: Basic auth, form-encoded requests, JSON answers, bounded retries.
//!
//! Retries cover what a later attempt can fix — network errors, HTTP 429 (honouring
//! `Retry-After`) and 5xx — with exponential backoff and jitter. Other 4xx answers are final:
//! repeating a request Twilio refused only hides the problem. The secret goes only into the
//! Authorization header; no error or log line carries it.
//!
//! Creating a call or a message is not idempotent, and Twilio has no idempotency key: a create
//! whose answer was lost (a timeout, a connection dropped after the request was written, a
//! 5xx) may still have rung a phone. So a create is retried blindly only when the request
//! certainly never reached Twilio; otherwise what Twilio holds is looked up first
//! (`GET Calls.json` / `Messages.json` by `To` and `From`, created since the first try, by
//! Twilio's own clock) and adopted instead of creating a second one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tracing::warn;

use super::error::TwilioError;
use super::resources::{
    rfc2822, Account, Call, CallList, IncomingNumbers, ListedMessage, Message, MessageList,
    OutgoingCallerIds,
};
use super::studio::{Execution, ExecutionList};
use crate::config::TwilioConfig;
use crate::imap::Backoff;
use crate::model::Channel;
use crate::secrets::Secret;

const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How much earlier than the first try a created resource may be dated: Twilio's dates have
/// whole seconds, and the clock offset is measured from its `Date` header (whole seconds too).
const CREATED_MARGIN: TimeDelta = TimeDelta::seconds(2);

/// How hard to try one request.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// One request's time limit, connection included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            timeout: Duration::from_secs(15),
        }
    }
}

/// A create that failed. `unsure_since` is set when Twilio may nevertheless hold what it was
/// asked to create: pass it to the next try, which then looks before it creates.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct CreateError {
    pub error: TwilioError,
    pub unsure_since: Option<DateTime<Utc>>,
}

/// A request that creates nothing to be unsure of (a lookup, an update).
impl From<TwilioError> for CreateError {
    fn from(error: TwilioError) -> Self {
        CreateError { error, unsure_since: None }
    }
}

impl std::ops::Deref for CreateError {
    type Target = TwilioError;
    fn deref(&self) -> &TwilioError {
        &self.error
    }
}

/// A message to create: plain `body`, or (WhatsApp only) an approved template with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub from: String,
    pub to: String,
    pub body: String,
    /// `(content_sid, content_variables_json)` when a template is used instead of `body`.
    pub template: Option<(String, String)>,
    pub channel: Channel,
}

/// A number as Twilio's Messages API addresses it on `channel`.
fn address(channel: Channel, number: &str) -> String {
    match channel {
        Channel::Whatsapp => format!("whatsapp:{number}"),
        Channel::Sms => number.to_owned(),
    }
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

/// A created resource, known by its SID.
pub(super) trait HasSid {
    fn sid(&self) -> &str;
}

impl HasSid for Call {
    fn sid(&self) -> &str {
        &self.sid
    }
}

impl HasSid for Message {
    fn sid(&self) -> &str {
        &self.sid
    }
}

impl HasSid for Execution {
    fn sid(&self) -> &str {
        &self.sid
    }
}

/// What a create makes; says where to look for it after a lost answer.
pub(super) enum Creating<'a> {
    Call(&'a NewCall),
    Message(&'a NewMessage),
    /// A Studio flow's execution for one number (the call it places asks for a key).
    Execution {
        flow: &'a str,
        to: &'a str,
    },
}

impl Creating<'_> {
    fn resource(&self) -> &'static str {
        match self {
            Creating::Call(_) => "Calls",
            Creating::Message(_) => "Messages",
            Creating::Execution { .. } => "Executions",
        }
    }
}

/// Asked before every create on a shared journal: does this workstation still hold the notify
/// lease? An `Err` (no, or no answer in time) keeps the request from leaving, so a holder that
/// lost the database — asleep, cut off — cannot ring a phone another holder is ringing.
pub trait CreateFence: Send + Sync {
    fn confirm(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>>;
}

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    studio_url: String,
    account_sid: String,
    user: String,
    secret: Secret,
    retry: RetryPolicy,
    /// Twilio's clock minus ours, from the last answer's `Date` header: created resources are
    /// matched by Twilio's dates, so a workstation clock minutes off cannot make a lookup miss.
    clock_offset: Arc<Mutex<Option<TimeDelta>>>,
    /// SIDs this client created lately: a lookup never adopts one of them (the dates' margin
    /// reaches a few seconds back, when a call to the same person may have been placed).
    created: Arc<Mutex<VecDeque<String>>>,
    fence: Option<Arc<dyn CreateFence>>,
}

/// How many created SIDs are remembered against wrong adoption.
const REMEMBERED: usize = 64;

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .finish()
    }
}

impl TwilioClient {
    pub fn new(config: &TwilioConfig, secret: Secret) -> Self {
        Self::with_retry(config, secret, RetryPolicy::default())
    }

    pub fn with_retry(config: &TwilioConfig, secret: Secret, retry: RetryPolicy) -> Self {
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .connect_timeout(retry.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("sentinela/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with default TLS");
        let user = if config.api_key_sid.is_empty() {
            config.account_sid.clone()
        } else {
            config.api_key_sid.clone()
        };
        TwilioClient {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            studio_url: config.studio_url.trim_end_matches('/').to_owned(),
            account_sid: config.account_sid.clone(),
            user,
            secret,
            retry,
            clock_offset: Arc::new(Mutex::new(None)),
            created: Arc::new(Mutex::new(VecDeque::new())),
            fence: None,
        }
    }

    /// This client, asking `fence` before every create (see [`CreateFence`]).
    pub fn fenced(&self, fence: Arc<dyn CreateFence>) -> Self {
        TwilioClient { fence: Some(fence), ..self.clone() }
    }

    pub(super) fn url(&self, tail: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}{tail}", self.base_url, self.account_sid)
    }

    /// A Studio API URL (`/v2/Flows…`).
    pub(super) fn studio(&self, tail: &str) -> String {
        format!("{}/v2{tail}", self.studio_url)
    }

    /// Where `what` is created, and where one that was created is read.
    fn create_url(&self, what: &Creating<'_>) -> String {
        match what {
            Creating::Execution { flow, .. } => self.studio(&format!("/Flows/{flow}/Executions")),
            _ => self.url(&format!("/{}.json", what.resource())),
        }
    }

    fn created_url(&self, what: &Creating<'_>, sid: &str) -> String {
        match what {
            Creating::Execution { flow, .. } => {
                self.studio(&format!("/Flows/{flow}/Executions/{sid}"))
            }
            _ => self.url(&format!("/{}/{sid}.json", what.resource())),
        }
    }

    /// GET the account itself: proves the credentials.
    pub async fn fetch_account(&self) -> Result<Account, TwilioError> {
        self.call(Method::GET, &self.url(".json"), &[]).await
    }

    /// Sends a message at most once (see the module's note); `unsure_since` comes from a
    /// previous try's [`CreateError`], or from a journal intent a restart interrupted.
    pub async fn create_message(
        &self,
        m: &NewMessage,
        unsure_since: Option<DateTime<Utc>>,
    ) -> Result<Message, CreateError> {
        let mut form =
            vec![("From", address(m.channel, &m.from)), ("To", address(m.channel, &m.to))];
        match &m.template {
            Some((sid, vars)) => {
                form.push(("ContentSid", sid.clone()));
                form.push(("ContentVariables", vars.clone()));
            }
            None => form.push(("Body", m.body.clone())),
        }
        self.create_once(Creating::Message(m), &form, unsure_since).await
    }

    pub async fn fetch_message(&self, sid: &str) -> Result<Message, TwilioError> {
        self.call(Method::GET, &self.url(&format!("/Messages/{sid}.json")), &[]).await
    }

    /// Messages people sent on `channel` to `to` (our sender) on or after the UTC day of
    /// `since`, newest first, following Twilio's pages until one is entirely older than `since`
    /// (Twilio filters `DateSent` by day only: the time is filtered here). At most `max_pages`.
    pub async fn inbound_messages(
        &self,
        channel: Channel,
        to: &str,
        since: DateTime<Utc>,
        max_pages: usize,
    ) -> Result<Vec<ListedMessage>, TwilioError> {
        let query = vec![
            ("To", address(channel, to)),
            ("DateSent>", (since - chrono::Duration::days(1)).format("%Y-%m-%d").to_string()),
            ("PageSize", "50".to_owned()),
        ];
        let mut page: MessageList = self.call_query(&self.url("/Messages.json"), &query).await?;
        let mut out = Vec::new();
        for _ in 0..max_pages {
            let older = page.messages.iter().any(|m| m.sent_at().is_some_and(|t| t < since));
            out.extend(
                page.messages
                    .into_iter()
                    .filter(|m| m.direction == "inbound" && m.sent_at().is_none_or(|t| t >= since)),
            );
            let Some(next) = page.next_page_uri.filter(|_| !older) else { break };
            page = self.call_query(&format!("{}{next}", self.base_url), &[]).await?;
        }
        Ok(out)
    }

    /// Places a call at most once (see the module's note and [`Self::create_message`]).
    pub async fn create_call(
        &self,
        c: &NewCall,
        unsure_since: Option<DateTime<Utc>>,
    ) -> Result<Call, CreateError> {
        let mut form = vec![
            ("To", c.to.clone()),
            ("From", c.from.clone()),
            ("Twiml", c.twiml.clone()),
            ("Timeout", c.timeout_secs.to_string()),
        ];
        if c.machine_detection {
            form.push(("MachineDetection", "Enable".into()));
        }
        self.create_once(Creating::Call(c), &form, unsure_since).await
    }

    /// POSTs a create, retrying blindly only what never reached Twilio; after an answer that
    /// may hide a creation, looks for it (created since the first such try) before anything
    /// is sent again.
    pub(super) async fn create_once<T: DeserializeOwned + HasSid>(
        &self,
        what: Creating<'_>,
        form: &[(&str, String)],
        mut unsure_since: Option<DateTime<Utc>>,
    ) -> Result<T, CreateError> {
        let url = self.create_url(&what);
        let mut backoff = Backoff::new(self.retry.base, self.retry.cap);
        let mut attempt = 1;
        loop {
            if let Some(since) = unsure_since {
                let found = match self.find_created(&what, since).await {
                    Ok(Some(sid)) => {
                        self.call(Method::GET, &self.created_url(&what, &sid), &[]).await.map(Some)
                    }
                    other => other.map(|_| None),
                };
                match found {
                    Ok(Some(found)) => {
                        warn!("twilio: {} created by an earlier try whose answer was lost: adopted, not created again", what.resource());
                        return Ok(self.remember(found));
                    }
                    Ok(None) => {}
                    Err(error) => return Err(CreateError { error, unsure_since }),
                }
            }
            if let Some(fence) = &self.fence {
                if let Err(reason) = fence.confirm().await {
                    return Err(CreateError {
                        error: TwilioError::NotTheNotifier { reason },
                        unsure_since,
                    });
                }
            }
            let tried_at = Utc::now();
            let (error, retry_after) = match self.send_once(self.http.post(&url).form(form)).await {
                Ok(v) => return Ok(self.remember(v)),
                Err(e) => e,
            };
            if error.is_ambiguous() {
                unsure_since.get_or_insert(tried_at);
            }
            if !error.is_transient() || attempt >= self.retry.attempts {
                return Err(CreateError { error, unsure_since });
            }
            let delay =
                retry_after.map(|d| d.min(MAX_RETRY_AFTER)).unwrap_or_else(|| backoff.next_delay());
            warn!(
                attempt,
                retry_in_ms = delay.as_millis() as u64,
                ambiguous = error.is_ambiguous(),
                "twilio: not created ({}): {error}",
                what.resource()
            );
            crate::notify::progress::sleep(delay).await;
            attempt += 1;
        }
    }

    pub(super) fn remember<T: HasSid>(&self, created: T) -> T {
        if let Ok(mut sids) = self.created.lock() {
            if sids.len() == REMEMBERED {
                sids.pop_front();
            }
            sids.push_back(created.sid().to_owned());
        }
        created
    }

    pub(super) fn created_here(&self, sid: &str) -> bool {
        self.created.lock().is_ok_and(|sids| sids.iter().any(|s| s == sid))
    }

    /// The SID of what `what` created on or after `since` (our clock), the oldest if several.
    async fn find_created(
        &self,
        what: &Creating<'_>,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, TwilioError> {
        let url = self.create_url(what);
        match what {
            Creating::Execution { to, .. } => {
                let since = self.on_twilio_clock(since);
                let query = [
                    ("DateCreatedFrom", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    ("PageSize", "20".to_owned()),
                ];
                let page: ExecutionList = self.call_query(&url, &query).await?;
                let mut found = page.executions.into_iter().filter(|e| {
                    e.contact_channel_address.as_deref() == Some(*to)
                        && e.created_at().is_some_and(|t| t >= since)
                        && !self.created_here(&e.sid)
                });
                Ok(found.next_back().map(|e| e.sid))
            }
            Creating::Call(c) => {
                // Not filtered by StartTime: a call still queued has none.
                let query =
                    [("To", c.to.clone()), ("From", c.from.clone()), ("PageSize", "20".to_owned())];
                let page: CallList = self.call_query(&url, &query).await?;
                let since = self.on_twilio_clock(since);
                let mut found = page.calls.into_iter().filter(|call| {
                    call.created_at().is_some_and(|t| t >= since) && !self.created_here(&call.sid)
                });
                Ok(found.next_back().map(|c| c.sid))
            }
            Creating::Message(m) => {
                let query = [
                    ("To", address(m.channel, &m.to)),
                    ("From", address(m.channel, &m.from)),
                    ("PageSize", "20".to_owned()),
                ];
                let page: MessageList = self.call_query(&url, &query).await?;
                let since = self.on_twilio_clock(since);
                // A template's body is Twilio's rendering of it: only the time can tell.
                let ours = |l: &ListedMessage| {
                    l.direction.starts_with("outbound")
                        && (m.template.is_some() || l.body.trim() == m.body.trim())
                };
                let mut found = page.messages.into_iter().filter(|l| {
                    l.created_at().is_some_and(|t| t >= since)
                        && ours(l)
                        && !self.created_here(&l.sid)
                });
                Ok(found.next_back().map(|l| l.sid))
            }
        }
    }

    /// A moment on our clock as Twilio's clock would date it, less the dates' rounding.
    pub(super) fn on_twilio_clock(&self, ours: DateTime<Utc>) -> DateTime<Utc> {
        let offset = self.clock_offset.lock().map(|o| o.unwrap_or_default()).unwrap_or_default();
        ours + offset - CREATED_MARGIN
    }

    pub async fn fetch_call(&self, sid: &str) -> Result<Call, TwilioError> {
        self.call(Method::GET, &self.url(&format!("/Calls/{sid}.json")), &[]).await
    }

    /// Ends a call: `canceled` while queued or ringing, `completed` once answered.
    pub async fn end_call(&self, sid: &str, ringing: bool) -> Result<Call, TwilioError> {
        let status = if ringing { "canceled" } else { "completed" };
        self.call(
            Method::POST,
            &self.url(&format!("/Calls/{sid}.json")),
            &[("Status", status.into())],
        )
        .await
    }

    /// Whether `number` (E.164) is one of the account's own numbers or a verified caller ID,
    /// i.e. usable as a caller ID.
    pub async fn can_send_from(&self, number: &str) -> Result<bool, TwilioError> {
        let query = [("PhoneNumber", number.to_owned())];
        let own: IncomingNumbers =
            self.call_query(&self.url("/IncomingPhoneNumbers.json"), &query).await?;
        if !own.incoming_phone_numbers.is_empty() {
            return Ok(true);
        }
        let verified: OutgoingCallerIds =
            self.call_query(&self.url("/OutgoingCallerIds.json"), &query).await?;
        Ok(!verified.outgoing_caller_ids.is_empty())
    }

    pub(super) async fn call_query<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<T, TwilioError> {
        self.send(|| self.http.get(url).query(query)).await
    }

    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        form: &[(&str, String)],
    ) -> Result<T, TwilioError> {
        self.send(|| {
            let req = self.http.request(method.clone(), url);
            if form.is_empty() {
                req
            } else {
                req.form(form)
            }
        })
        .await
    }

    /// Sends with retries; `build` makes a fresh request for every attempt.
    async fn send<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<T, TwilioError> {
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
            let delay =
                retry_after.map(|d| d.min(MAX_RETRY_AFTER)).unwrap_or_else(|| backoff.next_delay());
            warn!(attempt, retry_in_ms = delay.as_millis() as u64, "twilio: {error}");
            crate::notify::progress::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
    ) -> Result<T, (TwilioError, Option<Duration>)> {
        let network = |e: reqwest::Error| {
            // Only a connection never made certainly kept the request from Twilio.
            let maybe_sent = !e.is_connect();
            // reqwest's message names the URL, which carries no secret; strip it anyway to keep
            // log lines short.
            (
                TwilioError::Network {
                    base_url: self.base_url.clone(),
                    reason: e.without_url().to_string(),
                    maybe_sent,
                },
                None,
            )
        };
        let resp =
            req.basic_auth(&self.user, Some(self.secret.expose())).send().await.map_err(network)?;
        let status = resp.status();
        let twilio_now = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| rfc2822(Some(v)));
        if let (Some(theirs), Ok(mut offset)) = (twilio_now, self.clock_offset.lock()) {
            *offset = Some(theirs - Utc::now());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.text().await.map_err(network)?;
        if status.is_success() {
            return serde_json::from_str(&body)
                .map_err(|e| (TwilioError::Decode { reason: e.to_string() }, None));
        }
        let retry_after = (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
            .then_some(retry_after)
            .flatten();
        Err((TwilioError::from_body(status.as_u16(), &body), retry_after))
    }
}
