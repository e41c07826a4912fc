//! Twilio Studio, for calls that ask for a key ("tecle 1 para assumir") on a workstation with no
//! public URL: a TwiML `<Gather>` can only post the digit to a URL, but a Studio flow keeps it
//! in its execution's context, which the REST API gives to whoever asks.
//!
//! Sentinela keeps one flow of its own in the account (created, or brought up to date with
//! `[calls]` at the first call of each run): a REST trigger → *Make Outgoing Call* (machine
//! detection on) → *Gather Input On Call*, which says the alert and waits for one key. Each call of the queue is an
//! execution of that flow for one number; the call it places is found and followed through the
//! Calls API as any other call, and the execution's context is read for the key pressed. The
//! shapes here are those of Studio's v2 API and flow definitions; see docs/keypress.md for what
//! was checked and what could not be.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{CreateError, Creating, TwilioClient};
use super::error::TwilioError;
use super::resources::{Call, CallList};
use crate::config::CallsConfig;

/// The flow's name in the account: how Sentinela finds its own flow again.
pub const FLOW_NAME: &str = "Sentinela: alerta, tecle 1 para assumir";
/// The widgets' names, as the context knows them (`widgets.<name>`).
pub const CALL_WIDGET: &str = "ligacao";
pub const GATHER_WIDGET: &str = "alerta";
/// The key that takes the incidents.
pub const TAKE_KEY: &str = "1";

#[derive(Debug, Clone, Deserialize)]
pub struct Execution {
    pub sid: String,
    #[serde(default)]
    pub contact_channel_address: Option<String>,
    /// ISO 8601, unlike the 2010 API's dates.
    #[serde(default)]
    pub date_created: Option<String>,
}

impl Execution {
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.date_created
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ExecutionList {
    #[serde(default)]
    pub executions: Vec<Execution>,
}

#[derive(Debug, Deserialize)]
struct Flow {
    sid: String,
    #[serde(default)]
    friendly_name: String,
}

#[derive(Debug, Deserialize)]
struct FlowList {
    #[serde(default)]
    flows: Vec<Flow>,
}

#[derive(Debug, Deserialize)]
struct ExecutionContext {
    #[serde(default)]
    context: Value,
}

/// Studio says a `say` text into TwiML itself: what reaches it is plain words, with nothing an
/// XML or SSML reader could take for markup.
pub fn plain_words(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '<' | '>' | '&' | '{' | '}' | '%') { ' ' } else { c })
        .collect()
}

/// Sentinela's flow for `calls`: the voice, language and ring time are the configuration's; the
/// text of each call comes in its execution's parameters (`flow.data.texto`).
pub fn flow_definition(calls: &CallsConfig) -> Value {
    json!({
        "description": "Sentinela: liga, diz o alerta e espera a tecla 1 (criado e atualizado pelo Sentinela)",
        "initial_state": "Trigger",
        "flags": { "allow_concurrent_calls": true },
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [
                    { "event": "incomingMessage" },
                    { "event": "incomingCall" },
                    { "event": "incomingConversationMessage" },
                    { "event": "incomingRequest", "next": CALL_WIDGET },
                    { "event": "incomingParent" }
                ],
                "properties": { "offset": { "x": 0, "y": 0 } }
            },
            {
                "name": CALL_WIDGET,
                "type": "make-outgoing-call-v2",
                "transitions": [
                    { "event": "answered", "next": GATHER_WIDGET },
                    { "event": "busy" },
                    { "event": "noAnswer" },
                    { "event": "failed" }
                ],
                "properties": {
                    "from": "{{flow.channel.address}}",
                    "to": "{{contact.channel.address}}",
                    "timeout": calls.ring_secs,
                    "detect_answering_machine": calls.require_human,
                    "machine_detection": "Enable",
                    "record": false,
                    "offset": { "x": 0, "y": 200 }
                }
            },
            {
                "name": GATHER_WIDGET,
                "type": "gather-input-on-call",
                "transitions": [{ "event": "keypress" }, { "event": "speech" }, { "event": "timeout" }],
                "properties": {
                    "say": "{{flow.data.texto}}",
                    "voice": calls.voice,
                    "language": calls.language,
                    "number_of_digits": 1,
                    "stop_gather": true,
                    "timeout": 8,
                    "loop": 2,
                    "offset": { "x": 0, "y": 400 }
                }
            }
        ]
    })
}

/// The key pressed, as an execution's context holds it.
pub fn key_pressed(context: &Value) -> Option<&str> {
    context.get("widgets")?.get(GATHER_WIDGET)?.get("Digits")?.as_str().filter(|d| !d.is_empty())
}

impl TwilioClient {
    /// Sentinela's flow in the account, created or brought up to date with `definition`;
    /// returns its SID.
    pub async fn ensure_flow(&self, definition: &Value) -> Result<String, TwilioError> {
        let flows: FlowList =
            self.call_query(&self.studio("/Flows"), &[("PageSize", "50".to_owned())]).await?;
        let form = vec![
            ("Status", "published".to_owned()),
            ("Definition", definition.to_string()),
            ("CommitMessage", "Sentinela".to_owned()),
        ];
        let flow: Flow = match flows.flows.into_iter().find(|f| f.friendly_name == FLOW_NAME) {
            Some(f) => {
                self.call(Method::POST, &self.studio(&format!("/Flows/{}", f.sid)), &form).await?
            }
            None => {
                let mut form = form;
                form.push(("FriendlyName", FLOW_NAME.to_owned()));
                self.call(Method::POST, &self.studio("/Flows"), &form).await?
            }
        };
        Ok(flow.sid)
    }

    /// Starts the flow for `to` at most once (as calls are created: an answer that may hide a
    /// creation is looked up first); `text` is what the call says.
    pub async fn start_execution(
        &self,
        flow: &str,
        to: &str,
        from: &str,
        text: &str,
        unsure_since: Option<DateTime<Utc>>,
    ) -> Result<Execution, CreateError> {
        let form = vec![
            ("To", to.to_owned()),
            ("From", from.to_owned()),
            ("Parameters", json!({ "texto": plain_words(text) }).to_string()),
        ];
        self.create_once(Creating::Execution { flow, to }, &form, unsure_since).await
    }

    /// The key pressed so far in an execution's call, if any.
    pub async fn execution_key(
        &self,
        flow: &str,
        execution: &str,
    ) -> Result<Option<String>, TwilioError> {
        let ctx: ExecutionContext = self
            .call(
                Method::GET,
                &self.studio(&format!("/Flows/{flow}/Executions/{execution}/Context")),
                &[],
            )
            .await?;
        Ok(key_pressed(&ctx.context).map(str::to_owned))
    }

    /// Ends an execution (the call itself is ended through the Calls API).
    pub async fn end_execution(&self, flow: &str, execution: &str) -> Result<(), TwilioError> {
        let _: Execution = self
            .call(
                Method::POST,
                &self.studio(&format!("/Flows/{flow}/Executions/{execution}")),
                &[("Status", "ended".to_owned())],
            )
            .await?;
        Ok(())
    }

    /// The call an execution placed: the oldest from `from` to `to` created since `since` that
    /// no earlier attempt took (the dates' margin reaches a few seconds back, when the previous
    /// call to the same person may have been placed).
    pub async fn call_placed_since(
        &self,
        to: &str,
        from: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Call>, TwilioError> {
        let query =
            [("To", to.to_owned()), ("From", from.to_owned()), ("PageSize", "20".to_owned())];
        let page: CallList = self.call_query(&self.url("/Calls.json"), &query).await?;
        let since = self.on_twilio_clock(since);
        let found = page
            .calls
            .into_iter()
            .rfind(|c| c.created_at().is_some_and(|t| t >= since) && !self.created_here(&c.sid));
        Ok(found.map(|c| self.remember(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls() -> CallsConfig {
        CallsConfig {
            from: "+14155238886".into(),
            to: vec!["+5511988880001".into()],
            ring_secs: 25,
            rounds: 2,
            round_pause_secs: 60,
            voice: "Polly.Camila".into(),
            language: "pt-BR".into(),
            require_human: true,
            keypress: true,
        }
    }

    #[test]
    fn the_flow_calls_says_and_waits_for_one_key() {
        let d = flow_definition(&calls());
        let states = d["states"].as_array().unwrap();
        let by_name = |n: &str| states.iter().find(|s| s["name"] == n).unwrap();
        assert_eq!(d["initial_state"], "Trigger");
        let trigger = by_name("Trigger");
        assert!(trigger["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["event"] == "incomingRequest" && t["next"] == CALL_WIDGET));
        let call = by_name(CALL_WIDGET);
        assert_eq!(
            (call["type"].as_str(), call["properties"]["timeout"].as_u64()),
            (Some("make-outgoing-call-v2"), Some(25))
        );
        assert_eq!(call["properties"]["machine_detection"], "Enable");
        assert!(call["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["event"] == "answered" && t["next"] == GATHER_WIDGET));
        let gather = by_name(GATHER_WIDGET);
        assert_eq!(gather["type"], "gather-input-on-call");
        assert_eq!(
            (
                gather["properties"]["say"].as_str(),
                gather["properties"]["number_of_digits"].as_u64()
            ),
            (Some("{{flow.data.texto}}"), Some(1))
        );
        assert_eq!(
            (gather["properties"]["voice"].as_str(), gather["properties"]["language"].as_str()),
            (Some("Polly.Camila"), Some("pt-BR"))
        );
    }

    #[test]
    fn the_key_is_read_from_the_gather_widget() {
        let pressed = json!({"flow": {"data": {"texto": "x"}}, "widgets": {"ligacao": {"CallSid": "CA1"}, "alerta": {"Digits": "1"}}});
        assert_eq!(key_pressed(&pressed), Some("1"));
        assert_eq!(key_pressed(&json!({"widgets": {"alerta": {"Digits": ""}}})), None);
        assert_eq!(key_pressed(&json!({"widgets": {"ligacao": {}}})), None);
        assert_eq!(key_pressed(&json!(null)), None);
    }

    #[test]
    fn what_reaches_studio_has_no_markup() {
        assert_eq!(plain_words("Sala <1> & {{x}} 50%"), "Sala  1      x   50 ");
    }
}
