//! `[pricing.NAME]`: what tokens cost, so that a session whose CLI states
//! its tokens but no cost (codex, gemini) shows an estimate. baton ships no
//! prices: they change, and a stale built-in price is a wrong number shown
//! as a fact.
//!
//! ```toml
//! [pricing."gpt-5-codex"]   # a model, as a session's `model` names it
//! input = 1.25              # US dollars per million input tokens
//! cached = 0.125            # per million cached input tokens (default: input)
//! output = 10.0             # per million output tokens
//!
//! [pricing.codex]           # an agent: its sessions that name no model
//! input = 1.25
//! output = 10.0
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::AgentKind;

/// The prices by model (or agent) name.
pub type Pricing = BTreeMap<String, Price>;

/// What a model's tokens cost, per million, kept in millionths of a US
/// dollar (a manifest compares whole, and sums do not drift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Price {
    input: u64,
    cached: u64,
    output: u64,
}

/// The highest price per million tokens a `[pricing]` table takes.
const PRICE_MAX: f64 = 100_000.0;

impl Price {
    /// A price of `input`, `cached` (default: `input`) and `output` US
    /// dollars per million tokens; each finite, 0 or more, at most 100,000.
    pub fn new(input: f64, cached: Option<f64>, output: f64) -> Result<Price, PriceError> {
        let micros = |field: &'static str, usd: f64| {
            if usd.is_finite() && (0.0..=PRICE_MAX).contains(&usd) {
                Ok((usd * 1e6).round() as u64)
            } else {
                Err(PriceError { field, usd })
            }
        };
        let input = micros("input", input)?;
        Ok(Price {
            input,
            cached: match cached {
                Some(usd) => micros("cached", usd)?,
                None => input,
            },
            output: micros("output", output)?,
        })
    }

    /// What `input`, `cached` and `output` tokens cost, in US dollars.
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> f64 {
        let micro_usd = input as f64 * self.input as f64
            + cached as f64 * self.cached as f64
            + output as f64 * self.output as f64;
        micro_usd / 1e12
    }
}

/// A price that cannot be: its field and the value given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceError {
    /// `input`, `cached` or `output`.
    pub field: &'static str,
    /// What was given.
    pub usd: f64,
}

impl std::fmt::Display for PriceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` must be US dollars per million tokens, from 0 to {PRICE_MAX}; got {}",
            self.field, self.usd
        )
    }
}

/// The price of a session's tokens: its model's (`model`), else its
/// agent's.
pub fn price_of<'a>(
    pricing: &'a Pricing,
    model: Option<&str>,
    agent: AgentKind,
) -> Option<&'a Price> {
    model
        .and_then(|m| pricing.get(m))
        .or_else(|| pricing.get(agent.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_counts_each_kind_of_token_at_its_rate() {
        let p = Price::new(1.25, Some(0.125), 10.0).unwrap();
        // 1M input, 2M cached, 0.5M output.
        let cost = p.cost(1_000_000, 2_000_000, 500_000);
        assert!((cost - (1.25 + 0.25 + 5.0)).abs() < 1e-9, "{cost}");
        // Cached tokens cost as input unless said.
        let p = Price::new(2.0, None, 0.0).unwrap();
        assert!((p.cost(0, 1_000_000, 0) - 2.0).abs() < 1e-9);
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e9] {
            let err = Price::new(bad, None, 1.0).unwrap_err();
            assert_eq!(err.field, "input", "{err}");
            let err = Price::new(1.0, Some(bad), 1.0).unwrap_err();
            assert_eq!(err.field, "cached", "{err}");
        }
    }

    #[test]
    fn a_sessions_model_is_priced_before_its_agent() {
        let mut pricing = Pricing::new();
        pricing.insert("o3".into(), Price::new(2.0, None, 8.0).unwrap());
        pricing.insert("codex".into(), Price::new(1.0, None, 4.0).unwrap());
        let o3 = pricing["o3"];
        let codex = pricing["codex"];
        assert_eq!(price_of(&pricing, Some("o3"), AgentKind::Codex), Some(&o3));
        assert_eq!(
            price_of(&pricing, Some("o4"), AgentKind::Codex),
            Some(&codex)
        );
        assert_eq!(price_of(&pricing, None, AgentKind::Codex), Some(&codex));
        assert_eq!(price_of(&pricing, None, AgentKind::Gemini), None);
    }
}
