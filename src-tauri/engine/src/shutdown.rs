//! Graceful shutdown, as in mini-redis: one broadcast, every task holds a [`Shutdown`] listener.
//!
//! The owner keeps a [`ShutdownTrigger`]; firing it (or dropping it) wakes every listener so each
//! task can finish its protocol politely (IMAP `DONE` and `LOGOUT`) instead of being cut off.

use tokio::sync::watch;

/// Fires the shutdown. Dropping it fires it too, so a crashed owner never leaves tasks orphaned.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// Listens for the shutdown.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// A new trigger and its first listener.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    pub fn fire(&self) {
        let _ = self.tx.send(true);
    }

    pub fn listener(&self) -> Shutdown {
        Shutdown { rx: self.tx.subscribe() }
    }
}

impl Shutdown {
    pub fn is_shutdown(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when the shutdown fires (at once if it already has).
    pub async fn recv(&mut self) {
        // An Err means the trigger was dropped, which also means "stop".
        let _ = self.rx.wait_for(|fired| *fired).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_every_listener_and_stays_fired() {
        let (trigger, mut a) = channel();
        let mut b = trigger.listener();
        assert!(!a.is_shutdown());
        trigger.fire();
        a.recv().await;
        b.recv().await;
        assert!(a.is_shutdown() && b.is_shutdown());
    }

    #[tokio::test]
    async fn dropping_the_trigger_fires() {
        let (trigger, mut a) = channel();
        drop(trigger);
        a.recv().await;
    }
}
