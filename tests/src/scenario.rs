//! The notify side's test scenario: a real Dovecot, the Twilio fake, a data directory and a
//! configuration that sends WhatsApp messages and calls through the fake — and the engine started
//! in-process with short polling intervals. Each test changes what it needs in `config`.

use std::path::Path;
use std::time::Duration;

use sentinela_engine::config::{CallsConfig, Config, Security, WhatsAppConfig};
use sentinela_engine::events::{EngineEvent, EventBus};
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets::Secret;
use sentinela_engine::timing::EngineTiming;
use tempfile::TempDir;
use tokio::sync::broadcast;

use crate::dovecot::Dovecot;
use crate::twilio_fake::{TwilioFake, AUTH_TOKEN};

/// The sandbox sender, used as WhatsApp sender and caller ID.
pub const SENDER: &str = "+14155238886";

pub struct Scenario {
    pub server: Dovecot,
    pub fake: TwilioFake,
    pub data: TempDir,
    pub config: Config,
}

impl Scenario {
    /// WhatsApp to `whatsapp_to`, calls to `calls_to` in order, `rounds` rounds, 1 s round pause.
    pub async fn new(whatsapp_to: &[&str], calls_to: &[&str], rounds: u32) -> Scenario {
        let server = Dovecot::start();
        let fake = TwilioFake::start().await;
        let mut config = server.config(Security::Tls);
        config.twilio = Some(fake.config());
        config.whatsapp = Some(WhatsAppConfig {
            from: SENDER.into(),
            to: whatsapp_to.iter().map(|s| s.to_string()).collect(),
            content_sid: String::new(),
        });
        config.calls = Some(CallsConfig { rounds, round_pause_secs: 1, ..calls(SENDER, calls_to) });
        Scenario { server, fake, data: TempDir::new().unwrap(), config }
    }

    /// The engine on this scenario's data directory, with `token` as the Twilio secret.
    pub async fn start(
        &self,
        token: &str,
        timing: EngineTiming,
    ) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
        self.start_in(self.data.path(), token, timing).await
    }

    /// The engine on another data directory (a journal of its own).
    pub async fn start_in(
        &self,
        data: &Path,
        token: &str,
        timing: EngineTiming,
    ) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
        let bus = EventBus::default();
        let rx = bus.subscribe();
        let secrets = EngineSecrets {
            mailbox: Dovecot::password().into(),
            twilio_token: Some(Secret::new(token)),
            journal_password: None,
        };
        let engine = RunningEngine::start_with_timing(&self.config, secrets, data, bus, timing)
            .await
            .unwrap();
        (engine, rx)
    }

    /// [`Scenario::start`] with the account's right token and [`fast`] timing.
    pub async fn start_fast(&self) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
        self.start(AUTH_TOKEN, fast()).await
    }
}

/// Polling intervals short enough for a whole escalation to fit in a test.
pub fn fast() -> EngineTiming {
    EngineTiming {
        call_poll: Duration::from_millis(50),
        message_poll: Duration::from_millis(50),
        message_follow_for: Duration::from_secs(3),
        retry_wait: Duration::from_millis(300),
        ..EngineTiming::default()
    }
}

/// `[calls]` from `from` to `to`, as a NOC would set it: 25 s of ringing, one round, a person
/// required, the Portuguese voice.
pub fn calls(from: &str, to: &[&str]) -> CallsConfig {
    CallsConfig {
        from: from.into(),
        to: to.iter().map(|s| s.to_string()).collect(),
        ring_secs: 25,
        rounds: 1,
        round_pause_secs: 0,
        voice: "Polly.Camila".into(),
        language: "pt-BR".into(),
        require_human: true,
        keypress: false,
    }
}
