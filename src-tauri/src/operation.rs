//! Operations (activation, PIN change, unlock) run from the window.
//!
//! An operation runs a core workflow on its own thread. Its [`Interaction`] sends
//! steps, questions and notices to the window through the operation's Channel, and
//! blocks on a question until the window answers it ([`Operations::answer`]) or the
//! operation is cancelled. Answers carry the question's id, so a late answer to an
//! earlier question is never taken for the current one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certkey_core::workflow::activate::Activated;
use certkey_core::workflow::renew::Renewed;
use certkey_core::workflow::seal::SealWritten;
use certkey_core::workflow::unlock::UnlockOutcome;
use certkey_core::workflow::{Confirm, Interaction, Notice, SecretKind, Step};
use certkey_core::Error;
use certkey_protocol::v1::Handler;
use certkey_protocol::Base64;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

/// What the window asks to run.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperationRequest {
    /// Activate the key with this serial (it must have a pending order).
    Activate {
        /// Token serial.
        serial: String,
    },
    /// Change the user PIN of the key with this serial.
    ChangePin {
        /// Token serial.
        serial: String,
    },
    /// Renew the key's certificate online for `years` (1 to 5; none: the term an
    /// interrupted run recorded, else the CA's default, the paid term).
    Renew {
        /// Token serial.
        serial: String,
        /// The term.
        years: Option<u32>,
    },
    /// Write the electronic seal of the key's certificate in use, made by the CA from
    /// `image` (PNG, JPEG or BMP), with the name and size given (the certificate
    /// type's defaults otherwise).
    SealWrite {
        /// Token serial.
        serial: String,
        /// The picture file, base64.
        #[ts(type = "string")]
        image: Base64,
        /// The seal's name.
        name: Option<String>,
        /// Width in mm.
        width_mm: Option<u32>,
        /// Height in mm.
        height_mm: Option<u32>,
    },
    /// Unlock the key with this serial (its user PIN is locked): a new request when
    /// `handler` is given, else the request waiting for review is checked again.
    Unlock {
        /// Token serial.
        serial: String,
        /// Who asks (经办人), for a new request.
        handler: Option<HandlerForm>,
        /// Remember the handler in the OS keyring once the request went through.
        remember: bool,
    },
}

impl OperationRequest {
    /// The key the operation is for.
    pub fn serial(&self) -> &str {
        match self {
            OperationRequest::Activate { serial }
            | OperationRequest::ChangePin { serial }
            | OperationRequest::Renew { serial, .. }
            | OperationRequest::SealWrite { serial, .. }
            | OperationRequest::Unlock { serial, .. } => serial,
        }
    }
}

/// The handler (经办人) of an unlock request as typed in the window. Personal data:
/// never logged (Debug prints nothing).
#[derive(Clone, Serialize, Deserialize, TS)]
pub struct HandlerForm {
    /// Name.
    pub name: String,
    /// Identity document number.
    pub id_number: String,
    /// Phone number.
    pub phone: String,
}

impl std::fmt::Debug for HandlerForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandlerForm(..)")
    }
}

impl HandlerForm {
    /// The protocol's handler, each field trimmed; every field is needed.
    pub fn to_handler(&self) -> Result<Handler, Error> {
        let field = |name: &str, value: &str| {
            let v = value.trim();
            if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
                return Err(Error::InvalidArgument {
                    name: name.into(),
                    reason: "needed, at most 64 characters, no control characters".into(),
                });
            }
            Ok(v.to_string())
        };
        Ok(Handler {
            name: field("handler_name", &self.name)?,
            id_number: field("handler_id", &self.id_number)?,
            phone: field("handler_phone", &self.phone)?,
        })
    }

    /// The form filled from a remembered handler.
    pub fn from_handler(h: &Handler) -> Self {
        HandlerForm {
            name: h.name.clone(),
            id_number: h.id_number.clone(),
            phone: h.phone.clone(),
        }
    }
}

/// A question the workflow waits on.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Question {
    /// A yes/no question.
    Confirm {
        /// Which.
        confirm: Confirm,
    },
    /// A secret (PIN, activation code).
    Secret {
        /// Which.
        secret: SecretKind,
    },
}

/// How an operation ended well.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The key is activated and holds its certificate.
    Activated {
        /// What was installed.
        activated: Activated,
    },
    /// The PIN was changed.
    PinChanged,
    /// The certificate is renewed (its seal, if any, carried over).
    Renewed {
        /// What was installed.
        renewed: Renewed,
    },
    /// The seal is on the key.
    SealWritten {
        /// What was written.
        written: SealWritten,
    },
    /// An unlock run ended: unlocked, waiting for review, or refused.
    Unlock {
        /// How.
        outcome: UnlockOutcome,
        /// Whether the handler was remembered (`null`: not asked to).
        remembered: Option<bool>,
    },
}

/// What the window hears of a running operation, in order.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OperationEvent {
    /// A step starts (`index` of `total`, from 0).
    Step {
        /// Which step.
        step: Step,
        /// Its place.
        index: usize,
        /// Steps in all.
        total: usize,
    },
    /// The workflow waits for an answer to question `id`.
    Question {
        /// Echoed in the answer.
        id: u32,
        /// What is asked.
        question: Question,
    },
    /// Something to tell the user.
    Notice {
        /// What.
        notice: Notice,
    },
    /// Done.
    Finished {
        /// What was done.
        outcome: Outcome,
    },
    /// Stopped on an error (including a cancel: code `cancelled`).
    Failed {
        /// Why.
        error: Error,
    },
}

/// A secret typed in the window. The Rust-side copy goes straight into a zeroizing
/// buffer, is never logged (Debug prints nothing) and never sent back. (The IPC
/// layer's own request buffers are Tauri's and are not zeroized.)
pub struct SecretAnswer(SecretString);

impl std::fmt::Debug for SecretAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretAnswer(..)")
    }
}

impl<'de> Deserialize<'de> for SecretAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let typed = Zeroizing::new(String::deserialize(d)?);
        // An exact-size copy, so that SecretString takes it without reallocating;
        // the original buffer is zeroized on drop.
        Ok(SecretAnswer(SecretString::from(typed.as_str().to_owned())))
    }
}

impl TS for SecretAnswer {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name(cfg: &ts_rs::Config) -> String {
        <String as TS>::name(cfg)
    }
    fn inline(cfg: &ts_rs::Config) -> String {
        <String as TS>::inline(cfg)
    }
}

/// The window's answer to a question (stopping goes through `cancel_operation`).
#[derive(Debug, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// Yes to a confirmation.
    Yes,
    /// No to a confirmation.
    No,
    /// The secret asked for.
    Secret {
        /// What the user typed.
        value: SecretAnswer,
    },
}

/// What reaches a waiting workflow.
enum Msg {
    /// The answer to question `.0`.
    Answer(u32, Answer),
    /// Stop, whatever the question.
    Cancel,
}

/// A question left unanswered this long (the window closed, the holder walked away)
/// stops the operation, so that the key is not left logged in.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30 * 60);

struct Running {
    serial: String,
    answers: Mutex<Sender<Msg>>,
    cancelled: AtomicBool,
}

/// The operations in progress, by id.
#[derive(Default)]
pub struct Operations {
    next: AtomicU32,
    running: Mutex<HashMap<u32, Arc<Running>>>,
}

impl Operations {
    /// Registers a new operation; returns its id and the Interaction its workflow
    /// uses. `send` delivers events to the window; it returns false once the window
    /// is gone, which cancels the operation.
    /// One operation at a time per key: a second one is refused.
    pub fn begin(
        &self,
        serial: &str,
        send: impl Fn(OperationEvent) -> bool + Send + 'static,
    ) -> Result<(u32, WindowInteraction), Error> {
        let mut running_ops = self.lock();
        if running_ops.values().any(|r| r.serial == serial) {
            return Err(Error::InvalidArgument {
                name: "operation".into(),
                reason: format!("an operation is already running on key {serial}"),
            });
        }
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let (tx, rx) = mpsc::channel();
        let running = Arc::new(Running {
            serial: serial.to_string(),
            answers: Mutex::new(tx),
            cancelled: AtomicBool::new(false),
        });
        running_ops.insert(id, Arc::clone(&running));
        drop(running_ops);
        let ui = WindowInteraction {
            send: Box::new(send),
            answers: Mutex::new(rx),
            running,
            next_question: AtomicU32::new(0),
        };
        Ok((id, ui))
    }

    /// Ends an operation: later answers to it are refused.
    pub fn end(&self, id: u32) {
        self.lock().remove(&id);
    }

    /// Hands the answer to question `question` of operation `id` to its workflow.
    pub fn answer(&self, id: u32, question: u32, answer: Answer) -> Result<(), Error> {
        let running = self.get(id)?;
        let sent = running
            .answers
            .lock()
            .map_err(|_| not_running(id))?
            .send(Msg::Answer(question, answer));
        sent.map_err(|_| not_running(id))
    }

    /// Asks operation `id` to stop: a question it waits on is answered with a
    /// cancel, and the workflow stops before its next step.
    pub fn cancel(&self, id: u32) -> Result<(), Error> {
        let running = self.get(id)?;
        running.cancelled.store(true, Ordering::SeqCst);
        if let Ok(tx) = running.answers.lock() {
            // The workflow may be between questions: the flag stops it then.
            let _ = tx.send(Msg::Cancel);
        }
        Ok(())
    }

    fn get(&self, id: u32) -> Result<Arc<Running>, Error> {
        self.lock().get(&id).cloned().ok_or_else(|| not_running(id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<Running>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_running(id: u32) -> Error {
    Error::InvalidArgument {
        name: "operation".into(),
        reason: format!("operation {id} is not running"),
    }
}

/// The [`Interaction`] of an operation run from the window.
pub struct WindowInteraction {
    send: Box<dyn Fn(OperationEvent) -> bool + Send>,
    answers: Mutex<Receiver<Msg>>,
    running: Arc<Running>,
    next_question: AtomicU32,
}

impl WindowInteraction {
    /// Sends an event; a window that is gone cancels the operation.
    pub fn send(&self, event: OperationEvent) {
        if !(self.send)(event) {
            self.running.cancelled.store(true, Ordering::SeqCst);
        }
    }

    /// Asks and waits; `None` when the operation is to stop.
    fn ask(&self, question: Question) -> Option<Answer> {
        let id = self.next_question.fetch_add(1, Ordering::SeqCst) + 1;
        if self.cancelled() {
            return None;
        }
        self.send(OperationEvent::Question { id, question });
        // The window may be gone: then nobody answers.
        if self.cancelled() {
            return None;
        }
        let rx = self.answers.lock().ok()?;
        loop {
            match rx.recv_timeout(ANSWER_TIMEOUT) {
                Ok(Msg::Answer(q, answer)) if q == id => return Some(answer),
                // An answer to an earlier question, arriving late: not this one's.
                Ok(Msg::Answer(..)) => continue,
                Ok(Msg::Cancel) | Err(_) => {
                    self.running.cancelled.store(true, Ordering::SeqCst);
                    return None;
                }
            }
        }
    }
}

impl Interaction for WindowInteraction {
    fn step(&self, step: Step, index: usize, total: usize) {
        self.send(OperationEvent::Step { step, index, total });
    }

    fn confirm(&self, question: &Confirm) -> certkey_core::Result<bool> {
        match self.ask(Question::Confirm {
            confirm: question.clone(),
        }) {
            Some(Answer::Yes) => Ok(true),
            Some(Answer::No) => Ok(false),
            Some(Answer::Secret { .. }) | None => Err(Error::Cancelled),
        }
    }

    fn secret(&self, kind: &SecretKind) -> certkey_core::Result<SecretString> {
        match self.ask(Question::Secret {
            secret: kind.clone(),
        }) {
            Some(Answer::Secret { value }) => Ok(value.0),
            Some(Answer::Yes | Answer::No) | None => Err(Error::Cancelled),
        }
    }

    fn notice(&self, notice: &Notice) {
        self.send(OperationEvent::Notice {
            notice: notice.clone(),
        });
    }

    fn cancelled(&self) -> bool {
        self.running.cancelled.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::thread;

    fn recorder() -> (
        Arc<Mutex<Vec<OperationEvent>>>,
        impl Fn(OperationEvent) -> bool,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        (seen, move |e| {
            s.lock().unwrap().push(e);
            true
        })
    }

    fn wait_for_question(seen: &Mutex<Vec<OperationEvent>>) -> u32 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Some(OperationEvent::Question { id, .. }) = seen.lock().unwrap().last() {
                return *id;
            }
            thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("no question asked");
    }

    #[test]
    fn a_secret_reaches_the_workflow_and_a_stale_answer_does_not() {
        let ops = Operations::default();
        let (seen, send) = recorder();
        let (id, ui) = ops.begin("SK1", send).unwrap();
        let worker = thread::spawn(move || {
            ui.secret(&SecretKind::NewPin { min: 6, max: 16 })
                .map(|s| s.expose_secret().to_string())
        });
        let q = wait_for_question(&seen);
        let answer = |v: &str| -> Answer {
            serde_json::from_value(serde_json::json!({"kind": "secret", "value": v})).unwrap()
        };
        // An answer to another question is not taken for this one.
        ops.answer(id, q + 7, answer("111111")).unwrap();
        ops.answer(id, q, answer("24681357")).unwrap();
        assert_eq!(worker.join().unwrap().unwrap(), "24681357");
    }

    #[test]
    fn cancel_unblocks_a_question_and_stops_the_workflow() {
        let ops = Operations::default();
        let (seen, send) = recorder();
        let (id, ui) = ops.begin("SK1", send).unwrap();
        // One operation per key at a time.
        let (_, again) = recorder();
        assert_eq!(
            ops.begin("SK1", again).err().map(|e| e.code()),
            Some("invalid_argument")
        );
        let worker = thread::spawn(move || {
            let r = ui.confirm(&Confirm::FinalTry {
                serial: "SK1".into(),
            });
            (r, ui.cancelled())
        });
        wait_for_question(&seen);
        ops.cancel(id).unwrap();
        let (r, cancelled) = worker.join().unwrap();
        assert_eq!(r.unwrap_err().code(), "cancelled");
        assert!(cancelled);
        ops.end(id);
        assert_eq!(
            ops.answer(id, 1, Answer::Yes).unwrap_err().code(),
            "invalid_argument"
        );
    }

    #[test]
    fn a_secret_answer_never_prints() {
        let a: Answer =
            serde_json::from_value(serde_json::json!({"kind": "secret", "value": "13572468"}))
                .unwrap();
        assert!(!format!("{a:?}").contains("13572468"));
    }
}
