//! The "test each part for real" actions shared by `sentinela-headless` and the settings window:
//! a test WhatsApp message and a test call, both clearly marked as tests.

use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::notify::{compose, judge};
use crate::phone;
use crate::secrets::Secret;
use crate::twilio::{describe_code, twiml, MessageStatus, NewCall, NewMessage, TwilioClient};

pub const TEST_SUBJECT: &str = "Teste do Sentinela";
pub const TEST_BODY: &str = "Se você recebeu isto, o Sentinela consegue avisar você.";

#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Failed(String),
}

/// What a test message or call ended as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SelfTestReport {
    pub to: String,
    pub sid: String,
    /// Every state seen, in order (`queued`, `ringing`, `in-progress`, …).
    pub states: Vec<String>,
    /// For calls: `answered`, `machine`, `no-answer`, …; for messages: the last state.
    pub outcome: String,
    pub duration_secs: Option<u32>,
}

fn client(config: &Config, token: Secret) -> Result<TwilioClient, SelfTestError> {
    let twilio = config
        .twilio
        .as_ref()
        .ok_or_else(|| SelfTestError::Setup("the configuration has no [twilio] section: add one with account_sid".into()))?;
    Ok(TwilioClient::new(twilio, token))
}

/// Sends one test WhatsApp message and follows it for up to `follow_for`.
pub async fn test_whatsapp(config: &Config, token: Secret, to: &str, follow_for: Duration) -> Result<SelfTestReport, SelfTestError> {
    let to = phone::normalise(to).map_err(|e| SelfTestError::Setup(format!("--to: {e}")))?;
    let w = config.whatsapp.as_ref().ok_or_else(|| SelfTestError::Setup("the configuration has no [whatsapp] section".into()))?;
    let client = client(config, token)?;
    let template = (!w.content_sid.is_empty()).then(|| (w.content_sid.clone(), compose::template_variables(TEST_SUBJECT, TEST_BODY, true)));
    let message = NewMessage { from: w.from.clone(), to: to.clone(), body: compose::whatsapp_text(TEST_SUBJECT, TEST_BODY, true), template };
    let sent = client.create_message(&message).await.map_err(|e| SelfTestError::Failed(format!("WhatsApp not sent: {e}")))?;
    let mut states = vec![sent.status.as_str().to_owned()];
    let deadline = tokio::time::Instant::now() + follow_for;
    let mut status = sent.status;
    while !status.is_final() && status != MessageStatus::Delivered && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m = client.fetch_message(&sent.sid).await.map_err(|e| SelfTestError::Failed(e.to_string()))?;
        if m.status != status {
            status = m.status;
            states.push(status.as_str().to_owned());
        }
        if let Some(code) = m.error_code {
            return Err(SelfTestError::Failed(format!("WhatsApp to {to} {}: {}", m.status.as_str(), describe_code(code))));
        }
    }
    Ok(SelfTestReport { to, sid: sent.sid, states, outcome: status.as_str().to_owned(), duration_secs: None })
}

/// Places one test call and follows it to the end. A call that no person answers is an error.
pub async fn test_call(config: &Config, token: Secret, to: &str) -> Result<SelfTestReport, SelfTestError> {
    let to = phone::normalise(to).map_err(|e| SelfTestError::Setup(format!("--to: {e}")))?;
    let c = config.calls.as_ref().ok_or_else(|| SelfTestError::Setup("the configuration has no [calls] section".into()))?;
    let client = client(config, token)?;
    let request = NewCall {
        from: c.from.clone(),
        to: to.clone(),
        twiml: twiml::alert_twiml(&c.voice, &c.language, TEST_SUBJECT, TEST_BODY, true),
        timeout_secs: c.ring_secs,
        machine_detection: c.require_human,
    };
    let call = client.create_call(&request).await.map_err(|e| SelfTestError::Failed(format!("call not placed: {e}")))?;
    let mut states = vec![call.status.as_str().to_owned()];
    let mut last = call.status;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = client.fetch_call(&call.sid).await.map_err(|e| SelfTestError::Failed(e.to_string()))?;
        if now.status != last {
            last = now.status;
            states.push(match &now.answered_by {
                Some(by) => format!("{} ({by})", now.status.as_str()),
                None => now.status.as_str().to_owned(),
            });
        }
        if now.status.is_final() {
            let outcome = judge(&now, c.require_human).map(|o| o.as_str()).unwrap_or("failed").to_owned();
            let report = SelfTestReport { to: to.clone(), sid: call.sid.clone(), states, outcome, duration_secs: now.duration_secs() };
            if report.outcome != "answered" {
                return Err(SelfTestError::Failed(format!("the test call to {to} was not answered by a person ({})", report.outcome)));
            }
            return Ok(report);
        }
    }
}
