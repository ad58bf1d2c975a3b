//! The operations of CertKey from start to finish — activate, change the PIN, renew,
//! unlock, write and show the seal — written once for every front end.
//!
//! Core does no terminal or window I/O. A workflow talks to its user only through an
//! [`Interaction`]: it announces each [`Step`] (with its place in the whole, for
//! progress), asks for confirmations ([`Confirm`]) and secrets ([`SecretKind`]), tells
//! [`Notice`]s, and polls for cancellation between steps. The `certkey` CLI implements
//! it with prompts and progress bars; the desktop app with events and dialogs.
//!
//! Every workflow is safe to interrupt: what it has done so far is either complete on
//! the token or recorded on the token (a small journal data object, see
//! [`journal`]), so that running it again finishes or cleans up.

pub mod activate;
pub mod ca_list;
pub mod certs;
pub mod journal;
pub mod pin;
pub mod renew;
pub mod seal;
pub mod token;
pub mod unlock;

use secrecy::SecretString;
use serde::Serialize;

use crate::{Error, Result};

/// What a workflow is doing now. Front ends translate by the serialised name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Finding the key and reading its state.
    ReadToken,
    /// Asking the CA service about the key.
    ContactService,
    /// Checking the activation code with the service.
    CheckCode,
    /// Logging in to the key.
    Login,
    /// Setting the holder's PIN.
    SetPin,
    /// Generating a key pair on the key.
    GenerateKey,
    /// Building and signing the certificate request on the key.
    SignRequest,
    /// Waiting for the CA to issue the certificate.
    RequestCertificate,
    /// Writing the certificate onto the key.
    InstallCertificate,
    /// Signing the seal request with the certificate's key.
    SignSeal,
    /// The CA makes the seal.
    MakeSeal,
    /// Writing the seal onto the key.
    WriteSeal,
    /// Checking what was written.
    Verify,
    /// Removing what the operation replaced or left behind.
    CleanUp,
}

/// A question the user must answer yes or no.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Confirm {
    /// Activate this order on this key?
    Activate {
        /// Token serial.
        serial: String,
        /// The order as the service shows it.
        order: certkey_protocol::v1::ActivationLookupResponse,
    },
    /// The key is at its final PIN try: use it?
    FinalTry {
        /// Token serial.
        serial: String,
    },
}

/// A secret the workflow needs. The answer is a [`SecretString`], never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecretKind {
    /// The 6-digit activation code from the CA.
    ActivationCode {
        /// Tries the service still allows, when known.
        attempts_left: Option<u32>,
    },
    /// The key's current user PIN.
    CurrentPin {
        /// Token serial.
        serial: String,
        /// The token says fewer tries are left.
        count_low: bool,
        /// The token says this is the final try.
        final_try: bool,
    },
    /// A new user PIN (front ends ask twice and compare).
    NewPin {
        /// Shortest accepted.
        min: usize,
        /// Longest accepted.
        max: usize,
    },
}

/// Something the user should know; no answer needed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// An earlier, interrupted run is being finished.
    Resuming {
        /// Which operation.
        operation: String,
    },
    /// The answer was refused; the workflow asks again.
    Rejected {
        /// Why.
        error: Error,
    },
    /// The key's PIN tries are running low.
    PinCountLow {
        /// Token serial.
        serial: String,
    },
    /// The CA already made this certificate's seal: that one is written.
    ExistingSeal {
        /// Token serial.
        serial: String,
    },
    /// An unlock request sent earlier is being checked with the CA (not an
    /// interruption: the request waits for review, or was decided meanwhile).
    CheckingRequest {
        /// Token serial.
        serial: String,
    },
    /// The key requires a new PIN before anything else (CKF_USER_PIN_TO_BE_CHANGED).
    PinMustChange {
        /// Token serial.
        serial: String,
    },
}

/// How a workflow talks to its user.
pub trait Interaction {
    /// A step starts: `index` (0-based) of `total` steps of the whole operation.
    fn step(&self, step: Step, index: usize, total: usize);
    /// Asks a yes/no question; `Ok(false)` means no.
    fn confirm(&self, question: &Confirm) -> Result<bool>;
    /// Asks for a secret. Returning [`Error::Cancelled`] stops the workflow.
    fn secret(&self, kind: &SecretKind) -> Result<SecretString>;
    /// Tells something.
    fn notice(&self, notice: &Notice);
    /// Whether the user asked to stop (polled between steps).
    fn cancelled(&self) -> bool {
        false
    }
}

/// Steps of one operation, announced in order.
pub(crate) struct Progress<'a> {
    ui: &'a dyn Interaction,
    total: usize,
    next: usize,
}

impl<'a> Progress<'a> {
    pub(crate) fn new(ui: &'a dyn Interaction, total: usize) -> Self {
        Progress { ui, total, next: 0 }
    }

    /// Announces `step` after checking for cancellation.
    pub(crate) fn step(&mut self, step: Step) -> Result<()> {
        if self.ui.cancelled() {
            return Err(Error::Cancelled);
        }
        self.ui.step(
            step,
            self.next.min(self.total.saturating_sub(1)),
            self.total,
        );
        self.next += 1;
        Ok(())
    }
}

/// How many times an interactive answer (code, PIN) may be given again after a
/// refusal before the workflow gives up.
pub const MAX_ASKS: usize = 3;
