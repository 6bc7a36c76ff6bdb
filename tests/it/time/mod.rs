//! Sleeps, intervals, timeouts, the timers behind them, and their
//! controls (reset, missed ticks, advancing the mock clock).

mod controls;
mod sleep;
mod timeout;
mod timers;
