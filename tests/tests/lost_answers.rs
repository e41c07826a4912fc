//! No blind duplicate POSTs: a create whose answer is lost after Twilio acted on it (the
//! connection drops, a gateway answers 502, the answer comes after the client's time limit) is
//! looked up and adopted — exactly one call rings, exactly one message is sent — while a create
//! that Twilio refused before acting (429, or a 500 in front of it) is simply sent again.

use std::time::Duration;

use sentinela_engine::secrets::Secret;
use sentinela_engine::twilio::{NewCall, NewMessage, RetryPolicy, TwilioClient};
use sentinela_tests::people::{SENDER, WA1};
use sentinela_tests::twilio_fake::{Fault, LostAnswer, TwilioFake, AUTH_TOKEN};

fn client(fake: &TwilioFake) -> TwilioClient {
    let policy = RetryPolicy {
        attempts: 4,
        base: Duration::from_millis(50),
        cap: Duration::from_millis(200),
        timeout: Duration::from_millis(800),
    };
    TwilioClient::with_retry(&fake.config(), Secret::new(AUTH_TOKEN), policy)
}

fn call() -> NewCall {
    NewCall {
        from: SENDER.into(),
        to: WA1.into(),
        twiml: "<Response><Say>x</Say></Response>".into(),
        timeout_secs: 25,
        machine_detection: true,
    }
}

fn message(body: &str) -> NewMessage {
    NewMessage {
        from: SENDER.into(),
        to: WA1.into(),
        body: body.into(),
        template: None,
        channel: sentinela_engine::model::Channel::Whatsapp,
    }
}

const LOST: [LostAnswer; 3] =
    [LostAnswer::Drop, LostAnswer::Status(502), LostAnswer::Stall(Duration::from_millis(1500))];

#[tokio::test]
async fn a_call_whose_answer_was_lost_is_adopted_not_placed_again() {
    for lost in LOST {
        let fake = TwilioFake::start().await;
        let twilio = client(&fake);
        // An earlier call to the same person a moment before (inside the dates' margin):
        // never adopted by mistake.
        let earlier = twilio.create_call(&call(), None).await.unwrap();
        fake.fault_next("POST Calls.json", Fault::AfterCreate(lost));
        let placed =
            twilio.create_call(&call(), None).await.unwrap_or_else(|e| panic!("{lost:?}: {e}"));
        assert_eq!(fake.called_numbers(), [WA1, WA1], "{lost:?}: one call for this try, not two");
        assert_ne!(placed.sid, earlier.sid, "{lost:?}: the earlier call is not this one");
        let lookups: Vec<_> = fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/Calls.json"))
            .collect();
        assert_eq!(lookups.len(), 1, "{lost:?}");
        let q = |k: &str| lookups[0].query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!((q("To").as_deref(), q("From").as_deref()), (Some(WA1), Some(SENDER)));
        // The adopted call is the one created, and it can be followed.
        assert_eq!(twilio.fetch_call(&placed.sid).await.unwrap().sid, placed.sid);
    }
}

#[tokio::test]
async fn a_message_whose_answer_was_lost_is_adopted_not_sent_again() {
    for lost in LOST {
        let fake = TwilioFake::start().await;
        let twilio = client(&fake);
        // Another text to the same person at the same time is not ours: the body tells them apart.
        twilio.create_message(&message("✅ outro assunto"), None).await.unwrap();
        fake.fault_next("POST Messages.json", Fault::AfterCreate(lost));
        let sent = twilio
            .create_message(&message("🚨 ALERTA sala 2"), None)
            .await
            .unwrap_or_else(|e| panic!("{lost:?}: {e}"));
        assert_eq!(
            fake.bodies_to(WA1),
            ["✅ outro assunto", "🚨 ALERTA sala 2"],
            "{lost:?}: sent once"
        );
        assert_eq!(twilio.fetch_message(&sent.sid).await.unwrap().sid, sent.sid);
    }
}

#[tokio::test]
async fn what_twilio_refused_before_acting_is_sent_again_after_a_look() {
    let fake = TwilioFake::start().await;
    let twilio = client(&fake);
    // 429: Twilio says it did nothing, so no lookup is needed; a 500 in front of the API may
    // or may not hide a creation: looked up (nothing found), then sent again.
    fake.fault_next(
        "POST Calls.json",
        Fault::Error { status: 429, code: 20429, retry_after: None },
    );
    twilio.create_call(&call(), None).await.unwrap();
    assert!(!fake.requests().iter().any(|r| r.method == "GET"), "no lookup after a 429");
    fake.fault_next(
        "POST Messages.json",
        Fault::Error { status: 500, code: 20500, retry_after: None },
    );
    twilio.create_message(&message("🚨 ALERTA"), None).await.unwrap();
    assert_eq!(fake.bodies_to(WA1), ["🚨 ALERTA"]);
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/Messages.json"))
            .count(),
        1
    );
    assert_eq!(fake.called_numbers(), [WA1]);
}

#[tokio::test]
async fn the_doubt_a_failed_create_leaves_is_carried_to_the_next_try() {
    let fake = TwilioFake::start().await;
    let policy = RetryPolicy {
        attempts: 1,
        base: Duration::from_millis(50),
        cap: Duration::from_millis(50),
        timeout: Duration::from_millis(800),
    };
    let twilio = TwilioClient::with_retry(&fake.config(), Secret::new(AUTH_TOKEN), policy);
    fake.fault_next("POST Calls.json", Fault::AfterCreate(LostAnswer::Drop));
    let e = twilio.create_call(&call(), None).await.unwrap_err();
    let since = e.unsure_since.expect("a dropped answer leaves a doubt");
    assert!(e.is_transient());
    // The caller's next try carries the doubt: the call is found, not placed again.
    let placed = twilio.create_call(&call(), Some(since)).await.unwrap();
    assert_eq!(fake.called_numbers(), [WA1]);
    assert_eq!(twilio.fetch_call(&placed.sid).await.unwrap().sid, placed.sid);
}
