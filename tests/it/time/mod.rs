//! Sleeps, intervals, timeouts and the timers behind them.

mod sleep;
mod timeout;
mod timers;
