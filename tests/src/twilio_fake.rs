//! A stateful fake of Twilio's REST API (2010-04-01) for the tests: Twilio is a paid service.
//!
//! It listens on 127.0.0.1, answers on Twilio's paths with Twilio's JSON shapes and error bodies,
//! checks HTTP Basic auth and the parameters the engine must send, records every request, and
//! plays a scripted outcome per destination number (no answer, busy, failed, voicemail, a human
//! after N ms, …). Time runs in milliseconds so a whole escalation fits in a test. Faults can be
//! injected: an HTTP error with Twilio's body (401, 429 with Retry-After, 500), a slow answer, or
//! a connection dropped before the request is processed.
//!
//! It also answers the few Studio v2 routes a call that asks for a key uses (`/v2/Flows`, their
//! executions and an execution's context): an execution started by REST places one call to its
//! contact, played like any other by the number's script, and the person's scripted key shows in
//! the context's `widgets.<gather>.Digits` once they have answered.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};

pub const ACCOUNT_SID: &str = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90";
pub const AUTH_TOKEN: &str = "fake-auth-token-0123456789";
/// An API key of the account, usable instead of the Account SID and auth token.
pub const API_KEY_SID: &str = "SK00112233445566778899aabbccddeeff";
pub const API_KEY_SECRET: &str = "fake-api-key-secret";

/// What happens to a call placed to a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallScript {
    /// Rings until the fake's no-answer time, then `no-answer`.
    NoAnswer,
    /// `busy` shortly after ringing.
    Busy,
    /// `failed` at once (unreachable).
    Failed,
    /// A person answers after `answer_ms` and talks for `talk_ms`.
    Human { answer_ms: u64, talk_ms: u64 },
    /// Like `Human`, but `answered_by` only appears once the call has completed.
    HumanLateAmd { answer_ms: u64, talk_ms: u64 },
    /// Voicemail answers after `answer_ms` (`machine_start`); it talks for 5 s unless hung up.
    Voicemail { answer_ms: u64 },
    /// Answered, but machine detection reports `unknown`.
    Unknown { answer_ms: u64, talk_ms: u64 },
}

/// What happens to a WhatsApp message to a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageScript {
    /// queued → sent → delivered → read over a few hundred ms.
    Read,
    /// Accepted, then `failed` with this error code (63015 sandbox not joined, 63016 window…).
    FailWith(i64),
    /// queued → sent → delivered: an SMS (which has no `read`).
    Delivered,
}

/// A fault for the next matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and Twilio error code, optionally with `Retry-After` seconds.
    Error { status: u16, code: u32, retry_after: Option<u64> },
    /// Answer normally after this delay.
    Slow(Duration),
    /// Close the connection without processing the request.
    Drop,
    /// Process the request (a create creates), then lose the answer this way.
    AfterCreate(LostAnswer),
}

/// How the answer to a request Twilio did process is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAnswer {
    /// The connection drops.
    Drop,
    /// A gateway answers this 5xx status instead.
    Status(u16),
    /// The answer comes after this delay (past the client's time limit).
    Stall(Duration),
}

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    pub auth_user: Option<String>,
    pub at: Instant,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
struct FakeCall {
    sid: String,
    to: String,
    from: String,
    created: Instant,
    amd: bool,
    script: CallScript,
    created_utc: chrono::DateTime<chrono::Utc>,
    /// When and how the client ended it.
    ended: Option<(Instant, &'static str)>,
}

#[derive(Debug, Clone)]
struct FakeMessage {
    sid: String,
    to: String,
    from: String,
    body: Option<String>,
    created: Instant,
    script: MessageScript,
    /// A reply someone sent to the account (listed by `GET Messages.json`, never followed).
    inbound: bool,
    sent: chrono::DateTime<chrono::Utc>,
}

struct State {
    requests: Vec<Recorded>,
    calls: Vec<FakeCall>,
    messages: Vec<FakeMessage>,
    call_scripts: HashMap<String, CallScript>,
    message_scripts: HashMap<String, MessageScript>,
    faults: VecDeque<(String, Fault)>,
    /// While set, every request is answered with this status and Twilio error code (an outage).
    outage: Option<(u16, u32)>,
    own_numbers: Vec<String>,
    auth_token: String,
    no_answer_ms: u64,
    next_sid: u64,
    /// Studio: the flows (SID, friendly name, definition) and their executions.
    flows: Vec<(String, String, Value)>,
    executions: Vec<FakeExecution>,
    /// Studio: the key a person presses, and how long after answering, per number.
    key_scripts: HashMap<String, (String, u64)>,
}

/// One execution of a Studio flow started by REST: it places one call, whose person presses
/// the number's scripted key.
#[derive(Debug, Clone)]
struct FakeExecution {
    sid: String,
    flow: String,
    to: String,
    call_sid: String,
    parameters: Value,
    created_utc: chrono::DateTime<chrono::Utc>,
    ended: bool,
}

/// The running fake. Dropping it stops the server.
pub struct TwilioFake {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TwilioFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn rfc2822(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn error_body(status: u16, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    });
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl TwilioFake {
    pub async fn start() -> TwilioFake {
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            calls: Vec::new(),
            messages: Vec::new(),
            call_scripts: HashMap::new(),
            message_scripts: HashMap::new(),
            faults: VecDeque::new(),
            outage: None,
            own_numbers: Vec::new(),
            auth_token: AUTH_TOKEN.into(),
            no_answer_ms: 400,
            next_sid: 1,
            flows: Vec::new(),
            executions: Vec::new(),
            key_scripts: HashMap::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let shared = state.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(state, method, uri, headers, body).await }
            },
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TwilioFake { base_url: format!("http://{addr}"), state, server }
    }

    /// The `[twilio]` section pointing at this fake.
    pub fn config(&self) -> sentinela_engine::config::TwilioConfig {
        sentinela_engine::config::TwilioConfig {
            account_sid: ACCOUNT_SID.into(),
            api_key_sid: String::new(),
            base_url: self.base_url.clone(),
            studio_url: self.base_url.clone(),
            dry_run: false,
        }
    }

    pub fn script_call(&self, number: &str, script: CallScript) {
        self.state.lock().unwrap().call_scripts.insert(number.into(), script);
    }

    /// Studio: the person at `number` presses `key` `after_ms` after answering.
    pub fn script_key(&self, number: &str, key: &str, after_ms: u64) {
        self.state.lock().unwrap().key_scripts.insert(number.into(), (key.into(), after_ms));
    }

    /// Studio: the flows created (friendly name, definition).
    pub fn flows(&self) -> Vec<(String, Value)> {
        self.state
            .lock()
            .unwrap()
            .flows
            .iter()
            .map(|(_, name, d)| (name.clone(), d.clone()))
            .collect()
    }

    /// Studio: the executions started, as (destination, parameters, ended).
    pub fn executions(&self) -> Vec<(String, Value, bool)> {
        self.state
            .lock()
            .unwrap()
            .executions
            .iter()
            .map(|e| (e.to.clone(), e.parameters.clone(), e.ended))
            .collect()
    }

    pub fn script_message(&self, number: &str, script: MessageScript) {
        self.state.lock().unwrap().message_scripts.insert(number.into(), script);
    }

    /// Queues a fault for the next request whose path contains `path_part` ("Calls.json", …);
    /// `"GET Messages.json"` faults the next message list instead of the next creation.
    pub fn fault_next(&self, path_part: &str, fault: Fault) {
        self.state.lock().unwrap().faults.push_back((path_part.into(), fault));
    }

    /// Numbers the account owns (for the sender checks).
    pub fn own_number(&self, number: &str) {
        self.state.lock().unwrap().own_numbers.push(number.into());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The POSTs that created messages (`Messages.json`) or calls (`Calls.json`).
    pub fn creations(&self, resource: &str) -> Vec<Recorded> {
        let suffix = format!("/{resource}.json");
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with(&suffix))
            .collect()
    }

    /// Created calls' destinations, in order.
    pub fn called_numbers(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.iter().map(|c| c.to.clone()).collect()
    }

    /// Created messages' destinations (without the `whatsapp:` prefix), in order.
    pub fn messaged_numbers(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| !m.inbound)
            .map(|m| m.to.trim_start_matches("whatsapp:").to_owned())
            .collect()
    }

    /// How long an unanswered call rings before `no-answer` (400 ms unless changed).
    pub fn set_no_answer_ms(&self, ms: u64) {
        self.state.lock().unwrap().no_answer_ms = ms;
    }

    /// Whether a call to `number` was cancelled by the client while it was queued or ringing.
    pub fn canceled(&self, number: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .any(|c| c.to == number && matches!(c.ended, Some((_, "canceled"))))
    }

    /// When the newest call to `number` was cancelled by the client, if it was.
    pub fn canceled_at(&self, number: &str) -> Option<Instant> {
        let s = self.state.lock().unwrap();
        let call = s.calls.iter().rev().find(|c| c.to == number)?;
        match call.ended {
            Some((at, "canceled")) => Some(at),
            _ => None,
        }
    }

    /// The bodies of the messages sent to `number`, in order.
    /// SMS bodies sent to `number` (no `whatsapp:` prefix on either side), in order.
    pub fn sms_to(&self, number: &str) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| !m.inbound && m.to == number)
            .map(|m| m.body.clone().unwrap_or_default())
            .collect()
    }

    pub fn bodies_to(&self, number: &str) -> Vec<String> {
        let to = format!("whatsapp:{number}");
        self.state
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| m.to == to && !m.inbound)
            .filter_map(|m| m.body.clone())
            .collect()
    }

    /// Every request fails with `status` and Twilio's `code` until `None` (a long outage).
    pub fn set_outage(&self, outage: Option<(u16, u32)>) {
        self.state.lock().unwrap().outage = outage;
    }

    /// A WhatsApp reply from `from` to the account's sender `to` (both E.164), visible at once
    /// in the message list; returns its SID.
    pub fn inbound(&self, from: &str, to: &str, body: &str) -> String {
        self.inbound_on(&format!("whatsapp:{from}"), &format!("whatsapp:{to}"), body)
    }

    /// An SMS reply, as [`TwilioFake::inbound`].
    pub fn inbound_sms(&self, from: &str, to: &str, body: &str) -> String {
        self.inbound_on(from, to, body)
    }

    fn inbound_on(&self, from: &str, to: &str, body: &str) -> String {
        let mut s = self.state.lock().unwrap();
        let sid = format!("SM{:032x}", s.next_sid);
        s.next_sid += 1;
        s.messages.push(FakeMessage {
            sid: sid.clone(),
            to: to.to_owned(),
            from: from.to_owned(),
            body: Some(body.into()),
            created: Instant::now(),
            script: MessageScript::Read,
            inbound: true,
            sent: chrono::Utc::now(),
        });
        sid
    }

    /// The `GET Messages.json` requests (the reply polls), in order.
    pub fn message_lists(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/Messages.json"))
            .collect()
    }

    /// Whether the call to `number` was hung up by the client.
    pub fn hung_up(&self, number: &str) -> bool {
        self.state.lock().unwrap().calls.iter().any(|c| c.to == number && c.ended.is_some())
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (user, pass) = auth
        .as_deref()
        .and_then(|a| a.split_once(':'))
        .map(|(u, p)| (Some(u.to_owned()), p.to_owned()))
        .unwrap_or((None, String::new()));

    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            form: form.clone(),
            auth_user: user.clone(),
            at: Instant::now(),
        });
        // "Messages.json" means the creation (POST); a list (GET) is faulted only when the part
        // says so ("GET …/Messages.json"), so the reply poller does not eat a test's fault.
        let listing = method == Method::GET
            && (path.ends_with("/Messages.json") || path.ends_with("/Calls.json"));
        if let Some((status, code)) = s.outage {
            drop(s);
            return error_body(status, code, "Service Unavailable");
        }
        let pos = s.faults.iter().position(|(part, _)| {
            if let Some(wanted) = part.strip_prefix("GET ") {
                method == Method::GET && path.contains(wanted)
            } else if let Some(wanted) = part.strip_prefix("POST ") {
                method == Method::POST && path.contains(wanted)
            } else {
                path.contains(part.as_str()) && !listing
            }
        });
        pos.and_then(|i| s.faults.remove(i)).map(|(_, f)| f)
    };
    match fault {
        Some(Fault::Error { status, code, retry_after }) => {
            let mut r = error_body(status, code, "Injected fault");
            if let Some(secs) = retry_after {
                r.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
            }
            return r;
        }
        // Unwinding out of the handler makes hyper drop the connection without an answer;
        // resume_unwind skips the panic hook, so the test output stays clean.
        Some(Fault::Drop) => std::panic::resume_unwind(Box::new("injected dropped connection")),
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::AfterCreate(_)) | None => {}
    }
    let response = route(&state, &method, &path, &query, &form, user, &pass);
    match fault {
        Some(Fault::AfterCreate(LostAnswer::Drop)) => {
            std::panic::resume_unwind(Box::new("injected dropped connection"))
        }
        Some(Fault::AfterCreate(LostAnswer::Status(status))) => {
            error_body(status, 0, "Bad Gateway")
        }
        Some(Fault::AfterCreate(LostAnswer::Stall(d))) => {
            tokio::time::sleep(d).await;
            response
        }
        _ => response,
    }
}

/// Twilio's answer to a request that passed the fault injection.
fn route(
    state: &Mutex<State>,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    form: &[(String, String)],
    user: Option<String>,
    pass: &str,
) -> Response {
    if let Some(tail) = path.strip_prefix("/v2/Flows") {
        let mut s = state.lock().unwrap();
        let authed = (user.as_deref() == Some(ACCOUNT_SID) && pass == s.auth_token)
            || (user.as_deref() == Some(API_KEY_SID) && pass == API_KEY_SECRET);
        if !authed {
            return error_body(401, 20003, "Authenticate");
        }
        return studio(&mut s, method.as_str(), tail, query, form, Instant::now());
    }
    let Some(rest) = path.strip_prefix("/2010-04-01/Accounts/") else {
        return error_body(404, 20404, "The requested resource was not found");
    };
    let (account, tail) = rest
        .split_once('/')
        .map(|(a, t)| (a, format!("/{t}")))
        .unwrap_or((rest.trim_end_matches(".json"), String::new()));
    let mut s = state.lock().unwrap();
    let authed = (user.as_deref() == Some(ACCOUNT_SID) && pass == s.auth_token)
        || (user.as_deref() == Some(API_KEY_SID) && pass == API_KEY_SECRET);
    if !authed {
        return error_body(401, 20003, "Authenticate");
    }
    if account != ACCOUNT_SID {
        return error_body(404, 20404, "The requested resource was not found");
    }
    let now = Instant::now();
    let form = form.to_vec();
    match (method.as_str(), tail.as_str()) {
        ("GET", "") => json_ok(200, account_json()),
        ("POST", "/Calls.json") => create_call(&mut s, &form, now),
        ("POST", "/Messages.json") => create_message(&mut s, &form, now),
        ("GET", "/Messages.json") => list_messages(&s, query, now),
        ("GET", "/Calls.json") => list_calls(&s, query, now),
        ("GET", "/IncomingPhoneNumbers.json") => {
            let wanted = query.iter().find(|(k, _)| k == "PhoneNumber").map(|(_, v)| v.clone());
            let list: Vec<Value> = s
                .own_numbers
                .iter()
                .filter(|n| wanted.as_ref().is_none_or(|w| w == *n))
                .map(|n| json!({"phone_number": n, "sid": "PN0123456789abcdef0123456789abcdef"}))
                .collect();
            json_ok(200, json!({"incoming_phone_numbers": list, "page": 0, "page_size": 50}))
        }
        ("GET", "/OutgoingCallerIds.json") => {
            json_ok(200, json!({"outgoing_caller_ids": [], "page": 0, "page_size": 50}))
        }
        (m, t) if t.starts_with("/Calls/") && t.ends_with(".json") => {
            let sid = &t["/Calls/".len()..t.len() - 5];
            let no_answer = s.no_answer_ms;
            let Some(call) = s.calls.iter_mut().find(|c| c.sid == sid) else {
                return error_body(404, 20404, "The requested resource was not found");
            };
            if m == "POST" {
                let (status, ..) = call_state(call, now, no_answer);
                match (form.iter().find(|(k, _)| k == "Status").map(|(_, v)| v.as_str()), status) {
                    (Some("canceled"), "queued" | "ringing") => {
                        call.ended = Some((now, "canceled"))
                    }
                    (Some("completed"), "in-progress") => call.ended = Some((now, "completed")),
                    (Some("canceled" | "completed"), _) => {}
                    _ => return error_body(400, 21220, "Invalid call state for this operation"),
                }
            }
            json_ok(200, call_json(call, now, no_answer))
        }
        ("GET", t) if t.starts_with("/Messages/") && t.ends_with(".json") => {
            let sid = &t["/Messages/".len()..t.len() - 5];
            match s.messages.iter().find(|m| m.sid == sid) {
                Some(m) => json_ok(200, message_json(m, now)),
                None => error_body(404, 20404, "The requested resource was not found"),
            }
        }
        _ => error_body(404, 20404, "The requested resource was not found"),
    }
}

fn json_ok(status: u16, v: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], v.to_string())
        .into_response()
}

fn account_json() -> Value {
    json!({
        "sid": ACCOUNT_SID,
        "friendly_name": "Sentinela test account",
        "status": "active",
        "type": "Full",
        "date_created": rfc2822(chrono::Utc::now()),
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}.json"),
    })
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn is_e164(n: &str) -> bool {
    n.len() > 8 && n.starts_with('+') && n[1..].chars().all(|c| c.is_ascii_digit())
}

fn create_call(s: &mut State, form: &[(String, String)], now: Instant) -> Response {
    let (Some(to), Some(from)) = (param(form, "To"), param(form, "From")) else {
        return error_body(400, 21201, "No 'To' number is specified");
    };
    let sources =
        ["Url", "Twiml", "ApplicationSid"].iter().filter(|k| param(form, k).is_some()).count();
    if sources != 1 {
        return error_body(400, 21205, "Url parameter is required");
    }
    if param(form, "Twiml").is_some_and(|t| t.chars().count() > 4000) {
        return error_body(400, 21205, "Twiml must be at most 4000 characters");
    }
    if param(form, "Timeout").is_some_and(|t| t.parse::<u32>().map_or(true, |v| v > 600)) {
        return error_body(400, 21209, "Timeout must be an integer up to 600");
    }
    if param(form, "MachineDetection").is_some_and(|m| m != "Enable" && m != "DetectMessageEnd") {
        return error_body(400, 21218, "Invalid MachineDetection value");
    }
    if !is_e164(to) {
        return error_body(400, 21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    if !is_e164(from) {
        return error_body(400, 21212, "Invalid 'From' Phone Number");
    }
    let sid = format!("CA{:032x}", s.next_sid);
    s.next_sid += 1;
    let call = FakeCall {
        sid,
        to: to.into(),
        from: from.into(),
        created: now,
        amd: param(form, "MachineDetection").is_some(),
        script: s.call_scripts.get(to).copied().unwrap_or(CallScript::NoAnswer),
        created_utc: chrono::Utc::now(),
        ended: None,
    };
    let v = call_json(&call, now, s.no_answer_ms);
    s.calls.push(call);
    json_ok(201, v)
}

/// (status, answered_by, duration in seconds) of a call at `now`.
fn call_state(
    c: &FakeCall,
    now: Instant,
    no_answer_ms: u64,
) -> (&'static str, Option<&'static str>, Option<u64>) {
    let t = |i: Instant| i.saturating_duration_since(c.created).as_millis() as u64;
    let elapsed = t(now);
    let answered = |answer_ms: u64, talk_ms: u64, by: &'static str, late_amd: bool| {
        let end =
            c.ended.map(|(at, _)| t(at)).filter(|e| *e >= answer_ms).unwrap_or(answer_ms + talk_ms);
        let by = c.amd.then_some(by);
        if elapsed >= end {
            ("completed", by, Some((end - answer_ms).div_ceil(1000).max(1)))
        } else {
            ("in-progress", if late_amd { None } else { by }, None)
        }
    };
    if let Some((at, "canceled")) = c.ended {
        if elapsed >= t(at) {
            return ("canceled", None, None);
        }
    }
    if elapsed < 50 {
        return ("queued", None, None);
    }
    match c.script {
        CallScript::Failed => ("failed", None, None),
        CallScript::Busy if elapsed >= 150 => ("busy", None, None),
        CallScript::NoAnswer if elapsed >= no_answer_ms => ("no-answer", None, None),
        CallScript::Human { answer_ms, talk_ms } if elapsed >= answer_ms => {
            answered(answer_ms, talk_ms, "human", false)
        }
        CallScript::HumanLateAmd { answer_ms, talk_ms } if elapsed >= answer_ms => {
            answered(answer_ms, talk_ms, "human", true)
        }
        CallScript::Unknown { answer_ms, talk_ms } if elapsed >= answer_ms => {
            answered(answer_ms, talk_ms, "unknown", true)
        }
        CallScript::Voicemail { answer_ms } if elapsed >= answer_ms => {
            answered(answer_ms, 5000, "machine_start", false)
        }
        _ => ("ringing", None, None),
    }
}

fn call_json(c: &FakeCall, now: Instant, no_answer_ms: u64) -> Value {
    let (status, answered_by, duration) = call_state(c, now, no_answer_ms);
    json!({
        "sid": c.sid,
        "account_sid": ACCOUNT_SID,
        "to": c.to,
        "to_formatted": c.to,
        "from": c.from,
        "from_formatted": c.from,
        "status": status,
        "answered_by": answered_by,
        "duration": duration.map(|d| d.to_string()),
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "parent_call_sid": null,
        "price": null,
        "price_unit": "USD",
        "queue_time": "0",
        "date_created": rfc2822(c.created_utc),
        "date_updated": rfc2822(chrono::Utc::now()),
        "start_time": null,
        "end_time": null,
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{}.json", c.sid),
        "subresource_uris": {},
    })
}

fn create_message(s: &mut State, form: &[(String, String)], now: Instant) -> Response {
    let (Some(to), Some(from)) = (param(form, "To"), param(form, "From")) else {
        return error_body(400, 21604, "A 'To' phone number is required");
    };
    // WhatsApp: both addresses `whatsapp:+…`; SMS: both plain E.164.
    let whatsapp = to.starts_with("whatsapp:+") && from.starts_with("whatsapp:+");
    if !whatsapp && (!to.starts_with('+') || !from.starts_with('+')) {
        return error_body(400, 21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    if !whatsapp && param(form, "ContentSid").is_some() {
        return error_body(400, 21656, "Content templates are for WhatsApp senders");
    }
    let body = param(form, "Body");
    let content = param(form, "ContentSid");
    if body.is_none() && content.is_none() {
        return error_body(400, 21619, "A text message body or media urls must be specified");
    }
    if body.is_some_and(|b| b.chars().count() > 1600) {
        return error_body(
            400,
            21617,
            "The concatenated message body exceeds the 1600 character limit",
        );
    }
    if content.is_some()
        && param(form, "ContentVariables")
            .is_some_and(|v| serde_json::from_str::<Value>(v).is_err())
    {
        return error_body(400, 21656, "The ContentVariables Parameter is invalid");
    }
    let number = to.trim_start_matches("whatsapp:");
    let sid = format!("SM{:032x}", s.next_sid);
    s.next_sid += 1;
    let m = FakeMessage {
        sid,
        to: to.into(),
        from: from.into(),
        body: body.map(str::to_owned),
        created: now,
        // Scripts are WhatsApp's (a phone without WhatsApp still gets SMS); an SMS is delivered.
        script: if whatsapp {
            s.message_scripts.get(number).copied().unwrap_or(MessageScript::Read)
        } else {
            MessageScript::Delivered
        },
        inbound: false,
        sent: chrono::Utc::now(),
    };
    let v = message_json(&m, now);
    s.messages.push(m);
    json_ok(201, v)
}

/// `GET Messages.json`: Twilio's filters (`To`, `From`, `DateSent`, `DateSent<`, `DateSent>`,
/// which compare the day only), newest first, paged by `PageSize` and `Page` with Twilio's
/// `next_page_uri`.
fn list_messages(s: &State, query: &[(String, String)], now: Instant) -> Response {
    let q = |k: &str| query.iter().find(|(name, _)| name == k).map(|(_, v)| v.as_str());
    let day = |v: &str| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
    for k in ["DateSent", "DateSent<", "DateSent>"] {
        if q(k).is_some_and(|v| day(v).is_none()) {
            return error_body(400, 20001, &format!("Invalid {k}: use YYYY-MM-DD"));
        }
    }
    let page_size: usize = q("PageSize").and_then(|v| v.parse().ok()).unwrap_or(50).clamp(1, 1000);
    let page: usize = q("Page").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut list: Vec<&FakeMessage> = s
        .messages
        .iter()
        .filter(|m| q("To").is_none_or(|t| t == m.to) && q("From").is_none_or(|f| f == m.from))
        .filter(|m| {
            let d = m.sent.date_naive();
            q("DateSent").and_then(day).is_none_or(|x| d == x)
                && q("DateSent>").and_then(day).is_none_or(|x| d >= x)
                && q("DateSent<").and_then(day).is_none_or(|x| d <= x)
        })
        .collect();
    list.sort_by(|a, b| b.sent.cmp(&a.sent).then(b.sid.cmp(&a.sid)));
    let items: Vec<Value> =
        list.iter().skip(page * page_size).take(page_size).map(|m| message_json(m, now)).collect();
    let more = list.len() > (page + 1) * page_size;
    let base = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    let keep: Vec<(String, String)> =
        query.iter().filter(|(k, _)| k != "Page" && k != "PageToken").cloned().collect();
    let uri = |p: usize| {
        let mut qs = keep.clone();
        qs.push(("Page".into(), p.to_string()));
        qs.push(("PageToken".into(), format!("PA{p}")));
        format!("{base}?{}", serde_urlencoded::to_string(&qs).unwrap())
    };
    json_ok(
        200,
        json!({
            "messages": items,
            "page": page,
            "page_size": page_size,
            "first_page_uri": uri(0),
            "next_page_uri": if more { Value::String(uri(page + 1)) } else { Value::Null },
            "previous_page_uri": if page > 0 { Value::String(uri(page - 1)) } else { Value::Null },
            "uri": uri(page),
            "start": page * page_size,
            "end": page * page_size + items.len().saturating_sub(1),
        }),
    )
}

/// `GET Calls.json`: filtered by `To`, `From` and `Status`, newest first, one page of
/// `PageSize` (Sentinela reads only the first page: its lookups are narrow).
fn list_calls(s: &State, query: &[(String, String)], now: Instant) -> Response {
    let q = |k: &str| query.iter().find(|(name, _)| name == k).map(|(_, v)| v.as_str());
    let page_size: usize = q("PageSize").and_then(|v| v.parse().ok()).unwrap_or(50).clamp(1, 1000);
    let mut list: Vec<&FakeCall> = s
        .calls
        .iter()
        .filter(|c| q("To").is_none_or(|t| t == c.to) && q("From").is_none_or(|f| f == c.from))
        .filter(|c| q("Status").is_none_or(|st| st == call_state(c, now, s.no_answer_ms).0))
        .collect();
    list.sort_by(|a, b| b.created_utc.cmp(&a.created_utc).then(b.sid.cmp(&a.sid)));
    let calls: Vec<Value> =
        list.iter().take(page_size).map(|c| call_json(c, now, s.no_answer_ms)).collect();
    json_ok(
        200,
        json!({
            "calls": calls,
            "page": 0,
            "page_size": page_size,
            "next_page_uri": null,
            "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"),
        }),
    )
}

fn message_json(m: &FakeMessage, now: Instant) -> Value {
    let elapsed = now.saturating_duration_since(m.created).as_millis() as u64;
    let (status, code): (&str, Option<i64>) = match (m.script, elapsed) {
        _ if m.inbound => ("received", None),
        (_, 0..=49) => ("queued", None),
        (MessageScript::FailWith(code), _) => ("failed", Some(code)),
        (MessageScript::Read, 50..=149) => ("sent", None),
        (MessageScript::Read, 150..=299) => ("delivered", None),
        (MessageScript::Read, _) => ("read", None),
        (MessageScript::Delivered, 50..=149) => ("sent", None),
        (MessageScript::Delivered, _) => ("delivered", None),
    };
    json!({
        "sid": m.sid,
        "account_sid": ACCOUNT_SID,
        "to": m.to,
        "from": m.from,
        "body": m.body,
        "status": status,
        "error_code": code,
        "error_message": code.map(|_| "Message failed"),
        "num_segments": "1",
        "num_media": "0",
        "direction": if m.inbound { "inbound" } else { "outbound-api" },
        "api_version": "2010-04-01",
        "price": null,
        "price_unit": "USD",
        "messaging_service_sid": null,
        "date_created": rfc2822(m.sent),
        "date_updated": rfc2822(chrono::Utc::now()),
        "date_sent": rfc2822(m.sent),
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}.json", m.sid),
        "subresource_uris": {},
    })
}

/// Studio v2: `tail` is what follows `/v2/Flows`.
fn studio(
    s: &mut State,
    method: &str,
    tail: &str,
    query: &[(String, String)],
    form: &[(String, String)],
    now: Instant,
) -> Response {
    let parts: Vec<&str> =
        tail.trim_start_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    let flow_json = |sid: &str, name: &str, d: &Value| json!({"sid": sid, "account_sid": ACCOUNT_SID, "friendly_name": name, "definition": d, "status": "published", "revision": 1, "valid": true, "errors": [], "warnings": []});
    match (method, parts.as_slice()) {
        ("GET", []) => {
            let flows: Vec<Value> =
                s.flows.iter().map(|(sid, name, d)| flow_json(sid, name, d)).collect();
            json_ok(
                200,
                json!({"flows": flows, "meta": {"page": 0, "page_size": 50, "key": "flows"}}),
            )
        }
        ("POST", [] | [_]) => {
            let Some(definition) =
                param(form, "Definition").and_then(|d| serde_json::from_str::<Value>(d).ok())
            else {
                return error_body(400, 20001, "Invalid Definition: not JSON");
            };
            if definition.get("initial_state").and_then(Value::as_str).is_none()
                || !definition.get("states").is_some_and(Value::is_array)
            {
                return error_body(
                    400,
                    20001,
                    "Invalid Definition: initial_state and states are required",
                );
            }
            if param(form, "Status").is_none_or(|st| st != "published" && st != "draft") {
                return error_body(400, 20001, "Status is required");
            }
            match parts.first() {
                None => {
                    let Some(name) = param(form, "FriendlyName") else {
                        return error_body(400, 20001, "FriendlyName is required");
                    };
                    let sid = format!("FW{:032x}", s.next_sid);
                    s.next_sid += 1;
                    s.flows.push((sid.clone(), name.into(), definition.clone()));
                    json_ok(200, flow_json(&sid, name, &definition))
                }
                Some(sid) => match s.flows.iter_mut().find(|(f, ..)| f == sid) {
                    Some(flow) => {
                        flow.2 = definition;
                        let (sid, name, d) = flow.clone();
                        json_ok(200, flow_json(&sid, &name, &d))
                    }
                    None => error_body(404, 20404, "The requested resource was not found"),
                },
            }
        }
        (_, [flow, "Executions", rest @ ..]) => {
            if !s.flows.iter().any(|(f, ..)| f == flow) {
                return error_body(404, 20404, "The requested resource was not found");
            }
            studio_execution(s, method, flow, rest, query, form, now)
        }
        _ => error_body(404, 20404, "The requested resource was not found"),
    }
}

fn execution_json(e: &FakeExecution) -> Value {
    json!({
        "sid": e.sid,
        "account_sid": ACCOUNT_SID,
        "flow_sid": e.flow,
        "contact_channel_address": e.to,
        "status": if e.ended { "ended" } else { "active" },
        "date_created": e.created_utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

fn studio_execution(
    s: &mut State,
    method: &str,
    flow: &str,
    rest: &[&str],
    query: &[(String, String)],
    form: &[(String, String)],
    now: Instant,
) -> Response {
    match (method, rest) {
        ("POST", []) => {
            let (Some(to), Some(from)) = (param(form, "To"), param(form, "From")) else {
                return error_body(400, 20001, "To and From are required");
            };
            if !is_e164(to) || !is_e164(from) {
                return error_body(400, 20001, "To and From must be E.164 phone numbers");
            }
            let Some(parameters) = param(form, "Parameters")
                .map_or(Some(json!({})), |p| serde_json::from_str::<Value>(p).ok())
            else {
                return error_body(400, 20001, "Parameters must be a JSON object");
            };
            // The flow's outgoing-call widget dials the contact, with machine detection.
            let call_sid = format!("CA{:032x}", s.next_sid);
            let sid = format!("FN{:032x}", s.next_sid + 1);
            s.next_sid += 2;
            let call = FakeCall {
                sid: call_sid.clone(),
                to: to.into(),
                from: from.into(),
                created: now,
                amd: true,
                script: s.call_scripts.get(to).copied().unwrap_or(CallScript::NoAnswer),
                created_utc: chrono::Utc::now(),
                ended: None,
            };
            s.calls.push(call);
            let e = FakeExecution {
                sid,
                flow: flow.into(),
                to: to.into(),
                call_sid,
                parameters,
                created_utc: chrono::Utc::now(),
                ended: false,
            };
            let v = execution_json(&e);
            s.executions.push(e);
            json_ok(201, v)
        }
        ("GET", []) => {
            let from = query
                .iter()
                .find(|(k, _)| k == "DateCreatedFrom")
                .and_then(|(_, v)| chrono::DateTime::parse_from_rfc3339(v).ok());
            let list: Vec<Value> = s
                .executions
                .iter()
                .rev()
                .filter(|e| e.flow == flow && from.is_none_or(|f| e.created_utc >= f))
                .map(execution_json)
                .collect();
            json_ok(
                200,
                json!({"executions": list, "meta": {"page": 0, "page_size": 50, "key": "executions"}}),
            )
        }
        (m, [sid, rest @ ..]) => {
            let no_answer = s.no_answer_ms;
            let keys = s.key_scripts.clone();
            let Some(i) = s.executions.iter().position(|e| e.sid == *sid && e.flow == flow) else {
                return error_body(404, 20404, "The requested resource was not found");
            };
            match (m, rest) {
                ("GET", []) => json_ok(200, execution_json(&s.executions[i])),
                ("POST", []) => {
                    if param(form, "Status") != Some("ended") {
                        return error_body(400, 20001, "Status must be ended");
                    }
                    s.executions[i].ended = true;
                    json_ok(200, execution_json(&s.executions[i]))
                }
                ("GET", ["Context"]) => {
                    let e = s.executions[i].clone();
                    let call = s.calls.iter().find(|c| c.sid == e.call_sid);
                    let mut widgets = json!({ "ligacao": { "CallSid": e.call_sid } });
                    if let (Some(call), Some((key, after_ms))) = (call, keys.get(&e.to)) {
                        // A person's call: the key is pressed `after_ms` after answering, if
                        // the call still goes on then.
                        if let CallScript::Human { answer_ms, talk_ms }
                        | CallScript::HumanLateAmd { answer_ms, talk_ms } = call.script
                        {
                            let ms = |at: Instant| {
                                at.saturating_duration_since(call.created).as_millis() as u64
                            };
                            let pressed_at = answer_ms + after_ms;
                            let ends_at =
                                call.ended.map(|(at, _)| ms(at)).unwrap_or(answer_ms + talk_ms);
                            let (status, ..) = call_state(call, now, no_answer);
                            if ms(now) >= pressed_at
                                && pressed_at < ends_at
                                && matches!(status, "in-progress" | "completed")
                            {
                                widgets["alerta"] = json!({ "Digits": key });
                            }
                        }
                    }
                    json_ok(
                        200,
                        json!({
                            "account_sid": ACCOUNT_SID,
                            "flow_sid": flow,
                            "execution_sid": e.sid,
                            "context": { "flow": { "data": e.parameters, "channel": { "address": "" } }, "contact": { "channel": { "address": e.to } }, "widgets": widgets },
                        }),
                    )
                }
                _ => error_body(404, 20404, "The requested resource was not found"),
            }
        }
        _ => error_body(404, 20404, "The requested resource was not found"),
    }
}
