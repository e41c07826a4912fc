//! The notify side's one retry stage: a request to Twilio that time or a person can fix (the
//! network, Twilio's 5xx and 429, refused credentials) is tried again after `retry_wait` until it
//! is answered, the engine stops, or the reason for it is gone; a refusal about the request
//! itself (a bad number, a template Twilio rejects) ends it. Every manager's creates go through
//! here, so the rule — and what Twilio's health says while it holds — is written once.
//!
//! The client's own retries (a few, seconds apart, inside one request) sit below this stage: they
//! ride out a blip; this stage rides out an outage.

use std::future::Future;

use chrono::{DateTime, Utc};
use tracing::warn;

use super::{NotifyContext, Stopped};
use crate::twilio::CreateError;

/// How a request ended.
#[derive(Debug)]
pub enum Answer<T> {
    Done(T),
    /// Twilio refused it, and trying again would not change that.
    Refused(CreateError),
    /// Between two tries, the request stopped being needed.
    NotWanted,
}

/// Tries `request` until it is answered. `unsure_since`: a request a previous try may have
/// created already (its answer lost), which `request` looks up before creating again;
/// `still_wanted` is asked before each new try. `label` names the request in the log.
// Plain closures returning futures, not async closures: the futures of async closures are not
// yet provably `Send` for every lifetime, which the managers' spawned tasks need.
pub async fn until_answered<T, R, RFut, W, WFut>(
    ctx: &NotifyContext,
    label: &str,
    mut unsure_since: Option<DateTime<Utc>>,
    mut request: R,
    mut still_wanted: W,
) -> Result<Answer<T>, Stopped>
where
    R: FnMut(Option<DateTime<Utc>>) -> RFut,
    RFut: Future<Output = Result<T, CreateError>>,
    W: FnMut() -> WFut,
    WFut: Future<Output = bool>,
{
    loop {
        match request(unsure_since).await {
            Ok(done) => {
                ctx.health.ok(&ctx.events);
                return Ok(Answer::Done(done));
            }
            Err(e) if e.is_transient() || e.is_auth() => {
                ctx.health.degraded(&ctx.events, &e);
                warn!("{label}: not done yet, will retry: {}", e.error);
                unsure_since = e.unsure_since;
                ctx.pause(ctx.timing.retry_wait).await?;
                if !still_wanted().await {
                    return Ok(Answer::NotWanted);
                }
            }
            Err(e) => return Ok(Answer::Refused(e)),
        }
    }
}

/// For requests that are always wanted until answered.
pub async fn always() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::events::{EngineEvent, EventBus, TwilioState};
    use crate::journal::AlertJournal;
    use crate::shutdown::{self, ShutdownTrigger};
    use crate::timing::EngineTiming;
    use crate::twilio::TwilioError;

    fn context() -> (NotifyContext, ShutdownTrigger) {
        let (trigger, shutdown) = shutdown::channel();
        let timing =
            EngineTiming { retry_wait: Duration::from_millis(5), ..EngineTiming::default() };
        let ctx = NotifyContext {
            client: None,
            journal: AlertJournal::open_in_memory().unwrap(),
            events: EventBus::default(),
            timing,
            health: Default::default(),
            shutdown,
            people: Default::default(),
            progress: Default::default(),
        };
        (ctx, trigger)
    }

    fn error(status: u16, unsure_since: Option<DateTime<Utc>>) -> CreateError {
        let body = r#"{"code": 21211, "message": "Invalid 'To' Phone Number"}"#;
        CreateError { error: TwilioError::from_body(status, body), unsure_since }
    }

    /// A request that answers each try with the next of `answers`, noting what it was told.
    fn scripted(
        answers: Vec<Result<&'static str, CreateError>>,
        told: Arc<Mutex<Vec<Option<DateTime<Utc>>>>>,
    ) -> impl FnMut(Option<DateTime<Utc>>) -> std::future::Ready<Result<&'static str, CreateError>>
    {
        let mut answers = answers.into_iter();
        move |unsure_since| {
            told.lock().unwrap().push(unsure_since);
            std::future::ready(answers.next().expect("asked once too often"))
        }
    }

    #[tokio::test]
    async fn an_outage_is_retried_looking_up_what_may_exist_and_said_once_then_its_end() {
        let (ctx, _trigger) = context();
        let mut events = ctx.events.subscribe();
        let lost = Utc::now();
        let told = Arc::new(Mutex::new(Vec::new()));
        let answers = vec![Err(error(503, Some(lost))), Err(error(429, Some(lost))), Ok("SM1")];
        let request = scripted(answers, told.clone());
        let answer = until_answered(&ctx, "test", None, request, always).await.unwrap();
        assert!(matches!(answer, Answer::Done("SM1")), "{answer:?}");
        assert_eq!(*told.lock().unwrap(), [None, Some(lost), Some(lost)]);
        let said: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        assert!(
            matches!(
                said.as_slice(),
                [
                    EngineEvent::Twilio(TwilioState::Degraded { .. }),
                    EngineEvent::Twilio(TwilioState::Ok)
                ]
            ),
            "{said:?}"
        );
    }

    #[tokio::test]
    async fn a_refusal_about_the_request_is_not_tried_again() {
        let (ctx, _trigger) = context();
        let told = Arc::new(Mutex::new(Vec::new()));
        let request = scripted(vec![Err(error(400, None))], told.clone());
        let answer = until_answered(&ctx, "test", None, request, always).await.unwrap();
        assert!(matches!(&answer, Answer::Refused(e) if e.code() == Some(21211)), "{answer:?}");
        assert_eq!(told.lock().unwrap().len(), 1);
        assert!(!ctx.health.is_degraded(), "Twilio answered: it is not down");
    }

    #[tokio::test]
    async fn a_request_no_longer_wanted_stops_between_tries() {
        let (ctx, _trigger) = context();
        let told = Arc::new(Mutex::new(Vec::new()));
        let request = scripted(vec![Err(error(503, None))], told.clone());
        let unwanted = || std::future::ready(false);
        let answer = until_answered(&ctx, "test", None, request, unwanted).await.unwrap();
        assert!(matches!(answer, Answer::NotWanted), "{answer:?}");
        assert_eq!(told.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_engine_stopping_ends_the_retries() {
        let (ctx, trigger) = context();
        trigger.fire();
        let told = Arc::new(Mutex::new(Vec::new()));
        let request = scripted(vec![Err(error(503, None))], told.clone());
        let answer = until_answered(&ctx, "test", None, request, always).await;
        assert!(matches!(answer, Err(Stopped)));
    }
}
