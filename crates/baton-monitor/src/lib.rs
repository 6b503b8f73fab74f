//! Pure, synchronous detectors over agent output.
//!
//! Everything here takes bytes (or text) and returns a verdict: the bounded
//! [`tail::Tail`] that feeds the detectors, terminal-faithful text
//! normalisation ([`text::normalize`]), the input-wait detector
//! ([`input_wait::InputWaitDetector`]), rate-limit detection with reset-time
//! parsing ([`rate_limit::detect`]) and completion-payload capture
//! ([`payload::PayloadCapture`]).
//!
//! This crate must never do IO (apart from the corpus scorer used by tests and
//! benchmarks), never block, never spawn, and never panic on any input: the
//! supervisor calls it on untrusted agent output.

pub mod input_wait;
pub mod payload;
pub mod rate_limit;
pub mod screen;
pub mod tail;
pub mod text;
