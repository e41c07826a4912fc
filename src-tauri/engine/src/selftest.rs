//! The "test each part for real" actions shared by `sentinela-headless` and the settings window:
//! a test WhatsApp message and a test call, both clearly marked as tests.

use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::notify::{compose, judge, judge_keypress};
use crate::phone;
use crate::secrets::Secret;
use crate::twilio::{
    describe_code, describe_code_in_portuguese, studio, twiml, CallStatus, MessageStatus, NewCall,
    NewMessage, TwilioClient, TwilioError,
};

pub const TEST_SUBJECT: &str = "Teste do Sentinela";
pub const TEST_BODY: &str = "Se você recebeu isto, o Sentinela consegue avisar você.";

/// Why a test could not be made or did not reach a person, in English (CLI, logs) and in
/// Portuguese (the settings window of a Brazilian NOC).
#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    /// The test cannot run as configured: a section missing, a bad number.
    #[error("{en}")]
    Setup { en: String, pt: String },
    /// Twilio refused it, or it did not reach a person.
    #[error("{en}")]
    Failed { en: String, pt: String },
}

impl SelfTestError {
    pub fn in_portuguese(&self) -> &str {
        match self {
            SelfTestError::Setup { pt, .. } | SelfTestError::Failed { pt, .. } => pt,
        }
    }

    fn missing_section(section: &str) -> Self {
        SelfTestError::Setup {
            en: format!("the configuration has no [{section}] section: fill it in the settings"),
            pt: format!(
                "a configuração não tem a seção [{section}]: preencha-a nas Configurações e salve"
            ),
        }
    }

    fn bad_number(e: crate::phone::PhoneError) -> Self {
        SelfTestError::Setup {
            en: format!("--to: {e}"),
            pt: format!("número do teste: {}", e.in_portuguese()),
        }
    }

    /// Twilio refused `doing` (a short phrase in both languages).
    fn twilio((doing_en, doing_pt): (&str, &str), e: TwilioError) -> Self {
        SelfTestError::Failed {
            en: format!("{doing_en}: {e}"),
            pt: format!("{doing_pt}: {}", e.in_portuguese()),
        }
    }
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
    let twilio = config.twilio.as_ref().ok_or_else(|| SelfTestError::missing_section("twilio"))?;
    Ok(TwilioClient::new(twilio, token))
}

/// Sends one test WhatsApp message and follows it for up to `follow_for`.
pub async fn test_whatsapp(
    config: &Config,
    token: Secret,
    to: &str,
    follow_for: Duration,
) -> Result<SelfTestReport, SelfTestError> {
    let to = phone::normalise(to).map_err(SelfTestError::bad_number)?;
    let w = config.whatsapp.as_ref().ok_or_else(|| SelfTestError::missing_section("whatsapp"))?;
    let client = client(config, token)?;
    let template = (!w.content_sid.is_empty()).then(|| {
        (w.content_sid.clone(), compose::template_variables(TEST_SUBJECT, TEST_BODY, true))
    });
    let message = NewMessage {
        from: w.from.clone(),
        to: to.clone(),
        body: compose::whatsapp_text(
            crate::incident::MessagePurpose::Alarm,
            TEST_SUBJECT,
            TEST_BODY,
            true,
        ),
        template,
        channel: crate::model::Channel::Whatsapp,
    };
    let sent = client.create_message(&message, None).await.map_err(|e| {
        SelfTestError::twilio(("WhatsApp not sent", "WhatsApp não enviado"), e.error)
    })?;
    let mut states = vec![sent.status.as_str().to_owned()];
    let deadline = tokio::time::Instant::now() + follow_for;
    let mut status = sent.status;
    while !status.is_final()
        && status != MessageStatus::Delivered
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m = client.fetch_message(&sent.sid).await.map_err(|e| {
            SelfTestError::twilio(
                (
                    "cannot follow the WhatsApp message",
                    "não foi possível acompanhar a mensagem de WhatsApp",
                ),
                e,
            )
        })?;
        if m.status != status {
            status = m.status;
            states.push(status.as_str().to_owned());
        }
        if let Some(code) = m.error_code {
            return Err(SelfTestError::Failed {
                en: format!("WhatsApp to {to} {}: {}", m.status.as_str(), describe_code(code)),
                pt: format!(
                    "o WhatsApp para {to} não foi entregue ({}): {}",
                    m.status.as_str(),
                    describe_code_in_portuguese(code)
                ),
            });
        }
    }
    Ok(SelfTestReport {
        to,
        sid: sent.sid,
        states,
        outcome: status.as_str().to_owned(),
        duration_secs: None,
    })
}

/// Places one test call and follows it to the end. A call that no person answers is an error.
pub async fn test_call(
    config: &Config,
    token: Secret,
    to: &str,
) -> Result<SelfTestReport, SelfTestError> {
    let to = phone::normalise(to).map_err(SelfTestError::bad_number)?;
    let c = config.calls.as_ref().ok_or_else(|| SelfTestError::missing_section("calls"))?;
    let client = client(config, token)?;
    let not_placed = ("call not placed", "ligação não feita");
    // With `keypress`, the test goes through Sentinela's Studio flow: the way to see that the
    // account accepts it, and that pressing 1 is heard.
    let (call, execution) = if c.keypress {
        let flow = client.ensure_flow(&studio::flow_definition(c)).await.map_err(|e| {
            SelfTestError::twilio(
                (
                    "Twilio Studio refused Sentinela's flow",
                    "o Twilio Studio recusou o fluxo do Sentinela",
                ),
                e,
            )
        })?;
        let asked = chrono::Utc::now();
        let text = twiml::incidents_text_asking_for_key(
            &[twiml::Spoken { title: TEST_SUBJECT, body: TEST_BODY, test: true }],
            None,
        );
        let execution = client
            .start_execution(&flow, &to, &c.from, &text, None)
            .await
            .map_err(|e| SelfTestError::twilio(not_placed, e.error))?;
        let mut found = None;
        for _ in 0..60 {
            found = client
                .call_placed_since(&to, &c.from, asked)
                .await
                .map_err(|e| SelfTestError::twilio(not_placed, e))?;
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let call = found.ok_or_else(|| SelfTestError::Failed {
            en: format!("Twilio Studio placed no call to {to} within 60 s"),
            pt: format!("o Twilio Studio não fez a ligação para {to} em 60 s"),
        })?;
        (call, Some((flow, execution.sid)))
    } else {
        let request = NewCall {
            from: c.from.clone(),
            to: to.clone(),
            twiml: twiml::alert_twiml(&c.voice, &c.language, TEST_SUBJECT, TEST_BODY, true),
            timeout_secs: c.ring_secs,
            machine_detection: c.require_human,
        };
        (
            client
                .create_call(&request, None)
                .await
                .map_err(|e| SelfTestError::twilio(not_placed, e.error))?,
            None,
        )
    };
    let mut states = vec![call.status.as_str().to_owned()];
    let mut last = call.status;
    let mut key: Option<String> = None;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = client.fetch_call(&call.sid).await.map_err(|e| {
            SelfTestError::twilio(
                ("cannot follow the call", "não foi possível acompanhar a ligação"),
                e,
            )
        })?;
        if now.status != last {
            last = now.status;
            states.push(match &now.answered_by {
                Some(by) => format!("{} ({by})", now.status.as_str()),
                None => now.status.as_str().to_owned(),
            });
        }
        if let (Some((flow, execution)), None, CallStatus::InProgress | CallStatus::Completed) =
            (&execution, &key, now.status)
        {
            key = client.execution_key(flow, execution).await.map_err(|e| {
                SelfTestError::twilio(
                    ("cannot read the key pressed", "não foi possível ler a tecla"),
                    e,
                )
            })?;
            if let Some(k) = &key {
                states.push(format!("tecla {k}"));
            }
        }
        if now.status.is_final() {
            let verdict = match execution {
                Some(_) => judge_keypress(&now, key.as_deref(), c.require_human),
                None => judge(&now, c.require_human),
            };
            let outcome = verdict.map(|o| o.as_str()).unwrap_or("failed").to_owned();
            let report = SelfTestReport {
                to: to.clone(),
                sid: call.sid.clone(),
                states,
                outcome,
                duration_secs: now.duration_secs(),
            };
            if report.outcome != "answered" {
                let outcome = &report.outcome;
                return Err(match execution {
                    Some(_) => SelfTestError::Failed {
                        en: format!("nobody pressed 1 in the test call to {to} ({outcome})"),
                        pt: format!("ninguém teclou 1 na ligação de teste para {to} ({outcome})"),
                    },
                    None => SelfTestError::Failed {
                        en: format!("the test call to {to} was not answered by a person ({outcome})"),
                        pt: format!("a ligação de teste para {to} não foi atendida por uma pessoa ({outcome})"),
                    },
                });
            }
            return Ok(report);
        }
    }
}
